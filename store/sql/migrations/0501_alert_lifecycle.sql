-- Early warning (issue 7): alert episodes shown in every enclosing area, Gi* hotspots on grids,
-- and a record of each warning run. Extends the alerts table of 0001_core.sql.

ALTER TABLE alerts
    ADD COLUMN peak_day    date,
    ADD COLUMN alarm_days  integer NOT NULL DEFAULT 1,
    ADD COLUMN as_of       date,                 -- the run day that last updated the alert
    ADD COLUMN closed_day  date;                 -- the run day that resolved or expired it

-- One open alert per (area, signal): a continuing episode updates its alert, never adds one.
CREATE UNIQUE INDEX alerts_one_open ON alerts (area_code, signal)
    WHERE status IN ('new', 'ongoing', 'acknowledged');
CREATE INDEX alerts_episode ON alerts (area_code, signal, first_day);
CREATE INDEX alerts_recent ON alerts (last_day DESC, status);

-- An alert belongs to its own area and to every area enclosing it: a warning in a grid is
-- listed under its community, street and district without being copied there.
CREATE TABLE alert_areas (
    area_code  text NOT NULL,
    alert_id   bigint NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    depth      smallint NOT NULL,                -- 0: the alert's own area, 1: its parent, ...
    PRIMARY KEY (area_code, alert_id)
);
CREATE INDEX alert_areas_alert ON alert_areas (alert_id);

-- Getis-Ord Gi* hotspots among grid cells, per day and signal, kept after false-discovery-rate
-- control across all cells of that day and signal.
CREATE TABLE hotspots (
    day        date NOT NULL,
    signal     text NOT NULL,
    grid_code  text NOT NULL,
    z_score    double precision NOT NULL,
    p_value    double precision NOT NULL,
    q_value    double precision NOT NULL,
    observed   double precision NOT NULL,     -- cases in the cell's neighbourhood over the window
    expected   double precision NOT NULL,
    PRIMARY KEY (day, signal, grid_code)
);
CREATE INDEX hotspots_grid ON hotspots (grid_code, day);

-- Every `gridhub warn run`: the day it judged, what it changed.
CREATE TABLE warning_runs (
    run_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    as_of        date NOT NULL,
    method       text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    opened       integer NOT NULL DEFAULT 0,
    updated      integer NOT NULL DEFAULT 0,
    closed       integer NOT NULL DEFAULT 0,
    hotspots     integer NOT NULL DEFAULT 0,
    escalations  integer NOT NULL DEFAULT 0,
    params       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX warning_runs_as_of ON warning_runs (as_of DESC);
