"""What ingests leave in a database, as row counts and digests: two databases that went
through the same work (the CLI and Airflow, Celery workers and one process, a backfill in
windows and one whole-range run) must match, and a re-run must not change them.
"""

from __future__ import annotations

import psycopg

# How many rows each table holds, and digests of every case's identity, content and grid,
# and of every quarantined record's failed checks.
FINGERPRINT_QUERIES = {
    "cases": "SELECT count(*) FROM cases",
    "quarantined": "SELECT count(*) FROM quarantine WHERE released_at IS NULL",
    "raw_records": "SELECT count(*) FROM raw_records",
    "rollup_rows": "SELECT count(*) FROM rollup_daily",
    "rollup_reported": "SELECT coalesce(sum(reported), 0) FROM rollup_daily WHERE level = 'city'",
    "cases_digest": "SELECT md5(coalesce(string_agg(concat_ws('|', source, source_record_id,"
                    " record_hash, grid_code, geocode_method), ',' ORDER BY source, source_record_id),"
                    " '')) FROM cases",
    # The checks that failed, not their messages: some name the time of the run.
    "quarantine_digest": "SELECT md5(coalesce(string_agg(concat_ws('|', source, source_record_id,"
                         " jsonb_path_query_array(reasons, '$[*].check')::text), ','"
                         " ORDER BY source, source_record_id, raw_id), '')) FROM quarantine"
                         " WHERE released_at IS NULL",
    "alerts_digest": "SELECT count(*) || ':' || md5(coalesce(string_agg(concat_ws('|', area_code,"
                     " signal, method, severity, status, first_day, last_day), ','"
                     " ORDER BY area_code, signal, first_day), '')) FROM alerts",
    "hotspots": "SELECT count(*) FROM hotspots",
}


def fingerprint_of(url: str) -> dict:
    """Row counts and digests of what the ingests into the database at url left behind."""
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchone()[0]
                for name, query in FINGERPRINT_QUERIES.items()}
