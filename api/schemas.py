"""The API's typed contract: the JSON bodies every endpoint answers, as pydantic models, and the
error statuses each may answer, for the OpenAPI document (/openapi.json, /docs).

The models describe; they do not serialise. Routers keep building their already-encoded
responses (api.rendering), and FastAPI documents a route's `response_model` without validating
a Response the route returns, so the contract costs nothing per request.
tests/api/test_contract.py checks live answers against it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import FastAPI, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from api.rendering import CSV, GEOJSON, PROBLEM

# -- Keys: how a caller presents one (the checks are api.auth's) ----------------------------------

# auto_error=False: these only declare the schemes (the Authorize button of /docs); api.auth
# reads the key and answers 401 itself.
KEY_SCHEMES = [
    Security(HTTPBearer(auto_error=False, scheme_name="bearer",
                        description="`Authorization: Bearer <key>` (`gridhub keys create`)")),
    Security(APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                          description="the same key in the X-API-Key header")),
    Security(APIKeyCookie(name="gridhub_session", auto_error=False, scheme_name="session",
                          description="the dashboard's session cookie (POST /session)")),
]


# -- Errors (RFC 9457) -----------------------------------------------------------------------------

def _no_default(schema: dict) -> None:
    schema.pop("default", None)


class ValidationItem(BaseModel):
    """One malformed parameter, as FastAPI's validation found it."""

    loc: list[str | int] = Field(description="where: `query`, `path` or `body`, then the name",
                                 examples=[["query", "limit"]])
    msg: str = Field(examples=["Input should be less than or equal to 1000"])
    type: str = Field(examples=["less_than_equal"])


class Problem(BaseModel):
    """An error, as `application/problem+json` (RFC 9457)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"type": "about:blank", "title": "Bad Request", "status": 400,
         "detail": "from: 2025-07-01 is after to=2025-06-30", "parameter": "from"}]})

    type: str = Field(description="`about:blank`: the status says what kind of problem it is")
    title: str = Field(description="the status's phrase")
    status: int = Field(description="the HTTP status")
    detail: str = Field(description="what went wrong, in one line")
    # Present or absent, never null (and so plain types: the OGC API's OpenAPI 3.0 has no null).
    parameter: str = Field(None, description="400 and some 422: the parameter at fault",
                           json_schema_extra=_no_default)
    parameters: list[str] = Field(None, description="422: every malformed parameter",
                                  json_schema_extra=_no_default)
    errors: list[ValidationItem] = Field(None, description="422: each malformed parameter with the reason",
                                         json_schema_extra=_no_default)


def _problem(description: str, headers: dict | None = None) -> dict:
    answer: dict[str, Any] = {"description": description,
                              "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if headers:
        answer["headers"] = headers
    return answer


ERROR_RESPONSES: dict[int, dict] = {
    400: _problem("a well-formed parameter that makes no sense (`parameter` names it)"),
    401: _problem("no key, or an unknown or revoked one",
                  {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}),
    403: _problem("the key's role or scope does not allow this"),
    404: _problem("no such area, case, run, alert or collection"),
    409: _problem("the change conflicts with the object's state"),
    422: _problem("a malformed parameter (`parameters` and `errors` name each)"),
    503: _problem("the database is away or busy: ask again after Retry-After seconds",
                  {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of these error statuses."""
    return {status: ERROR_RESPONSES[status] for status in statuses}


# What every endpoint behind a key may answer besides its own errors (a router's `responses=`).
KEYED_ERRORS = errors(401, 403, 422, 503)


# -- Alternative encodings ----------------------------------------------------------------------

class GeoJsonFeature(BaseModel):
    """A GeoJSON feature (RFC 7946); properties as in the JSON rows of the same endpoint."""

    type: str = Field(examples=["Feature"])
    geometry: dict[str, Any] | None
    properties: dict[str, Any]
    id: str | int | None = None


class FeatureCollection(BaseModel):
    """A GeoJSON feature collection (RFC 7946)."""

    type: str = Field(examples=["FeatureCollection"])
    features: list[GeoJsonFeature]


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


