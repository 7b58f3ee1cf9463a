"""What a caller held to k (api.suppression) may see of areas' figures, read with their siblings.

A viewer sees a parent's totals and its children's figures, so whether a child's count is
shown is decided among all the parent's children, whichever of them a request asks for (the
same counts are hidden on every endpoint: stats, rankings, summary, time series, OGC). For a
caller with no k this reads exactly what it is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from psycopg import sql

from api.database import fetch_together
from api.figures import Figures, figures, hidden_among_siblings
from api.hub import Hub
from api.periods import Period
from api.queries import Filters, Wrapper, open_at_end, period_rows, summed
from api.suppression import is_small
from store.rollups import ADDITIVE

REPORTED = Wrapper.of("SELECT area_code, sum(reported)::bigint AS reported FROM ({rows}) u GROUP BY area_code")
# Per area and interval: the counts of the period's table, and the closes (for open cases).
_TABLE_MEASURES = [n for n in ADDITIVE if n != "close_hours_sum"]
BUCKETED = Wrapper.of(
    "SELECT area_code, date_trunc({interval}, day)::date AS bucket, {sums},"
    " sum(closed_on)::bigint AS closed_on FROM ({rows}) u GROUP BY 1, 2",
    interval=sql.Placeholder("interval"),
    sums=sql.SQL(", ").join(sql.SQL("sum({n})::bigint AS {n}").format(n=sql.Identifier(n))
                            for n in _TABLE_MEASURES))


def with_siblings(hub: Hub, codes: Sequence[str]) -> list[str]:
    """`codes` and every other child of their parents, in code order."""
    out = set(codes)
    for code in codes:
        area = hub.areas.get(code)
        if area is not None and area.parent_code is not None:
            out.update(hub.areas.children.get(area.parent_code, ()))
    return sorted(out)


def _parents(hub: Hub, codes: Sequence[str]) -> dict[str, str | None]:
    return {code: getattr(hub.areas.get(code), "parent_code", None) for code in codes}


def _open_hidden(open_by: dict[str, int], parent_of: dict[str, str | None], k: int) -> set[str]:
    """Areas whose open cases (at one day's end) a viewer may not see."""
    hidden = hidden_among_siblings({c: {"open_at_end": n} for c, n in open_by.items()}, parent_of, k, ())
    return set(hidden)


async def area_figures(hub: Hub, codes: Sequence[str], period: Period, filters: Filters,
                       k: int) -> dict[str, Figures]:
    """The figures of each area over the period, as a caller held to k may see them."""
    if not codes:
        return {}
    read = with_siblings(hub, codes) if k else list(codes)
    previous = period.previous()
    statements = [summed(period_rows([("cur", period)], read, filters), "area_code"),
                  open_at_end(read, filters, period.end)]
    if previous:  # only its count is shown, but which counts k hides depends on the rest
        before = period_rows([("prev", previous)], read, filters)
        statements.append(summed(before, "area_code") if k else REPORTED.around(before))
    sums, opens, *before_rows = await fetch_together(hub.pool, *statements)
    cur = {r["area_code"]: r for r in sums}
    prev = {r["area_code"]: r for r in before_rows[0]} if before_rows else {}
    open_by = {code: 0 for code in read} | {r["area_code"]: int(r["open"]) for r in opens}
    found = {code: figures(cur.get(code), open_by[code],
                           int(prev.get(code, {}).get("reported") or 0) if previous else None)
             for code in read}
    if not k:
        return found
    parent_of = _parents(hub, read)
    hidden = hidden_among_siblings({c: f.cells() for c, f in found.items()}, parent_of, k)
    for code in _open_hidden(open_by, parent_of, k):
        hidden.setdefault(code, set()).add("open_at_end")
    if previous:  # the previous period's count is hidden as that period's own table hides it
        earlier = {c: figures(prev.get(c), 0, None).cells() for c in read}
        for code, names in hidden_among_siblings(earlier, parent_of, k).items():
            if "reported" in names:
                hidden.setdefault(code, set()).add("previous_reported")
    return {code: found[code].suppressed(k, hidden.get(code, ())) for code in codes}


async def series_seen(hub: Hub, code: str, period: Period, filters: Filters, interval: str,
                      opening: int, points: list[dict], k: int) -> tuple[int | None, list[dict]]:
    """An area's time series (open at its start, its points) as a caller held to k sees it.

    Each point's counts are hidden as the table of its interval hides them, each open count
    as that day's open counts among the siblings are, so that no series gives away what
    /stats hides. The closes of an interval are its reported less the change in open cases:
    they are shown only where all three are.
    """
    read = with_siblings(hub, [code])
    parent_of = _parents(hub, read)
    rows = period_rows([("cur", period)], read, filters, months=interval == "month")
    statements = [BUCKETED.around(rows, interval=interval)]
    if period.start is not None:
        statements.append(open_at_end(read, filters, period.start - timedelta(days=1)))
    bucketed, *opened = await fetch_together(hub.pool, *statements)
    opening_by = {c: 0 for c in read} | {r["area_code"]: int(r["open"]) for r in (opened[0] if opened else [])}
    by_bucket: dict[date, dict[str, dict]] = {}
    for r in bucketed:
        by_bucket.setdefault(date.fromisoformat(str(r["bucket"])), {})[r["area_code"]] = r
    running = dict(opening_by)
    open_after: dict[date, dict[str, int]] = {}  # open cases at the end of each interval
    for start in sorted(set(by_bucket) | {p["start"] for p in points}):
        for c, r in by_bucket.get(start, {}).items():
            running[c] += int(r["reported"] or 0) - int(r["closed_on"] or 0)
        open_after[start] = dict(running)
    opening_hidden = period.start is not None and code in _open_hidden(opening_by, parent_of, k)
    shown, before_hidden = [], opening_hidden
    for point in points:
        start = point["start"]
        table = {c: figures(by_bucket.get(start, {}).get(c), 0, None).cells() for c in read}
        hidden = hidden_among_siblings(table, parent_of, k).get(code, set())
        if code in _open_hidden(open_after[start], parent_of, k):
            hidden.add("open_at_end")
        if is_small(point["closed"], k) or before_hidden or hidden & {"reported", "open_at_end"}:
            hidden.add("closed")
        shown.append({key: None if key in hidden else value for key, value in point.items()})
        before_hidden = "open_at_end" in hidden
    return (None if opening_hidden else opening), shown
