"""A run whose process is gone (killed) is marked failed when next seen: by the next ingest of
any source, and by `gridhub sources runs`; a run whose process lives, or a landed run waiting
for its separate process step, is left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import psycopg
from typer.testing import CliRunner

from cli.main import app
from connectors.spec import SourceSpec
from core.settings import PROJECT_ROOT
from pipeline.ingest import ingest, land, process
from store import runs
from tests.pipeline.helpers import rows

CHILD = """
import sys, time, psycopg
from store import runs
conn = psycopg.connect(sys.argv[1])
print(runs.start_run(conn, sys.argv[2]), flush=True)
time.sleep(120)
"""


def _killed_run(url: str, source: str) -> int:
    """A run started by a process that is then killed with SIGKILL."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, source], stdout=subprocess.PIPE, text=True,
                             cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    try:
        run_id = int(child.stdout.readline())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    # The server ends the backend once it sees the socket closed.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(0.2)")
    return run_id


def _status(url: str) -> dict[int, tuple[str, str | None]]:
    return {r[0]: (r[1], r[2]) for r in rows(url, "SELECT run_id, status, error FROM ingest_runs")}


def _spec(tmp_path) -> SourceSpec:
    (tmp_path / "feed.jsonl").write_text(json.dumps({"id": "A1", "t": "2025-03-01T10:00:00+08:00"}) + "\n")
    return SourceSpec.model_validate({
        "name": "small", "agency": "test", "kind": "dispute", "format": "jsonl",
        "location": f"{tmp_path}/feed.jsonl", "primary_key": "id",
        "fields": {"source_record_id": {"from": "id"}, "reported_at": {"from": "t", "parse": "datetime"},
                   "category": {"const": "other"}, "status": {"const": "reported"}}})


def test_a_killed_run_is_marked_failed_by_sources_runs(db_url, demo_dir):
    killed = _killed_run(db_url, "hotline_12345")
    with psycopg.connect(db_url) as alive:
        living = runs.start_run(alive, "police_110")  # its process is this test: left alone
        shown = CliRunner().invoke(app, ["sources", "runs"], env={"DATABASE_URL": db_url,
                                   "GRIDHUB_DATA_DIR": str(demo_dir)}, terminal_width=250)
        assert shown.exit_code == 0, shown.output
        assert f"run {killed} of hotline_12345 was still marked running but its process is gone" in shown.output
        status = _status(db_url)
        assert status[killed] == ("failed", runs.ORPHANED) and status[living] == ("running", None)
    # Its process gone too, the next look reaps it.
    with psycopg.connect(db_url) as conn:
        assert runs.reap_orphans(conn) == [(living, "police_110")]


def test_the_next_ingest_of_any_source_reaps_killed_runs_and_leaves_waiting_ones(settings, db_url, tmp_path):
    spec = _spec(tmp_path)
    waiting = land(spec, settings, db_url)  # landed; its process step (Airflow's) comes later
    killed = _killed_run(db_url, "hotline_12345")
    assert _status(db_url)[killed] == ("running", None)
    with psycopg.connect(db_url) as conn:
        assert runs.reap_orphans(conn) == [(killed, "hotline_12345")]
    killed_again = _killed_run(db_url, "hotline_12345")
    other = SourceSpec.model_validate({**spec.model_dump(by_alias=True), "name": "other"})
    done = ingest(other, settings, db_url)
    status = _status(db_url)
    assert status[killed_again] == ("failed", runs.ORPHANED)
    assert status[waiting] == ("running", None) and status[done.run_id] == ("succeeded", None)
    assert process(spec, settings, db_url, waiting).counts.inserted == 1
