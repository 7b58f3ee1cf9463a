"""The dashboard's page at `/` and its built assets (dashboard/, built by `make install`).

The page and its scripts hold no data: they are served without a key, and the page then logs
in through /session. Asset names carry a hash of their content, so they are cached for good.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from core.errors import NotFoundError

ASSET_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$"
_MEDIA = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
          ".map": "application/json"}


def make_router(dist: Path) -> APIRouter:
    """Routes serving the build in `dist` (its index.html and assets/)."""
    router = APIRouter(include_in_schema=False)

    def built(path: Path) -> Path:
        if not (dist / "index.html").is_file():
            raise NotFoundError("the dashboard is not built: run `make install` (or"
                                " `npm ci && npm run build` in dashboard/)")
        if not path.is_file():
            raise NotFoundError(f"no dashboard file {path.name}")
        return path

    @router.get("/")
    async def page() -> FileResponse:
        # no-cache: a new build's page (naming new assets) is seen at once
        return FileResponse(built(dist / "index.html"), media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    @router.get("/assets/{name}")
    async def asset(name: Annotated[str, PathParam(pattern=ASSET_NAME)]) -> FileResponse:
        path = built(dist / "assets" / name)
        media = _MEDIA.get(path.suffix)
        return FileResponse(path, media_type=f"{media}; charset=utf-8" if media else None,
                            headers={"Cache-Control": "public, max-age=31536000, immutable"})

    return router

