"""`gridhub_area_boundaries`: load a new version of governance area boundaries from a file
and re-assign the cases it moves (triggered by hand, with the file as a parameter).

The same library call as `gridhub areas load`: the checks run first and a file with errors
is refused unless `force`; cases reported from the effective day on are geocoded again
against the new boundaries, their rollups refreshed, and the areas asset published so the
warnings run again.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from airflow.sdk import Param, dag, task
from gridhub_airflow.common import (
    AREAS_ASSET,
    DEFAULT_ARGS,
    START_DATE,
    TAGS,
    database_url,
    settings,
)

from core.case import AreaLevel


@dag(
    dag_id="gridhub_area_boundaries",
    description="Load a boundary version and re-assign the cases it moves",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "areas"],
    doc_md=__doc__,
    params={
        "path": Param(type="string", minLength=1,
                      description="GeoJSON (DataV style too), Shapefile or GeoPackage on the workers"),
        "level": Param(type="string", enum=[level.value for level in AreaLevel],
                       description="the level of every area in the file"),
        "effective_from": Param(None, type=["null", "string"], format="date",
                                description="YYYY-MM-DD the boundaries hold from (default today)"),
        "complete": Param(False, type="boolean",
                          description="the file is the whole level: current areas absent from it close"),
        "force": Param(False, type="boolean", description="load even when the checks find errors"),
    },
)
def area_boundaries():
    @task(outlets=[AREAS_ASSET])
    def load_boundaries_and_reassign_cases(*, params=None) -> dict:
        """Check, version and load the file; re-assign the cases whose areas changed."""
        from pipeline.boundaries import load_area_file

        cfg = settings()
        effective = date.fromisoformat(params["effective_from"]) if params["effective_from"] else None
        result = load_area_file(database_url(cfg), cfg, Path(params["path"]), params["level"],
                                effective_from=effective, complete=params["complete"],
                                force=params["force"])
        return {"version_id": result.version_id, "cases_reassigned": result.cases_reassigned,
                **result.plan.summary()}

    load_boundaries_and_reassign_cases()


area_boundaries()
