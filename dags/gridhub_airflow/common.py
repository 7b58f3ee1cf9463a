"""Wiring every GridHub DAG shares: assets, schedules, retry rules and the database URL.

Imported by the DAG files at parse time, so it stays light: only airflow.sdk, the source
spec model and settings. Anything heavier is imported inside task bodies.
"""

from __future__ import annotations

from datetime import timedelta
from functools import reduce

import pendulum
from airflow.sdk import Asset, Connection, CronDataIntervalTimetable, RetryDecision, RetryPolicy
from airflow.sdk.exceptions import AirflowNotFoundException

from connectors.spec import SourceSpec
from core.settings import GridHubSettings

# The Airflow connection holding the GridHub database (AIRFLOW_CONN_GRIDHUB=postgresql://...).
CONNECTION_ID = "gridhub"
# A fixed date well in the past: with catchup off it only anchors the schedules, and a
# backfill can reach back to it (no run is ever made before a DAG's start date).
START_DATE = pendulum.datetime(2015, 1, 1, tz="Asia/Shanghai")
TAGS = ["gridhub"]


def cases_asset(source: str) -> Asset:
    """The asset a source's load updates: that source's rows of `cases`."""
    return Asset(name=f"gridhub_cases_{source}", uri=f"gridhub://cases/{source}", group="gridhub")


# Published when a boundary version re-assigns cases to new areas.
AREAS_ASSET = Asset(name="gridhub_areas", uri="gridhub://areas/boundaries", group="gridhub")


def cases_changed(sources: list[str]):
    """A schedule that fires when any source's cases change, or areas re-assign them."""
    assets = [cases_asset(name) for name in sorted(sources)] + [AREAS_ASSET]
    return reduce(lambda left, right: left | right, assets)


def run_ids_of(triggering_asset_events) -> list[int]:
    """The ingest runs behind the asset events that triggered a run (none for a manual run)."""
    return sorted({event.extra["run_id"] for events in (triggering_asset_events or {}).values()
                   for event in events if "run_id" in (event.extra or {})})


def source_schedule(spec: SourceSpec):
    """The spec's cron schedule with real data intervals in the source's own time zone.

    Data intervals (not Airflow 3's default trigger timetable, whose interval is a point)
    are what let a backfill run read exactly its slice of an API or SQL source.
    """
    if spec.schedule is None:
        return None
    if spec.schedule.startswith("@") and spec.schedule not in _CRON_PRESETS:
        return spec.schedule  # @once, @continuous: Airflow's own meaning
    return CronDataIntervalTimetable(spec.schedule, timezone=spec.timezone)


_CRON_PRESETS = {"@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}


class TransientErrorsOnly(RetryPolicy):
    """Retry (with the task's exponential backoff) only errors a retry can cure.

    A lost connection, a deadlock or a serialization failure is worth another try; a bad
    spec, a missing file or a failed quality gate would fail again the same way.
    """

    def evaluate(self, exception, try_number, max_tries, context=None) -> RetryDecision:
        from pipeline.orchestration import is_transient

        if is_transient(exception):
            return RetryDecision.default()
        return RetryDecision.fail(f"not transient, not retried: {type(exception).__name__}")


# retry_delay is left to [core] default_task_retry_delay (300 s unless configured), doubled
# at each try up to max_retry_delay.
DEFAULT_ARGS = {
    "owner": "gridhub",
    "retries": 3,
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(hours=1),
    "retry_policy": TransientErrorsOnly(),
}


def settings() -> GridHubSettings:
    """GridHub settings from the task's environment, checked like the CLI checks them."""
    cfg = GridHubSettings()
    cfg.check_secrets()
    return cfg


def database_url(cfg: GridHubSettings) -> str:
    """The GridHub database: the `gridhub` Airflow connection, else DATABASE_URL."""
    from pipeline.orchestration import database_url as resolve

    try:
        uri = Connection.get(CONNECTION_ID).get_uri()
    except AirflowNotFoundException:
        uri = None
    return resolve(uri, cfg)
