"""`gridhub_rollups_and_warnings`: whenever any source's cases change, bring the rollups up
to date for the runs that changed them, then run early warning on the rollups.

Scheduled on the assets the ingest DAGs (and the boundary DAG) publish; a manual run
rebuilds every rollup.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from gridhub_airflow.common import (
    DEFAULT_ARGS,
    START_DATE,
    TAGS,
    cases_changed,
    database_url,
    run_ids_of,
    settings,
)

from connectors.spec import read_spec_folder
from core.settings import GridHubSettings


@dag(
    dag_id="gridhub_rollups_and_warnings",
    description="Refresh rollups and run early warning when cases change",
    schedule=cases_changed(list(read_spec_folder(GridHubSettings().resolved_sources_dir).specs)),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "rollups", "warnings"],
    doc_md=__doc__,
)
def rollups_and_warnings():
    @task
    def refresh_rollups(*, triggering_asset_events=None) -> int:
        """Recount the rollups the triggering runs touched (all of them on a manual run)."""
        from pipeline.orchestration import refresh_rollups as refresh

        cfg = settings()
        return refresh(database_url(cfg), cfg, run_ids_of(triggering_asset_events))

    @task
    def run_early_warning(rollup_rows: int) -> dict:
        """Judge the last day with rollups: open, continue and close alerts; map hotspots."""
        from alerts.run import run_warnings
        from alerts.settings import AlertSettings

        cfg = settings()
        result = run_warnings(database_url(cfg), cfg=AlertSettings.from_env().warn_settings())
        return {**vars(result), "as_of": result.as_of.isoformat()}

    run_early_warning(refresh_rollups())


rollups_and_warnings()
