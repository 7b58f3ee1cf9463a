"""Fixtures for the geo tests: the demo city's geocoder, read back from a fresh database."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from geo.geocoder import Geocoder
from store.geocoding import load_geocoder


@pytest.fixture
def geocoder(db_url) -> Geocoder:
    """The demo city's areas and gazetteer, as the pipeline loads them."""
    with psycopg.connect(db_url) as conn:
        return load_geocoder(conn)


@pytest.fixture
def addresses(geocoder) -> pd.DataFrame:
    """The demo city's standard addresses."""
    return geocoder.addresses


def cases_frame(**columns) -> pd.DataFrame:
    """A small frame of geocoding inputs; absent columns are left out."""
    n = max(len(v) for v in columns.values())
    return pd.DataFrame({k: (v if len(v) == n else v * n) for k, v in columns.items()})
