"""The dashboard in a real browser (Debian's chromium, headless): login, the map, drill-down,
a district viewer's confinement, acknowledging a warning, the quality pages behind the cookie.

Timings (first view, p95 of the requests of each interaction) are printed, not asserted.
"""

from __future__ import annotations

import base64
import re
import time
from urllib.parse import urlsplit

import pytest

from api.keys import Role
from tests.dashboard.conftest import SCREENSHOTS, login, wait_shown

pytestmark = pytest.mark.slow  # a browser, a live server and a warning run per test
BACKGROUND = (244, 246, 248)  # the map's background colour (dashboard/src/map.js)

# Share of the map's pixels that are not its background, and how many colours they take.
COLOURED = """async ([b64, bg]) => {
  const blob = await (await fetch('data:image/png;base64,' + b64)).blob();
  const img = await createImageBitmap(blob);
  const canvas = new OffscreenCanvas(img.width, img.height);
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, img.width, img.height).data;
  let coloured = 0;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - bg[0]) + Math.abs(d[i + 1] - bg[1]) + Math.abs(d[i + 2] - bg[2]) > 12) {
      coloured += 1;
      colours.add((d[i] >> 4) * 256 + (d[i + 1] >> 4) * 16 + (d[i + 2] >> 4));
    }
  }
  return { share: coloured / (d.length / 4), colours: colours.size };
}"""


def map_pixels(page) -> dict:
    shot = page.locator("[data-testid=map] canvas").screenshot()
    return page.evaluate(COLOURED, [base64.b64encode(shot).decode(), BACKGROUND])


def number(text: str) -> int:
    return int(re.sub(r"[^\d]", "", text))


class RequestTimes:
    """Durations of the API requests a page makes (workers' tile requests included)."""

    def __init__(self, page):
        self.times: list[tuple[str, float]] = []
        page.on("requestfinished", self._finished)

    def _finished(self, request) -> None:
        path = urlsplit(request.url).path
        if path.startswith("/assets/") or path == "/":
            return
        timing = request.timing
        if timing["responseEnd"] > 0:
            self.times.append((path, timing["responseEnd"]))

    def p95(self) -> float:
        ordered = sorted(t for _, t in self.times)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")


def test_the_page_loads_with_a_key_and_draws_the_city(hub, browser):
    page = hub.page(browser)
    assert page.locator("[data-testid=login]").is_visible()
    login(page, hub.key())
    api = hub.admin.get(f"/areas/{hub.city}/summary", params=_period(hub)).json()
    assert number(page.inner_text("[data-testid=summary-total]")) == api["total"]
    pixels = map_pixels(page)
    assert pixels["share"] > 0.3, pixels  # the districts are drawn, not a blank canvas
    assert pixels["colours"] >= 4, pixels  # coloured by count, not one flat fill
    assert "案件数" in page.inner_text("[data-testid=legend]")  # Chinese by default for the demo city
    page.screenshot(path=str(SCREENSHOTS / "dashboard-city-zh.png"))

    # The first view of a returning user (the session cookie set): map and city summary.
    again = page.context.new_page()
    started = time.perf_counter()
    again.goto(hub.base_url + "/")
    wait_shown(again, hub.city)
    again.wait_for_function("performance.getEntriesByName('gridhub-panel-ready').length > 0")
    marks = again.evaluate("['gridhub-map-ready', 'gridhub-panel-ready'].map("
                           "n => performance.getEntriesByName(n)[0].startTime)")
    print(f"\nfirst view (map and city summary) ready {max(marks):.0f} ms after navigation"
          f" (map {marks[0]:.0f} ms, summary {marks[1]:.0f} ms; {time.perf_counter() - started:.2f} s"
          " wall time in the test)")


