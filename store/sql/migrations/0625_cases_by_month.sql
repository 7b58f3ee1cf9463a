-- Cases partitioned by month of report_day (issue 29): queries of a period read only its
-- months, and retention detaches whole months (store/partitions.py) instead of deleting rows.
--
-- A unique constraint of a partitioned table must hold the partition key, and a case may move
-- to another day when its agency corrects it, so the natural key (source, source_record_id)
-- lives in case_keys, one narrow row per case: the merge looks stored versions up there,
-- links and groups refer to it, and triggers keep it equal to cases for every writer.

-- Monthly partitions named <table>_YYYY_MM for the given days, made where missing; returns how
-- many were made. The partition is created on its own and then attached, which locks the
-- parent only against other attaches, never against readers or writers; an advisory lock
-- makes two ingests that need the same new month take turns instead of failing.
CREATE FUNCTION gridhub_month_partitions(parent regclass, days date[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    month date;
    part text;
    made integer := 0;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = parent) <> 'p' THEN
        RETURN 0;  -- a table kept whole needs no months (bench_partitions compares one)
    END IF;
    FOR month IN SELECT DISTINCT date_trunc('month', d)::date FROM unnest(days) d WHERE d IS NOT NULL LOOP
        part := format('%s_%s', parent::text, to_char(month, 'YYYY_MM'));
        IF to_regclass(part) IS NULL THEN
            PERFORM pg_advisory_xact_lock(7160, hashtext('partitions:' || parent::text));  -- store/locks.py
            -- Made by the ingest we waited for? (A fresh look at pg_class: to_regclass may
            -- answer from a catalog cache taken before the wait.)
            CONTINUE WHEN EXISTS (SELECT FROM pg_class WHERE relname = part
                                  AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = parent));
            EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
            EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           parent, part, month, (month + interval '1 month')::date);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END
$$;

ALTER TABLE case_groups DROP CONSTRAINT case_groups_case_id_fkey;
ALTER TABLE case_links DROP CONSTRAINT case_links_case_a_fkey, DROP CONSTRAINT case_links_case_b_fkey;
ALTER TABLE cases RENAME TO cases_unpartitioned;
ALTER TABLE cases_unpartitioned RENAME CONSTRAINT cases_pkey TO cases_unpartitioned_pkey;
ALTER TABLE cases_unpartitioned RENAME CONSTRAINT cases_natural_key TO cases_unpartitioned_natural_key;
ALTER INDEX cases_grid_day RENAME TO cases_unpartitioned_grid_day;
ALTER INDEX cases_community_day RENAME TO cases_unpartitioned_community_day;
ALTER INDEX cases_street_day RENAME TO cases_unpartitioned_street_day;
ALTER INDEX cases_district_day RENAME TO cases_unpartitioned_district_day;
ALTER INDEX cases_day RENAME TO cases_unpartitioned_day;
ALTER INDEX cases_geom RENAME TO cases_unpartitioned_geom;

CREATE TABLE cases (LIKE cases_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)
    PARTITION BY RANGE (report_day);
SELECT gridhub_month_partitions('cases', array_agg(DISTINCT report_day)) FROM cases_unpartitioned;
INSERT INTO cases OVERRIDING SYSTEM VALUE SELECT * FROM cases_unpartitioned;
SELECT setval(pg_get_serial_sequence('cases', 'case_id'),
              greatest((SELECT max(case_id) FROM cases_unpartitioned), 1),
              (SELECT max(case_id) IS NOT NULL FROM cases_unpartitioned));

CREATE TABLE case_keys (
    case_id           bigint PRIMARY KEY,
    source            text NOT NULL,
    source_record_id  text NOT NULL,
    report_day        date NOT NULL,     -- where the case is: the merge reads one month
    CONSTRAINT case_keys_natural_key UNIQUE (source, source_record_id)
);
INSERT INTO case_keys SELECT case_id, source, source_record_id, report_day FROM cases_unpartitioned;
DROP TABLE cases_unpartitioned;

-- Indexes are made once the cases are in (each partition gets its own).
ALTER TABLE cases ADD CONSTRAINT cases_pkey PRIMARY KEY (case_id, report_day);
CREATE INDEX cases_grid_day ON cases (grid_code, report_day);
CREATE INDEX cases_community_day ON cases (community_code, report_day);
CREATE INDEX cases_street_day ON cases (street_code, report_day);
CREATE INDEX cases_district_day ON cases (district_code, report_day);
CREATE INDEX cases_day ON cases (report_day);
CREATE INDEX cases_geom ON cases USING gist (geom);

ALTER TABLE case_groups ADD CONSTRAINT case_groups_case_id_fkey
    FOREIGN KEY (case_id) REFERENCES case_keys (case_id) ON DELETE CASCADE;
ALTER TABLE case_links ADD CONSTRAINT case_links_case_a_fkey
        FOREIGN KEY (case_a) REFERENCES case_keys (case_id) ON DELETE CASCADE,
    ADD CONSTRAINT case_links_case_b_fkey
        FOREIGN KEY (case_b) REFERENCES case_keys (case_id) ON DELETE CASCADE;

-- case_keys follows cases, one statement at a time: a case inserted twice under one key fails
-- its statement on case_keys_natural_key, as it did on cases; a deleted case takes its links.
CREATE FUNCTION gridhub_case_keys_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO case_keys SELECT case_id, source, source_record_id, report_day FROM new_cases;
    RETURN NULL;
END
$$;
CREATE FUNCTION gridhub_case_keys_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE case_keys k SET source = n.source, source_record_id = n.source_record_id, report_day = n.report_day
    FROM new_cases n
    WHERE k.case_id = n.case_id
      AND (k.report_day, k.source, k.source_record_id) IS DISTINCT FROM (n.report_day, n.source, n.source_record_id);
    RETURN NULL;
END
$$;
CREATE FUNCTION gridhub_case_keys_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM case_keys k USING old_cases o WHERE k.case_id = o.case_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER case_keys_inserted AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridhub_case_keys_inserted();
CREATE TRIGGER case_keys_updated AFTER UPDATE ON cases REFERENCING NEW TABLE AS new_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridhub_case_keys_updated();
CREATE TRIGGER case_keys_deleted AFTER DELETE ON cases REFERENCING OLD TABLE AS old_cases
    FOR EACH STATEMENT EXECUTE FUNCTION gridhub_case_keys_deleted();

-- The API reads keys (links, groups) as it reads cases; ingest writes both.
GRANT SELECT ON cases, case_keys TO gridhub_api;
GRANT ALL ON cases, case_keys TO gridhub_ingest;
ANALYZE cases;
ANALYZE case_keys;
