"""Benchmark of rollup counting: store.rollup_counts.count_level (numpy, one bincount per
measure over a packed group key) against the same rows counted with Arrow's group_by, the
library way, measured in the same run on the same cases.

    .venv/bin/python bench/bench_rollup_counts.py                  # 1,000,000 cases, 8 slices
    .venv/bin/python bench/bench_rollup_counts.py --cases 20000    # the test suite's size

Cases are drawn like the demo city's: 4,500 grids in 563 communities, 60 streets and 8
districts, two kinds, twelve categories, 60% closed. Both contenders count every level of
each slice of 125,000 cases (store.rollups.SLICE_CASES), as a rollup rebuild does; the rows
they give are checked equal. Counting is pure CPU (no database), so durability does not
enter. The numpy path is kept while it saves >= 15% of the rebuild's counting over the
library's.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.case import AreaLevel, Outcome, Status  # noqa: E402
from store.rollup_counts import (  # noqa: E402
    CASE_COLUMNS,
    CLOSED_COLUMNS,
    HIST,
    HOUR_EDGES,
    LevelCounts,
    count_level,
    sum_by,
)
from store.rollups import SLICE_CASES  # noqa: E402

_RESOLVED = (Status.RESOLVED.value, Status.CLOSED.value)
CATEGORIES = ["labour", "neighbourhood", "family", "property_management", "real_estate",
              "land_construction", "medical", "traffic", "consumer", "public_security",
              "environment", "other"]


def demo_like_cases(n: int, seed: int = 7) -> pa.Table:
    """n cases over 730 days in a city shaped like the demo's, as store.rollups reads them."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 4500, n)
    closed = rng.random(n) < 0.6
    hours = np.where(closed, rng.exponential(200, n), np.nan)
    day = np.sort(rng.integers(0, 730, n))
    start = np.datetime64(date(2024, 11, 1))
    codes = {level: np.array([f"{level.value[0]}{g // size:05d}" for g in range(4500)])
             for level, size in ((AreaLevel.GRID, 1), (AreaLevel.COMMUNITY, 8),
                                 (AreaLevel.STREET, 75), (AreaLevel.DISTRICT, 563))}
    columns = {level.code_column: pa.array(codes[level][grid]) for level in codes}
    columns["city_code"] = pa.array(np.full(n, "city"))
    return pa.table({
        **columns,
        "day": pa.array((start + day.astype("timedelta64[D]")).astype("datetime64[D]"), pa.date32()),
        "kind": pa.array(rng.choice(["dispute", "complaint"], n)),
        "category": pa.array(rng.choice(CATEGORIES, n)),
        "status": pa.array(np.where(closed, rng.choice(["resolved", "closed", "unresolved"], n),
                                    rng.choice(["reported", "in_mediation"], n))),
        "outcome": pa.array(rng.choice(["settled", "not_settled", ""], n)),
        "hours": pa.array(hours, pa.float64(), mask=~closed),
        "lag": pa.array(np.floor(np.nan_to_num(hours) / 24).astype(np.int32), mask=~closed),
    }).select(list(CASE_COLUMNS)).cast(pa.schema(CASE_COLUMNS))


