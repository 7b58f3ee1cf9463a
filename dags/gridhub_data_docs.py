"""`gridhub_data_docs`: rebuild the Great Expectations Data Docs of the latest validation runs.

Every ingest already renders its own run's page; this daily rebuild (or a manual run) makes
the site whole again, say on a fresh data volume. Same library code as `gridhub quality docs`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from gridhub_airflow.common import DEFAULT_ARGS, START_DATE, TAGS, database_url, settings


@dag(
    dag_id="gridhub_data_docs",
    description="Rebuild the GX Data Docs of the latest validation runs",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "quality"],
    doc_md=__doc__,
    params={"runs": Param(200, type="integer", minimum=1, description="latest runs to render")},
)
def data_docs():
    @task
    def rebuild_data_docs(*, params=None) -> dict:
        """Render the latest validation runs into <data_dir>/quality/docs."""
        from pipeline.orchestration import rebuild_data_docs as rebuild

        cfg = settings()
        index, rendered = rebuild(database_url(cfg), cfg, params["runs"])
        return {"index": str(index) if index else None, "runs": rendered}

    rebuild_data_docs()


data_docs()
