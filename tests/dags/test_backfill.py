"""Backfills: a run of an API or SQL source reads only the records of its data interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from connectors.spec import load_specs
from core.settings import GridHubSettings
from demo.feeds.services import demo_services, district_database_url
from pipeline.orchestration import (
    RetryLaterError,
    RunKind,
    backfill_window,
    is_transient,
    land_for_run,
    process_landed_run,
)

pytestmark = pytest.mark.slow  # Airflow runs backfills end to end


@pytest.fixture
def live_sources(gridhub_env, demo_dir, monkeypatch) -> dict[str, str]:
    """The demo's police API and district database, their URLs in the tasks' environment."""
    with demo_services(demo_dir / "demo", gridhub_env, keep=False) as variables:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        yield variables


def _busiest_hour(url: str) -> datetime:
    """The start (UTC) of the hour in which the most district cases were last updated."""
    with psycopg.connect(district_database_url(url)) as conn:
        return conn.execute(
            "SELECT date_trunc('hour', updated_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
            " FROM dispute_cases GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]


def _updated_between(url: str, start: datetime, end: datetime) -> int:
    with psycopg.connect(district_database_url(url)) as conn:
        return conn.execute("SELECT count(*) FROM dispute_cases WHERE updated_at >= %s"
                            " AND updated_at < %s", (start, end)).fetchone()[0]


def _watermark(url: str, source: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT watermark FROM source_state WHERE source = %s", (source,)).fetchone()
    return row[0] if row else None


def test_a_sql_source_run_reads_only_its_data_interval(gridhub_env, live_sources, run_dag,
                                                       ingest_runs):
    hour = _busiest_hour(gridhub_env)
    expected = _updated_between(gridhub_env, hour, hour + timedelta(hours=1))
    assert expected > 0

    # An hourly DAG run at hour + 1h covers [hour, hour + 1h), as its backfill run would.
    outcome = run_dag("ingest_district_system", logical_date=hour + timedelta(hours=1),
                      run_conf={"only_data_interval": True})
    assert outcome.state == "success", outcome
    (run,) = ingest_runs(gridhub_env)
    assert run["status"] == "succeeded" and run["records_read"] == expected
    assert run["records_read"] == run["loaded"] + run["quarantined"] + run["duplicates"]
    assert run["params"]["window"] == {"from": hour.isoformat(),
                                       "to": (hour + timedelta(hours=1)).isoformat()}
    assert _watermark(gridhub_env, "district_system") is None  # incremental runs start as before

    # The incremental run then reads everything; the interval's records are already there.
    assert run_dag("ingest_district_system").state == "success"
    _, incremental = ingest_runs(gridhub_env)
    with psycopg.connect(district_database_url(gridhub_env)) as conn:
        total = conn.execute("SELECT count(*) FROM dispute_cases").fetchone()[0]
    assert incremental["records_read"] == total
    assert incremental["duplicates"] >= run["loaded"]
    assert _watermark(gridhub_env, "district_system") is not None


def test_a_rest_source_backfill_reads_the_records_of_its_window(gridhub_env, live_sources,
                                                               settings, ingest_runs):
    spec = load_specs(settings.resolved_sources_dir)["police_110"]
    full = land_for_run(spec, settings, gridhub_env, None, live_sources)
    process_landed_run(spec, settings, gridhub_env, full, live_sources)
    with psycopg.connect(gridhub_env) as conn:
        updated = pd.to_datetime(pd.Series([row[0] for row in conn.execute(
            "SELECT r.payload ->> 'updated_at' FROM run_records rr JOIN raw_records r USING (raw_id)"
            " WHERE rr.run_id = %s", (full,)).fetchall()]), format="ISO8601", utc=True)
    start = updated.quantile(0.4).floor("D").to_pydatetime()
    end = start + timedelta(days=1)
    expected = int(((updated >= start) & (updated < end)).sum())
    assert expected > 0

    window = backfill_window(spec, RunKind.BACKFILL, start, end)
    run_id = land_for_run(spec, settings, gridhub_env, window, live_sources)
    result = process_landed_run(spec, settings, gridhub_env, run_id, live_sources)
    assert result.counts.records_read == expected and result.counts.adds_up()
    assert result.counts.duplicates == expected  # the full run loaded them already


def test_a_file_source_refuses_a_date_range_at_once(gridhub_env, run_dag, ingest_runs):
    outcome = run_dag("ingest_hotline_12345", run_conf={"only_data_interval": True})
    assert outcome.state == "failed", outcome
    assert outcome.tasks["extract_and_land"] == ("failed", 1)  # a ConfigError is not retried
    assert ingest_runs(gridhub_env) == []


def test_a_backfill_run_of_an_api_source_gets_its_interval():
    spec = load_specs(GridHubSettings().resolved_sources_dir)["police_110"]
    start = datetime(2025, 3, 1, 16, tzinfo=UTC)
    window = backfill_window(spec, "backfill", start, start + timedelta(minutes=15))
    assert (window.start, window.end) == (start, start + timedelta(minutes=15))
    assert backfill_window(spec, "scheduled", start, start + timedelta(minutes=15)) is None
    assert backfill_window(spec, "manual", start, start + timedelta(minutes=15)) is None


def test_a_backfill_run_overtaken_by_an_incremental_run_lands_its_window_again(
        gridhub_env, live_sources, settings, ingest_runs):
    """Backfill runs and scheduled runs of a DAG run side by side in Airflow 3."""
    spec = load_specs(settings.resolved_sources_dir)["district_system"]
    hour = _busiest_hour(gridhub_env)
    window = backfill_window(spec, RunKind.BACKFILL, hour, hour + timedelta(hours=1))
    overtaken = land_for_run(spec, settings, gridhub_env, window, live_sources)
    incremental = land_for_run(spec, settings, gridhub_env, None, live_sources)
    process_landed_run(spec, settings, gridhub_env, incremental, live_sources)

    result = process_landed_run(spec, settings, gridhub_env, overtaken, live_sources)
    first, _, again = ingest_runs(gridhub_env)
    assert first["run_id"] == overtaken and first["status"] == "failed"
    assert f"its window is landed again as run {again['run_id']}" in first["error"]
    assert result.run_id == again["run_id"] and again["status"] == "succeeded"
    assert again["records_read"] == _updated_between(gridhub_env, hour, hour + timedelta(hours=1))
    assert again["duplicates"] == again["records_read"]  # the incremental run loaded them


def test_a_backfill_run_waits_for_an_older_incremental_run_to_load_first(
        gridhub_env, live_sources, settings, ingest_runs):
    spec = load_specs(settings.resolved_sources_dir)["district_system"]
    hour = _busiest_hour(gridhub_env)
    incremental = land_for_run(spec, settings, gridhub_env, None, live_sources)
    window = backfill_window(spec, RunKind.BACKFILL, hour, hour + timedelta(hours=1))
    backfill = land_for_run(spec, settings, gridhub_env, window, live_sources)

    with pytest.raises(RetryLaterError) as waiting:
        process_landed_run(spec, settings, gridhub_env, backfill, live_sources)
    assert is_transient(waiting.value)  # so Airflow retries it, with backoff
    process_landed_run(spec, settings, gridhub_env, incremental, live_sources)
    process_landed_run(spec, settings, gridhub_env, backfill, live_sources)
    assert [run["status"] for run in ingest_runs(gridhub_env)] == ["succeeded", "succeeded"]
