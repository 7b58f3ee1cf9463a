-- Quality: one record per validation run (the ingest run whose rows were validated), with
-- every expectation's pass / fail counts and the outcome of the batch gates.

CREATE TABLE quality_runs (
    run_id              bigint PRIMARY KEY REFERENCES ingest_runs (run_id) ON DELETE CASCADE,
    source              text NOT NULL,
    suite               text NOT NULL,              -- GX expectation suite name
    validated_at        timestamptz NOT NULL DEFAULT now(),
    rows_evaluated      bigint NOT NULL DEFAULT 0,
    rows_passed         bigint NOT NULL DEFAULT 0,
    rows_failed         bigint NOT NULL DEFAULT 0,  -- failed a quarantining expectation or mapping
    mapping_failed      bigint NOT NULL DEFAULT 0,  -- of which the mapping already failed
    oldest_reported_at  timestamptz,
    newest_reported_at  timestamptz,                -- freshness of what the source delivered
    -- [{key, expectation, columns, action, message, evaluated, unexpected, missing}, ...]
    expectations        jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- [{gate, passed, observed, limit, message}, ...]; empty until the run's last chunk
    gates               jsonb NOT NULL DEFAULT '[]'::jsonb,
    success             boolean NOT NULL DEFAULT true  -- every quarantining expectation held
);
CREATE INDEX quality_runs_source ON quality_runs (source, validated_at DESC);

-- A replayed row leaves quarantine once; a row whose record was meanwhile loaded in a newer
-- version leaves without being loaded, and says so.
ALTER TABLE quarantine ADD COLUMN release_note text;
