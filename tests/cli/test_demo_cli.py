"""`gridhub demo run` end to end through the command line, twice."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest
from psycopg import sql

from core.settings import PROJECT_ROOT
from demo.truth import FEEDS

pytestmark = pytest.mark.slow  # the whole demo run twice


GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")
TABLES = ("areas", "cases", "quarantine", "raw_records", "rollup_daily")
# Every feed still gets records (the smallest, district_system, about 45) and a run costs
# seconds per feed whatever its size.
RECORDS = 1_000
CASES_DIGEST = ("SELECT md5(string_agg(source || source_record_id || record_hash, ','"
                " ORDER BY source, source_record_id)) FROM cases")


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
                for t in TABLES}


def _scalar(url: str, query: str):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def test_demo_run_twice_leaves_identical_counts(empty_db, tmp_path):
    """The first run generates the demo and ingests every feed; the second changes nothing."""
    env = {**os.environ, "DATABASE_URL": empty_db, "GRIDHUB_DATA_DIR": str(tmp_path)}
    args = [GRIDHUB, "demo", "run", "--records", str(RECORDS)]
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = _counts(empty_db)
    assert after_first["cases"] > 0 and after_first["areas"] > 5000
    digest, last_run = _scalar(empty_db, CASES_DIGEST), _scalar(empty_db, "SELECT max(run_id) FROM ingest_runs")

    second = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _counts(empty_db) == after_first
    assert _scalar(empty_db, CASES_DIGEST) == digest
    with psycopg.connect(empty_db) as conn:
        again = conn.execute("SELECT source, status, records_read, inserted, updated, quarantined, duplicates"
                             " FROM ingest_runs WHERE run_id > %s", (last_run,)).fetchall()
    assert sorted(source for source, *_ in again) == sorted(FEEDS)
    for source, status, read, inserted, updated, quarantined, duplicates in again:
        # Everything read again is a known record: nothing new, nothing changed.
        assert (status, inserted, updated, quarantined, duplicates) == ("succeeded", 0, 0, 0, read), source
