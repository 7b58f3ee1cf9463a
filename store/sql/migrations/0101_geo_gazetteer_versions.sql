-- Geo: the standard-address gazetteer, boundary versions, and the history of case
-- assignments that a boundary change replaced.

-- Standard addresses (门牌 / 楼栋) with their point and the codes published with them.
CREATE TABLE gazetteer (
    address_id      bigint PRIMARY KEY,
    district_code   text NOT NULL,
    street_code     text,
    community_code  text,
    grid_code       text,
    road            text,
    number          integer,
    compound        text,
    building        integer,
    text            text NOT NULL,
    households      integer,
    geom            geometry(Point, 4326) NOT NULL
);
CREATE INDEX gazetteer_district ON gazetteer (district_code);

-- One row per loaded boundary version: what changed and from which day it holds.
CREATE TABLE area_versions (
    version_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    effective_from    date NOT NULL,
    level             text NOT NULL CHECK (level IN ('city', 'district', 'street', 'community', 'grid')),
    source            text,                      -- the file it came from
    loaded_at         timestamptz NOT NULL DEFAULT now(),
    added             integer NOT NULL DEFAULT 0,
    changed           integer NOT NULL DEFAULT 0,
    closed            integer NOT NULL DEFAULT 0,
    unchanged         integer NOT NULL DEFAULT 0,
    cases_reassigned  bigint NOT NULL DEFAULT 0,
    report            jsonb NOT NULL DEFAULT '{}'::jsonb
);

ALTER TABLE areas ADD COLUMN version_id bigint REFERENCES area_versions (version_id);

-- The assignment a case had before a boundary version re-assigned it (history queries).
-- No foreign key to cases: cases may become a partitioned table.
CREATE TABLE case_area_history (
    case_id            bigint NOT NULL,
    version_id         bigint NOT NULL REFERENCES area_versions (version_id),
    grid_code          text,
    community_code     text,
    street_code        text,
    district_code      text,
    geocode_method     text NOT NULL,
    geocode_precision  text,
    replaced_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, version_id)
);
CREATE INDEX case_area_history_version ON case_area_history (version_id);