GEOJSON_CONTENT = {GEOJSON: {"schema": _ref(FeatureCollection)}}
CSV_CONTENT = {CSV: {"schema": {"type": "string"},
                     "example": "\ufeffcode,name,reported\n330102000000,Shangcheng,1234\n"}}


def with_alternatives(*contents: dict, description: str = "the answer") -> dict:
    """A 200 entry for `responses=` listing other encodings beside the JSON of the model."""
    content: dict = {}
    for c in contents:
        content |= c
    return {200: {"description": description, "content": content}}


# -- Shared pieces ------------------------------------------------------------------------------

class AreaRef(BaseModel):
    code: str = Field(examples=["339902000000"])
    name: str | None
    level: str = Field(description="as the city profile names it", examples=["district"])


class AreaBrief(AreaRef):
    parent_code: str | None


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(alias="from", description="first day (inclusive); null: open")
    to: date | None = Field(description="last day (inclusive); null: open")


class FiltersOut(BaseModel):
    kind: str | None
    category: str | None


# -- Health -------------------------------------------------------------------------------------

class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Replica(BaseModel):
    lag_seconds: float | None = Field(description="how far the replica's answers are behind the primary"
                                      " (0 while it streams and has replayed all it received)")


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    postgis: str = Field(examples=["3.3.2"])
    generation: int = Field(description="the rollup generation this worker serves")
    replica: Replica | None = Field(None, description="present when the API reads from a replica"
                                    " (GRIDHUB_API_READ_DATABASE_URL)")


# -- Areas --------------------------------------------------------------------------------------

class AreaList(BaseModel):
    count: int
    areas: list[AreaBrief]


class AreaDetail(AreaBrief):
    ancestors: list[AreaBrief] = Field(description="nearest first, up to the key's scope")
    children: list[AreaBrief]
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON, with `geometry=true`")


class Mediation(BaseModel):
    settled: int | None
    not_settled: int | None
    success_rate: float | None


class Change(BaseModel):
    previous: int | None
    difference: int | None
    ratio: float | None


class SummaryAlert(BaseModel):
    alert_id: int
    signal: str
    method: str
    severity: str
    status: str
    first_day: date
    last_day: date
    observed: float | None
    expected: float | None
    score: float | None


class Summary(BaseModel):
    """Counts are null where suppressed (viewers, counts from 1 to k-1; `suppressed_below`)."""

    area: AreaBrief
    period: PeriodOut
    filters: FiltersOut
    total: int | None
    resolved: int | None
    resolution_rate: float | None
    in_mediation: int | None
    mediation: Mediation
    closed: int | None
    mean_hours_to_close: float | None
    median_hours_to_close: float | None
    by_status: dict[str, int | None]
    by_kind: dict[str, int | None]
    by_category: dict[str, int | None]
    open_at_end: int | None
    previous_period: PeriodOut | None
    change: Change | None
    warnings: list[SummaryAlert]
    suppressed_below: int | None = Field(None, description="k, when counts below it are hidden")


class SeriesPoint(BaseModel):
    start: date | None = Field(description="the first day of the interval")
    reported: int | None
    resolved: int | None
    in_mediation: int | None
    closed: int | None
    open_at_end: int | None


class TimeSeries(BaseModel):
    area: AreaRef
    interval: str = Field(examples=["month"])
    period: PeriodOut
    filters: FiltersOut
    open_at_start: int | None
    points: list[SeriesPoint]


# -- Statistics ---------------------------------------------------------------------------------

class StatRow(AreaBrief):
    reported: int | None
    resolved: int | None
    resolution_rate: float | None
    in_mediation: int | None
    settled: int | None
    not_settled: int | None
    mediation_success_rate: float | None
    closed: int | None
    mean_hours_to_close: float | None
    median_hours_to_close: float | None
    open_at_end: int | None
    previous_reported: int | None
    change_ratio: float | None


