-- Rollup measures for the API (issue 6): counts by current status, a histogram of hours to
-- close (for medians), the close-day lags of each report-day cohort (so that closures can be
-- re-counted by the day they happened without re-reading old cases), closures by close day,
-- and a monthly rollup with per-area totals and open-at-end-of-month.

-- Hours-to-close buckets: upper edges 1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336,
-- 504, 720, 1080, 1440, 2160, 4320 hours; the 21st bucket holds everything longer.
ALTER TABLE rollup_daily
    ADD COLUMN status_reported     integer NOT NULL DEFAULT 0,
    ADD COLUMN status_accepted     integer NOT NULL DEFAULT 0,
    ADD COLUMN status_in_mediation integer NOT NULL DEFAULT 0,
    ADD COLUMN status_resolved     integer NOT NULL DEFAULT 0,
    ADD COLUMN status_unresolved   integer NOT NULL DEFAULT 0,
    ADD COLUMN status_referred     integer NOT NULL DEFAULT 0,
    ADD COLUMN status_closed       integer NOT NULL DEFAULT 0,
    ADD COLUMN close_hist          integer[] NOT NULL DEFAULT '{}',
    -- close_lags[i] days after the report day, close_lag_counts[i] cases of this row closed.
    ADD COLUMN close_lags          integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN close_lag_counts    integer[] NOT NULL DEFAULT '{}';

-- Cases closed on each local day (whatever day they were reported): open at end of day D is
-- the sum over days <= D of reported - closed.
CREATE TABLE rollup_closed_daily (
    area_code  text NOT NULL,
    level      text NOT NULL,
    day        date NOT NULL,
    kind       text NOT NULL,
    category   text NOT NULL,
    closed     integer NOT NULL,
    PRIMARY KEY (area_code, day, kind, category)
);

-- Monthly sums of both daily tables. Rows with kind = '*' and category = '*' hold the
-- area's totals, so maps and tables of many areas read one row per area and month.
-- open_end: cases open at the end of the month (cumulative reported - closed).
CREATE TABLE rollup_monthly (
    area_code           text NOT NULL,
    level               text NOT NULL,
    month               date NOT NULL,
    kind                text NOT NULL,
    category            text NOT NULL,
    reported            integer NOT NULL,
    resolved            integer NOT NULL,
    in_mediation        integer NOT NULL,
    settled             integer NOT NULL,
    not_settled         integer NOT NULL,
    closed              integer NOT NULL,
    close_hours_sum     double precision NOT NULL,
    status_reported     integer NOT NULL,
    status_accepted     integer NOT NULL,
    status_in_mediation integer NOT NULL,
    status_resolved     integer NOT NULL,
    status_unresolved   integer NOT NULL,
    status_referred     integer NOT NULL,
    status_closed       integer NOT NULL,
    close_hist          integer[] NOT NULL,
    closed_on           integer NOT NULL,
    open_end            integer NOT NULL DEFAULT 0,
    PRIMARY KEY (area_code, month, kind, category)
);
CREATE INDEX rollup_monthly_level_totals ON rollup_monthly (level, month, area_code)
    WHERE kind = '*' AND category = '*';
CREATE INDEX rollup_monthly_area_totals ON rollup_monthly (area_code, month)
    WHERE kind = '*' AND category = '*';

-- Bumped by every rollup change; API workers drop cached answers when it moves.
CREATE SEQUENCE rollup_generation;

-- The audit log: which area a request asked about, and how long the answer took.
ALTER TABLE audit_log
    ADD COLUMN area_code   text,
    ADD COLUMN duration_ms double precision;
CREATE INDEX audit_log_key ON audit_log (key_id, at);
