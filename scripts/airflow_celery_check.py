#!/usr/bin/env python
"""Run GridHub's ingest DAGs on Celery workers here and check what they leave behind.

    .venv/bin/python scripts/airflow_celery_check.py [--workers 2] [--timeout 300]
        [--sources hotline_12345 grid_patrol] [--broker redis://127.0.0.1:6379/7] [--keep-home]

Starts Airflow's api-server, scheduler and dag-processor and N `airflow celery worker`
processes (concurrency 1, each recording a host name of its own on the task instances it
runs), with CeleryExecutor, Redis as the broker (a database number of its own, flushed before
and after) and a PostgreSQL metadata database: a scratch database on the GridHub server
(DATABASE_URL's, else `gridhub db up`'s), like the GridHub database the tasks write to.

Then it switches on the ingest DAGs of the given demo sources at once (the scheduler starts
one run of each) and checks that every run succeeded, that the runs overlapped in time, that
every worker ran tasks, and that the GridHub database holds exactly what `gridhub ingest` of
the same sources leaves in a fresh database (pipeline.fingerprint). Every process and
scratch database is gone afterwards. Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from airflow_check import (  # the standalone check's building blocks (same folder)
    DAGS_FOLDER,
    airflow_env,
    demo_database,
    free_port,
    login,
    scratch_database,
    stop,
    wait_healthy,
)

from pipeline.fingerprint import fingerprint_of

BIN = Path(sys.executable).parent
DEFAULT_SOURCES = ("hotline_12345", "grid_patrol")
DEFAULT_BROKER = "redis://127.0.0.1:6379/7"
# Enough for the ingests of two sources to run side by side; more only lengthens every ingest.
DEMO_RECORDS = 5_000


@dataclass
class CeleryReport:
    """What the Celery installation did, and what is wrong with it."""

    started_in_s: float = 0.0
    ingested_in_s: float = 0.0
    runs: dict[str, str] = field(default_factory=dict)  # dag_id -> states of its runs
    hosts: dict[str, list[str]] = field(default_factory=dict)  # worker host -> tasks it ran
    overlap_s: float = 0.0
    fingerprints: dict[str, dict] = field(default_factory=dict)  # "celery" / "cli"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def celery_env(home: Path, port: int, metadata_url: str, broker: str) -> dict[str, str]:
    """Standalone's environment, with CeleryExecutor, the broker and a PostgreSQL metadata DB."""
    sqlalchemy_url = metadata_url.replace("postgresql://", "postgresql+psycopg://", 1)
    standalone = airflow_env(home, port)
    return {
        **standalone,
        "PATH": f"{BIN}:{standalone.get('PATH', '')}",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url,
        # Else Airflow derives postgresql+asyncpg, a driver outside the lock.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": sqlalchemy_url,
        "AIRFLOW__CELERY__BROKER_URL": broker,
        # One api-server process (the default starts 4): two cores are shared here.
        "AIRFLOW__API__WORKERS": "1",
        # Retries after seconds, not the production five minutes.
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
    }


def start_component(home: Path, env: dict[str, str], name: str, *args: str) -> subprocess.Popen:
    """`airflow ARGS` in its own process group, its output in home/NAME.log."""
    log = (home / f"{name}.log").open("wb")
    return subprocess.Popen([str(BIN / "airflow"), *args], env=env, cwd=home, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def worker_env(env: dict[str, str], name: str) -> dict[str, str]:
    """A worker's environment: task instances it runs record `<host>/<name>` as their host."""
    return {**env, "GRIDHUB_WORKER_NAME": name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "gridhub_airflow.hostname.worker_hostname",
            "PYTHONPATH": f"{DAGS_FOLDER}:{env.get('PYTHONPATH', '')}".rstrip(":")}


def check(workers: int = 2, sources: tuple[str, ...] = DEFAULT_SOURCES, timeout: float = 300,
          broker: str = DEFAULT_BROKER, keep_home: bool = False) -> CeleryReport:
    """Start Airflow on Celery workers, ingest the sources at once through it, judge, stop."""
    report = CeleryReport()
    home = Path(tempfile.mkdtemp(prefix="gridhub-airflow-celery-"))
    port = free_port()
    dag_ids = [f"ingest_{name}" for name in sources]
    broker_db = redis.Redis.from_url(broker)
    processes: list[subprocess.Popen] = []
    with ExitStack() as stack:
        try:
            gridhub_url, cfg = stack.enter_context(
                demo_database(home, "celery", DEMO_RECORDS))
            metadata_url = stack.enter_context(scratch_database(f"airflow_meta_{port}"))
            env = {**celery_env(home, port, metadata_url, broker),
                   "AIRFLOW_CONN_GRIDHUB": gridhub_url, "GRIDHUB_DATA_DIR": str(cfg.data_dir)}
            env.pop("DATABASE_URL", None)
            broker_db.flushdb()  # only this database number: messages of an earlier check
            began = time.monotonic()
            deadline = began + timeout
            subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, cwd=home,
                           check=True, capture_output=True, timeout=timeout)
            api = start_component(home, env, "api-server", "api-server")
            processes.append(api)
            processes += [start_component(home, env, "scheduler", "scheduler"),
                          start_component(home, env, "dag-processor", "dag-processor")]
            # Concurrency 1 and distinct Celery names; the api-server reads the task logs from
            # the shared AIRFLOW_HOME, so no worker serves them (two would race for its port).
            processes += [start_component(home, worker_env(env, f"worker{i}"), f"worker{i}",
                                          "celery", "worker", "--concurrency", "1",
                                          "--celery-hostname", f"worker{i}@%h",
                                          "--skip-serve-logs")
                          for i in range(1, workers + 1)]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                wait_healthy(client, api, deadline)
                login(client, home, deadline)
                report.started_in_s = time.monotonic() - began
                _ingest_at_once(client, dag_ids, deadline)
                report.ingested_in_s = time.monotonic() - began - report.started_in_s
                _judge_runs(report, client, dag_ids)
            _judge_workers(report, metadata_url, dag_ids, workers)
            with demo_database(home, "cli", DEMO_RECORDS) as (cli_url, _):
                subprocess.run([str(BIN / "gridhub"), "ingest", *sources], check=True,
                               capture_output=True, timeout=timeout,
                               env={**env, "DATABASE_URL": cli_url})
                report.fingerprints = {"celery": fingerprint_of(gridhub_url),
                                       "cli": fingerprint_of(cli_url)}
            celery_left, cli_left = report.fingerprints["celery"], report.fingerprints["cli"]
            differ = {name: (celery_left[name], cli_left[name]) for name in celery_left
                      if celery_left[name] != cli_left[name]}
            if differ:
                report.problems.append(f"the Celery ingest and the CLI's differ (celery, cli): {differ}")
        except (RuntimeError, TimeoutError, httpx.HTTPError, subprocess.SubprocessError,
                psycopg.Error, redis.RedisError) as exc:
            detail = getattr(exc, "stderr", None) or ""
            report.problems.append(f"{type(exc).__name__}: {exc} {detail!s:.2000}".strip())
        finally:
            # Workers first: their warm shutdown lets a running task finish.
            for process in reversed(processes):
                stop(process)
            if report.problems:
                for log in sorted(home.glob("*.log")):
                    tail = log.read_text(errors="replace").splitlines()[-15:]
                    report.problems.append(f"last lines of {log.name}:\n  " + "\n  ".join(tail))
            try:
                broker_db.flushdb()
            except redis.RedisError:
                pass
    if not keep_home:
        shutil.rmtree(home, ignore_errors=True)
    return report


