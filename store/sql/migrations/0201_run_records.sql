-- Connectors: which raw records each run read, in input order. Raw records are stored once
-- per content (raw_records_content), so a run that re-reads a file links to the records an
-- earlier run landed; processing a run reads its records back through this table.
CREATE TABLE run_records (
    run_id    bigint NOT NULL,
    position  bigint NOT NULL,   -- record number within the run's input
    raw_id    bigint NOT NULL,
    PRIMARY KEY (run_id, position)
);

-- A run's landing commits on its own, before processing: landed_at marks it complete, and
-- source_fields lists the fields its records carried (schema drift shows here, run to run).
ALTER TABLE ingest_runs
    ADD COLUMN landed_at timestamptz,
    ADD COLUMN source_fields jsonb;
