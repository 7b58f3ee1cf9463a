"""Fixtures for connector tests: a folder of fixture specs and their data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_sources(tmp_path) -> Path:
    """A copy of the fixture specs and their data, to edit freely."""
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target)
    return target
