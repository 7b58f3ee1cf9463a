"""Query and path parameters shared by the routers, with their checks and examples."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from api.levels import LEVEL_NAME_PATTERN, level_slot
from api.queries import Filters
from api.rendering import Format, TableFormats
from core.case import AreaLevel, CaseKind, Status

# The largest id, cursor or offset PostgreSQL's bigint holds: a larger one answers 422, not a 500.
BIGINT_MAX = 2**63 - 1
# Free text of one line: no control characters (PostgreSQL refuses a NUL in any text value).
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
# Longer text that may span lines (a CQL2 filter): anything but NUL.
NO_NUL = r"^[^\x00]*$"

# Any short code here; the city profile's own patterns are checked where the area is looked up
# (api.auth.area_in_scope), so that a wrong code is told the pattern it should match.
CODE_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z _.'-]{0,63}$"
AreaCode = Annotated[str, Path(pattern=CODE_PATTERN,
                               description="an area code of the city's profile (the demo city:"
                               " 12-digit area codes, 15-digit grid codes)",
                               examples=["339902000000"])]
KindParam = Annotated[CaseKind | None, Query(description="only cases of this kind")]
# A category of the city's taxonomy: the profile's codes, or the sources' own values.
CategoryParam = Annotated[str | None, Query(max_length=200, pattern=PLAIN_TEXT,
                                            description="only cases of this category",
                                            examples=["labour"])]
StatusParam = Annotated[Status | None, Query(description="only cases in this status")]
LevelName = Annotated[str | None, Query(pattern=LEVEL_NAME_PATTERN,
                                        description="area level, as the city profile names it",
                                        examples=["street"])]
ParentParam = Annotated[str | None, Query(pattern=CODE_PATTERN,
                                          description="only areas below this one (default: the key's scope)",
                                          examples=["339902000000"])]
FormatParam = Annotated[Format, Query(description="json, geojson or csv")]
TableFormat = Annotated[TableFormats, Query(description="json or csv (a download with a UTF-8 BOM)")]


def cursor(what: str, least: int = 0) -> Any:
    """A keyset cursor of bigint ids: `what` names the field of the previous page to pass on;
    `least` is the smallest that can mean anything (ids before 1 there are none)."""
    return Query(ge=least, le=BIGINT_MAX, description=f"cursor: the `{what}` of the previous page")


def object_id(what: str) -> Any:
    """A path id of a bigint column."""
    return Path(ge=1, le=BIGINT_MAX, description=what)


SimplifyParam = Annotated[float, Query(ge=0, le=0.1,
                                       description="simplify geometry to this tolerance (degrees)")]


async def filter_params(kind: KindParam = None, category: CategoryParam = None) -> Filters:
    """The `kind` / `category` query parameters as Filters (async: FastAPI would run a plain
    function in a worker thread)."""
    return Filters(kind.value if kind else None, category or None)


FiltersDep = Annotated[Filters, Depends(filter_params)]


async def level_param(request: Request, level: LevelName = None) -> AreaLevel | None:
    """The `level` query parameter, a profile's level name, as its stored slot."""
    return level_slot(request.app.state.hub.settings.profile, level)


LevelParam = Annotated[AreaLevel | None, Depends(level_param)]
