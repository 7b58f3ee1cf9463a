"""The browser's session: a key pasted once into the dashboard, kept in an HttpOnly cookie, and
what the page needs to know about its caller and the city (role, scope, levels, taxonomy)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response

from api.auth import SESSION_COOKIE, CurrentPrincipal, Principal, principal_for_key
from api.database import database_ready
from api.hub import Hub, hub_of
from api.keys import Role
from api.levels import level_name
from api.rendering import JSON, dumps
from api.routers.tiles import MAX_ZOOM, level_for_zoom
from api.schemas import KEY_SCHEMES, SessionContext, errors
from api.suppression import threshold

router = APIRouter(tags=["session"])
DATA_SPAN = "SELECT min(day) AS first_day, max(day) AS last_day FROM rollup_daily WHERE level = 'city'"


def _tile_levels(hub: Hub) -> list[dict]:
    """The zooms at which the areas tiles draw each level (the page drills down by zoom)."""
    out: list[dict] = []
    for z in range(MAX_ZOOM + 1):
        level = level_name(hub.settings.profile, level_for_zoom(z, hub.settings.profile))
        if out and out[-1]["level"] == level:
            out[-1]["maxzoom"] = z
        else:
            out.append({"level": level, "minzoom": z, "maxzoom": z})
    return out


async def context(hub: Hub, principal: Principal) -> dict:
    """Who the caller is and the city's shape, as the dashboard shows them."""
    profile = hub.settings.profile
    scope = hub.areas.get(principal.scope_code)
    async with hub.pool.connection() as conn:
        span = await (await conn.execute(DATA_SPAN)).fetchone()
    return {
        "role": principal.role.value,
        "sees_cases": principal.role.sees_cases,
        "may_acknowledge": principal.role is not Role.VIEWER,
        "scope": {"code": principal.scope_code, "name": scope.name if scope else None,
                  "level": level_name(profile, principal.scope_level)},
        # counts from 1 to k-1 come as null at the levels where this key gets them suppressed
        "suppressed_below": {level_name(profile, slot): k for slot in profile.slots
                             if (k := threshold(principal.role, slot, hub.api.k_threshold))},
        "city": {
            "code": profile.code, "name": profile.name, "languages": profile.languages,
            "levels": [{"slot": slot.value, "name": spec.name, "label": spec.label}
                       for slot, spec in zip(profile.slots, profile.levels, strict=True)],
            "kinds": profile.taxonomy.kinds,
            "categories": profile.taxonomy.category_codes,
            "statuses": profile.taxonomy.statuses,
        },
        "tile_levels": _tile_levels(hub),
        "data_span": {"first_day": span["first_day"], "last_day": span["last_day"]},
    }


@router.post("/session", summary="Log in: exchange an API key for a session cookie",
             dependencies=[Depends(database_ready)], response_model=SessionContext,
             responses=errors(401, 422, 503))
async def open_session(request: Request,
                       key: Annotated[str, Body(embed=True, min_length=1, max_length=200)]) -> Response:
    """Checks the key and keeps it in an HttpOnly, SameSite=Strict cookie for this browser
    session, so the dashboard and GridHub's HTML pages (the quality Data Docs) need no header;
    answers what GET /session answers."""
    hub = hub_of(request)
    principal = await principal_for_key(hub, key.strip())
    request.state.principal = principal
    response = Response(dumps(await context(hub, principal)), media_type=JSON)
    response.set_cookie(SESSION_COOKIE, key.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.get("/session", summary="The caller and the city, for the dashboard",
            dependencies=[Depends(database_ready), *KEY_SCHEMES], response_model=SessionContext,
            responses=errors(401, 403, 503))
async def session(request: Request, principal: CurrentPrincipal) -> Response:
    """The key's role and scope, the city's levels (slot, name, label) and taxonomy, the zooms
    of each level in the areas tiles, and the days the rollups cover."""
    return Response(dumps(await context(hub_of(request), principal)), media_type=JSON)


@router.delete("/session", summary="Log out: forget the session cookie", status_code=204)
async def close_session() -> Response:
    """Clears the cookie (the key itself stays valid: revoke it with `gridhub keys revoke`)."""
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response

