-- Two roles, so that the API cannot read what people told an agency (issue 30, docs/privacy.md):
--   gridhub_api    what the API needs: every serving table, none of the raw payloads (raw_records)
--                  nor the quarantined rows' payloads and reasons, which hold names, phones and
--                  ID numbers as received; it writes only the audit log and alert acknowledgements.
--   gridhub_ingest the pipeline and maintenance: everything, raw payloads included.
-- Both are NOLOGIN group roles: give a login role membership (GRANT gridhub_api TO api_login),
-- or let a login take the role at connect (GRIDHUB_API_DATABASE_ROLE=gridhub_api).
-- Roles belong to the whole cluster, and several GridHub databases may share one: created once.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridhub_api') THEN
        CREATE ROLE gridhub_api NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridhub_ingest') THEN
        CREATE ROLE gridhub_ingest NOLOGIN;
    END IF;
END
$$;

-- The role that migrates can hand both out (a superuser can already).
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT gridhub_api, gridhub_ingest TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO gridhub_api, gridhub_ingest;

GRANT ALL ON ALL TABLES IN SCHEMA public TO gridhub_ingest;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO gridhub_ingest;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO gridhub_ingest;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO gridhub_ingest;

-- Tables added later are serving tables unless their migration says otherwise: one that holds
-- personal data in clear must REVOKE SELECT ON it FROM gridhub_api, as below.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO gridhub_api;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO gridhub_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO gridhub_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO gridhub_api;
GRANT INSERT ON audit_log TO gridhub_api;
GRANT UPDATE ON alerts TO gridhub_api;

REVOKE ALL ON raw_records FROM gridhub_api;
-- /sources counts the rows waiting in quarantine per source: those columns, no payload or reason.
REVOKE ALL ON quarantine FROM gridhub_api;
GRANT SELECT (quarantine_id, source, run_id, raw_id, quarantined_at, released_at, released_run_id)
    ON quarantine TO gridhub_api;

-- Retention (store/retention.py, `gridhub db purge-raw`): a payload older than the retention is
-- set to NULL, its row kept with its ids, content hash, run lineage and the time it was purged.
-- Landing the same content again brings the payload back (store/loading.py).
ALTER TABLE raw_records ALTER COLUMN payload DROP NOT NULL, ADD COLUMN purged_at timestamptz;
ALTER TABLE quarantine ALTER COLUMN payload DROP NOT NULL, ADD COLUMN purged_at timestamptz;
