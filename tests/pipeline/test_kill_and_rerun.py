"""An ingest killed half-way (while landing, or while loading) and then re-run ends with exactly
the rows of a clean run; the watermark does not move for the killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

from core.settings import PROJECT_ROOT, GridHubSettings
from demo.feeds.police_api import PoliceApi
from pipeline.ingest import ingest
from tests.pipeline.helpers import ingest_state, rows, scalar

pytestmark = pytest.mark.slow  # ingests killed and re-run end to end


SOURCE = "police_110"
CHILD = """
import json, sys
from connectors.spec import load_specs
from core.settings import GridHubSettings
from pipeline.ingest import ingest
cfg = GridHubSettings.model_validate_json(sys.argv[1])
spec = load_specs(cfg.resolved_sources_dir)[sys.argv[2]]
ingest(spec, cfg, cfg.database_url, variables=json.loads(sys.argv[3]))
"""


def _wait_for(url: str, query: str, child: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert child.poll() is None, "the ingest finished before it could be killed"
        with psycopg.connect(url) as conn:
            if conn.execute(query).fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {query}")


@pytest.mark.parametrize("phase", ["landing", "loading"])
def test_killed_ingest_rerun_equals_a_clean_run(settings, db_url, second_db_url, demo_dir, phase):
    specs_dir = settings.resolved_sources_dir
    from connectors.spec import load_specs

    spec = load_specs(specs_dir)[SOURCE]
    with PoliceApi(demo_dir / "demo" / "feeds" / "police_110", token="tok") as api:
        variables = {"GRIDHUB_POLICE_API_URL": api.url, "GRIDHUB_POLICE_API_TOKEN": "tok"}
        cfg = GridHubSettings(data_dir=demo_dir, database_url=db_url)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, cfg.model_dump_json(), SOURCE, json.dumps(variables)],
            cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
        try:
            if phase == "landing":
                _wait_for(db_url, "SELECT count(*) FROM ingest_runs", child)
            else:
                # Cases are being loaded once another session holds a write lock on the table
                # (its transaction is not committed, so the rows themselves cannot be seen).
                _wait_for(db_url, "SELECT count(*) FROM pg_locks WHERE relation = 'cases'::regclass"
                                  " AND mode IN ('RowExclusiveLock', 'AccessExclusiveLock')", child)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
        killed = rows(db_url, "SELECT run_id, status FROM ingest_runs")
        assert killed and all(status == "running" for _, status in killed)
        assert scalar(db_url, "SELECT count(*) FROM cases") == 0  # nothing loaded
        assert rows(db_url, "SELECT watermark FROM source_state") == []

        rerun = ingest(spec, cfg, db_url, variables=variables)
        clean = ingest(spec, GridHubSettings(data_dir=demo_dir, database_url=second_db_url), second_db_url,
                       variables=variables)
    assert rerun.counts.adds_up() and rerun.counts.records_read == clean.counts.records_read
    assert (rerun.counts.inserted, rerun.counts.quarantined) == (clean.counts.inserted,
                                                                 clean.counts.quarantined)
    assert ingest_state(db_url) == ingest_state(second_db_url)
    statuses = dict(rows(db_url, "SELECT run_id, status FROM ingest_runs"))
    assert statuses[killed[0][0]] == "failed" and statuses[rerun.run_id] == "succeeded"
