-- The rollup generation as a row beside its sequence: a streaming replica replays a
-- sequence's value only every 32 calls (sequences log ahead), so an API reading from a replica
-- would miss refreshes; a row's update is replayed with its transaction.
CREATE TABLE IF NOT EXISTS rollup_state (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation bigint NOT NULL
);
INSERT INTO rollup_state (generation)
SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM rollup_generation
ON CONFLICT DO NOTHING;
GRANT SELECT ON rollup_state TO gridhub_api;
