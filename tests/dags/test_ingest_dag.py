"""The hotline source DAG run end to end with dag.test() against a real PostGIS database."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import sql

from store import locks

pytestmark = pytest.mark.slow  # Airflow runs the DAGs end to end


DAG_ID = "ingest_hotline_12345"


def test_the_dag_leaves_what_the_cli_leaves_and_a_rerun_changes_nothing(
        gridhub_env, cli_reference, run_dag, fingerprint, ingest_runs):
    outcome = run_dag(DAG_ID)
    assert outcome.state == "success", outcome
    assert all(state == "success" and tries == 1 for state, tries in outcome.tasks.values()), outcome
    after_first = fingerprint(gridhub_env)
    assert after_first == cli_reference
    assert after_first["cases"] > 5000 and after_first["rollup_reported"] == after_first["cases"]

    assert run_dag(DAG_ID).state == "success"
    assert fingerprint(gridhub_env) == after_first
    first, second = ingest_runs(gridhub_env)
    assert first["status"] == second["status"] == "succeeded"
    assert first["records_read"] == first["loaded"] + first["quarantined"] + first["duplicates"]
    assert first["inserted"] == after_first["cases"]
    assert (second["inserted"], second["updated"], second["quarantined"]) == (0, 0, 0)
    assert second["duplicates"] == second["records_read"] == first["records_read"]


def _fail_once_when_cases_are_written(url: str, sqlstate: str) -> None:
    """Make the database itself fail the first write into cases with the given SQLSTATE.

    The counter is a sequence because nextval() survives the rollback of the failed
    transaction, so only the first attempt fails.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE test_fault_attempts")
        conn.execute(sql.SQL(
            "CREATE FUNCTION test_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF nextval('test_fault_attempts') = 1 THEN"
            "  RAISE EXCEPTION 'injected fault' USING ERRCODE = {};"
            " END IF; RETURN NULL; END $$").format(sql.Literal(sqlstate)))
        conn.execute("CREATE TRIGGER test_fail_once BEFORE INSERT ON cases"
                      " FOR EACH STATEMENT EXECUTE FUNCTION test_fail_once()")


def test_a_run_failing_mid_way_is_retried_and_ends_like_a_clean_run(
        gridhub_env, cli_reference, run_dag, fingerprint, ingest_runs):
    # 40001 serialization_failure: transient, so Airflow retries the task.
    _fail_once_when_cases_are_written(gridhub_env, "40001")
    outcome = run_dag(DAG_ID)
    assert outcome.state == "success", outcome
    assert max(tries for _, tries in outcome.tasks.values()) == 2, outcome

    assert fingerprint(gridhub_env) == cli_reference
    # The retry resumed the landed run: one run, succeeded, the failed attempt's error kept.
    (run,) = ingest_runs(gridhub_env)
    assert run["status"] == "succeeded"
    assert run["error"].startswith("retried after:") and "injected fault" in run["error"]


def test_a_non_transient_error_fails_at_once_and_is_recorded(gridhub_env, run_dag, fingerprint,
                                                             ingest_runs):
    # 23514 check_violation: a retry would fail the same way.
    _fail_once_when_cases_are_written(gridhub_env, "23514")
    outcome = run_dag(DAG_ID)
    assert outcome.state == "failed", outcome
    assert max(tries for _, tries in outcome.tasks.values()) == 1, outcome
    (run,) = ingest_runs(gridhub_env)
    assert run["status"] == "failed" and "injected fault" in run["error"]
    assert fingerprint(gridhub_env)["cases"] == 0


def test_the_dag_waits_for_an_ingest_of_the_same_source_holding_the_lock(
        gridhub_env, run_dag, fingerprint):
    """The advisory lock the CLI takes makes the DAG's ingest wait, then proceed."""
    holder = psycopg.connect(gridhub_env)
    locks.hold_for_transaction(holder, locks.source_lock("hotline_12345"))
    seen_waiting = threading.Event()

    def release_once_the_dag_waits() -> None:
        with psycopg.connect(gridhub_env, autocommit=True) as watcher:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ).fetchone()[0]
                if waiting:
                    seen_waiting.set()
                    time.sleep(0.5)  # still waiting half a second later: it really blocks
                    break
                time.sleep(0.05)
        holder.rollback()
        holder.close()

    releaser = threading.Thread(target=release_once_the_dag_waits)
    releaser.start()
    try:
        outcome = run_dag(DAG_ID)
    finally:
        releaser.join()
    assert seen_waiting.is_set()
    assert outcome.state == "success", outcome
    assert fingerprint(gridhub_env)["cases"] > 5000