def arrow_count_level(cases: pa.Table, level: AreaLevel) -> LevelCounts:
    """Rollup rows of one level from its cases (those with a code at that level)."""
    cases = cases.filter(pc.is_valid(cases[level.code_column]))
    keys = [level.code_column, "day", "kind", "category"]
    hours = cases["hours"]
    is_closed = pc.is_valid(hours)
    # Each measure as a 0/1 (or hours) column per case, summed per group by Arrow.
    bucket = _buckets(hours)
    flags = {
        "reported": pa.repeat(pa.scalar(1, pa.int32()), len(cases)),
        "resolved": _flag(pc.is_in(cases["status"], pa.array(_RESOLVED))),
        "in_mediation": _flag(pc.equal(cases["status"], Status.IN_MEDIATION.value)),
        "settled": _flag(pc.equal(cases["outcome"], Outcome.SETTLED.value)),
        "not_settled": _flag(pc.equal(cases["outcome"], Outcome.NOT_SETTLED.value)),
        "closed": _flag(is_closed),
        "close_hours_sum": pc.fill_null(hours, 0.0),
        **{f"status_{s.value}": _flag(pc.equal(cases["status"], s.value)) for s in Status},
        **{h: _flag(pc.equal(bucket, i)) for i, h in enumerate(HIST)},
    }
    measured = pa.table({**{k: cases[k] for k in keys}, **flags})
    daily = sum_by(measured, keys, tuple(flags))
    # Close lags of each report-day cohort: the distinct lags, ascending, with their counts.
    closed = cases.filter(is_closed).select([*keys, "lag"])
    per_lag = closed.group_by([*keys, "lag"], use_threads=False).aggregate([("lag", "count")])
    per_lag = per_lag.sort_by([(k, "ascending") for k in [*keys, "lag"]])
    lags = per_lag.group_by(keys, use_threads=False).aggregate(
        [("lag", "list"), ("lag_count", "list")]).rename_columns(
        [*keys, "close_lags", "close_lag_counts"])
    # Arrow joins no list columns: join each group to the row of its lists, then take them.
    lags = lags.append_column("lag_row", pa.array(np.arange(len(lags), dtype=np.int64)))
    daily = daily.join(lags.select([*keys, "lag_row"]), keys, join_type="left outer")
    empty = pa.scalar([], pa.list_(pa.int32()))
    daily = pa.table({
        "area_code": daily[level.code_column],
        "level": pa.repeat(pa.scalar(level.value), len(daily)),
        **{k: daily[k] for k in keys[1:]},
        **{m: daily[m] for m in flags},
        **{c: pc.fill_null(lags[c].cast(pa.list_(pa.int32())).take(daily["lag_row"]), empty)
           for c in ("close_lags", "close_lag_counts")},
    })
    # Closures by close day: each cohort's lags moved to day + lag and summed per day.
    close_day = pc.cast(pc.add(pc.cast(per_lag["day"], pa.int32()), per_lag["lag"]), pa.date32())
    moved = pa.table({"area_code": per_lag[level.code_column], "day": close_day,
                      "kind": per_lag["kind"], "category": per_lag["category"],
                      "closed": pc.cast(per_lag["lag_count"], pa.int32())})
    by_day = sum_by(moved, ["area_code", "day", "kind", "category"], ("closed",))
    by_day = by_day.add_column(1, "level", pa.repeat(pa.scalar(level.value), len(by_day)))
    return LevelCounts(daily, by_day.select(list(CLOSED_COLUMNS)))


def _flag(mask: pa.ChunkedArray) -> pa.ChunkedArray:
    """A boolean column as int32 0/1 (null counts as 0)."""
    return pc.cast(pc.fill_null(mask, False), pa.int32())


def _buckets(hours: pa.ChunkedArray) -> pa.Array:
    """The histogram bucket of each case's hours to close (null while open)."""
    values = hours.to_numpy(zero_copy_only=False)
    found = np.searchsorted(np.asarray(HOUR_EDGES, dtype=np.float64), values, side="right")
    return pa.array(found, pa.int32(), mask=np.isnan(values))


def _rows(counts: LevelCounts) -> tuple[list, list]:
    """Both tables' rows, sorted, for comparing two contenders."""
    daily = counts.daily.to_pandas()
    daily = daily.assign(close_lags=daily["close_lags"].map(list),
                         close_lag_counts=daily["close_lag_counts"].map(list))
    keys = ["area_code", "day", "kind", "category"]
    return (daily.sort_values(keys).astype(str).values.tolist(),
            counts.closed.to_pandas().sort_values(keys).astype(str).values.tolist())


def count_all(cases: pa.Table, count) -> tuple[float, list[LevelCounts]]:
    """Seconds to count every level of every slice of cases, and the last slice's counts."""
    started = time.perf_counter()
    for first in range(0, len(cases), SLICE_CASES):
        piece = cases.slice(first, SLICE_CASES)
        last = [count(piece, level) for level in AreaLevel]
    return time.perf_counter() - started, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (the best is kept)")
    args = parser.parse_args()
    cases = demo_like_cases(args.cases)
    print(f"{len(cases):,} cases in slices of {SLICE_CASES:,}, every level counted")
    best: dict[str, float] = {}
    results = {}
    for _ in range(args.repeat):
        for name, count in (("numpy (store.rollup_counts)", count_level),
                            ("Arrow group_by", arrow_count_level)):
            seconds, results[name] = count_all(cases, count)
            best[name] = min(best.get(name, seconds), seconds)
    numpy_rows, arrow_rows = ([_rows(c) for c in results[name]] for name in results)
    if numpy_rows != arrow_rows:
        print("the two contenders count different rows")
        return 1
    ours, library = best["numpy (store.rollup_counts)"], best["Arrow group_by"]
    for name, seconds in best.items():
        print(f"{name:<30}{seconds:>8.2f} s  {len(cases) / seconds:>12,.0f} cases/s")
    saved = 1 - ours / library
    print(f"numpy saves {saved:.0%} of the counting time against Arrow group_by"
          f" (kept while >= 15%: {'yes' if saved >= 0.15 else 'NO'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