class Stats(BaseModel):
    level: str
    period: PeriodOut
    filters: FiltersOut
    count: int
    areas: list[StatRow]


class Ranked(BaseModel):
    rank: int
    code: str
    name: str | None
    value: int
    reported: int | None
    previous_reported: int | None
    open_at_end: int | None


class Rankings(BaseModel):
    level: str
    metric: str = Field(examples=["count"])
    period: PeriodOut
    areas: list[Ranked]


# -- Cases --------------------------------------------------------------------------------------

class CaseRow(BaseModel):
    """A case as analysts see it: digits of the address masked, coordinates to 5 decimals."""

    case_id: int
    source: str
    source_record_id: str
    kind: str
    category: str
    raw_category: str | None
    status: str
    outcome: str | None
    reported_at: datetime
    occurred_at: datetime | None
    closed_at: datetime | None
    report_day: date
    grid_code: str | None
    community_code: str | None
    street_code: str | None
    district_code: str | None
    city_code: str
    geocode_method: str
    geocode_precision: str | None
    severity: int | None
    parties: int | None
    address: str | None
    lon: float | None
    lat: float | None


class CasePage(BaseModel):
    count: int
    next: int | None = Field(description="the `after` of the next page; null on the last")
    cases: list[CaseRow]


class LinkMember(BaseModel):
    case_id: int
    source: str
    source_record_id: str
    kind: str
    category: str
    raw_category: str | None
    status: str
    outcome: str | None
    reported_at: datetime
    closed_at: datetime | None
    grid_code: str | None
    community_code: str | None
    street_code: str | None
    district_code: str | None
    address: str | None


class CaseLink(BaseModel):
    case_a: int
    case_b: int
    score: float
    evidence: dict[str, Any]


class CaseGroup(BaseModel):
    case_id: int
    group_id: int | None = Field(description="null: the case is linked to no other")
    members: list[LinkMember]
    members_outside_scope: int
    sources: list[str]
    links: list[CaseLink]


# -- Disputes -----------------------------------------------------------------------------------

class SourceRecords(BaseModel):
    source: str
    records: int | None
    first_reports: int | None


class Referral(BaseModel):
    from_source: str
    to_source: str
    count: int | None


class AreaDisputes(BaseModel):
    """Records and disputes are null together where either is below k (viewers, grids)."""

    area: AreaRef
    period: PeriodOut
    filters: FiltersOut
    records: int | None
    disputes: int | None
    records_per_dispute: float | None
    unlinked: int | None
    by_source: list[SourceRecords]
    referrals: list[Referral]
    suppressed_below: int | None = Field(None, description="k, when counts below it are hidden")


class TimelineEvent(BaseModel):
    at: datetime
    event: str = Field(description="first_report, referral, follow_up, settled or closed")
    case_id: int
    source: str
    from_source: str | None = Field(None, description="reports: the agency of the record before")
    status: str | None = Field(None, description="reports: the record's status")
    outcome: str | None = Field(None, description="closes: settled or not")


class Milestone(BaseModel):
    at: datetime
    source: str
    case_id: int
    outcome: str | None = None


class DisputeTimeline(BaseModel):
    case_id: int
    group_id: int
    first_report: Milestone
    agencies: list[str]
    referrals: int
    settled_by: Milestone | None
    last_closed_by: Milestone | None
    open_records: int
    records_outside_scope: int
    events: list[TimelineEvent]


# -- Tiles --------------------------------------------------------------------------------------

class VectorLayer(BaseModel):
    id: str
    fields: dict[str, str]


class TileJson(BaseModel):
    tilejson: str = Field(examples=["3.0.0"])
    name: str
    scheme: str
    tiles: list[str]
    minzoom: int
    maxzoom: int
    bounds: list[float]
    vector_layers: list[VectorLayer]


# -- Warnings -----------------------------------------------------------------------------------

