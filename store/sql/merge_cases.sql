-- Merge staged cases on the natural key (source, source_record_id), kept in case_keys. The last
-- staged row of a key wins; a row whose record_hash equals the stored one changes nothing; a
-- changed one is updated where it is stored (moving to another month when its day changed);
-- a new key is inserted (the triggers of 0625 add its case_keys row). Old and new (day, area)
-- pairs of every changed case go to touched_days for the incremental rollup, unless the
-- track_touched parameter is false (a bulk load recounts every rollup instead; a false
-- one-time filter skips the work). The months of the staged days exist already
-- (store/partitions.py).
-- Stored versions are looked up by key, one probe of case_keys and one of the case's month per
-- staged row: a hash join would scan all of cases for every chunk (OFFSET 0 keeps the planner
-- from turning it into one).
WITH latest AS (
    SELECT DISTINCT ON (source, source_record_id) * FROM stage_cases
    ORDER BY source, source_record_id, position DESC
), stored AS MATERIALIZED (
    SELECT l.source, l.source_record_id, l.record_hash <> c.record_hash AS changed, c.case_id,
           c.report_day, c.grid_code, c.community_code, c.street_code, c.district_code, c.city_code
    FROM latest l CROSS JOIN LATERAL (
        SELECT c.* FROM case_keys k JOIN cases c ON c.case_id = k.case_id AND c.report_day = k.report_day
        WHERE k.source = l.source AND k.source_record_id = l.source_record_id
        OFFSET 0
    ) c
), old_versions AS (
    INSERT INTO touched_days
    SELECT report_day, grid_code, community_code, street_code, district_code, city_code
    FROM stored
    WHERE changed AND %(track_touched)s
), updated AS (
    UPDATE cases c SET
        record_hash = l.record_hash, raw_id = l.raw_id, kind = l.kind, category = l.category,
        raw_category = l.raw_category, status = l.status, outcome = l.outcome,
        reported_at = l.reported_at, occurred_at = l.occurred_at, closed_at = l.closed_at,
        report_day = l.report_day, src_x = l.src_x, src_y = l.src_y, src_crs = l.src_crs,
        address = l.address, area_name = l.area_name, source_grid_code = l.source_grid_code,
        grid_code = l.grid_code, community_code = l.community_code, street_code = l.street_code,
        district_code = l.district_code, city_code = l.city_code,
        geocode_method = l.geocode_method, geocode_precision = l.geocode_precision,
        unlocated_reason = l.unlocated_reason, severity = l.severity, parties = l.parties,
        amount = l.amount, person_key = l.person_key, attributes = l.attributes,
        run_id = %(run_id)s,
        geom = CASE WHEN l.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(l.lon, l.lat), 4326) END,
        ingested_at = now(), previous_hash = c.record_hash, previous_ingested_at = c.ingested_at
    FROM stored s JOIN latest l USING (source, source_record_id)
    WHERE s.changed AND c.case_id = s.case_id AND c.report_day = s.report_day
    RETURNING false AS inserted, c.report_day, c.grid_code, c.community_code, c.street_code,
              c.district_code, c.city_code
), inserted AS (
    INSERT INTO cases (
        source, source_record_id, record_hash, raw_id, kind, category, raw_category, status,
        outcome, reported_at, occurred_at, closed_at, report_day, src_x, src_y, src_crs,
        address, area_name, source_grid_code, grid_code, community_code, street_code,
        district_code, city_code, geocode_method, geocode_precision, unlocated_reason,
        severity, parties, amount, person_key, attributes, run_id, geom)
    SELECT
        source, source_record_id, record_hash, raw_id, kind, category, raw_category, status,
        outcome, reported_at, occurred_at, closed_at, report_day, src_x, src_y, src_crs,
        address, area_name, source_grid_code, grid_code, community_code, street_code,
        district_code, city_code, geocode_method, geocode_precision, unlocated_reason,
        severity, parties, amount, person_key, attributes, %(run_id)s,
        CASE WHEN lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326) END
    FROM latest l
    WHERE NOT EXISTS (SELECT FROM stored s
                      WHERE s.source = l.source AND s.source_record_id = l.source_record_id)
    RETURNING true AS inserted, report_day, grid_code, community_code, street_code,
              district_code, city_code
), merged AS (
    SELECT * FROM updated UNION ALL SELECT * FROM inserted
), touched AS (
    INSERT INTO touched_days
    SELECT report_day, grid_code, community_code, street_code, district_code, city_code
    FROM merged
    WHERE %(track_touched)s
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged;
