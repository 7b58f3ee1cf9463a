"""What a browser page or an export client meets: CORS for the configured origins only, gzip for
large JSON, GeoJSON and CSV (cached answers too), and docs pages that load nothing from the
internet (/docs, /redoc and the Data Docs)."""

from __future__ import annotations

import gzip
import re
from urllib.parse import urljoin, urlsplit

import httpx
import psycopg
import pytest

from api.keys import Role
from api.settings import ApiSettings
from tests.api.conftest import Api, serve
from tests.api.helpers import tile_of

pytestmark = pytest.mark.slow  # live servers over an ingested city, Data Docs built

PAGE_ORIGIN = "https://dashboard.city.example"
PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def cors_api(api_settings):
    with serve(api_settings, ApiSettings(audit_flush_seconds=0.1, cors_origins=[PAGE_ORIGIN])) as server:
        live = Api(server.base_url, api_settings.database_url, api_settings.city_code, [])
        yield live
        for c in live.clients:
            c.close()


def _preflight(client: httpx.Client, origin: str) -> httpx.Response:
    return client.options("/areas", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                             "Access-Control-Request-Headers": "authorization"})


def test_cors_answers_the_configured_origins_only(cors_api):
    anyone = cors_api.client(role=None)
    allowed = _preflight(anyone, PAGE_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "GET" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in allowed.headers  # the session cookie stays same-site

    other = _preflight(anyone, "https://elsewhere.example")
    assert "access-control-allow-origin" not in other.headers

    # The real request: readable by the page, with its paging and cache headers exposed.
    page = cors_api.client(Role.VIEWER).get("/areas", params={"level": "district"},
                                             headers={"Origin": PAGE_ORIGIN})
    assert page.status_code == 200
    assert page.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert "etag" in page.headers["access-control-expose-headers"].lower()
    refused = cors_api.client(Role.VIEWER).get("/areas", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in refused.headers


def test_without_configured_origins_there_is_no_cors(api):
    anyone = api.client(role=None)
    answer = _preflight(anyone, PAGE_ORIGIN)
    assert answer.status_code == 405
    assert not any(h.startswith("access-control-") for h in answer.headers)


def _raw(client: httpx.Client, path: str, params: dict, headers: dict) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (httpx would inflate it)."""
    with client.stream("GET", path, params=params, headers=headers) as response:
        return response, b"".join(response.iter_raw())


@pytest.mark.parametrize(("params", "media"), [
    ({"level": "grid", "format": "geojson"}, "application/geo+json"),
    ({"level": "grid", "format": "csv"}, "text/csv"),
    ({"level": "grid"}, "application/json"),
], ids=["geojson", "csv", "json"])
def test_large_answers_are_gzipped_for_clients_that_accept_it(api, params, media):
    client = api.client(Role.ADMIN)
    plain, plain_body = _raw(client, "/stats", params, PLAIN)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith(media)
    assert "content-encoding" not in plain.headers
    assert len(plain_body) > 10_000
    # Built now, then served from the worker's cache before routing: both gzipped, same content.
    for _ in range(2):
        packed, packed_body = _raw(client, "/stats", params, GZIP)
        assert packed.status_code == 200 and packed.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in packed.headers["vary"].lower()
        assert int(packed.headers["content-length"]) == len(packed_body)
        assert len(packed_body) < len(plain_body) / 4, (len(packed_body), len(plain_body))
        assert gzip.decompress(packed_body) == plain_body
    again, again_body = _raw(client, "/stats", params, PLAIN)  # the cached answer, plain again
    assert "content-encoding" not in again.headers and again_body == plain_body


def test_tiles_are_gzipped_too_and_small_answers_are_not(api):
    client = api.client(Role.ADMIN)
    small, _ = _raw(client, "/health", {}, GZIP)
    assert "content-encoding" not in small.headers
    with psycopg.connect(api.db_url) as conn:
        lon, lat = conn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p"
                                " FROM areas WHERE level = 'grid' LIMIT 1) s").fetchone()
    x, y = tile_of(lon, lat, 14)
    plain, plain_body = _raw(client, f"/tiles/areas/14/{x}/{y}.mvt", {}, PLAIN)
    packed, packed_body = _raw(client, f"/tiles/areas/14/{x}/{y}.mvt", {}, GZIP)
    assert plain.status_code == packed.status_code == 200 and len(plain_body) > 2_000
    assert "content-encoding" not in plain.headers and packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed_body) == plain_body and len(packed_body) < len(plain_body)


# -- Docs that work offline --------------------------------------------------------------------

_LOADED = re.compile(r"""<(?:script|img)\b[^>]*\bsrc\s*=\s*["']([^"']+)["']|<link\b[^>]*\bhref\s*=\s*["']([^"']+)["']""",
                     re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")


def _local_loads(client: httpx.Client, page_url: str) -> list[str]:
    """Every script, style and image the page loads (and the fonts and images its styles load):
    each must be on this server and answer 200."""
    page = client.get(page_url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page_url
    urls = [a or b for a, b in _LOADED.findall(page.text)]
    assert urls, page_url
    checked = []
    while urls:
        url = urljoin(str(page.url), urls.pop())
        assert urlsplit(url).netloc == urlsplit(str(page.url)).netloc, f"{page_url} loads {url}"
        if url in checked:
            continue
        answer = client.get(url)
        assert answer.status_code == 200, f"{page_url} loads {url}: {answer.status_code}"
        checked.append(url)
        if urlsplit(url).path.endswith(".css"):
            urls += [urljoin(url, u) for u in _CSS_URL.findall(answer.text) if not u.startswith("data:")]
    return checked


def test_docs_pages_load_everything_from_this_server(api):
    client = api.client(Role.ANALYST)
    swagger = _local_loads(client, "/docs")
    assert any(u.endswith("/swagger-ui-bundle.js") for u in swagger)
    assert "validatorUrl" in client.get("/docs").text  # no badge fetched from an online validator
    redoc = _local_loads(client, "/redoc")
    assert any(u.endswith("/redoc.standalone.js") for u in redoc)
    assert "fonts.googleapis" not in client.get("/redoc").text

    index = client.get("/quality/docs/")
    assert index.status_code == 200
    validation = re.search(r"'_table_row_link_path': '(validations/[^']+\.html)'", index.text).group(1)
    for page in ("/quality/docs/", f"/quality/docs/{validation}"):
        loads = _local_loads(client, page)
        # The page keeps its working parts (sortable, filterable tables), from local copies.
        assert any(u.endswith("/bootstrap-table.min.js") for u in loads), loads
        assert any(u.endswith("/jquery.min.js") for u in loads), loads
        assert "/webfonts/" in " ".join(loads)  # the icons' fonts, through the stylesheet
        text = client.get(page).text
        assert "dataContextId" not in text and "s3.us-east-2" not in text  # no logo fetched from GX
        assert "vegaEmbed" not in text  # no chart: leaving Vega out loses nothing
