"""Query and path parameters shared by the routers, with their checks and examples."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from api.queries import Filters
from api.rendering import Format
from core.case import AreaLevel, CaseKind, Category, Status

AreaCode = Annotated[str, Path(pattern=r"^\d{12}(\d{3})?$",
                               description="12-digit area code or 15-digit grid code",
                               examples=["339902000000"])]
KindParam = Annotated[CaseKind | None, Query(description="only cases of this kind")]
CategoryParam = Annotated[Category | None, Query(description="only cases of this category")]
StatusParam = Annotated[Status | None, Query(description="only cases in this status")]
LevelParam = Annotated[AreaLevel | None, Query(description="area level", examples=["street"])]
ParentParam = Annotated[str | None, Query(pattern=r"^\d{12}(\d{3})?$",
                                          description="only areas below this one (default: the key's scope)",
                                          examples=["339902000000"])]
FormatParam = Annotated[Format, Query(description="json, geojson or csv")]
SimplifyParam = Annotated[float, Query(ge=0, le=0.1,
                                       description="simplify geometry to this tolerance (degrees)")]


async def filter_params(kind: KindParam = None, category: CategoryParam = None) -> Filters:
    """The `kind` / `category` query parameters as Filters (async: FastAPI would run a plain
    function in a worker thread)."""
    return Filters(kind.value if kind else None, category.value if category else None)


FiltersDep = Annotated[Filters, Depends(filter_params)]
