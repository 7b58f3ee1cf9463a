-- A city's own taxonomy: category values that no spec map covered and that took the
-- profile's default category, counted per value for each run ({"category: VALUE": n}).
ALTER TABLE quality_runs ADD COLUMN defaulted jsonb NOT NULL DEFAULT '{}'::jsonb;
