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

from api import compression
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
    gzipped: bytes | None = None  # the body gzipped, once a client accepting gzip asked (api.compression)
    charged: int = 0  # bytes the cache counts for it (AnswerCache)


ENTRY_OVERHEAD = 400  # bytes of the entry object, its key tuple and its slot in the dict, about
# An answer above this share of the budget is sent but not kept: one huge answer must not push
# out thousands of small ones, nor a few of them fill the budget.
LARGEST_SHARE = 16


def _cost(key: tuple, answer: CachedAnswer) -> int:
    """The bytes an answer holds in the cache. Its gzipped body may be made after it is kept
    (the first client to accept gzip asks for it): until then half the body is counted for it,
    more than JSON, CSV or tiles compress to."""
    gzipped = len(answer.gzipped) if answer.gzipped is not None else len(answer.body) // 2
    return (ENTRY_OVERHEAD + len(answer.body) + gzipped + sum(len(n) + len(v) for n, v in answer.headers)
            + sum(len(part) for part in key))


class AnswerCache:
    """An LRU of finished responses bounded by count and by bytes, emptied whenever the
    rollups move on."""

    def __init__(self, size: int, max_bytes: int = 64 * 2**20):
        self.size = size
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple, CachedAnswer] = OrderedDict()
        self.bytes = 0  # the sum of the entries' charged bytes
        self.hits = 0
        self.misses = 0
        self.too_large = 0  # answers not kept for their size

    @property
    def largest(self) -> int:
        """The largest answer kept, in bytes."""
        return self.max_bytes // LARGEST_SHARE

    def get(self, key: tuple) -> CachedAnswer | None:
        """The answer kept under `key`, if any (counted as a hit or a miss)."""
        found = self.entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        if found.gzipped is not None and found.charged != (cost := _cost(key, found)):
            self.bytes += cost - found.charged  # its gzipped body was made since it was kept
            found.charged = cost
            self._trim()
        return found

    def put(self, key: tuple, answer: CachedAnswer) -> None:
        """Keep an answer, dropping the least recently used beyond the size or the bytes."""
        if self.size <= 0:
            return
        self._drop(key)
        answer.charged = _cost(key, answer)
        if answer.charged > self.largest:
            self.too_large += 1
            return
        self.entries[key] = answer
        self.bytes += answer.charged
        self._trim()

    def clear(self) -> None:
        """Forget every answer."""
        self.entries.clear()
        self.bytes = 0

    def _drop(self, key: tuple) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= old.charged

    def _trim(self) -> None:
        while self.entries and (len(self.entries) > self.size or self.bytes > self.max_bytes):
            _, old = self.entries.popitem(last=False)
            self.bytes -= old.charged


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
        return _response(hit, await _gzipped(hit, request.headers.get("accept-encoding")), headers)
    generation = hub.generation
    body, media_type = await build()
    answer = CachedAnswer(body, media_type, etag)
    gzipped = await _gzipped(answer, request.headers.get("accept-encoding"))
    if generation == hub.generation:  # not refreshed meanwhile
        answer.headers = tuple((name.lower().encode(), value.encode()) for name, value in headers.items())
        hub.cache.put(key, answer)
    return _response(answer, gzipped, headers)


async def _gzipped(answer: CachedAnswer, accept_encoding: str | bytes | None) -> bytes | None:
    """The answer's gzipped body if the client accepts gzip and it is worth it (made once)."""
    if not compression.accepts_gzip(accept_encoding) or not compression.worth_compressing(
            answer.body, answer.media_type):
        return None
    if answer.gzipped is None:
        answer.gzipped = await compression.gzipped(answer.body)
    return answer.gzipped


def _response(answer: CachedAnswer, gzipped: bytes | None, headers: dict[str, str]) -> Response:
    if gzipped is None:
        return Response(answer.body, media_type=answer.media_type, headers=headers)
    return Response(gzipped, media_type=answer.media_type, headers={
        **headers, "Content-Encoding": "gzip", "Vary": f"{headers['Vary']}, Accept-Encoding"})


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
        if not fresh and (gzipped := await _gzipped(hit, headers.get(b"accept-encoding"))) is not None:
            body = gzipped
            out += [compression.GZIP_HEADER, compression.VARY_HEADER]
        if not fresh:
            out += [(b"content-type", hit.media_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 304 if fresh else 200, "headers": out})
        await send({"type": "http.response.body", "body": body})
