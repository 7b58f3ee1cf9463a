"""`airflow standalone` on the repo's dags/ lists every source DAG, with no import errors.

Slow (Airflow's four components start in 20-60 s on two shared cores), but run by default:
it is the one test where the real scheduler, dag-processor and api-server see the DAGs.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from connectors.spec import load_specs
from core.settings import PROJECT_ROOT, GridHubSettings


@pytest.mark.slow
def test_standalone_airflow_lists_every_source_dag_without_import_errors():
    check = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "airflow_check.py")],
                           capture_output=True, text=True, timeout=420)
    assert check.returncode == 0, check.stdout + check.stderr
    listed = check.stdout.split("DAGs listed: ", 1)[1].splitlines()[0].split(", ")
    sources = load_specs(GridHubSettings().resolved_sources_dir)
    assert {f"ingest_{name}" for name in sources} <= set(listed)
    assert "import errors: 0" in check.stdout
