"""Early-warning fixtures: a small synthetic city for the detectors (the backtest, runs and
API read the demo city with every feed ingested: all_feeds_db, tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.settings import GridHubSettings

SYNTHETIC_DAYS = 400


@pytest.fixture
def warn_settings(all_feeds_db, demo_dir) -> GridHubSettings:
    return GridHubSettings(data_dir=demo_dir, database_url=all_feeds_db)


def synthetic_city(n_grids: int = 40, grids_per_community: int = 10) -> pd.DataFrame:
    """A city of one district, a few communities and their grids: code, level, parent_code."""
    rows = [("C", "city", None), ("D", "district", "C"), ("S", "street", "D")]
    for c in range(n_grids // grids_per_community):
        rows.append((f"M{c}", "community", "S"))
        rows += [(f"M{c}G{g}", "grid", f"M{c}") for g in range(grids_per_community)]
    return pd.DataFrame(rows, columns=["code", "level", "parent_code"])


def synthetic_rollups(areas: pd.DataFrame, grid_counts: dict[str, np.ndarray],
                      start: str = "2024-01-01", category: str = "labour",
                      kind: str = "dispute") -> pd.DataFrame:
    """Rollup rows for every level from per-grid daily counts (one kind and category)."""
    parent = dict(zip(areas["code"], areas["parent_code"], strict=True))
    level = dict(zip(areas["code"], areas["level"], strict=True))
    days = pd.date_range(start, periods=len(next(iter(grid_counts.values()))), freq="D")
    totals: dict[str, np.ndarray] = {}
    for grid, counts in grid_counts.items():
        code = grid
        while isinstance(code, str):
            totals[code] = totals.get(code, 0) + counts
            code = parent[code]
    frames = []
    for code, counts in totals.items():
        present = counts > 0
        frames.append(pd.DataFrame({
            "area_code": code, "level": level[code], "day": days[present], "kind": kind,
            "category": category, "reported": counts[present], "settled": 0, "not_settled": 0}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240101)