class Alert(BaseModel):
    """An alert; for viewers small grid counts are null and escalation details empty."""

    alert_id: int
    area_code: str
    area_name: str | None
    area_level: str | None
    signal: str
    method: str
    level: str = Field(description="severity: red or yellow")
    status: str
    first_day: date
    last_day: date
    peak_day: date | None
    alarm_days: int | None
    observed: float | None
    expected: float | None
    score: float | None
    p_value: float | None
    parent_alert_id: int | None
    details: dict[str, Any] | None
    as_of: date | None
    closed_day: date | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WarningList(BaseModel):
    area: AreaRef
    warnings: list[Alert]
    next: int | None = Field(description="the `after` of the next page; null on the last")


class Hotspot(BaseModel):
    grid_code: str
    name: str | None
    signal: str
    z_score: float
    p_value: float
    q_value: float
    observed: float | None
    expected: float | None


class HotspotArea(BaseModel):
    code: str
    level: str


class Hotspots(BaseModel):
    area: HotspotArea
    day: date | None
    hotspots: list[Hotspot]


# -- Sources and quality ------------------------------------------------------------------------

class LastRun(BaseModel):
    run_id: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None


class RunCounts(BaseModel):
    read: int | None
    loaded: int | None
    quarantined: int | None
    duplicates: int | None


class Freshness(BaseModel):
    newest_reported_at: datetime | None
    age_hours: float | None
    last_success_at: datetime | None


class SourceState(BaseModel):
    name: str
    agency: str | None
    kind: str | None
    format: str | None
    schedule: str | None
    has_spec: bool
    last_run: LastRun | None
    counts: RunCounts | None
    quarantine_rate: float | None
    open_quarantine: int
    freshness: Freshness


class Sources(BaseModel):
    sources: list[SourceState]


class Validation(BaseModel):
    suite: str
    validated_at: datetime
    rows_evaluated: int
    rows_passed: int
    rows_failed: int
    mapping_failed: int
    oldest_reported_at: datetime | None
    newest_reported_at: datetime | None
    success: bool
    expectations: list[dict[str, Any]] = Field(description="each expectation with GX's counts;"
                                               " `examples` of failing values for analysts")
    gates: list[dict[str, Any]]


class QualityRun(BaseModel):
    run_id: int
    source: str
    status: str
    replay: bool | None
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    counts: RunCounts
    validation: Validation | None


class QualityRuns(BaseModel):
    runs: list[QualityRun]
    next_before: int | None = Field(description="the `before` of the next page; null on the last")


# -- Session ------------------------------------------------------------------------------------

class LevelOut(BaseModel):
    slot: str
    name: str
    label: str


class CityOut(BaseModel):
    code: str
    name: str
    languages: list[str]
    levels: list[LevelOut]
    kinds: list[str]
    categories: list[str] | None
    statuses: list[str]


class TileLevel(BaseModel):
    level: str
    minzoom: int
    maxzoom: int


class DataSpan(BaseModel):
    first_day: date | None
    last_day: date | None


class ScopeOut(BaseModel):
    code: str
    name: str | None
    level: str


class SessionContext(BaseModel):
    role: str = Field(examples=["analyst"])
    sees_cases: bool
    may_acknowledge: bool
    scope: ScopeOut
    suppressed_below: dict[str, int] = Field(description="level -> k, where counts below k are null")
    city: CityOut
    tile_levels: list[TileLevel]
    data_span: DataSpan


# -- The document -------------------------------------------------------------------------------

# Bodies named by `$ref` in `responses=` entries above rather than by a route's response_model:
# FastAPI does not collect those, so they are added to the components here.
REFERENCED = (Problem, FeatureCollection)


def components() -> dict[str, dict]:
    """JSON schemas of the REFERENCED models (and the models inside them), by name."""
    _, schema = models_json_schema([(m, "serialization") for m in REFERENCED],
                                   ref_template="#/components/schemas/{model}")
    return schema.get("$defs", {})


def install(app: FastAPI) -> None:
    """Add the REFERENCED bodies to the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {}).update(components())
        return app.openapi_schema

    app.openapi = openapi
