"""Who is asking: the API key, its role and the area subtree it is confined to.

Keys come in `Authorization: Bearer <key>` or `X-API-Key: <key>`, or, from the dashboard, in
the HttpOnly session cookie that POST /session sets (api.routers.session). With
GRIDHUB_API_AUTH=off (development only) a request without a key acts as an admin of the whole
city.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from api.areaindex import AreaInfo
from api.database import read_retrying
from api.errors import CodeFormatError, UnauthorizedError
from api.hub import Hub, hub_of
from api.keys import Role, hash_key
from core.case import AreaLevel
from core.errors import ConfigError, ForbiddenError, NotFoundError

SESSION_COOKIE = "gridhub_session"
# A cookie goes with every request the browser sends to this host, a custom header only with
# the page's own (another site cannot add one without a CORS preflight GridHub never allows):
# a change made with the cookie must carry it, so no other site can make it.
SESSION_HEADER = ("x-requested-with", "gridhub")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TRUSTED_KEYS = 10_000  # key look-ups (and unknown keys) a worker remembers at most


@dataclass(frozen=True)
class Principal:
    key_id: int | None
    role: Role
    scope_code: str
    scope_level: AreaLevel
    expires_at: datetime | None = None  # None: until revoked

    @property
    def scope_column(self) -> str:
        """The column of cases holding the code of the scope's level."""
        return self.scope_level.code_column

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)


def check_auth_mode(hub: Hub) -> None:
    """Refuse to serve without keys anywhere but in development."""
    if hub.api.auth == "off" and hub.settings.env != "development":
        raise ConfigError("GRIDHUB_API_AUTH=off is allowed only with GRIDHUB_ENV=development")


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return x_api_key or None


def _presented_key(request: Request) -> str | None:
    key = presented_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if key is not None:
        return key
    key = request.cookies.get(SESSION_COOKIE) or None
    if key is not None and request.method not in SAFE_METHODS \
            and request.headers.get(SESSION_HEADER[0]) != SESSION_HEADER[1]:
        raise ForbiddenError(f"a change sent with the session cookie needs the header"
                             f" {SESSION_HEADER[0]}: {SESSION_HEADER[1]}")
    return key


def _development_principal(hub: Hub) -> Principal:
    city = hub.areas.get(hub.settings.city_code)
    return Principal(None, Role.ADMIN, hub.settings.city_code, city.level if city else AreaLevel.CITY)


def known_principal(hub: Hub, key: str | None) -> Principal | None:
    """The caller if this worker already trusts the key (no database look-up), else None."""
    if key is None:
        return _development_principal(hub) if hub.api.auth == "off" else None
    cached = hub.keys.get(hash_key(key))
    if cached is not None and time.monotonic() - cached[0] < hub.api.key_cache_seconds \
            and cached[1] is not None and not cached[1].expired:
        return cached[1]
    return None


async def principal_for_key(hub: Hub, key: str) -> Principal:
    """The caller a key stands for (cached per worker for a few seconds); 401 if none."""
    digest = hash_key(key)
    cached = hub.keys.get(digest)
    now = time.monotonic()
    if cached is not None and now - cached[0] < hub.api.key_cache_seconds:
        principal = cached[1]
    else:
        hub.check_database()  # /metrics has no router-level gate: no waiting on the pool

        async def look_up(conn):
            return await (await conn.execute(
                "SELECT key_id, role, scope_code, expires_at FROM api_keys"
                " WHERE key_hash = %s AND revoked_at IS NULL", (digest,))).fetchone()
        row = await read_retrying(hub.pool, look_up)
        scope = hub.areas.get(row["scope_code"]) if row else None
        principal = Principal(row["key_id"], Role(row["role"]), row["scope_code"], scope.level,
                              row["expires_at"]) if scope else None
        if len(hub.keys) >= MAX_TRUSTED_KEYS:
            _forget_stale_keys(hub, now)
        hub.keys[digest] = (now, principal)
    if principal is None:
        raise UnauthorizedError("unknown or revoked API key")
    if principal.expired:
        raise UnauthorizedError("key expired")
    return principal


def _forget_stale_keys(hub: Hub, now: float) -> None:
    """Drop look-ups past their trust; all of them if that is not enough (random keys sent by
    the thousand must not grow the worker: each is one more row in this dict)."""
    for digest in [d for d, (at, _) in hub.keys.items() if now - at >= hub.api.key_cache_seconds]:
        del hub.keys[digest]
    if len(hub.keys) >= MAX_TRUSTED_KEYS:
        hub.keys.clear()


async def current_principal(request: Request) -> Principal:
    """The caller, from the key presented (cached per worker for a few seconds)."""
    hub = hub_of(request)
    key = _presented_key(request)
    if key is None:
        if hub.api.auth == "off":
            principal = _development_principal(hub)
            request.state.principal = principal
            return principal
        raise UnauthorizedError("an API key is required (Authorization: Bearer <key>)")
    principal = await principal_for_key(hub, key)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def require_analyst(principal: CurrentPrincipal) -> Principal:
    if not principal.role.sees_cases:
        raise ForbiddenError("case rows need an analyst or admin key")
    return principal


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if principal.role is not Role.ADMIN:
        raise ForbiddenError("this endpoint needs an admin key")
    return principal


AnalystPrincipal = Annotated[Principal, Depends(require_analyst)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]


def in_scope(hub: Hub, principal: Principal, code: str) -> bool:
    """Whether the area with this code is current and inside the key's scope."""
    return hub.areas.get(code) is not None and hub.areas.within(code, principal.scope_code)


def area_in_scope(hub: Hub, principal: Principal, code: str, parameter: str = "code") -> AreaInfo:
    """The current area with this code, if the key may see it (422 a code the city's profile
    cannot have, naming its patterns; 404 unknown or outside the scope, alike: a key learns
    nothing of what lies beyond it, not even that an area exists)."""
    if not in_scope(hub, principal, code):
        profile = hub.settings.profile
        if not profile.code_fits(code):
            raise CodeFormatError(parameter, f"{code!r} is no area code of {profile.name}: codes"
                                  f" match {profile.code_patterns}")
        raise NotFoundError(f"no current area with code {code}")
    return hub.areas.get(code)


async def require_city_wide(request: Request, principal: CurrentPrincipal) -> Principal:
    """Refuse (403) a key confined to part of the city where what is asked for is recorded per
    feed, not per area (sources, quality runs, Data Docs): its figures and failing examples
    are the whole city's, so only keys of the whole city see them."""
    if principal.scope_code != hub_of(request).settings.city_code:
        raise ForbiddenError("sources and quality records cover the whole city: they need a key"
                             " scoped to the whole city")
    return principal


async def require_city_wide_analyst(request: Request, principal: AnalystPrincipal) -> Principal:
    return await require_city_wide(request, principal)


CityWidePrincipal = Annotated[Principal, Depends(require_city_wide)]
CityWideAnalyst = Annotated[Principal, Depends(require_city_wide_analyst)]
