-- Core schema: governance areas, raw landing, cases, quarantine, runs, rollups, warnings,
-- API keys and the audit log. Later migrations add to it; none edits an applied file.

CREATE EXTENSION IF NOT EXISTS postgis;

-- One hierarchy for every level (city > district > street > community > grid). A boundary
-- change closes the old row (valid_to) and opens a new one, so history keeps old shapes.
CREATE TABLE areas (
    code        text NOT NULL,
    valid_from  date NOT NULL DEFAULT DATE '1900-01-01',
    valid_to    date,                       -- exclusive; NULL while current
    level       text NOT NULL CHECK (level IN ('city', 'district', 'street', 'community', 'grid')),
    parent_code text,
    name        text NOT NULL,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    attributes  jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (code, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX areas_current_code ON areas (code) WHERE valid_to IS NULL;
CREATE INDEX areas_parent ON areas (parent_code) WHERE valid_to IS NULL;
CREATE INDEX areas_level ON areas (level) WHERE valid_to IS NULL;
CREATE INDEX areas_geom ON areas USING gist (geom);

-- Every pipeline run: lineage and the counts that must add up
-- (records_read = loaded + quarantined + duplicates).
CREATE TABLE ingest_runs (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          text NOT NULL,
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed', 'stopped')),
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    records_read    bigint NOT NULL DEFAULT 0,
    loaded          bigint NOT NULL DEFAULT 0,   -- inserted + updated
    inserted        bigint NOT NULL DEFAULT 0,
    updated         bigint NOT NULL DEFAULT 0,
    quarantined     bigint NOT NULL DEFAULT 0,
    duplicates      bigint NOT NULL DEFAULT 0,
    watermark_from  text,
    watermark_to    text,
    error           text,
    params          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX ingest_runs_source ON ingest_runs (source, started_at DESC);

-- Per-source incremental state; advanced only in the transaction that commits a run.
CREATE TABLE source_state (
    source      text PRIMARY KEY,
    watermark   text,
    last_run_id bigint REFERENCES ingest_runs (run_id),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Raw landing zone: every record exactly as read, before any transformation.
CREATE TABLE raw_records (
    raw_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source        text NOT NULL,
    run_id        bigint NOT NULL,
    position      bigint NOT NULL,             -- record number within the run's input
    record_key    text,                        -- the source's primary key, when readable
    content_hash  text NOT NULL,
    payload       jsonb NOT NULL,
    landed_at     timestamptz NOT NULL DEFAULT now()
);
-- Landing is idempotent: the same content from the same source is stored once.
CREATE UNIQUE INDEX raw_records_content ON raw_records (source, content_hash);
CREATE INDEX raw_records_run ON raw_records (run_id, position);
CREATE INDEX raw_records_key ON raw_records (source, record_key);

-- The canonical case (DESIGN.md). Personal data never appears here in clear.
CREATE TABLE cases (
    case_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source                text NOT NULL,
    source_record_id      text NOT NULL,
    record_hash           text NOT NULL,
    run_id                bigint NOT NULL,
    raw_id                bigint,
    ingested_at           timestamptz NOT NULL DEFAULT now(),
    previous_hash         text,                -- the version this one replaced
    previous_ingested_at  timestamptz,
    kind                  text NOT NULL,
    category              text NOT NULL,
    raw_category          text,
    status                text NOT NULL,
    outcome               text,
    reported_at           timestamptz NOT NULL,
    occurred_at           timestamptz,
    closed_at             timestamptz,
    report_day            date NOT NULL,       -- local day of reported_at in the city's zone
    geom                  geometry(Point, 4326),
    src_x                 double precision,
    src_y                 double precision,
    src_crs               text,
    address               text,
    area_name             text,
    source_grid_code      text,
    grid_code             text,
    community_code        text,
    street_code           text,
    district_code         text,
    city_code             text NOT NULL,
    geocode_method        text NOT NULL,
    geocode_precision     text,
    unlocated_reason      text,
    severity              smallint,
    parties               smallint,
    amount                numeric(16, 2),
    person_key            text,                -- keyed hash linking repeat callers
    attributes            jsonb,
    CONSTRAINT cases_natural_key UNIQUE (source, source_record_id),
    CHECK (geocode_method IN ('coordinates', 'grid_code', 'address', 'area_name', 'none')),
    CHECK (grid_code IS NOT NULL OR geocode_method <> 'coordinates')
);
CREATE INDEX cases_grid_day ON cases (grid_code, report_day);
CREATE INDEX cases_community_day ON cases (community_code, report_day);
CREATE INDEX cases_street_day ON cases (street_code, report_day);
CREATE INDEX cases_district_day ON cases (district_code, report_day);
CREATE INDEX cases_day ON cases (report_day);
CREATE INDEX cases_geom ON cases USING gist (geom);

-- Rows that failed validation, with every reason, their raw payload and the run.
CREATE TABLE quarantine (
    quarantine_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source            text NOT NULL,
    source_record_id  text,
    run_id            bigint NOT NULL,
    raw_id            bigint,
    payload           jsonb NOT NULL,
    reasons           jsonb NOT NULL,          -- [{"check": ..., "message": ...}, ...]
    quarantined_at    timestamptz NOT NULL DEFAULT now(),
    released_at       timestamptz,             -- set once, when a replay takes the row out
    released_run_id   bigint
);
CREATE INDEX quarantine_open ON quarantine (source, run_id) WHERE released_at IS NULL;
-- A raw record sits in open quarantine at most once, however often its run is repeated.
CREATE UNIQUE INDEX quarantine_open_raw ON quarantine (source, raw_id) WHERE released_at IS NULL;

-- Daily counts per area (every level) x day x kind x category, recomputed only for the
-- (area, day) pairs an ingest touched.
CREATE TABLE rollup_daily (
    area_code        text NOT NULL,
    level            text NOT NULL,
    day              date NOT NULL,
    kind             text NOT NULL,
    category         text NOT NULL,
    reported         integer NOT NULL,
    resolved         integer NOT NULL,
    in_mediation     integer NOT NULL,
    settled          integer NOT NULL,
    not_settled      integer NOT NULL,
    closed           integer NOT NULL,
    close_hours_sum  double precision NOT NULL,
    PRIMARY KEY (area_code, day, kind, category)
);
CREATE INDEX rollup_daily_level_day ON rollup_daily (level, day);

-- Early warnings, one row per (area, signal) episode.
CREATE TABLE alerts (
    alert_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    area_code     text NOT NULL,
    level         text NOT NULL,
    signal        text NOT NULL,               -- e.g. 'kind:dispute' or 'category:labour'
    method        text NOT NULL,
    severity      text NOT NULL CHECK (severity IN ('yellow', 'red')),
    status        text NOT NULL DEFAULT 'new'
                  CHECK (status IN ('new', 'ongoing', 'acknowledged', 'resolved', 'expired')),
    first_day     date NOT NULL,
    last_day      date NOT NULL,
    observed      double precision,
    expected      double precision,
    score         double precision,
    p_value       double precision,
    parent_alert_id bigint REFERENCES alerts (alert_id),
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    acknowledged_by text,
    acknowledged_at timestamptz
);
CREATE INDEX alerts_area ON alerts (area_code, status);

-- API keys are stored as hashes only; scope is the area subtree a key may see.
CREATE TABLE api_keys (
    key_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash     text NOT NULL UNIQUE,
    prefix       text NOT NULL,
    name         text,
    role         text NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    scope_code   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE audit_log (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    key_id      bigint,
    role        text,
    method      text NOT NULL,
    path        text NOT NULL,
    query       text,
    status      integer NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
