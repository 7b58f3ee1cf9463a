"""Disputes rather than records: the cases several agencies keep of one dispute, counted once,
the referrals between agencies, and one dispute's way from first report to settlement.

Both read the linker's groups (`gridhub link run`); a case the linker has not seen yet is a
dispute of its own, and counted as such (`unlinked`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from psycopg import sql

from api.auth import AnalystPrincipal, CurrentPrincipal, area_in_scope
from api.cache import cached
from api.hub import hub_of
from api.levels import level_name
from api.params import AreaCode, FiltersDep
from api.periods import Period, period_params
from api.rendering import JSON, dumps
from api.schemas import KEY_SCHEMES, KEYED_ERRORS, AreaDisputes, DisputeTimeline, errors
from api.suppression import suppress, threshold
from core.case import Outcome
from core.errors import NotFoundError

router = APIRouter(tags=["disputes"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
PeriodDep = Annotated[Period, Depends(period_params)]

# The area's cases of the period, each with its dispute; then, over the whole of each of their
# disputes (members elsewhere included), the agency each record came after. A dispute whose
# records lie in two areas counts in both: each area had it.
AREA_DISPUTES = """
WITH here AS (
    SELECT c.case_id, c.source, coalesce(g.group_id, c.case_id) AS dispute, g.case_id IS NULL AS unlinked
    FROM cases c LEFT JOIN case_groups g USING (case_id)
    WHERE c.{area} = %(area)s
      AND (%(start)s::date IS NULL OR c.report_day >= %(start)s)
      AND (%(end)s::date IS NULL OR c.report_day <= %(end)s)
      AND (%(kind)s::text IS NULL OR c.kind = %(kind)s)
      AND (%(category)s::text IS NULL OR c.category = %(category)s)
), ordered AS (
    SELECT g.case_id, c.source,
           lag(c.source) OVER (PARTITION BY g.group_id ORDER BY c.reported_at, c.case_id) AS came_from
    FROM case_groups g JOIN cases c USING (case_id)
    WHERE g.group_id IN (SELECT dispute FROM here WHERE NOT unlinked)
), placed AS (
    SELECT h.source, h.dispute, h.unlinked, o.came_from FROM here h LEFT JOIN ordered o USING (case_id)
)
SELECT (SELECT count(*) FROM placed) AS records,
       (SELECT count(DISTINCT dispute) FROM placed) AS disputes,
       (SELECT count(*) FROM placed WHERE unlinked) AS unlinked,
       (SELECT coalesce(json_agg(s ORDER BY s.source), '[]') FROM (
            SELECT source, count(*) AS records, count(*) FILTER (WHERE came_from IS NULL) AS first_reports
            FROM placed GROUP BY source) s) AS by_source,
       (SELECT coalesce(json_agg(r ORDER BY r.count DESC, r.from_source, r.to_source), '[]') FROM (
            SELECT came_from AS from_source, source AS to_source, count(*) AS count
            FROM placed WHERE came_from IS NOT NULL AND came_from <> source GROUP BY 1, 2) r) AS referrals
"""
MEMBERS = """
SELECT c.case_id, c.source, c.kind, c.category, c.status, c.outcome, c.reported_at, c.closed_at,
       (c.{scope} = %(scope)s) AS in_scope
FROM case_groups g JOIN cases c USING (case_id)
WHERE g.group_id = (SELECT coalesce(h.group_id, c.case_id) FROM cases c LEFT JOIN case_groups h USING (case_id)
                    WHERE c.case_id = %(case)s AND c.{scope} = %(scope)s)
