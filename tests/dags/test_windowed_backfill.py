"""A backfill of one source in windows (backfill_<source>: mapped tasks, one per window)
leaves what one whole-range run leaves, and re-running a part or the whole changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from connectors.spec import load_specs
from core.errors import ConfigError
from core.settings import GridHubSettings
from demo.feeds.services import demo_services, district_database_url
from pipeline.orchestration import land_for_run, process_landed_run
from pipeline.run import WatermarkWindow
from pipeline.windows import split_range
from store import runs

pytestmark = pytest.mark.slow  # several Airflow runs of mapped tasks and six district ingests

SOURCE = "district_system"
DAG_ID = f"backfill_{SOURCE}"


@pytest.fixture
def live_sources(gridhub_env, demo_dir, monkeypatch) -> dict[str, str]:
    """The demo's district database, its URL in the tasks' environment."""
    with demo_services(demo_dir / "demo", gridhub_env, keep=False, with_police=False) as variables:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        yield variables


def _district(url: str, query: str, *args) -> object:
    with psycopg.connect(district_database_url(url)) as conn:
        return conn.execute(query, args).fetchone()[0]


def _first_day(url: str) -> datetime:
    """Midnight (UTC) of the day the first district case was last updated."""
    return _district(url, "SELECT date_trunc('day', min(updated_at) AT TIME ZONE 'UTC')"
                     " AT TIME ZONE 'UTC' FROM dispute_cases")


def _updated_between(url: str, start: datetime, end: datetime) -> int:
    return _district(url, "SELECT count(*) FROM dispute_cases WHERE updated_at >= %s"
                     " AND updated_at < %s", start, end)


def _backfill(run_dag, start: datetime, end: datetime, parts: int):
    return run_dag(DAG_ID, run_conf={"from": start.isoformat(), "to": end.isoformat(),
                                     "parts": parts})


def _windowed_runs(url: str, ingest_runs) -> list[dict]:
    return [run for run in ingest_runs(url) if "window" in run["params"]]


def test_windows_merge_into_what_one_whole_range_run_leaves_and_reruns_change_nothing(
        gridhub_env, second_db_url, demo_dir, live_sources, run_dag, ingest_runs, fingerprint):
    # Four days, a day per window; the first window, before any record, is empty (a quiet
    # window must not break the next one's schema gate).
    start = _first_day(gridhub_env) - timedelta(days=1)
    end = start + timedelta(days=4)
    in_range = _updated_between(gridhub_env, start, end)
    assert _updated_between(gridhub_env, start, start + timedelta(days=1)) == 0
    assert in_range > 0

    outcome = _backfill(run_dag, start, end, parts=4)
    assert outcome.state == "success", outcome
    windows = _windowed_runs(gridhub_env, ingest_runs)
    assert [run["status"] for run in windows] == ["succeeded"] * 4
    # Contiguous windows covering the range, each read exactly, nothing read twice.
    bounds = sorted((run["params"]["window"]["from"], run["params"]["window"]["to"])
                    for run in windows)
    assert [datetime.fromisoformat(b) for b in (bounds[0][0], bounds[-1][1])] == [start, end]
    assert all(left[1] == right[0] for left, right in zip(bounds, bounds[1:], strict=False))
    for run in windows:
        window = run["params"]["window"]
        assert run["records_read"] == _updated_between(
            gridhub_env, datetime.fromisoformat(window["from"]), datetime.fromisoformat(window["to"]))
    assert sum(run["records_read"] for run in windows) == in_range
    with psycopg.connect(gridhub_env) as conn:  # incremental runs start as before
        assert conn.execute("SELECT watermark FROM source_state WHERE source = %s",
                            (SOURCE,)).fetchone() in (None, (None,))

    # The same range as one run, in a database of its own.
    cfg = GridHubSettings(data_dir=demo_dir, database_url=second_db_url)
    spec = load_specs(cfg.resolved_sources_dir)[SOURCE]
    whole = land_for_run(spec, cfg, second_db_url, WatermarkWindow(start, end), live_sources)
    assert process_landed_run(spec, cfg, second_db_url, whole, live_sources).counts.records_read \
        == in_range
    reference = fingerprint(second_db_url)
    assert fingerprint(gridhub_env) == reference

    # One part again (a middle window, as its own backfill): all duplicates, nothing changes.
    middle_from, middle_to = (datetime.fromisoformat(b) for b in bounds[2])
    assert _backfill(run_dag, middle_from, middle_to, parts=1).state == "success"
    again = _windowed_runs(gridhub_env, ingest_runs)[-1]
    assert again["status"] == "succeeded" and again["records_read"] > 0
    assert again["duplicates"] == again["records_read"]
    assert fingerprint(gridhub_env) == reference

    # Parts killed before: a landing whose process died mid-way, and a window landed whose
    # load never came. The whole backfill run again still leaves exactly the same data.
    with psycopg.connect(gridhub_env) as conn:
        orphan = runs.start_run(conn, SOURCE, {"format": spec.format.value,
                                               "window": {"from": bounds[0][0], "to": bounds[0][1]}})
    land_for_run(spec, cfg, gridhub_env, WatermarkWindow(middle_from, middle_to), live_sources)
    assert _backfill(run_dag, start, end, parts=4).state == "success"
    assert fingerprint(gridhub_env) == reference
    statuses = {run["run_id"]: run["status"] for run in ingest_runs(gridhub_env)}
    assert statuses[orphan] == "failed"  # reaped: its process is gone
    assert [run["status"] for run in _windowed_runs(gridhub_env, ingest_runs)[-4:]] \
        == ["succeeded"] * 4


def test_the_range_is_cut_into_contiguous_equal_windows():
    spec = load_specs(GridHubSettings().resolved_sources_dir)[SOURCE]
    start = datetime.fromisoformat("2025-03-01T00:00:00+08:00")
    windows = split_range(spec, start, start + timedelta(hours=10), 3)
    assert windows[0].start == start and windows[-1].end == start + timedelta(hours=10)
    assert all(a.end == b.start for a, b in zip(windows, windows[1:], strict=False))
    assert {round((w.end - w.start).total_seconds()) for w in windows} == {12000}
    with pytest.raises(ConfigError, match="parts must be between"):
        split_range(spec, start, start + timedelta(hours=1), 0)
    with pytest.raises(ConfigError, match="only"):  # a file source has no date range
        split_range(load_specs(GridHubSettings().resolved_sources_dir)["hotline_12345"],
                    start, start + timedelta(hours=1), 2)


def test_a_backfill_without_a_range_fails_at_once_and_lands_nothing(gridhub_env, run_dag,
                                                                    ingest_runs):
    outcome = run_dag(DAG_ID, run_conf={"parts": 2})
    assert outcome.state == "failed", outcome
    assert outcome.tasks["plan_windows"] == ("failed", 1)  # a ConfigError is not retried
    assert ingest_runs(gridhub_env) == []


def test_one_backfill_dag_per_source_with_a_watermark_its_windows_mapped(dagbag):
    specs = load_specs(GridHubSettings().resolved_sources_dir)
    backfills = {dag_id for dag_id in dagbag.dags if dag_id.startswith("backfill_")}
    assert backfills == {f"backfill_{name}" for name, spec in specs.items() if spec.watermark}
    dag = dagbag.dags[DAG_ID]
    assert dag.max_active_runs == 1 and type(dag.timetable).__name__ == "NullTimetable"
    assert [t.task_id for t in dag.topological_sort()] == ["plan_windows", "land_window",
                                                          "load_windows"]
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(dag.get_task("land_window"), MappedOperator)  # one instance per window
    assert {outlet.uri for outlet in dag.get_task("load_windows").outlets} \
        == {f"gridhub://cases/{SOURCE}"}
    for task in dag.tasks:
        assert type(task.retry_policy).__name__ == "TransientErrorsOnly", task.task_id
