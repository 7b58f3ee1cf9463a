"""Sources: per agency feed, its last run, the counts that must add up, and how fresh it is."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request

from api.auth import CityWidePrincipal
from api.database import ConnDep
from api.hub import hub_of
from api.schemas import KEY_SCHEMES, KEYED_ERRORS, Sources
from connectors.spec import SourceSpec, SpecError, load_specs

router = APIRouter(tags=["quality"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)

# One row per source that has run or holds quarantine rows. A replay's run is not "the last
# run" of its source: its size says nothing about the feed.
SOURCES_SQL = """
WITH known AS (
    SELECT source FROM ingest_runs UNION SELECT source FROM quarantine
), last_run AS (
    SELECT DISTINCT ON (source) source, run_id, status, started_at, finished_at, error,
           records_read, loaded, quarantined, duplicates
    FROM ingest_runs WHERE NOT params ? 'replay_of' ORDER BY source, run_id DESC
), success AS (
    SELECT source, max(finished_at) AS last_success_at FROM ingest_runs
    WHERE status = 'succeeded' GROUP BY source
), fresh AS (
    SELECT q.source, max(q.newest_reported_at) AS newest_reported_at
    FROM quality_runs q JOIN ingest_runs r USING (run_id) WHERE r.status = 'succeeded'
    GROUP BY q.source
), waiting AS (
    SELECT source, count(*) AS open_quarantine FROM quarantine WHERE released_at IS NULL
    GROUP BY source
)
SELECT k.source, l.run_id, l.status, l.started_at, l.finished_at, l.error, l.records_read,
       l.loaded, l.quarantined, l.duplicates, s.last_success_at, f.newest_reported_at,
       coalesce(w.open_quarantine, 0) AS open_quarantine
FROM known k
LEFT JOIN last_run l USING (source) LEFT JOIN success s USING (source)
LEFT JOIN fresh f USING (source) LEFT JOIN waiting w USING (source)
ORDER BY k.source
"""


@router.get("/sources", summary="Every source: last run, counts, quarantine rate, freshness",
            response_model=None, responses={200: {"model": Sources}})
async def sources(request: Request, conn: ConnDep, principal: CityWidePrincipal) -> dict:
    """Each source spec (and any source that has run): its last run's status and counts
    (read = loaded + quarantined + duplicates), its quarantine rate, the rows still waiting
    in quarantine, and the freshness of what it delivered. A feed's figures are the whole
    city's: only keys of the whole city see them."""
    specs = _specs(hub_of(request).settings.resolved_sources_dir)
    rows = {r["source"]: r for r in await (await conn.execute(SOURCES_SQL)).fetchall()}
    now = datetime.now(UTC)
    return {"sources": [_source(name, specs.get(name), rows.get(name), now)
                        for name in sorted(set(specs) | set(rows))]}


def _specs(folder) -> dict[str, SourceSpec]:
    try:
        return load_specs(folder)
    except SpecError:
        # A broken spec must not hide the runs already recorded; `gridhub sources list` says why.
        return {}


def _source(name: str, spec: SourceSpec | None, row: dict | None, now: datetime) -> dict:
    row = row or {}
    read = row.get("records_read")
    newest = row.get("newest_reported_at")
    return {
        "name": name,
        "agency": spec.agency if spec else None,
        "kind": spec.kind.value if spec else None,
        "format": spec.format.value if spec else None,
        "schedule": spec.schedule if spec else None,
        "has_spec": spec is not None,
        "last_run": None if row.get("run_id") is None else {
            "run_id": row["run_id"], "status": row["status"], "started_at": row["started_at"],
            "finished_at": row["finished_at"], "error": row["error"]},
        "counts": None if row.get("run_id") is None else {
            "read": read, "loaded": row["loaded"], "quarantined": row["quarantined"],
            "duplicates": row["duplicates"]},
        "quarantine_rate": row["quarantined"] / read if read else None,
        "open_quarantine": row.get("open_quarantine", 0),
        "freshness": {
            "newest_reported_at": newest,
            "age_hours": round((now - newest).total_seconds() / 3600, 2) if newest else None,
            "last_success_at": row.get("last_success_at")},
    }
