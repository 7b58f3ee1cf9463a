-- Merge staged cases on the natural key. The last staged row of a key wins; a row whose
-- record_hash equals the stored one changes nothing. Old and new (day, area) pairs of every
-- changed case go to touched_days for the incremental rollup, unless the track_touched
-- parameter is false (a bulk load recounts every rollup instead; a false one-time filter
-- skips the work).
-- Stored versions are looked up by key, one index probe per staged row: a hash join would
-- scan all of cases for every chunk (OFFSET 0 keeps the planner from turning it into one).
WITH old_versions AS (
    INSERT INTO touched_days
    SELECT c.report_day, c.grid_code, c.community_code, c.street_code, c.district_code, c.city_code
    FROM stage_cases s CROSS JOIN LATERAL (
        SELECT * FROM cases c
        WHERE c.source = s.source AND c.source_record_id = s.source_record_id
          AND c.record_hash <> s.record_hash
        OFFSET 0
    ) c
    WHERE %(track_touched)s
), latest AS (
    SELECT DISTINCT ON (source, source_record_id) * FROM stage_cases
    ORDER BY source, source_record_id, position DESC
), merged AS (
    INSERT INTO cases AS c (
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
    FROM latest
    ON CONFLICT (source, source_record_id) DO UPDATE SET
        record_hash = EXCLUDED.record_hash, raw_id = EXCLUDED.raw_id, kind = EXCLUDED.kind,
        category = EXCLUDED.category, raw_category = EXCLUDED.raw_category,
        status = EXCLUDED.status, outcome = EXCLUDED.outcome,
        reported_at = EXCLUDED.reported_at, occurred_at = EXCLUDED.occurred_at,
        closed_at = EXCLUDED.closed_at, report_day = EXCLUDED.report_day,
        src_x = EXCLUDED.src_x, src_y = EXCLUDED.src_y, src_crs = EXCLUDED.src_crs,
        address = EXCLUDED.address, area_name = EXCLUDED.area_name,
        source_grid_code = EXCLUDED.source_grid_code, grid_code = EXCLUDED.grid_code,
        community_code = EXCLUDED.community_code, street_code = EXCLUDED.street_code,
        district_code = EXCLUDED.district_code, city_code = EXCLUDED.city_code,
        geocode_method = EXCLUDED.geocode_method,
        geocode_precision = EXCLUDED.geocode_precision,
        unlocated_reason = EXCLUDED.unlocated_reason, severity = EXCLUDED.severity,
        parties = EXCLUDED.parties, amount = EXCLUDED.amount,
        person_key = EXCLUDED.person_key, attributes = EXCLUDED.attributes,
        run_id = EXCLUDED.run_id, geom = EXCLUDED.geom, ingested_at = now(),
        previous_hash = c.record_hash, previous_ingested_at = c.ingested_at
    WHERE c.record_hash IS DISTINCT FROM EXCLUDED.record_hash
    RETURNING (xmax = 0) AS inserted, report_day, grid_code, community_code, street_code,
              district_code, city_code
), touched AS (
    INSERT INTO touched_days
    SELECT report_day, grid_code, community_code, street_code, district_code, city_code
    FROM merged
    WHERE %(track_touched)s
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged;
