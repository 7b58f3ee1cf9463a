"""Detectors on a small synthetic city whose counts we control."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from alerts.baseline import BaselineSettings, area_baseline
from alerts.detectors.cusum import poisson_cusum
from alerts.detectors.ears import EarsVariant, ears
from alerts.detectors.hotspots import GridNeighbours, HotspotSettings, gi_star_hotspots
from alerts.episodes import alarm_cells, find_episodes
from alerts.lifecycle import AlertStatus, next_status
from alerts.methods import DetectorSettings, Method, detect_signal
from alerts.panel import build_panel
from tests.alerts.conftest import SYNTHETIC_DAYS, synthetic_city, synthetic_rollups

WEEKLY = np.array([1.1, 1.1, 1.1, 1.1, 1.1, 0.75, 0.75])


def _background(rng, areas: pd.DataFrame, rate: float = 0.5) -> dict[str, np.ndarray]:
    weekly = np.resize(WEEKLY, SYNTHETIC_DAYS)
    grids = areas.loc[areas["level"] == "grid", "code"]
    return {g: rng.poisson(rate * weekly) for g in grids}


def test_ears_c2_is_todays_excess_over_the_week_before_last_two_days():
    counts = np.array([[2, 4, 3, 5, 2, 4, 3, 0, 0, 9]], dtype=float)
    scores = ears(counts, EarsVariant.C2)
    baseline = counts[0, 0:7]  # day 9 is judged against days 0..6 (a 2-day gap)
    expected_z = (9 - baseline.mean()) / baseline.std(ddof=1)
    assert np.isnan(scores.statistic[0, 8])  # not enough history before day 9
    assert np.isclose(scores.statistic[0, 9], expected_z)
    assert np.isclose(scores.expected[0, 9], baseline.mean())


def test_regression_test_flags_a_jump_on_its_first_days_and_little_else(rng):
    areas = synthetic_city()
    counts = _background(rng, areas, rate=0.1)  # about as busy as a demo grid
    counts["M1G3"][300:305] += np.array([4, 3, 2, 2, 1])  # a cluster in one grid
    panel = build_panel(synthetic_rollups(areas, counts), areas)
    cells = detect_signal(panel, "group:labour", [Method.GLM], DetectorSettings())[Method.GLM]
    grid = panel.areas.index.get_loc("M1G3")
    first = cells[(cells["area"] == grid) & (cells["day"] >= 300)]["day"].min()
    assert first in (300, 301)
    # Elsewhere: 44 areas x ~360 judged days; a handful of chance alarms at most.
    elsewhere = cells[~cells["day"].between(300, 310)]
    assert len(elsewhere) <= 5
    assert not cells["day"].lt(35).any()  # no verdict before min_history + guard days


def test_cusum_catches_a_slow_rise_in_a_community(rng):
    areas = synthetic_city()
    counts = _background(rng, areas, rate=0.6)
    community = [f"M2G{g}" for g in range(10)]
    for i, grid in enumerate(community):
        ramp = np.clip((np.arange(SYNTHETIC_DAYS) - 300) / 40.0, 0, 1) * 0.6  # up to twice the rate
        counts[grid] = counts[grid] + rng.poisson(ramp * (1 + (i % 2)) / 1.5)
    panel = build_panel(synthetic_rollups(areas, counts), areas)
    baseline = area_baseline(panel, "group:labour", BaselineSettings())
    scores = poisson_cusum(panel.counts["group:labour"], baseline, rho=2.0, threshold=6.0)
    row = panel.areas.index.get_loc("M2")
    fired = np.flatnonzero(scores.statistic[row] >= 6.0)
    assert len(fired) and 300 < fired[0] < 345
    quiet_rows = [panel.areas.index.get_loc(c) for c in ("M0", "M1", "M3")]
    assert (scores.statistic[quiet_rows, 100:] >= 6.0).sum() <= 1  # one chance alarm at most


def test_episodes_join_nearby_alarms_and_link_parent_alarms_to_the_grid(rng):
    areas = synthetic_city()
    panel = build_panel(synthetic_rollups(areas, _background(rng, areas)), areas)
    grid, community = panel.areas.index.get_indexer(["M0G1", "M0"])
    alarms = np.zeros(panel.shape, dtype=bool)
    alarms[grid, [100, 103, 120]] = True  # 100 and 103 join; 120 is more than 7 days later
    alarms[community, [101, 104, 200]] = True  # 101 and 104 are the grid's event seen from above
    scores = ears(panel.counts["group:labour"], EarsVariant.C2)
    episodes, cells = find_episodes(alarm_cells(alarms, scores, "test"), panel.areas, len(panel.days))
    by_area = episodes.groupby("area")["first_day"].apply(list).to_dict()
    assert by_area[grid] == [100, 120]
    assert by_area[community] == [200]  # only the alarm no grid explains opens an alert
    first = episodes[(episodes["area"] == grid) & (episodes["first_day"] == 100)].iloc[0]
    assert (first["last_day"], first["alarm_days"], first["linked_days"]) == (103, 2, 2)
    assert len(cells) == 4  # 3 grid days + the community's own day 200


def test_gi_star_finds_a_cluster_of_adjacent_cells_and_few_others(rng):
    side = 30
    cells = [shapely.box(x, y, x + 0.01, y + 0.01)
             for y in np.arange(side) * 0.01 for x in np.arange(side) * 0.01]
    shapes = gpd.GeoDataFrame({"code": [f"G{i:04d}" for i in range(side * side)]},
                              geometry=cells, crs="EPSG:4326")
    neighbours = GridNeighbours.from_shapes(shapes, 1e-7)
    assert 7.5 < neighbours.graph.cardinalities.mean() <= 9  # queen neighbours plus itself
    expected = np.full(side * side, 0.3)
    observed = rng.poisson(expected).astype(float)
    cluster = [15 * side + 15, 15 * side + 16, 16 * side + 15]
    observed[cluster] += 4
    hot = gi_star_hotspots(observed, expected, neighbours, HotspotSettings())
    assert set(shapes["code"].iloc[cluster]) <= set(hot["grid_code"]) | set()  # the cluster is hot
    assert (hot["q_value"] <= 0.01).all() and (hot["z_score"] > 0).all()
    far = ~hot["grid_code"].isin(shapes["code"].iloc[[r * side + c for r in range(12, 20)
                                                       for c in range(12, 20)]])
    assert far.sum() <= 3


def test_status_follows_the_lifecycle():
    d = date(2025, 6, 1)
    later = date(2025, 6, 20)
    assert next_status(None, d, d, d, 7) is AlertStatus.NEW
    assert next_status(AlertStatus.NEW, d, date(2025, 6, 2), date(2025, 6, 2), 7) is AlertStatus.ONGOING
    assert next_status(AlertStatus.ACKNOWLEDGED, d, date(2025, 6, 3), date(2025, 6, 5), 7) is AlertStatus.ACKNOWLEDGED
    assert next_status(AlertStatus.ACKNOWLEDGED, d, date(2025, 6, 3), later, 7) is AlertStatus.RESOLVED
    assert next_status(AlertStatus.ONGOING, d, date(2025, 6, 3), later, 7) is AlertStatus.EXPIRED
    assert next_status(AlertStatus.EXPIRED, d, d, later, 7) is AlertStatus.EXPIRED
