"""Early warnings: alerts by area (with everything inside it), acknowledgement, Gi* hotspots."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from psycopg import sql

from alerts.lifecycle import ACKNOWLEDGEABLE, AlertStatus
from alerts.signals import all_signals
from api.auth import CurrentPrincipal, Principal, area_in_scope, in_scope
from api.database import ConnDep, WriteConnDep
from api.hub import Hub, hub_of
from api.keys import Role
from api.levels import LEVEL_NAME_PATTERN, level_name, level_slot
from api.params import CODE_PATTERN, PLAIN_TEXT, TableFormat, cursor, object_id
from api.rendering import GEOJSON, JSON, TableFormats, csv_response, dumps, feature_collection
from api.schemas import (
    CSV_CONTENT,
    GEOJSON_CONTENT,
    KEY_SCHEMES,
    KEYED_ERRORS,
    Alert,
    Hotspots,
    WarningList,
    errors,
    with_alternatives,
)
from api.suppression import is_small, threshold
from core.case import AreaLevel
from core.errors import ForbiddenError, NotFoundError

router = APIRouter(tags=["warnings"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)

AreaQuery = Annotated[str | None, Query(pattern=CODE_PATTERN,
                                        description="alerts in this area or any area inside it "
                                                    "(default: the key's scope)")]
SIGNALS = [s.name for s in all_signals()] + ["escalation:repeat_place", "escalation:repeat_party",
                                              "escalation:unresolved"]
SignalParam = Annotated[str | None, Query(max_length=200, pattern=PLAIN_TEXT,
                                          description="e.g. group:labour or kind:dispute",
                                          examples=SIGNALS[:2])]
ALERT_COLUMNS = ["alert_id", "area_code", "area_name", "area_level", "signal", "method", "level", "status",
                 "first_day", "last_day", "peak_day", "alarm_days", "observed", "expected", "score", "p_value",
                 "parent_alert_id", "details", "as_of", "closed_day", "acknowledged_by", "acknowledged_at",
                 "created_at", "updated_at"]
MAX_LIMIT = 1000
ALERT_FIELDS = sql.SQL("""a.alert_id, a.area_code, ar.name AS area_name, a.level AS area_level, a.signal,
    a.method, a.severity AS level, a.status, a.first_day, a.last_day, a.peak_day, a.alarm_days,
    a.observed, a.expected, a.score, a.p_value, a.parent_alert_id, a.details, a.as_of,
    a.closed_day, a.acknowledged_by, a.acknowledged_at, a.created_at, a.updated_at""")


class Severity(StrEnum):
    RED = "red"
    YELLOW = "yellow"


class HotspotFormat(StrEnum):
    JSON = "json"
    GEOJSON = "geojson"


@router.get("/warnings", summary="Early-warning alerts in an area and every area inside it",
            response_model=WarningList, responses=with_alternatives(CSV_CONTENT) | errors(404))
async def warnings(
    request: Request, conn: ConnDep, principal: CurrentPrincipal,
    area: AreaQuery = None,
    level: Annotated[Severity | None, Query(description="red or yellow")] = None,
    status: Annotated[list[AlertStatus] | None, Query(description="one or more statuses")] = None,
    since: Annotated[date | None, Query(description="alerts active on or after this day")] = None,
    signal: SignalParam = None,
    area_level: Annotated[str | None, Query(pattern=LEVEL_NAME_PATTERN, description="only alerts raised at"
                                            " this level, as the city profile names it")] = None,
    after: Annotated[int | None, cursor("next")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"alerts per page, 1 to {MAX_LIMIT}")] = 100,
    format: TableFormat = TableFormats.JSON,
) -> Response:
    """Newest first; an alert in a grid is listed under its community, street and district
    too, as the same alert (same id), never as a copy. As CSV: one row per alert, its
    `details` as JSON text."""
    hub = hub_of(request)
    target = area_in_scope(hub, principal, area or principal.scope_code, "area")
    raised_at = level_slot(hub.settings.profile, area_level, "area_level")
    rows = await (await conn.execute(sql.SQL(
        "SELECT {fields} FROM alert_areas aa"
        " JOIN alerts a ON a.alert_id = aa.alert_id"
        " LEFT JOIN areas ar ON ar.code = a.area_code AND ar.valid_to IS NULL"
        " WHERE aa.area_code = %(area)s"
        " AND (%(level)s::text IS NULL OR a.severity = %(level)s)"
        " AND (%(status)s::text[] IS NULL OR a.status = ANY(%(status)s))"
        " AND (%(since)s::date IS NULL OR a.last_day >= %(since)s)"
        " AND (%(signal)s::text IS NULL OR a.signal = %(signal)s)"
        " AND (%(area_level)s::text IS NULL OR a.level = %(area_level)s)"
        " AND (%(after)s::bigint IS NULL OR a.alert_id < %(after)s)"
        " ORDER BY a.alert_id DESC LIMIT %(limit)s").format(fields=ALERT_FIELDS),
        {"area": target.code, "level": level, "since": since, "signal": signal,
         "status": [s.value for s in status] if status else None,
         "area_level": raised_at.value if raised_at else None, "after": after, "limit": limit},
    )).fetchall()
    shown = [_for_role(row, principal, hub) for row in rows]
    next_cursor = rows[-1]["alert_id"] if len(rows) == limit else None
    if format is TableFormats.CSV:
        for row in shown:
            row["details"] = dumps(row["details"]).decode()
        headers = {"Link": f'<{request.url.include_query_params(after=next_cursor)}>; rel="next"'} if next_cursor else None
        return csv_response(shown, ALERT_COLUMNS, f"warnings-{target.code}", headers)
    body = {"area": {"code": target.code, "name": target.name, "level": level_name(hub.settings.profile, target.level)},
            "warnings": shown, "next": next_cursor}
    return Response(dumps(body), media_type=JSON)


@router.post("/warnings/{alert_id}/ack", summary="Acknowledge an alert (analysts and admins)",
            response_model=Alert, responses=errors(404, 409))
async def acknowledge(
    request: Request, conn: WriteConnDep, principal: CurrentPrincipal,
    alert_id: Annotated[int, object_id("an alert_id from /warnings")],
    by: Annotated[str | None, Body(embed=True, max_length=200, pattern=PLAIN_TEXT,
                                   description="who takes it on (default: the key)")] = None,
) -> Response:
    """new or ongoing -> acknowledged. Acknowledging twice changes nothing; a resolved or
    expired alert cannot be acknowledged (409)."""
    if principal.role is Role.VIEWER:
        raise ForbiddenError("acknowledging a warning needs an analyst or admin key")
    found = await (await conn.execute(
        "SELECT area_code, status FROM alerts WHERE alert_id = %s", (alert_id,))).fetchone()
    if found is None or not in_scope(hub_of(request), principal, found["area_code"]):
        raise NotFoundError(f"no alert {alert_id}")  # outside the scope: as if there were none
    status = AlertStatus(found["status"])
    if status not in ACKNOWLEDGEABLE and status is not AlertStatus.ACKNOWLEDGED:
        raise HTTPException(409, f"alert {alert_id} is {status.value}: only new or ongoing alerts "
                                 "can be acknowledged")
    who = by or (f"key:{principal.key_id}" if principal.key_id is not None else "development")
    await conn.execute(
        "UPDATE alerts SET status = 'acknowledged', acknowledged_by = %s, acknowledged_at = now(),"
        " updated_at = now() WHERE alert_id = %s AND status = ANY(%s)",
        (who, alert_id, [s.value for s in ACKNOWLEDGEABLE]))
    row = await (await conn.execute(sql.SQL(
        "SELECT {fields} FROM alerts a"
        " LEFT JOIN areas ar ON ar.code = a.area_code AND ar.valid_to IS NULL"
        " WHERE a.alert_id = %s").format(fields=ALERT_FIELDS), (alert_id,))).fetchone()
    return Response(dumps(_for_role(row, principal, hub_of(request))), media_type=JSON)


def _for_role(row: dict, principal: Principal, hub: Hub) -> dict:
    """Viewers see no small grid counts and no escalation findings (places, parties); the
    level is named as the profile names it."""
    stored, row["area_level"] = row["area_level"], level_name(hub.settings.profile, row["area_level"])
    if principal.role is not Role.VIEWER:
        return row
    _hide_small_observed(row, threshold(principal.role, stored, hub.api.k_threshold))
    if row["signal"].startswith("escalation:"):
        row["details"] = {}
    return row


def _hide_small_observed(row: dict, k: int) -> None:
    """An alert's or hotspot's observed count (and the expected one beside it) below k."""
    if row["observed"] is not None and is_small(round(row["observed"]), k):
        row["observed"] = row["expected"] = None


@router.get("/hotspots", summary="Gi* hotspots among grid cells (FDR-controlled)",
            response_model=Hotspots, responses=with_alternatives(GEOJSON_CONTENT) | errors(404))
async def hotspots(
    request: Request, conn: ConnDep, principal: CurrentPrincipal,
    area: AreaQuery = None,
    day: Annotated[date | None, Query(description="default: the latest day with hotspots")] = None,
    signal: SignalParam = None,
    format: Annotated[HotspotFormat, Query(description="json or geojson")] = HotspotFormat.GEOJSON,
) -> Response:
    """Grid cells whose neighbourhood is hot on the day, with z-score, p- and q-value."""
    hub = hub_of(request)
    target = area_in_scope(hub, principal, area or principal.scope_code, "area")
    if day is None:
        day = (await (await conn.execute("SELECT max(day) AS day FROM hotspots")).fetchone())["day"]
    rows = [] if day is None else await (await conn.execute(
        "SELECT h.grid_code, ar.name, h.signal, h.z_score, h.p_value, h.q_value, h.observed,"
        " h.expected, ST_AsGeoJSON(ar.geom, 6) AS geometry"
        " FROM hotspots h LEFT JOIN areas ar ON ar.code = h.grid_code AND ar.valid_to IS NULL"
        " WHERE h.day = %(day)s AND (%(signal)s::text IS NULL OR h.signal = %(signal)s)"
        " ORDER BY h.z_score DESC", {"day": day, "signal": signal})).fetchall()
    rows = [r for r in rows if hub.areas.within(r["grid_code"], target.code)]
    k = threshold(principal.role, AreaLevel.GRID, hub.api.k_threshold)
    for r in rows:  # neighbourhood sums of a few grids: small ones stay hidden from viewers
        _hide_small_observed(r, k)
    if format is HotspotFormat.GEOJSON:
        for r in rows:
            r["day"] = day
        return Response(feature_collection(rows), media_type=GEOJSON)
    for r in rows:
        r.pop("geometry")
    body = {"area": {"code": target.code, "level": level_name(hub.settings.profile, target.level)},
            "day": day, "hotspots": rows}
    return Response(dumps(body), media_type=JSON)
