"""Rollup counting in memory, against a plain pandas recount of the same cases (no database)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.case import AreaLevel
from store.rollup_counts import (
    CASE_COLUMNS,
    HIST,
    HOUR_EDGES,
    STATUS_COLUMNS,
    add_open_end,
    count_level,
    for_copy,
    monthly_rows,
)

START = date(2025, 1, 30)


def _cases(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 12, n)
    closed = rng.random(n) < 0.6
    hours = np.where(closed, rng.exponential(200, n), np.nan)
    frame = pd.DataFrame({
        "grid_code": [f"g{g:02d}" for g in grid],
        "community_code": [f"c{g // 4}" for g in grid],
        "street_code": [f"s{g // 6}" for g in grid],
        "district_code": "d0",
        "city_code": "x",
        "day": [START + timedelta(days=int(d)) for d in rng.integers(0, 40, n)],
        "kind": rng.choice(["dispute", "complaint"], n),
        "category": rng.choice(["labour", "traffic", "other"], n),
        "status": np.where(closed, rng.choice(["resolved", "closed", "unresolved"], n),
                           rng.choice(["reported", "in_mediation"], n)),
        "outcome": rng.choice(["settled", "not_settled", None], n),
        "hours": hours,
        "lag": np.where(closed, np.floor(np.nan_to_num(hours) / 24), np.nan),
    })
    frame.loc[rng.random(n) < 0.05, "grid_code"] = None  # cases placed above grid level
    return frame


def _table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=pa.schema(CASE_COLUMNS), preserve_index=False)


def _daily(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas().set_index(["area_code", "day", "kind", "category"]).sort_index()


@pytest.mark.parametrize("level", [AreaLevel.GRID, AreaLevel.STREET, AreaLevel.CITY])
def test_daily_rows_equal_a_pandas_recount(level):
    frame = _cases()
    counts = count_level(_table(frame), level)
    daily = _daily(counts.daily)
    assert (counts.daily["level"].to_pylist() == [level.value] * len(daily))

    placed = frame[frame[level.code_column].notna()]
    groups = placed.groupby([level.code_column, "day", "kind", "category"])
    expected = pd.DataFrame({
        "reported": groups.size(),
        "resolved": groups["status"].agg(lambda s: s.isin(["resolved", "closed"]).sum()),
        "in_mediation": groups["status"].agg(lambda s: (s == "in_mediation").sum()),
        "settled": groups["outcome"].agg(lambda s: (s == "settled").sum()),
        "not_settled": groups["outcome"].agg(lambda s: (s == "not_settled").sum()),
        "closed": groups["hours"].count(),
        "close_hours_sum": groups["hours"].sum(),
    })
    expected.index.names = ["area_code", "day", "kind", "category"]
    assert len(daily) == len(expected)
    for column in expected:
        np.testing.assert_allclose(daily[column].to_numpy(float), expected[column].to_numpy(float),
                                   err_msg=column)
    assert (daily[list(STATUS_COLUMNS)].sum(axis=1) == daily["reported"]).all()
    # The histogram counts every closed case once, in the bucket of its hours.
    assert (daily[list(HIST)].sum(axis=1) == daily["closed"]).all()
    longest = daily[HIST[-1]].sum()
    assert longest == (placed["hours"] > HOUR_EDGES[-1]).sum()


def test_close_lags_and_closures_by_close_day():
    frame = _cases()
    counts = count_level(_table(frame), AreaLevel.GRID)
    daily = _daily(counts.daily)
    placed = frame[frame["grid_code"].notna() & frame["hours"].notna()]
    for key, lags, lag_counts in zip(daily.index, daily["close_lags"], daily["close_lag_counts"],
                                     strict=True):
        cohort = placed[(placed["grid_code"] == key[0]) & (placed["day"] == key[1])
                        & (placed["kind"] == key[2]) & (placed["category"] == key[3])]
        expected = cohort["lag"].astype(int).value_counts().sort_index()
        assert list(lags) == list(expected.index) and list(lag_counts) == list(expected)
    closed = counts.closed.to_pandas()
    by_close_day = placed.assign(close_day=[d + timedelta(days=int(g)) for d, g in
                                            zip(placed["day"], placed["lag"], strict=True)])
    expected = by_close_day.groupby(["grid_code", "close_day", "kind", "category"]).size()
    got = closed.set_index(["area_code", "day", "kind", "category"])["closed"].sort_index()
    assert got.sum() == len(placed)
    assert dict(got) == dict(expected)


def test_months_sum_the_days_and_carry_open_cases():
    frame = _cases()
    counts = count_level(_table(frame), AreaLevel.CITY)
    months = monthly_rows(counts.daily, counts.closed)
    with_open, carry = add_open_end(months, None)
    table = with_open.to_pandas()
    totals = table[table["kind"] == "*"].sort_values("month")
    assert totals["reported"].sum() == len(frame)
    assert totals["closed_on"].sum() == frame["hours"].notna().sum()
    # Open at the end of each month = reported so far - closed so far.
    running = (totals["reported"] - totals["closed_on"]).cumsum()
    assert list(totals["open_end"]) == list(running)
    assert for_copy(counts.daily)["close_hist"].type == pa.list_(pa.int32())