def _ingest_at_once(client: httpx.Client, dag_ids: list[str], deadline: float) -> None:
    """Switch the DAGs on together (the scheduler then starts a run of each: their latest
    data interval) and wait until no run of them is queued or running."""
    while time.monotonic() < deadline:  # wait for the dag-processor to register them
        listed = {d["dag_id"] for d in client.get("/api/v2/dags", params={"limit": 1000})
                  .raise_for_status().json()["dags"]}
        if set(dag_ids) <= listed:
            break
        time.sleep(1)
    for dag_id in dag_ids:
        client.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
    while time.monotonic() < deadline:
        states = [run["state"] for run in itertools.chain.from_iterable(
            _runs(client, dag_id) for dag_id in dag_ids)]
        if len(states) >= len(dag_ids) and all(s in ("success", "failed") for s in states):
            return
        time.sleep(2)
    raise TimeoutError(f"the runs of {dag_ids} did not finish in time")


def _runs(client: httpx.Client, dag_id: str) -> list[dict]:
    return client.get(f"/api/v2/dags/{dag_id}/dagRuns").raise_for_status().json()["dag_runs"]


def _judge_runs(report: CeleryReport, client: httpx.Client, dag_ids: list[str]) -> None:
    for dag_id in dag_ids:
        states = sorted(run["state"] for run in _runs(client, dag_id))
        report.runs[dag_id] = ", ".join(states)
        if not states or set(states) != {"success"}:
            report.problems.append(f"runs of {dag_id}: {states}")


def _judge_workers(report: CeleryReport, metadata_url: str, dag_ids: list[str],
                   workers: int) -> None:
    """Which worker ran which task, and how long tasks of different DAGs ran side by side."""
    with psycopg.connect(metadata_url) as conn:
        rows = conn.execute(
            "SELECT dag_id, task_id, hostname, start_date, end_date FROM task_instance"
            " WHERE dag_id = ANY(%s) AND state = 'success'", (dag_ids,)).fetchall()
    for dag_id, task_id, host, _, _ in rows:
        report.hosts.setdefault(host, []).append(f"{dag_id}.{task_id}")
    if len(report.hosts) != workers:
        report.problems.append(f"tasks ran on {sorted(report.hosts)}, not on {workers} workers")
    report.overlap_s = max((min(a_end, b_end) - max(a_start, b_start)).total_seconds()
                           for (a_dag, _, _, a_start, a_end), (b_dag, _, _, b_start, b_end)
                           in itertools.combinations(rows, 2) if a_dag != b_dag) if rows else 0
    if report.overlap_s <= 0:
        report.problems.append("the ingests of different sources never ran at the same time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="Celery workers to start")
    parser.add_argument("--sources", nargs="+", default=list(DEFAULT_SOURCES),
                        help="demo sources whose ingest DAGs run at once")
    parser.add_argument("--broker", default=DEFAULT_BROKER,
                        help="Redis URL with a database number of this check's own (flushed)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for Airflow's work")
    parser.add_argument("--keep-home", action="store_true", help="keep the AIRFLOW_HOME and logs")
    args = parser.parse_args()
    report = check(args.workers, tuple(args.sources), args.timeout, args.broker, args.keep_home)
    print(f"healthy after {report.started_in_s:.1f} s; ingests done {report.ingested_in_s:.1f} s"
          f" later; tasks of different sources ran side by side for {report.overlap_s:.1f} s")
    for dag_id, states in report.runs.items():
        print(f"runs of {dag_id}: {states}")
    for host, tasks in sorted(report.hosts.items()):
        print(f"worker {host} ran: {', '.join(sorted(tasks))}")
    if report.fingerprints:
        same = report.fingerprints["celery"] == report.fingerprints["cli"]
        print(f"fingerprint {'equals' if same else 'differs from'} the CLI's:"
              f" {report.fingerprints['celery']}")
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print("OK" if report.ok else "FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
