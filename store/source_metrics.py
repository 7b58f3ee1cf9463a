"""The ingest figures an operator's monitoring reads for every source (the API's /metrics):
runs by status, records of succeeded runs, quarantine by reason, last success and freshness.

Read from the tables the ingest already writes (ingest_runs, quality_runs, quarantine), at
scrape time: nothing is counted twice and nothing has to be kept in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

# A replay's counts are real records loaded out of quarantine: they count like any run's.
RUNS_SQL = """
SELECT source, status, count(*) AS runs,
       sum(records_read) AS read, sum(loaded) AS loaded, sum(quarantined) AS quarantined,
       sum(duplicates) AS duplicates, max(finished_at) AS last_finished
FROM ingest_runs GROUP BY source, status
"""
FRESHNESS_SQL = """
SELECT q.source, max(q.newest_reported_at) AS newest_reported_at
FROM quality_runs q JOIN ingest_runs r USING (run_id) WHERE r.status = 'succeeded'
GROUP BY q.source
"""
# A record whose reasons name the same check twice counts once under it.
QUARANTINE_SQL = """
SELECT q.source, r->>'check' AS reason, count(DISTINCT q.quarantine_id) AS total,
       count(DISTINCT q.quarantine_id) FILTER (WHERE q.released_at IS NULL) AS open
FROM quarantine q, jsonb_array_elements(q.reasons) r
GROUP BY 1, 2
"""


@dataclass
class SourceFigures:
    source: str
    runs_by_status: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)  # read, loaded, quarantined, duplicates
    last_success_at: datetime | None = None
    newest_reported_at: datetime | None = None


@dataclass(frozen=True)
class QuarantineFigures:
    source: str
    reason: str
    total: int  # ever quarantined
    open: int  # still waiting


@dataclass
class SourceFacts:
    sources: list[SourceFigures]
    quarantine: list[QuarantineFigures]


async def source_facts(conn: psycopg.AsyncConnection) -> SourceFacts:
    """Every source's figures, as the database holds them now."""
    by_source: dict[str, SourceFigures] = {}
    async with conn.cursor(row_factory=dict_row) as cur:
        for r in await (await cur.execute(RUNS_SQL)).fetchall():
            figures = by_source.setdefault(r["source"], SourceFigures(r["source"]))
            figures.runs_by_status[r["status"]] = r["runs"]
            if r["status"] == "succeeded":
                figures.records = {k: int(r[k]) for k in ("read", "loaded", "quarantined", "duplicates")}
                figures.last_success_at = r["last_finished"]
        for r in await (await cur.execute(FRESHNESS_SQL)).fetchall():
            by_source.setdefault(r["source"], SourceFigures(r["source"])).newest_reported_at = \
                r["newest_reported_at"]
        quarantine = [QuarantineFigures(r["source"], r["reason"] or "unknown", r["total"], r["open"])
                      for r in await (await cur.execute(QUARANTINE_SQL)).fetchall()]
    return SourceFacts(sorted(by_source.values(), key=lambda s: s.source), quarantine)
