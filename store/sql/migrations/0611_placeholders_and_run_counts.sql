-- Placeholder points (geo.placeholders): a case whose only point stands for "unknown" is
-- unlocated with its own method, never counted where the point falls.
ALTER TABLE cases DROP CONSTRAINT cases_geocode_method_check;
ALTER TABLE cases ADD CONSTRAINT cases_geocode_method_check
    CHECK (geocode_method IN ('coordinates', 'grid_code', 'address', 'area_name', 'none', 'placeholder'));

-- What a run's records needed besides validation, counted per run:
-- {"placeholder: records": n, "placeholder: dominant": n, "placeholder point: LON LAT": n,
--  "clock change: ambiguous": n, "clock change: missing": n, ...}.
ALTER TABLE quality_runs ADD COLUMN counts jsonb NOT NULL DEFAULT '{}'::jsonb;
