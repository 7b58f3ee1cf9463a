"""Airflow for the DAG tests: a throwaway AIRFLOW_HOME, the repo's dags/, a SQLite metadata DB.

Airflow reads its configuration once, when `airflow` is first imported, so the environment is
set here, at collection time, before any test module imports it. The metadata database is
migrated once per session (SQLite is Airflow's own test setup and holds only Airflow's
bookkeeping; GridHub's data always goes to the real PostGIS test databases). All DAG tests
run in this one process: the first `dag.test()` builds Airflow's in-process execution API
(~6 s), later ones reuse it.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from core.settings import PROJECT_ROOT
from pipeline.fingerprint import fingerprint_of  # shared with scripts/airflow_celery_check.py

DAGS_FOLDER = PROJECT_ROOT / "dags"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="gridhub-airflow-"))
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)

os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__CORE__PARALLELISM": "4",
    # Retries in seconds, not the production five minutes: the retry test waits for one.
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
})


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database, migrated once for the session."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, text=True,
                   timeout=300)
    return AIRFLOW_HOME / "airflow.db"


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    """Every DAG file of dags/, parsed the way the dag-processor parses its "dags-folder" bundle
    (which puts the folder on sys.path, so DAG files can import their helper package)."""
    from airflow.dag_processing.dagbag import BundleDagBag

    return BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER,
                        bundle_name="dags-folder")


@pytest.fixture
def gridhub_env(monkeypatch, db_url, demo_dir) -> str:
    """Point the DAGs' tasks at this test's database (as an Airflow connection) and demo data."""
    monkeypatch.setenv("AIRFLOW_CONN_GRIDHUB", db_url)
    monkeypatch.setenv("GRIDHUB_DATA_DIR", str(demo_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return db_url


@pytest.fixture
def run_dag(dagbag):
    """Run a DAG of the bag with dag.test(); returns its state and each task's state and tries."""

    def run(dag_id: str, **kwargs) -> DagRunResult:
        from airflow.dag_processing.dagbag import BundleDagBag
        from airflow.models import TaskInstance
        from airflow.utils.session import create_session

        # The DAG's file parsed afresh for every run, as a worker does for every task: Airflow
        # merges a run's conf into the Param objects the DAG holds, so in one process a run's
        # conf would otherwise leak into the next run's params.
        fresh = BundleDagBag(dag_folder=dagbag.dags[dag_id].fileloc, bundle_path=DAGS_FOLDER,
                             bundle_name="dags-folder")
        dag_run = fresh.dags[dag_id].test(**kwargs)
        with create_session() as session:
            tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dag_run.run_id).all()
            tasks = {ti.task_id: (str(ti.state), ti.try_number) for ti in tis}
        return DagRunResult(str(dag_run.state), tasks)

    return run


def ingest_runs_of(url: str) -> list[dict]:
    """Every ingest run recorded in the database, oldest first."""
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute("SELECT * FROM ingest_runs ORDER BY run_id").fetchall()


class DagRunResult:
    """The outcome of one DAG run: its state, and (state, try number) per task id."""

    def __init__(self, state: str, tasks: dict[str, tuple[str, int]]):
        self.state = state
        self.tasks = tasks

    def __repr__(self) -> str:
        return f"DagRunResult({self.state!r}, {self.tasks!r})"


@pytest.fixture
def fingerprint():
    """fingerprint(url): row counts and digests of what an ingest leaves behind."""
    return fingerprint_of


@pytest.fixture
def ingest_runs():
    """ingest_runs(url): every ingest run recorded in a database, oldest first."""
    return ingest_runs_of


@pytest.fixture(scope="session")
def cli_reference(databases, city_template, demo_dir) -> dict:
    """What `gridhub ingest hotline_12345` leaves in a fresh database: the clean run to match."""
    return _cli_fingerprints(databases, city_template, demo_dir)["ingest"]


@pytest.fixture(scope="session")
def cli_reference_with_warnings(databases, city_template, demo_dir) -> dict:
    """... and what `gridhub warn run` then adds."""
    return _cli_fingerprints(databases, city_template, demo_dir)["warn"]


@functools.cache
def _cli_fingerprints(databases, city_template: str, demo_dir: Path) -> dict[str, dict]:
    from typer.testing import CliRunner

    from cli.main import app

    found = {}
    with databases.clone(city_template) as url:
        env = {"DATABASE_URL": url, "GRIDHUB_DATA_DIR": str(demo_dir)}
        for step, command in (("ingest", ["ingest", "hotline_12345"]), ("warn", ["warn", "run"])):
            result = CliRunner().invoke(app, command, env=env)
            assert result.exit_code == 0, result.output
            found[step] = fingerprint_of(url)
    return found
