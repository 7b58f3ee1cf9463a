"""gzip for clients that accept it: JSON, GeoJSON, CSV, vector tiles and the docs' scripts,
above MIN_BYTES.

Answers built now are compressed by Starlette's GZipMiddleware (CompressionMiddleware). Cached answers (api.cache)
carry their gzipped body beside the plain one, made once, by the first client that accepted
gzip, and sent as they are after that; an answer that already has a Content-Encoding passes
the middleware untouched.
"""

from __future__ import annotations

import asyncio
import zlib

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

MIN_BYTES = 1024  # below this the header and the CPU cost more than the bytes saved
LEVEL = 6  # zlib's default: 2.79 MB of GeoJSON to ~11% in ~40 ms; level 9 is slower for ~1% less
IN_THREAD_BYTES = 128 * 1024  # larger bodies are compressed off the event loop
# Vector tiles are compressed too: a z14 tile of areas goes to ~45% (10 KB to 4 KB), one of case
# points to ~33% (140 KB to 47 KB), for 0.3-12 ms once per cached tile.
EXCLUDED_MEDIA_TYPES = DEFAULT_EXCLUDED_CONTENT_TYPES
GZIP_HEADER = (b"content-encoding", b"gzip")
VARY_HEADER = (b"vary", b"Accept-Encoding")


class CompressionMiddleware:
    """Starlette's GZipMiddleware for requests that accept gzip; the others go straight to the
    app (GZipMiddleware would still read their headers and wrap their answer: ~13 us each)."""

    def __init__(self, app):
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MIN_BYTES, compresslevel=LEVEL,
                                   exclude_content_types=EXCLUDED_MEDIA_TYPES)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and any(name == b"accept-encoding" and b"gzip" in value
                                           for name, value in scope["headers"]):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def accepts_gzip(accept_encoding: str | bytes | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (as GZipMiddleware reads it)."""
    if not accept_encoding:
        return False
    return (b"gzip" if isinstance(accept_encoding, bytes) else "gzip") in accept_encoding


def worth_compressing(body: bytes, media_type: str) -> bool:
    """Large enough, and of a type that is not compressed already (nor a tile)."""
    base = media_type.partition(";")[0].strip().lower()
    return (len(body) >= MIN_BYTES and base not in EXCLUDED_MEDIA_TYPES
            and f"{base.partition('/')[0]}/*" not in EXCLUDED_MEDIA_TYPES)


async def gzipped(body: bytes) -> bytes:
    """The body as a gzip stream (zlib releases the GIL: large ones go to a thread)."""
    if len(body) >= IN_THREAD_BYTES:
        return await asyncio.to_thread(_gzip, body)
    return _gzip(body)


def _gzip(body: bytes) -> bytes:
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()