ORDER BY c.reported_at, c.case_id
"""
LONE_CASE = """
SELECT c.case_id, c.source, c.kind, c.category, c.status, c.outcome, c.reported_at, c.closed_at, true AS in_scope
FROM cases c WHERE c.case_id = %(case)s AND c.{scope} = %(scope)s
"""


def _hide_small(rows: list[dict], field: str, k: int) -> list[dict]:
    """Rows whose count is below k withheld (None), and, when exactly one is, the next smallest
    too: otherwise it would follow from the total by subtraction."""
    if not k:
        return rows
    small = [r for r in rows if r[field] < k]
    if len(small) == 1:
        shown = sorted((r for r in rows if r[field] >= k), key=lambda r: r[field])
        small += shown[:1]
    hidden = {id(r) for r in small}
    return [{**r, field: suppress(r[field], k) if id(r) not in hidden else None} for r in rows]


@router.get("/areas/{code}/disputes", summary="Disputes and records counted apart, with referrals between agencies",
            response_model=AreaDisputes, responses=errors(400, 404))
async def area_disputes(request: Request, principal: CurrentPrincipal, code: AreaCode, period: PeriodDep,
                        filters: FiltersDep) -> Response:
    """The area's records of a period (by day reported), the disputes they are records of
    (`disputes`: several agencies' records of one dispute count once), the records each agency
    keeps and how many of them were the dispute's first report, and the referrals between
    agencies: how often a dispute's record at one agency followed its record at another."""
    hub = hub_of(request)
    area = area_in_scope(hub, principal, code)
    k = threshold(principal.role, area.level, hub.api.k_threshold)

    async def build():
        query = sql.SQL(AREA_DISPUTES).format(area=sql.Identifier(area.level.code_column))
        params = {"area": code, "start": period.start, "end": period.end, "kind": filters.kind,
                  "category": filters.category}
        async with hub.pool.connection() as conn:
            row = await (await conn.execute(query, params)).fetchone()
        records, disputes, unlinked = int(row["records"]), int(row["disputes"]), int(row["unlinked"])
        shown = not k or min(records, disputes) >= k
        body = {
            "area": {"code": area.code, "name": area.name, "level": level_name(hub.settings.profile, area.level)},
            "period": period.as_dict(),
            "filters": {"kind": filters.kind, "category": filters.category},
            # Records and disputes are shown together or not at all: one and their ratio or
            # difference would tell the other.
            "records": records if shown else None,
            "disputes": disputes if shown else None,
            "records_per_dispute": round(records / disputes, 3) if shown and disputes else None,
            "unlinked": suppress(unlinked, k) if k else unlinked,
            "by_source": _hide_small(_hide_small(row["by_source"], "records", k), "first_reports", k)
            if k else row["by_source"],
            "referrals": _hide_small(row["referrals"], "count", k),
        }
        if k:
            body["suppressed_below"] = k
        return dumps(body), JSON

    return await cached(request, principal, build)


def _events(members: list[dict]) -> list[dict]:
    """Each record's report (the first, or a referral from the agency before it) and close."""
    events = []
    for i, m in enumerate(members):
        before = members[i - 1]["source"] if i else None
        kind = "first_report" if i == 0 else ("referral" if before != m["source"] else "follow_up")
        events.append({"at": m["reported_at"], "event": kind, "case_id": m["case_id"], "source": m["source"],
                       "from_source": before, "status": m["status"]})
        if m["closed_at"] is not None:
            settled = m["outcome"] == Outcome.SETTLED.value
            events.append({"at": m["closed_at"], "event": "settled" if settled else "closed",
                           "case_id": m["case_id"], "source": m["source"], "outcome": m["outcome"]})
    return sorted(events, key=lambda e: (e["at"], e["event"] != "first_report"))


@router.get("/cases/{case_id}/timeline", summary="One dispute's way across agencies (analysts)",
            response_model=DisputeTimeline, responses=errors(404))
async def dispute_timeline(request: Request, principal: AnalystPrincipal,
                           case_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="a case_id from /cases")]
                           ) -> Response:
    """The dispute of a case from its first report to settlement: every agency's record in the
    key's scope in the order reported, the referrals between them, which agency settled or
    closed it, and whether any record is still open. Records outside the scope are counted,
    not shown."""
    hub = hub_of(request)
    params = {"case": case_id, "scope": principal.scope_code}
    scope = sql.Identifier(principal.scope_column)
    async with hub.pool.connection() as conn:
        members = await (await conn.execute(sql.SQL(MEMBERS).format(scope=scope), params)).fetchall()
        if not members:  # not linked yet: a dispute of its own
            members = await (await conn.execute(sql.SQL(LONE_CASE).format(scope=scope), params)).fetchall()
    if not members:  # absent and out of scope answer alike
        raise NotFoundError(f"no case {case_id} in this key's scope")
    shown = [m for m in members if m.pop("in_scope")]
    events = _events(shown)
    closes = [e for e in events if e["event"] in ("settled", "closed")]
    settled = [e for e in closes if e["event"] == "settled"]
    agencies = list(dict.fromkeys(m["source"] for m in shown))
    body = {
        "case_id": case_id,
        "group_id": min(m["case_id"] for m in members),
        "first_report": {key: events[0][key] for key in ("at", "source", "case_id")},
        "agencies": agencies,
        "referrals": sum(e["event"] == "referral" for e in events),
        "settled_by": {key: settled[-1][key] for key in ("at", "source", "case_id")} if settled else None,
        "last_closed_by": {key: closes[-1][key] for key in ("at", "source", "case_id", "outcome")} if closes else None,
        "open_records": sum(m["closed_at"] is None for m in shown),
        "records_outside_scope": len(members) - len(shown),
        "events": events,
    }
    return Response(dumps(body), media_type=JSON, headers={"Cache-Control": "private, no-store"})