def test_clicking_a_district_drills_down_and_its_total_is_the_apis(hub, browser):
    page = hub.page(browser)
    times = RequestTimes(page)
    login(page, hub.key())
    times.times.clear()  # what follows are interactions
    box = page.locator("[data-testid=map] canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("[data-testid=hover]")  # the hover shows the area's figures
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(f"document.body.dataset.shown && document.body.dataset.shown !== {hub.city!r}")
    code = page.evaluate("document.body.dataset.shown")
    area = hub.admin.get(f"/areas/{code}").json()
    assert area["level"] == "district" and area["parent_code"] == hub.city
    shown = page.locator("[data-testid=area-name]")
    assert shown.get_attribute("data-level") == "district" and area["name"] in shown.inner_text()
    assert hub.admin.get(f"/areas/{hub.city}").json()["name"] in page.inner_text("[data-testid=crumbs]")
    api = hub.admin.get(f"/areas/{code}/summary", params=_period(hub)).json()
    assert number(page.inner_text("[data-testid=summary-total]")) == api["total"]
    # its children ranked: the district's streets, as the API lists them
    ranked = page.locator("[data-testid=ranking] tbody tr").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert sorted(ranked) == sorted(c["code"] for c in area["children"])
    wait_shown(page, code)
    page.wait_for_timeout(300)  # the streets' tiles drawn
    assert map_pixels(page)["colours"] >= 4

    # More interactions, in English: colour by change, a kind filter, the other tabs, a street.
    page.click("[data-testid=language]")
    wait_shown(page, code)
    page.select_option("[data-testid=metric]", "change")
    page.select_option("[data-testid=kind]", "dispute")
    wait_shown(page, code)
    filtered = hub.admin.get(f"/areas/{code}/summary", params=_period(hub) | {"kind": "dispute"}).json()
    page.wait_for_function(f"document.querySelector('[data-testid=summary-total]')?.innerText.replace(/\\D/g, '')"
                           f" === '{filtered['total']}'")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-district-en.png"))
    for tab in ("warnings", "cases", "sources"):
        page.click(f"[data-testid=tab-{tab}]")
        page.wait_for_selector(f"[data-testid=panel-{tab}][aria-busy=false]")
    assert page.locator("[data-testid=sources] tbody tr").count() >= 1
    page.click("[data-testid=tab-overview]")
    page.locator("[data-testid=ranking] tbody tr").first.click()
    page.wait_for_function(f"document.body.dataset.shown && document.body.dataset.shown !== {code!r}")
    street = page.evaluate("document.body.dataset.shown")
    assert hub.admin.get(f"/areas/{street}").json()["parent_code"] == code
    print(f"\n{len(times.times)} requests of the interactions: p95 {times.p95():.1f} ms,"
          f" max {max(t for _, t in times.times):.1f} ms")


def test_a_district_viewer_sees_nothing_of_another_district(hub, browser):
    districts = hub.admin.get("/areas", params={"level": "district"}).json()["areas"]
    mine, others = districts[0], districts[1:]
    page = hub.page(browser)
    answers: list[str] = []
    page.on("response", lambda r: answers.append(r.text()) if "json" in r.headers.get("content-type", "") else None)
    login(page, hub.key(Role.VIEWER, mine["code"]))
    wait_shown(page, mine["code"])
    page.wait_for_timeout(500)
    text = page.inner_text("body")
    assert mine["name"] in text
    for other in others:
        assert other["name"] not in text
        assert not any(other["code"] in body for body in answers)
    city_name = hub.admin.get(f"/areas/{hub.city}").json()["name"]
    assert city_name not in page.inner_text("[data-testid=crumbs]")  # nothing above the scope
    assert page.locator("[data-testid=tab-cases]").count() == 0  # viewers see no case rows
    # Asked from the page itself, another district answers 404, as an unknown code would.
    status = page.evaluate(f"fetch('/areas/{others[0]['code']}/summary').then(r => r.status)")
    assert status == 404
    # The map draws only the scope: outside the district's outline, only background.
    page.screenshot(path=str(SCREENSHOTS / "dashboard-district-viewer.png"))
    assert map_pixels(page)["share"] < 0.95


def test_sources_and_data_docs_are_offered_only_to_keys_of_the_whole_city(hub, browser):
    district = hub.admin.get("/areas", params={"level": "district"}).json()["areas"][0]["code"]
    district_key = hub.key(Role.ANALYST, district)
    refused: list[str] = []
    console: list[str] = []

    def watch(page):
        page.on("response", lambda r: refused.append(r.url) if r.status == 403 else None)
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        return page

    def district_view(page) -> None:
        """The district analyst's page: case rows, but no Sources tab, no Data Docs, no 403."""
        wait_shown(page, district)
        page.wait_for_selector("[data-testid=panel-overview][aria-busy=false]")
        page.wait_for_timeout(500)
        assert page.locator("[data-testid=tab-cases]").count() == 1
        assert page.locator("[data-testid=tab-sources]").count() == 0
        assert page.locator("[data-testid=datadocs]").count() == 0
        assert refused == [] and console == [], (refused, console)
        assert page.locator(".error.banner").is_hidden()

    page = watch(hub.page(browser))
    console.clear()  # the login form's own GET /session answers 401
    login(page, district_key)
    district_view(page)
    # What the tab would ask: the API refuses this key.
    assert page.evaluate("fetch('/sources').then(r => r.status)") == 403
    refused.clear()
    console.clear()

    # An analyst of the whole city: the Sources tab and the Data Docs link, and both work.
    page = watch(hub.page(browser))
    console.clear()
    login(page, hub.key(Role.ANALYST))
    assert page.locator("[data-testid=datadocs]").count() == 1
    page.click("[data-testid=tab-sources]")
    page.wait_for_selector("[data-testid=panel-sources][aria-busy=false]")
    assert page.locator("[data-testid=sources] tbody tr").count() >= 1
    # Logged out with the Sources tab open, the district key then opens its own overview.
    page.click("[data-testid=logout]")
    page.wait_for_selector("[data-testid=login]")
    console.clear()
    login(page, district_key)
    district_view(page)


def test_acknowledging_a_warning_changes_it_in_the_api(hub, browser):
    open_ones = [w for w in hub.admin.get("/warnings", params={"status": ["new", "ongoing"]}).json()["warnings"]]
    assert open_ones, "the warning run raised no open alert on the demo city"
    alert = open_ones[0]
    page = hub.page(browser, hub.key(Role.ANALYST))
    page.click("[data-testid=tab-warnings]")
    button = page.locator(f"[data-testid=ack-{alert['alert_id']}]")
    button.click()
    page.wait_for_function(f"document.querySelector('[data-testid=status-{alert['alert_id']}]')"
                           f".innerText.includes('已签收')")
    after = hub.admin.get("/warnings", params={"status": "acknowledged"}).json()["warnings"]
    acknowledged = next(w for w in after if w["alert_id"] == alert["alert_id"])
    assert acknowledged["status"] == "acknowledged" and acknowledged["acknowledged_by"].startswith("key:")
    page.screenshot(path=str(SCREENSHOTS / "dashboard-warnings-zh.png"))
    # A viewer gets no button.
    viewer = hub.page(browser, hub.key(Role.VIEWER))
    viewer.click("[data-testid=tab-warnings]")
    viewer.wait_for_selector("[data-testid=panel-warnings][aria-busy=false]")
    assert viewer.locator("[data-testid^=ack-]").count() == 0


def test_the_quality_pages_open_after_login_and_not_after_logout(hub, browser):
    page = hub.page(browser)
    assert page.request.get(hub.base_url + "/quality/docs/").status == 401
    login(page, hub.key(Role.ANALYST))
    with page.context.expect_page() as opened:
        page.click("[data-testid=datadocs]")
    docs = opened.value
    docs.wait_for_load_state()
    assert docs.url.endswith("/quality/docs/")
    assert "Data Docs" in docs.content() or "Expectation" in docs.content()
    assert page.request.get(hub.base_url + "/quality/docs/").status == 200
    # A change sent with the cookie but not from the page (no X-Requested-With) is refused.
    assert page.request.post(hub.base_url + "/warnings/1/ack").status == 403
    page.click("[data-testid=logout]")
    page.wait_for_selector("[data-testid=login]")
    assert page.request.get(hub.base_url + "/quality/docs/").status == 401
    assert page.request.get(hub.base_url + "/session").status == 401


def test_a_wrong_key_is_told_and_no_cookie_is_set(hub, browser):
    page = hub.page(browser)
    page.fill("[data-testid=key]", "ghk_not-a-key")
    page.click("[data-testid=login]")
    page.wait_for_function("document.querySelector('[data-testid=login-error]').innerText.length > 0")
    assert "unknown or revoked API key" in page.inner_text("[data-testid=login-error]")
    assert page.context.cookies() == []


def _period(hub) -> dict:
    """The dashboard's default period: the last 12 months up to the last day with data."""
    from datetime import date, timedelta

    last = date.fromisoformat(hub.admin.get("/session").json()["data_span"]["last_day"])
    return {"from": (last - timedelta(days=364)).isoformat(), "to": last.isoformat()}
