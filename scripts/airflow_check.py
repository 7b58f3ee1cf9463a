#!/usr/bin/env python
"""Start `airflow standalone` on the repo's dags/ and check, through Airflow's REST API, that
every source DAG (and every DAG file) is listed, with no import errors.

    .venv/bin/python scripts/airflow_check.py [--port 8080] [--timeout 180] [--keep-home]
    .venv/bin/python scripts/airflow_check.py --backfill

Airflow runs in a throwaway AIRFLOW_HOME with a SQLite metadata database, LocalExecutor,
parallelism 4 and every DAG paused, so nothing is ingested: this checks parsing and
registration the way the scheduler, dag-processor and api-server see them. Exit status 0
when every check passes; the figures (startup time, DAG counts) are printed either way.

--backfill also runs a real backfill through the scheduler: a small demo in a scratch
database of the GridHub server (DATABASE_URL, else `gridhub db up`'s) with the demo's district
case system (a SQL source), `POST /api/v2/backfills` over three hours of ingest_district_system,
and then checks that every backfill run succeeded and read exactly the district cases updated
in its data interval, leaving the source's incremental watermark alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.spec import load_specs  # noqa: E402  (after the repo is on sys.path)
from core.settings import GridHubSettings  # noqa: E402

DAGS_FOLDER = ROOT / "dags"
ADMIN = "admin"


@dataclass
class CheckReport:
    """What the running Airflow answered, and what is wrong with it."""

    started_in_s: float = 0.0
    listed_in_s: float = 0.0
    stopped_in_s: float = 0.0
    dag_ids: list[str] = field(default_factory=list)
    import_errors: list[dict] = field(default_factory=list)
    backfill_runs: list[dict] = field(default_factory=list)
    backfill_in_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_env(home: Path, port: int) -> dict[str, str]:
    """The environment of a private standalone Airflow serving dags/ on 127.0.0.1:port."""
    base_url = f"http://127.0.0.1:{port}"
    return {
        **{k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # Registered but never run: this check must not ingest into anyone's database.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        # Parse new files at once rather than on the default five-minute folder scan.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    }


def start(home: Path, env: dict[str, str]) -> subprocess.Popen:
    """`make airflow` (the README's command: `airflow standalone`) in its own process group,
    its output in home/standalone.log."""
    log = (home / "standalone.log").open("wb")
    return subprocess.Popen(["make", "--no-print-directory", "-C", str(ROOT), "airflow"], env=env,
                            cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """SIGINT to the whole group (standalone stops its components), then SIGTERM, then SIGKILL;
    then whatever the group still holds once its leader is gone (a scheduler can leave its
    idle LocalExecutor workers behind)."""
    if process.poll() is None:
        for sig, grace in ((signal.SIGINT, 10), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(grace)
                break
            except subprocess.TimeoutExpired:
                continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def wait_healthy(client: httpx.Client, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with status {process.returncode}")
        try:
            health = client.get("/api/v2/monitor/health")
            if health.status_code == 200 and all(
                    part.get("status") == "healthy"
                    for name, part in health.json().items()
                    if name in ("metadatabase", "scheduler", "dag_processor")):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError("airflow standalone did not become healthy in time")


def login(client: httpx.Client, home: Path, deadline: float) -> None:
    """A JWT for the admin user whose password standalone generated."""
    passwords = home / "simple_auth_manager_passwords.json.generated"
    while not passwords.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    password = json.loads(passwords.read_text())[ADMIN]
    answer = client.post("/auth/token", json={"username": ADMIN, "password": password})
    answer.raise_for_status()
    client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"


def listed_dags(client: httpx.Client) -> list[dict]:
    answer = client.get("/api/v2/dags", params={"limit": 1000})
    answer.raise_for_status()
    return answer.json()["dags"]


def import_errors(client: httpx.Client) -> list[dict]:
    answer = client.get("/api/v2/importErrors", params={"limit": 1000})
    answer.raise_for_status()
    return answer.json()["import_errors"]


def dag_files() -> set[str]:
    """DAG files of dags/ (the helper package and the package marker are excluded by
    dags/.airflowignore)."""
    return {p.name for p in DAGS_FOLDER.glob("*.py") if p.name != "__init__.py"}


def check(port: int | None = None, timeout: float = 180, keep_home: bool = False,
          backfill: bool = False) -> CheckReport:
    """Start standalone Airflow, wait until every expected DAG is listed, check, stop."""
    report = CheckReport()
    expected_sources = {f"ingest_{name}" for name in
                        load_specs(GridHubSettings().resolved_sources_dir)}
    home = Path(tempfile.mkdtemp(prefix="gridhub-airflow-check-"))
    port = port or free_port()
    with ExitStack() as stack:
        extra_env = stack.enter_context(backfill_database(home)) if backfill else {}
        began = time.monotonic()
        deadline = began + timeout
        process = start(home, {**airflow_env(home, port), **extra_env})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                wait_healthy(client, process, deadline)
                report.started_in_s = time.monotonic() - began
                login(client, home, deadline)
                dags: list[dict] = []
                # The dag-processor registers files one by one: wait for all, or an error.
                while time.monotonic() < deadline:
                    dags = listed_dags(client)
                    report.import_errors = import_errors(client)
                    files = {Path(d["fileloc"]).name for d in dags}
                    if report.import_errors or (expected_sources <= {d["dag_id"] for d in dags}
                                                and dag_files() <= files):
                        break
                    time.sleep(1)
                report.listed_in_s = time.monotonic() - began
                report.dag_ids = sorted(d["dag_id"] for d in dags)
                _judge(report, dags, expected_sources, client)
                if backfill and report.ok:
                    run_backfill(client, report, extra_env, timeout)
        except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
            report.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            stopping = time.monotonic()
            stop(process)
            report.stopped_in_s = time.monotonic() - stopping
            if report.problems:
                log = home / "standalone.log"
                tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
                report.problems.append("last lines of standalone.log:\n  " + "\n  ".join(tail))
    if not keep_home:
        shutil.rmtree(home, ignore_errors=True)
    return report


BACKFILL_DAG = "ingest_district_system"
BACKFILL_HOURS = 3


def gridhub_server() -> str:
    """The GridHub PostgreSQL server: DATABASE_URL's, else the one `gridhub db up` runs."""
    from store import provision

    return provision.up(ROOT / "var", os.environ.get("DATABASE_URL")).url


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """A new empty database `name` on the GridHub server; dropped (with its sessions) after."""
    from store import provision
    from store.db import with_dbname

    url = with_dbname(gridhub_server(), name)
    provision.ensure_database(url)
    try:
        yield url
    finally:
        with psycopg.connect(with_dbname(url, "postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@contextmanager
def demo_database(home: Path, name: str = "check", records: int = 20_000,
                  ) -> Iterator[tuple[str, GridHubSettings]]:
    """A scratch GridHub database holding a small demo city's areas, its feeds generated under
    home/data; yields its URL and the settings that find the feeds. Dropped afterwards."""
    from demo.generate import generate
    from pipeline.demo import load_demo_areas

    cfg = GridHubSettings(data_dir=home / "data")
    with scratch_database(f"gridhub_airflow_{name}_{os.getpid()}") as url:
        if not (cfg.demo_dir / "manifest.json").exists():
            generate(cfg.demo_dir, records=records)
        load_demo_areas(cfg, url)
        yield url, cfg


@contextmanager
def backfill_database(home: Path) -> Iterator[dict[str, str]]:
    """A scratch GridHub database with a small demo, and the demo's district database beside
    it; yields the environment the DAG tasks need. Both databases are dropped afterwards."""
    from demo.feeds.services import demo_services

    with demo_database(home) as (url, cfg), \
            demo_services(cfg.demo_dir, url, keep=False) as variables:
        # Retries after seconds, not minutes: a backfill run may wait for an older run.
        yield {**variables, "AIRFLOW_CONN_GRIDHUB": url, "GRIDHUB_DATA_DIR": str(cfg.data_dir),
               "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5"}


def _with_sqlite_patience(request) -> httpx.Response:
    """The request, asked again while the api-server answers 503: SQLite, the metadata
    database here, takes one writer at a time and the scheduler writes too."""
    for _ in range(10):
        answer = request()
        if answer.status_code != 503:
            break
        time.sleep(1)
    answer.raise_for_status()
    return answer


def run_backfill(client: httpx.Client, report: CheckReport, env: dict[str, str],
                 timeout: float) -> None:
    """Backfill BACKFILL_HOURS busy hours of the SQL source; check every run's slice."""
    from demo.feeds.services import district_database_url

    url = env["AIRFLOW_CONN_GRIDHUB"]
    district = district_database_url(url)
    with psycopg.connect(district) as conn:
        # The start of the busiest BACKFILL_HOURS hours, so that the runs have records to read.
        first = conn.execute(
            "SELECT h FROM (SELECT date_trunc('hour', updated_at AT TIME ZONE 'UTC')"
            " AT TIME ZONE 'UTC' AS h FROM dispute_cases GROUP BY 1) hours"
            " ORDER BY (SELECT count(*) FROM dispute_cases WHERE updated_at >= h"
            "           AND updated_at < h + %s * interval '1 hour') DESC, h LIMIT 1",
            (BACKFILL_HOURS,)).fetchone()[0]
    began = time.monotonic()
    # Hourly data intervals: logical dates first .. first + 2h are the intervals starting there.
    body = {"dag_id": BACKFILL_DAG, "from_date": first.isoformat(),
            "to_date": (first + timedelta(hours=BACKFILL_HOURS - 1)).isoformat(),
            "max_active_runs": 1, "reprocess_behavior": "completed"}
    _with_sqlite_patience(lambda: client.post("/api/v2/backfills", json=body))
    # The scheduler starts no run of a paused DAG, backfill runs included. Unpaused, it may
    # also start one scheduled (incremental) run; only the windowed runs are judged below.
    _with_sqlite_patience(lambda: client.patch(f"/api/v2/dags/{BACKFILL_DAG}",
                                               json={"is_paused": False}))
    deadline = time.monotonic() + timeout + 120 * BACKFILL_HOURS
    runs: list[dict] = []
    while time.monotonic() < deadline:
        answer = client.get(f"/api/v2/dags/{BACKFILL_DAG}/dagRuns", params={"run_type": "backfill"})
        answer.raise_for_status()
        runs = answer.json()["dag_runs"]
        if len(runs) == BACKFILL_HOURS and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(2)
    report.backfill_in_s = time.monotonic() - began
    states = sorted(r["state"] for r in runs)
    if states != ["success"] * BACKFILL_HOURS:
        report.problems.append(f"backfill runs of {BACKFILL_DAG}: {states}")
        return
    with psycopg.connect(url) as conn, psycopg.connect(district) as source:
        rows = conn.execute(
            "SELECT run_id, status, records_read, params -> 'window' ->> 'from',"
            " params -> 'window' ->> 'to' FROM ingest_runs WHERE source = 'district_system'"
            " AND params ? 'window' ORDER BY run_id").fetchall()
        incremental = conn.execute("SELECT count(*) FROM ingest_runs WHERE source = 'district_system'"
                                   " AND NOT params ? 'window'").fetchone()[0]
        watermark = conn.execute("SELECT watermark FROM source_state"
                                 " WHERE source = 'district_system'").fetchone()
        for run_id, status, read, start, end in rows:
            expected = source.execute(
                "SELECT count(*) FROM dispute_cases WHERE updated_at >= %s AND updated_at < %s",
                (start, end)).fetchone()[0]
            report.backfill_runs.append({"run": run_id, "status": status, "from": start,
                                         "to": end, "read": read, "in_source": expected})
    # A window overtaken by an incremental run is landed again: its last run is the one.
    last = {(r["from"], r["to"]): r for r in report.backfill_runs}
    if len(last) != BACKFILL_HOURS:
        report.problems.append(f"expected {BACKFILL_HOURS} windows: {report.backfill_runs}")
    for run in last.values():
        if run["status"] != "succeeded" or run["read"] != run["in_source"]:
            report.problems.append(f"backfill ingest run {run} did not read its window exactly")
    if not incremental and watermark and watermark[0] is not None:
        report.problems.append(f"a backfill moved the incremental watermark to {watermark[0]}")


def _judge(report: CheckReport, dags: list[dict], expected_sources: set[str],
           client: httpx.Client) -> None:
    listed = {d["dag_id"]: d for d in dags}
    for error in report.import_errors:
        report.problems.append(f"import error in {error['filename']}: {error['stack_trace']}")
    missing = sorted(expected_sources - set(listed))
    if missing:
        report.problems.append(f"source DAGs not listed: {missing}")
    unlisted_files = sorted(dag_files() - {Path(d["fileloc"]).name for d in dags})
    if unlisted_files:
        report.problems.append(f"DAG files with no listed DAG: {unlisted_files}")
    for dag_id in sorted(expected_sources & set(listed)):
        details = client.get(f"/api/v2/dags/{dag_id}/details").json()
        if details.get("max_active_runs") != 1:
            report.problems.append(f"{dag_id}: max_active_runs is {details.get('max_active_runs')}")
        if not listed[dag_id]["is_paused"]:
            report.problems.append(f"{dag_id} is not paused: this check must not run ingests")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="api-server port (default: a free one)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for Airflow")
    parser.add_argument("--keep-home", action="store_true", help="keep the AIRFLOW_HOME for a look")
    parser.add_argument("--backfill", action="store_true",
                        help="also backfill three hours of the district SQL source through the scheduler")
    args = parser.parse_args()
    report = check(args.port, args.timeout, args.keep_home, args.backfill)
    print(f"healthy after {report.started_in_s:.1f} s; DAGs listed after {report.listed_in_s:.1f} s;"
          f" stopped in {report.stopped_in_s:.1f} s")
    print(f"{len(report.dag_ids)} DAGs listed: {', '.join(report.dag_ids)}")
    print(f"import errors: {len(report.import_errors)}")
    if args.backfill:
        print(f"backfill of {BACKFILL_DAG} finished after {report.backfill_in_s:.1f} s:")
        for run in report.backfill_runs:
            print(f"  ingest run {run['run']} [{run['from']}, {run['to']}): {run['status']},"
                  f" read {run['read']} of {run['in_source']} updated in the source then")
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print("OK" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
