"""`gridhub demo run` end to end through the command line, twice."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest
from psycopg import sql

from core.settings import PROJECT_ROOT
from demo.generate import DemoManifest

pytestmark = pytest.mark.slow  # the whole demo run twice


GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")
TABLES = ("areas", "cases", "quarantine", "raw_records", "rollup_daily")


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
                for t in TABLES}


def test_demo_run_twice_leaves_identical_counts(empty_db, demo_dir):
    env = {**os.environ, "DATABASE_URL": empty_db, "GRIDHUB_DATA_DIR": str(demo_dir)}
    manifest = DemoManifest.read(demo_dir / "demo")  # run on the session's demo, not a new one
    args = [GRIDHUB, "demo", "run", "--seed", str(manifest.seed), "--records", str(manifest.records)]
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = _counts(empty_db)
    assert after_first["cases"] > 0 and after_first["areas"] > 5000
    second = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _counts(empty_db) == after_first
    with psycopg.connect(empty_db) as conn:
        runs = conn.execute("SELECT status, count(*) FROM ingest_runs GROUP BY 1").fetchall()
    assert dict(runs).get("succeeded", 0) >= 2
