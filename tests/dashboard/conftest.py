"""Browser test fixtures: Debian's chromium driven by Playwright, and the real app serving the
built dashboard over the demo city with its hotline feed ingested and early warning run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest

from alerts.run import run_warnings
from alerts.settings import AlertSettings
from api.keys import Role, create_key
from api.settings import ApiSettings
from core.case import AreaLevel
from core.settings import PROJECT_ROOT, GridHubSettings
from tests.conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
# swiftshader: WebGL in software, as a headless machine without a GPU has it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader"]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1400, "height": 860}


@pytest.fixture(scope="session")
def browser():
    """Headless chromium from the OS packages (`make test-setup` installs it); never a download."""
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make test-setup` (apt-get install chromium)")
    dist = ApiSettings().dashboard_dir
    if not (dist / "index.html").is_file():
        pytest.fail(f"the dashboard is not built in {dist}: run `make install`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Hub:
    """The live app over this test's database, keys made on demand, an admin client."""

    base_url: str
    db_url: str
    city: str
    admin: httpx.Client
    opened: list = field(default_factory=list)

    def key(self, role: Role = Role.ADMIN, scope: str | None = None) -> str:
        with psycopg.connect(self.db_url) as conn:
            return create_key(conn, role, scope or self.city, "dashboard test").key

    def page(self, browser, key: str | None = None, locale: str = "zh-CN"):
        """A new browser context and page, logged in with `key` when given (via the form)."""
        context = browser.new_context(viewport=VIEWPORT, locale=locale)
        self.opened.append(context)
        page = context.new_page()
        page.goto(self.base_url + "/")
        if key is not None:
            login(page, key)
        return page


def login(page, key: str) -> None:
    page.fill("[data-testid=key]", key)
    page.click("[data-testid=login]")
    wait_shown(page)


def wait_shown(page, code: str | None = None) -> None:
    """Until the panels of the selected area (of `code`, when given) are drawn."""
    if code is None:
        page.wait_for_function("document.body.dataset.shown", timeout=30_000)
    else:
        page.wait_for_function(f"document.body.dataset.shown === {code!r}", timeout=30_000)
    page.wait_for_function("performance.getEntriesByName('gridhub-map-ready').length > 0", timeout=30_000)


@pytest.fixture
def hub(hotline_db, demo_dir) -> Iterator[Hub]:
    settings = GridHubSettings(data_dir=demo_dir, database_url=hotline_db)
    # Open warnings for the last day, as `gridhub demo run` leaves them. The test city's 20,000
    # cases are too few for the default budget of false alerts to let one through: a loose
    # budget leaves the thresholds at their floor, which this small city does cross.
    loose = {level.value: 100.0 for level in AreaLevel}
    run_warnings(hotline_db, cfg=AlertSettings(false_alerts_per_100_area_weeks=loose).warn_settings())
    with LiveServer(create_app(settings)) as server:
        with psycopg.connect(hotline_db) as conn:
            admin_key = create_key(conn, Role.ADMIN, settings.city_code, "dashboard admin").key
        with httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {admin_key}"}) as admin:
            made = Hub(server.base_url, hotline_db, settings.city_code, admin)
            yield made
            for context in made.opened:
                context.close()


def create_app(settings: GridHubSettings):
    from api.main import create_app as factory

    return factory(settings, ApiSettings(audit_flush_seconds=0.1))
