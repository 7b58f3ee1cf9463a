"""A historical backfill of one source in parallel parts: `backfill_<source>` for every source
whose spec names a watermark field (REST and SQL sources read a date range).

Trigger it with `from` and `to` (ISO 8601 instants) and `parts`. The range is cut into that
many windows; each window is extracted and landed raw as an ingest run of its own, by a
mapped task instance (`.expand`) that any worker may take; then one task loads the landed
runs, oldest first, through the pipeline's usual load (validate, geocode, merge, rollups).
The source's incremental watermark is left alone, as by any backfill run.

Idempotent by construction: a record lands in exactly one window and the load merges by
record and content hash, so re-running the DAG, a window, or a killed or retried part loads
nothing twice (pipeline/windows.py). The pipeline's locks keep it safe beside the source's
scheduled ingests: landings of one source take turns on the source's lock, and loads on the
one case writer.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Param, dag, task
from gridhub_airflow.common import (
    DEFAULT_ARGS,
    START_DATE,
    TAGS,
    cases_asset,
    database_url,
    settings,
)

from connectors.spec import SourceSpec, read_spec_folder
from core.errors import ConfigError
from core.settings import GridHubSettings

DEFAULT_PARTS = 4


def build_backfill_dag(spec: SourceSpec) -> DAG:
    """The DAG that backfills [from, to) of one source in `parts` windows."""
    cases = cases_asset(spec.name)

    @dag(
        dag_id=f"backfill_{spec.name}",
        description=f"Backfill {spec.agency} ({spec.format.value}) over a date range, in parts",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, "backfill", spec.format.value],
        doc_md=__doc__,
        params={
            "from": Param(None, type=["null", "string"], format="date-time",
                          description=f"first instant of {spec.watermark} to read (ISO 8601)"),
            "to": Param(None, type=["null", "string"], format="date-time",
                        description=f"instant of {spec.watermark} where reading stops (excluded)"),
            "parts": Param(DEFAULT_PARTS, type="integer", minimum=1, maximum=1000,
                           description="windows the range is cut into, landed in parallel"),
        },
    )
    def backfill_source():
        @task
        def plan_windows(*, params=None) -> list[dict[str, str]]:
            """[from, to) cut into `parts` windows."""
            from pipeline.windows import split_range

            if not params["from"] or not params["to"]:
                raise ConfigError(f"backfill_{spec.name}: give the range to read as from and to")
            windows = split_range(spec, datetime.fromisoformat(params["from"]),
                                  datetime.fromisoformat(params["to"]), int(params["parts"]))
            return [window.bounds() for window in windows]

        @task
        def land_window(window: dict[str, str]) -> int:
            """Extract one window's records and land them raw, as an ingest run of its own."""
            from pipeline.orchestration import land_for_run
            from pipeline.run import WatermarkWindow

            cfg = settings()
            bounds = WatermarkWindow(datetime.fromisoformat(window["from"]),
                                     datetime.fromisoformat(window["to"]))
            return land_for_run(spec, cfg, database_url(cfg), bounds, os.environ)

        @task(outlets=[cases])
        def load_windows(run_ids: list[int], *, outlet_events=None) -> dict:
            """Load the windows' landed runs, oldest first; runs loaded before are skipped."""
            from pipeline.windows import load_landed_windows

            cfg = settings()
            results = load_landed_windows(spec, cfg, database_url(cfg), list(run_ids), os.environ)
            totals = {name: sum(getattr(r.counts, name) for r in results)
                      for name in ("records_read", "inserted", "updated", "quarantined",
                                   "duplicates")}
            summary = {"run_ids": [r.run_id for r in results], **totals}
            if results:  # the rollups and warnings DAG recounts the runs it is told of
                outlet_events[cases].extra = {"run_id": results[-1].run_id, **summary}
            return summary

        load_windows(land_window.expand(window=plan_windows()))

    return backfill_source()


for _spec in read_spec_folder(GridHubSettings().resolved_sources_dir).specs.values():
    if _spec.watermark:
        build_backfill_dag(_spec)
