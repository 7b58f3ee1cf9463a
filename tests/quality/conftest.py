"""Fixtures for quality tests: small hotline feeds written to order, with their own spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from connectors.spec import SourceSpec, load_spec
from core.settings import PROJECT_ROOT

HOTLINE_SPEC = PROJECT_ROOT / "sources" / "hotline_12345.yaml"
ENCODING = "gbk"


@pytest.fixture(scope="session")
def hotline_rows(demo_dir) -> pd.DataFrame:
    """The demo hotline feed as text, in file order."""
    return pd.read_csv(demo_dir / "demo" / "feeds" / "hotline_12345.csv", encoding=ENCODING,
                       dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def hotline_defects(demo_dir) -> pd.DataFrame:
    defects = pd.read_csv(demo_dir / "demo" / "truth" / "defects.csv", dtype=str)
    return defects[defects.feed == "hotline_12345"]


class FixtureFeed:
    """A source `name` whose CSV (hotline columns) and spec YAML live in a folder of their own."""

    def __init__(self, folder: Path, name: str):
        self.folder = folder
        self.name = name
        self.csv = folder / f"{name}.csv"
        self.yaml = folder / "sources" / f"{name}.yaml"
        self.yaml.parent.mkdir(parents=True, exist_ok=True)
        self.write_spec({})

    def write(self, rows: pd.DataFrame) -> None:
        """Replace the feed's file (a daily export overwriting yesterday's)."""
        rows.to_csv(self.csv, index=False, encoding=ENCODING)

    def write_spec(self, quality: dict) -> SourceSpec:
        raw = yaml.safe_load(HOTLINE_SPEC.read_text(encoding="utf-8"))
        raw.update(name=self.name, location=str(self.csv), quality=quality)
        self.yaml.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        return self.spec

    @property
    def spec(self) -> SourceSpec:
        return load_spec(self.yaml)


@pytest.fixture
def fixture_feed(tmp_path) -> Callable[[str], FixtureFeed]:
    return lambda name="fixture_hotline": FixtureFeed(tmp_path, name)


@pytest.fixture(scope="session")
def clean_hotline_rows(hotline_rows, hotline_defects) -> pd.DataFrame:
    """Hotline records the generator left alone (no fault, no copy), in file order."""
    ids = hotline_rows["工单编号"].str.strip()
    return hotline_rows[~ids.isin(hotline_defects["source_record_id"])
                        & ~ids.duplicated(keep=False)].reset_index(drop=True)


@pytest.fixture
def quality_api(settings, tmp_path):
    """The real API on a real socket, its sources folder the fixture feeds' (tmp_path/sources);
    `client(role)` gives an HTTP client with a key of that role for the whole city."""
    import httpx
    import psycopg

    from api.keys import Role, create_key
    from api.main import create_app
    from tests.conftest import LiveServer

    cfg = settings.model_copy(update={"sources_dir": tmp_path / "sources"})
    clients: list[httpx.Client] = []
    with LiveServer(create_app(cfg)) as server:
        def client(role: Role = Role.ADMIN) -> httpx.Client:
            with psycopg.connect(cfg.database_url) as conn:
                key = create_key(conn, role, cfg.city_code, "quality tests").key
            made = httpx.Client(base_url=server.base_url, timeout=30,
                                headers={"Authorization": f"Bearer {key}"})
            clients.append(made)
            return made

        yield client
        for made in clients:
            made.close()
