"""An ingest killed half-way (while landing, or while loading) and then re-run ends with exactly
the rows of a clean run; the watermark does not move for the killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

from core.settings import PROJECT_ROOT, GridHubSettings
from demo.feeds.police_api import PoliceApi
from pipeline.ingest import ingest
from tests.conftest import _create_db, _drop_db
from tests.connectors.helpers import rows, scalar

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


@pytest.fixture
def clean_db(server_url, city_template):
    name = f"gridhub_test_{uuid.uuid4().hex[:12]}"
    yield _create_db(server_url, name, template=city_template)
    _drop_db(server_url, name)


def _state(url: str) -> dict:
    """What a user would compare: cases, quarantine, rollups and raw landing, ids left out."""
    return {
        "cases": rows(url, "SELECT source_record_id, record_hash, status, category, grid_code,"
                           " geocode_method, reported_at, amount FROM cases ORDER BY 1"),
        # Reasons by check (their messages may quote the clock, e.g. "in the future (after ...)").
        "quarantine": rows(url, "SELECT source_record_id, jsonb_path_query_array(reasons, '$[*].check')::text"
                                " FROM quarantine WHERE released_at IS NULL ORDER BY 1, 2"),
        "rollups": rows(url, "SELECT area_code, day, kind, category, reported, resolved, closed"
                             " FROM rollup_daily ORDER BY 1, 2, 3, 4"),
        "raw": rows(url, "SELECT content_hash FROM raw_records ORDER BY 1"),
        "watermark": rows(url, "SELECT watermark FROM source_state"),
    }


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
def test_killed_ingest_rerun_equals_a_clean_run(settings, db_url, clean_db, demo_dir, phase):
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
                _wait_for(db_url, "SELECT count(*) FROM ingest_runs WHERE landed_at IS NOT NULL", child)
                time.sleep(0.5)
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
        clean = ingest(spec, GridHubSettings(data_dir=demo_dir, database_url=clean_db), clean_db,
                       variables=variables)
    assert rerun.counts.adds_up() and rerun.counts.records_read == clean.counts.records_read
    assert (rerun.counts.inserted, rerun.counts.quarantined) == (clean.counts.inserted,
                                                                 clean.counts.quarantined)
    assert _state(db_url) == _state(clean_db)
    statuses = dict(rows(db_url, "SELECT run_id, status FROM ingest_runs"))
    assert statuses[killed[0][0]] == "failed" and statuses[rerun.run_id] == "succeeded"
