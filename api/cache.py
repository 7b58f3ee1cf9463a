"""The per-worker answer cache: finished responses kept by who asked for what, served with
ETags, and served again before routing when the caller's key is already trusted.

The cache key and the ETag hold the key's role and scope, so two keys never share an answer,
and the rollup generation, so every refresh invalidates both.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Response

from api.auth import Principal, known_principal, presented_key
from api.hub import Hub, hub_of

Built = tuple[bytes, str]  # body, media type


@dataclass(slots=True)
class CachedAnswer:
    """A finished response. Headers are kept encoded, as ASGI sends them; with slots and no
    dict inside, each entry is a single object for the garbage collector to walk."""

    body: bytes
    media_type: str
    etag: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


class AnswerCache:
    """A small LRU of finished responses, emptied whenever the rollups move on."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple, CachedAnswer] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> CachedAnswer | None:
        """The answer kept under `key`, if any (counted as a hit or a miss)."""
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: tuple, answer: CachedAnswer) -> None:
        """Keep an answer, dropping the least recently used beyond the size."""
        if self.size <= 0:
            return
        self.entries[key] = answer
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer."""
        self.entries.clear()


def answer_key(principal: Principal, path: str, query: str) -> tuple:
    """What identifies one answer: the key's role and scope, the path and the query string."""
    return (principal.role.value, principal.scope_code, path, query)


def etag_for(generation: int, key: tuple) -> str:
    """The ETag of an answer under a rollup generation."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()
    return f'"{generation}-{digest}"'


async def cached(request: Request, principal: Principal, build: Callable[[], Awaitable[Built]],
                 cache_control: str = "private, no-cache") -> Response:
    """Serve from the worker's cache, or build and keep; 304 when the client's ETag matches.

    Repeated answers are usually served before routing by CachedAnswerMiddleware; this is the
    path that fills the cache.
    """
    hub = hub_of(request)
    key = answer_key(principal, request.scope["path"], request.scope["query_string"].decode("latin-1"))
    etag = etag_for(hub.generation, key)
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Authorization, X-API-Key"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    hit = hub.cache.get(key)
    if hit is not None and hit.etag == etag:
        return Response(hit.body, media_type=hit.media_type, headers=headers)
    generation = hub.generation
    body, media_type = await build()
    if generation == hub.generation:  # not refreshed meanwhile
        encoded = tuple((name.lower().encode(), value.encode()) for name, value in headers.items())
        hub.cache.put(key, CachedAnswer(body, media_type, etag, encoded))
    return Response(body, media_type=media_type, headers=headers)


class CachedAnswerMiddleware:
    """Serves answers already in the cache before routing and parameter validation.

    Only for a GET whose key this worker already trusts and whose answer was built for the
    same role, scope, path and query under the current rollup generation; everything else
    goes on to the app (which fills the cache through `cached`).
    """

    def __init__(self, app, hub: Hub):
        self.app, self.hub = app, hub

    async def __call__(self, scope, receive, send):
        # While the database is away, nothing is known to be current: the app answers 503.
        if (scope["type"] != "http" or scope["method"] != "GET" or not self.hub.cache.entries
                or self.hub.unavailable):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        auth, api_key = headers.get(b"authorization"), headers.get(b"x-api-key")
        principal = known_principal(self.hub, presented_key(auth.decode("latin-1") if auth else None,
                                                            api_key.decode("latin-1") if api_key else None))
        hit = None
        if principal is not None:
            key = answer_key(principal, scope["path"], scope["query_string"].decode("latin-1"))
            hit = self.hub.cache.get(key)
        if hit is None or not hit.etag.startswith(f'"{self.hub.generation}-'):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        scope["gridhub_cached"] = True
        fresh = headers.get(b"if-none-match", b"").decode("latin-1") == hit.etag
        body = b"" if fresh else hit.body
        out = list(hit.headers)
        if not fresh:
            out += [(b"content-type", hit.media_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 304 if fresh else 200, "headers": out})
        await send({"type": "http.response.body", "body": body})
