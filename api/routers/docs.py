"""The API's documentation pages, /docs (Swagger UI) and /redoc, and the Data Docs' pages, all
loading their scripts and styles from this server: they work on a network with no internet.

The scripts come from npm (dashboard/package.json) and are copied by the dashboard's build into
dist/docs/ (`make install`), served at /docs/assets/. No data, no key.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from core.errors import NotFoundError
from quality.docs import offline_page

ASSETS_URL = "/docs/assets/"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
# Swagger UI asks an online validator for a badge unless told not to.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def make_router(assets: Path, openapi_url: str, title: str) -> APIRouter:
    """Routes of the docs pages, with their scripts served from `assets` (dist/docs)."""
    router = APIRouter(include_in_schema=False)
    files = StaticFiles(directory=assets, check_dir=False)

    def built() -> None:
        if not (assets / "swagger-ui-bundle.js").is_file():
            raise NotFoundError("the docs pages' scripts are not built: run `make install` (or"
                                " `npm ci && npm run build` in dashboard/)")

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        built()
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL, swagger_ui_parameters=SWAGGER_PARAMETERS)

    @router.get(OAUTH2_REDIRECT_URL)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        built()
        return get_redoc_html(openapi_url=openapi_url, title=f"{title} - ReDoc",
                              redoc_js_url=f"{ASSETS_URL}redoc.standalone.js",
                              redoc_favicon_url=f"{ASSETS_URL}favicon-32x32.png",
                              with_google_fonts=False)

    @router.get(ASSETS_URL + "{path:path}")
    async def asset(request: Request, path: str) -> Response:
        built()
        response = await files.get_response(os.path.normpath(path), request.scope)
        response.headers["Cache-Control"] = "no-cache"  # names carry no version: revalidate (ETag)
        return response

    return router


async def data_docs_file(site: Path, path: str, request: Request) -> Response:
    """A file of the Data Docs site; its pages with the CDN scripts and styles GX puts in them
    pointed at this server's copies (quality.docs.offline_page)."""
    files = StaticFiles(directory=site, html=True)
    response = await files.get_response(os.path.normpath(path or "."), request.scope)
    if not response.media_type or not response.media_type.startswith("text/html") \
            or response.status_code != 200:
        return response
    page = Path(response.path).read_text(encoding="utf-8")  # a FileResponse of StaticFiles
    return HTMLResponse(offline_page(page, vendor_url=f"{ASSETS_URL}gx/",
                                     site_url="/quality/docs/"))
