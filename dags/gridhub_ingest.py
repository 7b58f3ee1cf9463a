"""One ingest DAG per source spec in GRIDHUB_SOURCES_DIR: `ingest_<source>`.

Adding a YAML file to the sources folder makes its DAG appear at the next parse; the spec
gives the schedule, with real data intervals, so a backfill run (`airflow backfill create`)
of a REST or SQL source reads only the records whose watermark lies in its interval. Each
task body is one call into the pipeline library, the same code `gridhub ingest` runs. At
most one run per source is active, and the pipeline's advisory lock keeps Airflow and the
CLI from ingesting one source at the same time.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import DAG, Param, dag, task
from gridhub_airflow.common import (
    DEFAULT_ARGS,
    START_DATE,
    TAGS,
    cases_asset,
    database_url,
    settings,
    source_schedule,
)

from connectors.spec import SourceSpec, SpecError, read_spec_folder
from core.settings import GridHubSettings


def build_ingest_dag(spec: SourceSpec) -> DAG:
    """The DAG that ingests one source: extract and land raw, then validate, geocode, load."""
    cases = cases_asset(spec.name)

    @dag(
        dag_id=f"ingest_{spec.name}",
        description=f"Ingest {spec.agency} ({spec.format.value}) into cases",
        schedule=source_schedule(spec),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, "ingest", spec.format.value],
        doc_md=__doc__,
        params={"only_data_interval": Param(
            False, type="boolean",
            description="read only the records whose watermark lies in this run's data interval,"
                        " as a backfill run does (REST and SQL sources)")},
    )
    def ingest_source():
        @task
        def extract_and_land(*, dag_run=None, data_interval_start=None, data_interval_end=None,
                             params=None) -> int:
            """Read the source (from its watermark, or a backfill's interval); land it raw."""
            from pipeline.orchestration import backfill_window, land_for_run

            cfg = settings()
            window = backfill_window(spec, dag_run.run_type, data_interval_start,
                                     data_interval_end, params["only_data_interval"])
            return land_for_run(spec, cfg, database_url(cfg), window, os.environ)

        @task(outlets=[cases])
        def validate_geocode_load(landed_run: int, *, outlet_events=None) -> dict:
            """Map, validate, geocode and load the landed run, with rollups, in one commit."""
            from pipeline.orchestration import process_landed_run

            cfg = settings()
            result = process_landed_run(spec, cfg, database_url(cfg), landed_run, os.environ)
            counts = vars(result.counts)
            outlet_events[cases].extra = {"run_id": result.run_id, **counts}
            return {"run_id": result.run_id, **counts}

        validate_geocode_load(extract_and_land())

    return ingest_source()


def build_broken_spec_dag(path: Path, problem: str) -> DAG:
    """A DAG for a spec file that does not parse: its one task fails with the file, field and
    reason, while every other source's DAG imports and runs."""

    @dag(
        dag_id=f"ingest_{path.stem}",
        description=f"{path.name} is not a valid source spec: fix it and its DAG comes back",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, "ingest", "broken spec"],
        doc_md=problem,
    )
    def broken_spec():
        @task
        def fix_the_spec() -> None:
            """Fail with what is wrong in the spec file."""
            raise SpecError(problem)

        fix_the_spec()

    return broken_spec()


_sources = read_spec_folder(GridHubSettings().resolved_sources_dir)
for _spec in _sources.specs.values():
    build_ingest_dag(_spec)
for _path, _problem in _sources.broken.items():
    if _path.stem not in _sources.specs:
        build_broken_spec_dag(_path, _problem)
