"""Small-count suppression and the figures built on it, without a database."""

from __future__ import annotations

import pytest

from api.figures import figures
from api.keys import Role
from api.suppression import is_small, suppress, suppressed_sql, threshold
from core.case import AreaLevel

K = 5


@pytest.mark.parametrize(("role", "level", "expected"), [
    (Role.VIEWER, AreaLevel.GRID, K),
    (Role.VIEWER, AreaLevel.COMMUNITY, 0),
    (Role.VIEWER, AreaLevel.DISTRICT, 0),
    (Role.ANALYST, AreaLevel.GRID, 0),
    (Role.ADMIN, AreaLevel.GRID, 0),
])
def test_only_viewers_of_grids_are_held_to_k(role, level, expected):
    assert threshold(role, level, K) == expected


@pytest.mark.parametrize(("value", "shown"), [
    (0, 0), (1, None), (4, None), (5, 5), (120, 120),
    (-3, -3),        # a fall between periods is not a count of cases
    (None, None), (2.5, 2.5), (True, True), ("3", "3"),
])
def test_counts_from_one_to_k_minus_one_are_hidden(value, shown):
    assert suppress(value, K) == shown
    assert is_small(value, K) is (shown is None and value is not None)


def test_k_zero_hides_nothing():
    assert [suppress(v, 0) for v in (0, 1, 4, 5)] == [0, 1, 4, 5]


def test_the_sql_twin_hides_the_same_counts():
    from psycopg import sql

    text = suppressed_sql(sql.SQL("coalesce(c.reported, 0)")).as_string(None)
    assert text == ("CASE WHEN coalesce(c.reported, 0) > 0 AND coalesce(c.reported, 0) < %(k)s"
                    " THEN NULL ELSE coalesce(c.reported, 0) END")


ROW = {"reported": 40, "resolved": 3, "in_mediation": 2, "settled": 6, "not_settled": 2,
       "closed": 10, "close_hours_sum": 250.0, "status_resolved": 3, "status_closed": 10,
       "hist": [0, 0, 0, 0, 0, 10] + [0] * 15}


def test_figures_of_a_summed_row():
    f = figures(ROW, open_at_end=7, previous_reported=50)
    assert (f.reported, f.resolved, f.closed, f.open_at_end) == (40, 3, 10, 7)
    assert f.resolution_rate == 3 / 40
    assert f.mediation_success_rate == 6 / 8
    assert f.mean_hours_to_close == 25.0
    assert 12 <= f.median_hours_to_close <= 24
    assert (f.previous_reported, f.difference, f.change_ratio) == (50, -10, -10 / 50)
    assert f.by_status["resolved"] == 3 and f.by_status["closed"] == 10


def test_figures_of_an_empty_period_are_zeros():
    f = figures(None, open_at_end=0, previous_reported=None)
    assert (f.reported, f.resolved, f.closed) == (0, 0, 0)
    assert f.resolution_rate is f.mean_hours_to_close is f.median_hours_to_close is None
    assert f.difference is f.change_ratio is None
    assert set(f.by_status.values()) == {0}


def test_suppressed_figures_hide_small_counts_but_keep_rates_of_a_large_total():
    f = figures(ROW, open_at_end=7, previous_reported=37).suppressed(K)
    assert f.reported == 40 and not f.withheld
    assert f.resolved is None and f.in_mediation is None and f.not_settled is None
    assert (f.settled, f.closed, f.open_at_end, f.previous_reported) == (6, 10, 7, 37)
    assert f.difference is None  # 40 - 37 = 3; a fall (40 - 42 = -2) is shown
    assert figures(ROW, open_at_end=7, previous_reported=42).suppressed(K).difference == -2
    assert f.resolution_rate == 3 / 40 and f.change_ratio == 3 / 37
    assert f.by_status["resolved"] is None and f.by_status["closed"] == 10


def test_a_small_total_withholds_everything_built_on_it():
    row = {"reported": 3, "resolved": 2, "closed": 2, "close_hours_sum": 5.0, "hist": [2] + [0] * 20}
    f = figures(row, open_at_end=12, previous_reported=9).suppressed(K)
    assert f.withheld and f.reported is None and f.resolved is None
    assert f.open_at_end == 12 and f.previous_reported == 9
    assert (f.resolution_rate, f.mediation_success_rate, f.mean_hours_to_close,
            f.median_hours_to_close, f.change_ratio) == (None,) * 5


def test_no_threshold_leaves_figures_alone():
    f = figures(ROW, open_at_end=1, previous_reported=None)
    assert f.suppressed(0) is f
