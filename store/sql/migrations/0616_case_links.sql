-- Cross-agency linking (issue 28): the dispute group of every case the linker has seen, and
-- each link between two cases with the evidence that made it. A group is named by the
-- smallest case_id among its members; a case alone is a group of one.
CREATE TABLE IF NOT EXISTS case_groups (
    case_id    bigint PRIMARY KEY REFERENCES cases (case_id) ON DELETE CASCADE,
    group_id   bigint NOT NULL,
    linked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS case_groups_group ON case_groups (group_id);

CREATE TABLE IF NOT EXISTS case_links (
    case_a     bigint NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    case_b     bigint NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    score      real NOT NULL,
    evidence   jsonb NOT NULL,  -- distance, time gap, category, person key, amount, similarities
    linked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_a, case_b),
    CHECK (case_a < case_b)
);
CREATE INDEX IF NOT EXISTS case_links_b ON case_links (case_b);
