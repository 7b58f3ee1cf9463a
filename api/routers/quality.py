"""Quality: the record of every validation run, and the GX Data Docs site."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response

from api.auth import CityWideAnalyst, CityWidePrincipal
from api.database import ConnDep
from api.hub import hub_of
from api.params import PLAIN_TEXT, cursor, object_id
from api.routers.docs import data_docs_file
from api.schemas import KEY_SCHEMES, KEYED_ERRORS, QualityRun, QualityRuns, errors
from core.errors import NotFoundError
from core.masking import masked_examples

router = APIRouter(prefix="/quality", tags=["quality"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
SourceName = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$",
                                         description="only runs of this source",
                                         examples=["hotline_12345"])]


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


RUNS_SQL = """
SELECT r.run_id, r.source, r.status, r.started_at, r.finished_at, r.error,
       r.params ? 'replay_of' AS replay, r.records_read, r.loaded, r.quarantined, r.duplicates,
       q.suite, q.validated_at, q.rows_evaluated, q.rows_passed, q.rows_failed, q.mapping_failed,
       q.oldest_reported_at, q.newest_reported_at, q.success, q.expectations, q.gates
FROM ingest_runs r LEFT JOIN quality_runs q USING (run_id)
WHERE (%(source)s::text IS NULL OR r.source = %(source)s)
  AND (%(status)s::text IS NULL OR r.status = %(status)s)
  AND (%(before)s::bigint IS NULL OR r.run_id < %(before)s)
  AND (%(run_id)s::bigint IS NULL OR r.run_id = %(run_id)s)
ORDER BY r.run_id DESC LIMIT %(limit)s
"""


@router.get("/runs", summary="Validation runs, newest first", response_model=None,
            responses={200: {"model": QualityRuns}} | errors(404))
async def runs(
    conn: ConnDep, principal: CityWidePrincipal, source: SourceName = None,
    status: Annotated[RunStatus | None, Query(description="only runs in this status")] = None,
    before: Annotated[int | None, cursor("next_before", least=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    """Every run with its counts, and its validation: rows passed and failed, each expectation
    with GX's counts, each batch gate; a stopped run's `error` says which gate stopped it.
    Only keys of the whole city see them (a run is a feed's, not an area's); example failing
    values are shown to analyst and admin keys only, masked as case rows are."""
    if source is not None:
        known = await (await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM ingest_runs WHERE source = %s)", (source,))).fetchone()
        if not known["exists"]:
            raise NotFoundError(f"source {source!r} has no runs")
    rows = await (await conn.execute(RUNS_SQL, {
        "source": source, "status": status, "before": before, "run_id": None,
        "limit": limit})).fetchall()
    found = [_run(r, principal.role.sees_cases) for r in rows]
    return {"runs": found, "next_before": found[-1]["run_id"] if len(found) == limit else None}


@router.get("/runs/{run_id}", summary="One validation run", response_model=None,
            responses={200: {"model": QualityRun}} | errors(404))
async def run(conn: ConnDep, principal: CityWidePrincipal,
              run_id: Annotated[int, object_id("a run_id from /quality/runs")]) -> dict:
    """A run with its validation, as in /quality/runs."""
    row = await (await conn.execute(RUNS_SQL, {
        "source": None, "status": None, "before": None, "run_id": run_id, "limit": 1})).fetchone()
    if row is None:
        raise NotFoundError(f"no run {run_id}")
    return _run(row, principal.role.sees_cases)


@router.get("/docs", include_in_schema=False)
async def docs_root() -> RedirectResponse:
    return RedirectResponse("/quality/docs/")


@router.get("/docs/{path:path}", summary="GX Data Docs (HTML)", response_class=Response,
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}},
                                         "*/*": {"schema": {"type": "string", "format": "binary"}}},
                             "description": "a page, or an asset of the site"}} | errors(404))
async def docs(request: Request, principal: CityWideAnalyst,
               path: Annotated[str, PathParam(max_length=500, pattern=PLAIN_TEXT)]) -> Response:
    """The Data Docs site built from the validation runs (index at /quality/docs/); it shows
    example failing values, so it needs an analyst or admin key of the whole city."""
    site = hub_of(request).settings.data_dir / "quality" / "docs"
    if not (site / "index.html").exists():
        raise NotFoundError("no Data Docs yet: they are built when a run is validated"
                            " (or with `gridhub quality docs`)")
    return await data_docs_file(site, path, request)  # pages pointed at local scripts, no CDN


def _run(r: dict, with_examples: bool) -> dict:
    validation = None
    if r["suite"] is not None:
        expectations = [{**e, "examples": masked_examples(e)} for e in r["expectations"]] if with_examples else [
            {k: v for k, v in e.items() if k != "examples"} for e in r["expectations"]]
        validation = {
            "suite": r["suite"], "validated_at": r["validated_at"],
            "rows_evaluated": r["rows_evaluated"], "rows_passed": r["rows_passed"],
            "rows_failed": r["rows_failed"], "mapping_failed": r["mapping_failed"],
            "oldest_reported_at": r["oldest_reported_at"],
            "newest_reported_at": r["newest_reported_at"], "success": r["success"],
            "expectations": expectations, "gates": r["gates"]}
    return {
        "run_id": r["run_id"], "source": r["source"], "status": r["status"],
        "replay": r["replay"], "started_at": r["started_at"], "finished_at": r["finished_at"],
        "error": r["error"],
        "counts": {"read": r["records_read"], "loaded": r["loaded"],
                   "quarantined": r["quarantined"], "duplicates": r["duplicates"]},
        "validation": validation,
    }
