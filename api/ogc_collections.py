"""The feature collections GridHub serves through OGC API Features, and the statement each one
reads: areas of every level with their figures over a period, cases, warnings, hotspots.

Each collection is one SELECT (its *base*) of exactly what its caller may see: rows inside
the key's scope, personal data masked, small counts suppressed. Paging, bbox, datetime and
CQL2 filters then apply to the base's columns, so a filter can only match values the caller
may see (a viewer cannot probe a suppressed count with `observed = 3`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from psycopg import sql

from api.auth import Principal
from api.errors import BadParameterError
from api.hub import Hub
from api.ogc_cql2 import Type, names_in
from api.periods import EARLIEST, LATEST, Period
from api.queries import Filters
from api.rendering import dumps
from api.routers.cases import CASE_COLUMNS
from api.routers.stats import FIGURE_COLUMNS, area_identity, area_rows
from api.routers.tiles import _scope_codes
from api.suppression import threshold
from core.case import AreaLevel
from core.profile import CityProfile


class Kind(StrEnum):
    AREAS = "areas"
    CASES = "cases"
    WARNINGS = "warnings"
    HOTSPOTS = "hotspots"


@dataclass(frozen=True)
class Collection:
    """One collection: its id, what it holds, its properties (name, type) and which columns
    give a feature's id and its time span (for `datetime`)."""

    id: str
    title: str
    description: str
    kind: Kind
    id_column: str
    id_type: Type
    properties: tuple[tuple[str, Type], ...]
    temporal: tuple[str, str] | None = None  # first and last day columns
    level: AreaLevel | None = None

    @property
    def has_tiles(self) -> bool:
        """Vector tiles come from api.routers.tiles: the areas of a level, and case points."""
        return self.kind in (Kind.AREAS, Kind.CASES)


_RATES = {"resolution_rate", "mediation_success_rate", "mean_hours_to_close", "median_hours_to_close",
          "change_ratio"}
AREA_IDENTITY = (("code", Type.STRING), ("name", Type.STRING), ("level", Type.STRING),
                 ("parent_code", Type.STRING))
AREA_PROPERTIES = (*AREA_IDENTITY, *((c, Type.NUMBER if c in _RATES else Type.INTEGER) for c in FIGURE_COLUMNS))
_CASE_TYPES = {"case_id": Type.INTEGER, "reported_at": Type.TIMESTAMP, "occurred_at": Type.TIMESTAMP,
               "closed_at": Type.TIMESTAMP, "report_day": Type.DATE, "severity": Type.INTEGER,
               "parties": Type.INTEGER}
# Coordinates are the geometry; the masked address is shown but not filterable (a LIKE on the
# stored text would reveal the digits the mask hides).
CASE_PROPERTIES = tuple((c, _CASE_TYPES.get(c, Type.STRING)) for c in CASE_COLUMNS if c not in ("lon", "lat"))
UNFILTERABLE = {"address", "details"}
WARNING_PROPERTIES = (
    ("alert_id", Type.INTEGER), ("area_code", Type.STRING), ("area_name", Type.STRING),
    ("area_level", Type.STRING), ("signal", Type.STRING), ("method", Type.STRING), ("level", Type.STRING),
    ("status", Type.STRING), ("first_day", Type.DATE), ("last_day", Type.DATE), ("peak_day", Type.DATE),
    ("alarm_days", Type.INTEGER), ("observed", Type.NUMBER), ("expected", Type.NUMBER),
    ("score", Type.NUMBER), ("p_value", Type.NUMBER), ("parent_alert_id", Type.INTEGER),
    ("details", Type.STRING), ("as_of", Type.DATE), ("closed_day", Type.DATE),
    ("acknowledged_by", Type.STRING), ("acknowledged_at", Type.TIMESTAMP))
HOTSPOT_PROPERTIES = (
    ("id", Type.STRING), ("day", Type.DATE), ("grid_code", Type.STRING), ("name", Type.STRING),
    ("signal", Type.STRING), ("z_score", Type.NUMBER), ("p_value", Type.NUMBER), ("q_value", Type.NUMBER),
    ("observed", Type.NUMBER), ("expected", Type.NUMBER))


