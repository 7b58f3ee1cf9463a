"""Airflow on Celery workers: scripts/airflow_celery_check.py runs the api-server, the
scheduler, the dag-processor and two `airflow celery worker`s here (Redis broker, PostgreSQL
metadata database), ingests two sources at once through them and compares the result with
what the CLI leaves.

Slow (Airflow's components and two workers start in about a minute on two shared cores, then
two ingests and the CLI's): run by CI with the other slow tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import redis

from core.settings import PROJECT_ROOT

BROKER = "redis://127.0.0.1:6379/7"  # a database number of this test's own; it is flushed


@pytest.mark.slow
def test_two_sources_ingested_at_once_on_two_celery_workers_match_the_cli(server_url):
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis, the Celery broker, is not reachable at {BROKER}: {exc}",
                    pytrace=False)
    check = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "airflow_celery_check.py"),
         "--workers", "2", "--sources", "hotline_12345", "grid_patrol", "--broker", BROKER],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "DATABASE_URL": server_url})
    assert check.returncode == 0, check.stdout + check.stderr
    out = check.stdout
    assert "runs of ingest_hotline_12345: success" in out
    assert "runs of ingest_grid_patrol: success" in out
    workers = re.findall(r"^worker \S+/(worker\d) ran: (.+)$", out, re.MULTILINE)
    assert sorted(name for name, _ in workers) == ["worker1", "worker2"], out
    overlap = float(re.search(r"ran side by side for ([\d.]+) s", out).group(1))
    assert overlap > 0, out
    assert "fingerprint equals the CLI's" in out
