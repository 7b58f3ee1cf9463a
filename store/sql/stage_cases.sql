-- Per-transaction staging for a merge into cases: canonical columns plus lon/lat and the
-- record's position in its input (the last position of a key wins). amount is staged as a
-- float, as it was parsed (binary COPY sends floats as they are); the insert rounds it into
-- cases' numeric(16, 2) as the server rounds any float.
CREATE TEMP TABLE IF NOT EXISTS stage_cases (
    source text, source_record_id text, record_hash text, raw_id bigint, kind text,
    category text, raw_category text, status text, outcome text, reported_at timestamptz,
    occurred_at timestamptz, closed_at timestamptz, report_day date,
    lon double precision, lat double precision, src_x double precision, src_y double precision,
    src_crs text, address text, area_name text, source_grid_code text, grid_code text,
    community_code text, street_code text, district_code text, city_code text,
    geocode_method text, geocode_precision text, unlocated_reason text, severity smallint,
    parties smallint, amount double precision, person_key text, attributes jsonb, position bigint
) ON COMMIT DROP;
TRUNCATE stage_cases;

-- (day, area codes) whose rollups must be recomputed when this transaction commits.
CREATE TEMP TABLE IF NOT EXISTS touched_days (
    day date, grid_code text, community_code text, street_code text, district_code text,
    city_code text
) ON COMMIT DROP;