def collections_of(profile: CityProfile) -> dict[str, Collection]:
    """Every collection, by id: one per level of the city (named as its profile names it),
    then cases, warnings and hotspots."""
    out = {}
    for slot, name in profile.slot_names.items():
        out[name] = Collection(
            name, f"{name} areas with their figures",
            f"Every current {name} area inside the key's scope with its counts and rates over the"
            " period given by `datetime` (default: all time); `kind` and `category` narrow the"
            " counts.", Kind.AREAS, "code", Type.STRING, AREA_PROPERTIES, None, slot)
    for collection in (
        Collection("cases", "Cases (analysts)", "Case rows with personal data masked: no person key,"
                   " no free attributes, digits of addresses as *, points rounded to 5 decimals.",
                   Kind.CASES, "case_id", Type.INTEGER, CASE_PROPERTIES, ("report_day", "report_day")),
        Collection("warnings", "Early-warning alerts", "Alerts raised in the key's scope, drawn on"
                   " the area that raised them.", Kind.WARNINGS, "alert_id", Type.INTEGER,
                   WARNING_PROPERTIES, ("first_day", "last_day")),
        Collection("hotspots", "Gi* hotspots", "Grid cells whose neighbourhood was hot on a day"
                   " (FDR-controlled), per signal.", Kind.HOTSPOTS, "id", Type.STRING,
                   HOTSPOT_PROPERTIES, ("day", "day")),
    ):
        out.setdefault(collection.id, collection)  # a level named "cases" keeps its name
    return out


# -- the statement each collection reads ------------------------------------------------------

_SQL_TYPES = {Type.STRING: "text", Type.INTEGER: "bigint", Type.NUMBER: "float8"}
_AREAS = "SELECT t.*, a.geom FROM jsonb_to_recordset(%(ogc_rows)s::jsonb) AS t({columns})" \
         " JOIN areas a ON a.code = t.code AND a.valid_to IS NULL"
_CASES = ("SELECT {columns}, ST_SetSRID(ST_MakePoint(round(ST_X(geom)::numeric, 5)::float8,"
          " round(ST_Y(geom)::numeric, 5)::float8), 4326) AS geom"
          " FROM cases WHERE {scope} = %(ogc_scope)s")
# An observed count a viewer may not see hides the expected one beside it (api.routers.warnings).
_HIDDEN = "({level} = 'grid' AND round({observed}) > 0 AND round({observed}) < %(ogc_k)s)"
_WARNINGS = """SELECT a.alert_id, a.area_code, ar.name AS area_name, {area_level} AS area_level,
    a.signal, a.method, a.severity AS level, a.status, a.first_day, a.last_day, a.peak_day,
    a.alarm_days, CASE WHEN {hidden} THEN NULL ELSE a.observed END AS observed,
    CASE WHEN {hidden} THEN NULL ELSE a.expected END AS expected, a.score, a.p_value,
    a.parent_alert_id,
    CASE WHEN %(ogc_k)s > 0 AND a.signal LIKE 'escalation:%%' THEN '{{}}'::jsonb ELSE a.details END AS details,
    a.as_of, a.closed_day, a.acknowledged_by, a.acknowledged_at, ar.geom
    FROM alert_areas aa JOIN alerts a ON a.alert_id = aa.alert_id
    LEFT JOIN areas ar ON ar.code = a.area_code AND ar.valid_to IS NULL
    WHERE aa.area_code = %(ogc_scope)s"""
_HOTSPOTS = """SELECT h.day::text || '~' || h.signal || '~' || h.grid_code AS id, h.day, h.grid_code,
    ar.name, h.signal, h.z_score, h.p_value, h.q_value,
    CASE WHEN {hidden} THEN NULL ELSE h.observed END AS observed,
    CASE WHEN {hidden} THEN NULL ELSE h.expected END AS expected, ar.geom
    FROM hotspots h LEFT JOIN areas ar ON ar.code = h.grid_code AND ar.valid_to IS NULL
    WHERE (%(ogc_allowed)s::text[] IS NULL OR h.grid_code = ANY(%(ogc_allowed)s::text[]))"""


def visible_areas(hub: Hub, principal: Principal, level: AreaLevel) -> list[str]:
    """Codes of the level's current areas inside the key's scope (none above the scope)."""
    scope = hub.areas.get(principal.scope_code)
    if scope is not None and scope.level is level:
        return [scope.code]
    return hub.areas.descendants(principal.scope_code, level)


def figures_after_paging(collection: Collection, text: str | None) -> bool:
    """Whether a page of an area level can be chosen before its figures are worked out, and
    then given the figures of its own areas only (`add_figures`): when the filter names none
    of them. Working out every area's figures costs about a second for a city's grids."""
    return collection.kind is Kind.AREAS and not (text and names_in(text) & set(FIGURE_COLUMNS))


def base_properties(collection: Collection, figures_later: bool = False) -> tuple[tuple[str, Type], ...]:
    """The properties base_statement selects: an area level's without its figures if asked."""
    return AREA_IDENTITY if figures_later and collection.kind is Kind.AREAS else collection.properties


