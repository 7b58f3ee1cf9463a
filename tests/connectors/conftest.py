"""Fixtures for connector tests: the demo's live services and a folder of fixture specs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.spec import load_specs
from pipeline.demo import feed_variables

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def variables(settings, db_url) -> Iterator[dict[str, str]]:
    """The demo's police API and district database, for this test's database."""
    with feed_variables(settings, db_url, {}, keep_services=False) as values:
        yield values


@pytest.fixture
def demo_specs(settings):
    return load_specs(settings.resolved_sources_dir)


@pytest.fixture
def fixture_sources(tmp_path) -> Path:
    """A copy of the fixture specs and their data, to edit freely."""
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    return target
