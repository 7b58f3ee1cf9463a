"""Retention purges raw payloads past their time and keeps ids, hashes and lineage
(store/retention.py, `gridhub db purge-raw`)."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import psycopg

from connectors.spec import load_specs
from core.settings import PROJECT_ROOT, GridHubSettings
from pipeline.ingest import ingest
from store.retention import purge_raw

GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")
LINEAGE = ("SELECT count(*), count(DISTINCT content_hash), count(DISTINCT run_id),"
           " (SELECT count(*) FROM run_records), (SELECT count(*) FROM cases c JOIN raw_records r USING (raw_id))"
           " FROM raw_records")


def _age(conn: psycopg.Connection, days: int) -> None:
    conn.execute("UPDATE raw_records SET landed_at = now() - make_interval(days => %s)", (days,))
    conn.execute("UPDATE quarantine SET quarantined_at = now() - make_interval(days => %s)", (days,))


def test_payloads_past_the_retention_are_purged_and_lineage_stays(hotline_db, demo_dir):
    with psycopg.connect(hotline_db, autocommit=True) as conn:
        lineage = conn.execute(LINEAGE).fetchone()
        waiting = conn.execute("SELECT count(*) FROM quarantine WHERE released_at IS NULL").fetchone()[0]
        released = conn.execute(  # one quarantined row released, as a replay would
            "UPDATE quarantine SET released_at = now() WHERE quarantine_id = (SELECT min(quarantine_id)"
            " FROM quarantine) RETURNING raw_id").fetchone()[0]
        _age(conn, 30)
    assert purge_raw(hotline_db, timedelta(days=90)).raw_records == 0  # nothing that old yet

    with psycopg.connect(hotline_db, autocommit=True) as conn:
        _age(conn, 100)
    done = purge_raw(hotline_db, timedelta(days=90))
    assert done.quarantine == 1 and done.kept_in_quarantine == waiting - 1
    with psycopg.connect(hotline_db) as conn:
        assert conn.execute(LINEAGE).fetchone() == lineage
        left = conn.execute("SELECT count(*) FROM raw_records WHERE payload IS NOT NULL").fetchone()[0]
        purged = conn.execute("SELECT count(*) FROM raw_records WHERE payload IS NULL AND purged_at IS NOT NULL"
                              ).fetchone()[0]
        assert purged == done.raw_records == lineage[0] - left and purged > 1000
        # what waits in open quarantine keeps its payload for the replay
        assert conn.execute("SELECT count(*) FROM quarantine q JOIN raw_records r USING (raw_id)"
                            " WHERE q.released_at IS NULL AND r.payload IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT payload IS NULL FROM quarantine WHERE raw_id = %s AND released_at"
                            " IS NOT NULL", (released,)).fetchone()[0]
    assert purge_raw(hotline_db, timedelta(days=90)) == type(done)(0, 0, waiting - 1)  # nothing more

    # the same feed landed again: nothing changes in cases, and the payloads come back
    with psycopg.connect(hotline_db) as conn:
        cases = conn.execute("SELECT count(*), sum(hashtext(record_hash)) FROM cases").fetchone()
    cfg = GridHubSettings(data_dir=demo_dir, database_url=hotline_db)
    result = ingest(load_specs(cfg.resolved_sources_dir)["hotline_12345"], cfg, hotline_db)
    assert result.counts.updated == 0 and result.counts.inserted == 0
    with psycopg.connect(hotline_db) as conn:
        assert conn.execute("SELECT count(*), sum(hashtext(record_hash)) FROM cases").fetchone() == cases
        assert conn.execute("SELECT count(*) FROM raw_records WHERE payload IS NULL").fetchone()[0] == 0


def test_the_command_purges_with_one_line(hotline_db):
    env = {**os.environ, "DATABASE_URL": hotline_db, "COLUMNS": "250"}
    with psycopg.connect(hotline_db, autocommit=True) as conn:
        _age(conn, 100)
    done = subprocess.run([GRIDHUB, "db", "purge-raw", "--older-than", "90d"], capture_output=True,
                          text=True, env=env, timeout=120)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and output.startswith("purged the payloads of ") and " 0 raw" not in output, output
    for wrong in (["--older-than", "ninety"], []):
        refused = subprocess.run([GRIDHUB, "db", "purge-raw", *wrong], capture_output=True, text=True,
                                 env={k: v for k, v in env.items() if k != "GRIDHUB_RAW_RETENTION_DAYS"},
                                 timeout=120)
        output = (refused.stdout + refused.stderr).strip()
        assert refused.returncode == 1 and len(output.splitlines()) == 1 and output.startswith("error:"), output