async def base_statement(hub: Hub, principal: Principal, collection: Collection, period: Period,
                         filters: Filters, figures_later: bool = False) -> tuple[sql.Composable, dict]:
    """The SELECT of what this caller may see of the collection (columns: its base_properties
    and `geom`), and its named parameters."""
    k = threshold(principal.role, AreaLevel.GRID, hub.api.k_threshold)
    if collection.kind is Kind.AREAS:
        areas = [hub.areas.get(c) for c in visible_areas(hub, principal, collection.level)]
        profile = hub.settings.profile  # once: each read looks at the file
        rows = ([area_identity(profile, a) for a in areas] if figures_later
                else await area_rows(hub, principal, collection.level, areas, period, filters))
        columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_SQL_TYPES[kind]))
                                     for name, kind in base_properties(collection, figures_later))
        return sql.SQL(_AREAS).format(columns=columns), {"ogc_rows": dumps(rows).decode()}
    if collection.kind is Kind.CASES:
        columns = sql.SQL(", ").join(sql.Identifier(name) for name, _ in collection.properties)
        statement = sql.SQL(_CASES).format(columns=columns, scope=sql.Identifier(principal.scope_column))
        return statement, {"ogc_scope": principal.scope_code}
    if collection.kind is Kind.WARNINGS:
        hidden = sql.SQL(_HIDDEN).format(level=sql.SQL("a.level"), observed=sql.SQL("a.observed"))
        names = sql.SQL("CASE a.level {} ELSE a.level END").format(sql.SQL(" ").join(
            sql.SQL("WHEN {} THEN {}").format(sql.Literal(slot.value), sql.Literal(name))
            for slot, name in hub.settings.profile.slot_names.items()))
        return (sql.SQL(_WARNINGS).format(area_level=names, hidden=hidden),
                {"ogc_scope": principal.scope_code, "ogc_k": k})
    hidden = sql.SQL(_HIDDEN).format(level=sql.Literal(AreaLevel.GRID.value), observed=sql.SQL("h.observed"))
    return (sql.SQL(_HOTSPOTS).format(hidden=hidden),
            {"ogc_allowed": _scope_codes(hub, principal, AreaLevel.GRID), "ogc_k": k})


async def add_figures(hub: Hub, principal: Principal, collection: Collection, rows: list[dict],
                      period: Period, filters: Filters) -> list[dict]:
    """Rows of an area level read without their figures (base_statement with figures_later),
    with them, in the properties' order. Suppression is decided among each area's siblings,
    so the figures are those the rows read with every area's figures would hold."""
    areas = [hub.areas.get(row["code"]) for row in rows]
    stats = await area_rows(hub, principal, collection.level, areas, period, filters)
    return [figures | row for figures, row in zip(stats, rows, strict=True)]


# -- request parameters -----------------------------------------------------------------------

def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """`bbox=west,south,east,north` (or six numbers with heights) in WGS84 degrees."""
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError as exc:
        raise BadParameterError("bbox", "expected four numbers: west,south,east,north") from exc
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise BadParameterError("bbox", "expected four numbers: west,south,east,north")
    west, south, east, north = numbers
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise BadParameterError("bbox", "expected longitudes within ±180 and south <= north within ±90")
    if west > east:
        raise BadParameterError("bbox", "a box across the antimeridian is not supported (west > east)")
    return west, south, east, north


def parse_datetime(value: str | None, timezone: str) -> Period:
    """`datetime` (a date or instant, or an interval `a/b` with `..` open) as whole days of the
    city: an instant counts as the local day it falls on."""
    if value is None:
        return Period()
    parts = value.split("/")
    if len(parts) > 2:
        raise BadParameterError("datetime", "expected an instant or an interval start/end")
    days = [_day(p.strip(), timezone) for p in parts]
    start, end = (days[0], days[0]) if len(days) == 1 else days
    if len(days) == 1 and start is None:
        raise BadParameterError("datetime", "an instant cannot be open ('..')")
    for day in (start, end):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise BadParameterError("datetime", f"{day} is outside {EARLIEST}..{LATEST}")
    if start is not None and end is not None and start > end:
        raise BadParameterError("datetime", f"the interval starts ({start}) after it ends ({end})")
    return Period(start, end)


def _day(text: str, timezone: str) -> date | None:
    if text in ("", ".."):
        return None
    try:
        if "T" not in text.upper():
            return date.fromisoformat(text)
        instant = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadParameterError("datetime", f"{text!r} is no RFC 3339 date or date-time") from exc
    if instant.tzinfo is None:
        raise BadParameterError("datetime", f"{text!r} needs a time zone (Z or +08:00)")
    return instant.astimezone(ZoneInfo(timezone)).date()
