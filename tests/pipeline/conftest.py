"""Fixtures for pipeline tests: the demo's live services and its source specs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.spec import load_specs
from pipeline.demo import feed_variables


@pytest.fixture
def variables(settings, db_url) -> Iterator[dict[str, str]]:
    """The demo's police API and district database, for this test's database."""
    with feed_variables(settings, db_url, {}, keep_services=False) as values:
        yield values


@pytest.fixture
def demo_specs(settings):
    return load_specs(settings.resolved_sources_dir)
