"""Answers already in the worker's cache, served before routing and parameter validation.

Only for a GET whose key this worker already trusts and whose answer was built for the same
role, scope, path and query under the current rollup generation; everything else goes on to
the app (which fills the cache through api.answers.cached).
"""

from __future__ import annotations

from api.answers import answer_key
from api.auth import known_principal, presented_key
from api.state import Hub


class CachedAnswerMiddleware:
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
