"""Area views: the summary of one area over a period, from the daily rollups."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.database import ConnDep
from core.case import CaseKind, Category
from core.errors import NotFoundError

router = APIRouter(prefix="/areas", tags=["areas"])
AreaCode = Annotated[str, Path(pattern=r"^\d{12}(\d{3})?$", description="12-digit area or 15-digit grid code",
                               examples=["339902000000"])]


@router.get("/{code}/summary")
async def summary(
    conn: ConnDep,
    code: AreaCode,
    start: Annotated[date | None, Query(alias="from", description="first day (inclusive)")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (inclusive)")] = None,
    kind: CaseKind | None = None,
    category: Category | None = None,
) -> dict:
    """Totals for an area over a period: by kind and category, resolution and mediation rates."""
    area = await _area(conn, code)
    rows = await (await conn.execute(
        "SELECT kind, category, sum(reported)::bigint AS reported, sum(resolved)::bigint AS resolved,"
        " sum(in_mediation)::bigint AS in_mediation, sum(settled)::bigint AS settled,"
        " sum(not_settled)::bigint AS not_settled, sum(closed)::bigint AS closed,"
        " sum(close_hours_sum) AS close_hours"
        " FROM rollup_daily WHERE area_code = %(code)s"
        " AND (%(start)s::date IS NULL OR day >= %(start)s) AND (%(end)s::date IS NULL OR day <= %(end)s)"
        " AND (%(kind)s::text IS NULL OR kind = %(kind)s)"
        " AND (%(category)s::text IS NULL OR category = %(category)s)"
        " GROUP BY kind, category",
        {"code": code, "start": start, "end": end, "kind": kind, "category": category},
    )).fetchall()
    total = sum(r["reported"] for r in rows)
    resolved = sum(r["resolved"] for r in rows)
    settled = sum(r["settled"] for r in rows)
    not_settled = sum(r["not_settled"] for r in rows)
    closed = sum(r["closed"] for r in rows)
    by_kind: dict[str, int] = {}
    by_category: dict[str, int] = {}
    for r in rows:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0) + r["reported"]
        by_category[r["category"]] = by_category.get(r["category"], 0) + r["reported"]
    return {
        "area": area,
        "period": {"from": start, "to": end},
        "total": total,
        "by_kind": by_kind,
        "by_category": by_category,
        "resolved": resolved,
        "resolution_rate": resolved / total if total else None,
        "mediation": {"settled": settled, "not_settled": not_settled,
                      "success_rate": settled / (settled + not_settled) if settled + not_settled else None},
        "mean_hours_to_close": sum(r["close_hours"] for r in rows) / closed if closed else None,
    }


async def _area(conn, code: str) -> dict:
    row = await (await conn.execute(
        "SELECT code, name, level, parent_code FROM areas WHERE code = %s AND valid_to IS NULL",
        (code,))).fetchone()
    if row is None:
        raise NotFoundError(f"no current area with code {code}")
    return row
