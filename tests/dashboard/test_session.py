"""POST /session: a key exchanged for an HttpOnly cookie that the API accepts like the header."""

from __future__ import annotations

import httpx
import pytest

from api.auth import SESSION_COOKIE
from api.keys import Role

# A live server over a database with the hotline ingested and warnings run.
pytestmark = pytest.mark.slow


def test_a_key_becomes_a_cookie_the_api_accepts_and_logout_forgets_it(hub):
    key = hub.key(Role.ANALYST)
    with httpx.Client(base_url=hub.base_url, timeout=30) as browser:
        assert browser.get("/session").status_code == 401
        opened = browser.post("/session", json={"key": key})
        assert opened.status_code == 200 and opened.json()["role"] == "analyst"
        cookie = opened.headers["set-cookie"]
        assert f"{SESSION_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        levels = [level["slot"] for level in opened.json()["city"]["levels"]]
        assert levels == ["city", "district", "street", "community", "grid"]  # the demo profile's
        assert browser.get(f"/areas/{hub.city}/summary").status_code == 200
        assert browser.get("/quality/docs/").status_code == 200
        # a change with the cookie alone, as another site could send it: refused
        refused = browser.post("/warnings/1/ack")
        assert refused.status_code == 403 and "x-requested-with" in refused.json()["detail"]
        assert browser.post("/warnings/999999/ack", headers={"X-Requested-With": "gridhub"}).status_code == 404
        assert browser.delete("/session").status_code == 204
        assert browser.get(f"/areas/{hub.city}/summary").status_code == 401


def test_a_wrong_key_gets_no_cookie_and_the_header_still_wins(hub):
    with httpx.Client(base_url=hub.base_url, timeout=30) as browser:
        wrong = browser.post("/session", json={"key": "ghk_nothing"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        viewer = hub.key(Role.VIEWER, hub.admin.get("/areas", params={"level": "district"}).json()["areas"][0]["code"])
        browser.post("/session", json={"key": viewer})
        # an admin's header is used over a viewer's cookie
        answer = browser.get("/session", headers={"Authorization": f"Bearer {hub.key()}"})
        assert answer.json()["role"] == "admin"
        assert browser.get("/session").json()["role"] == "viewer"


def test_the_page_is_served_without_a_key_and_holds_no_data(hub):
    page = httpx.get(hub.base_url + "/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    script = next(part.split('"')[0] for part in page.text.split('src="/assets/')[1:])
    asset = httpx.get(f"{hub.base_url}/assets/{script}", timeout=30)
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert httpx.get(hub.base_url + "/assets/..%2Fbuild.mjs", timeout=30).status_code in (404, 422)
