"""Rollup rows counted from cases in memory, for store.rollups to write with COPY.

At grid level a rollup group holds about one case, so PostgreSQL would evaluate some thirty
aggregates per case and level; numpy sums the same measures with one bincount per measure.
Input: the columns of CASE_COLUMNS for a set of whole report days (store.rollups reads them).
Output: Arrow tables whose columns are those of rollup_daily and rollup_closed_daily.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.case import AreaLevel, Outcome, Status

# Upper edges (hours) of the hours-to-close histogram; one more bucket holds longer closes.
HOUR_EDGES = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336, 504, 720, 1080, 1440,
              2160, 4320)
HIST_BUCKETS = len(HOUR_EDGES) + 1
STATUS_COLUMNS = tuple(f"status_{s.value}" for s in Status)
# Measures that add up over days and areas (both daily and monthly tables hold them).
ADDITIVE = ("reported", "resolved", "in_mediation", "settled", "not_settled", "closed",
            "close_hours_sum", *STATUS_COLUMNS)
DAILY_COLUMNS = ("area_code", "level", "day", "kind", "category", *ADDITIVE, "close_hist",
                 "close_lags", "close_lag_counts")
CLOSED_COLUMNS = ("area_code", "level", "day", "kind", "category", "closed")

# What is read of each case: its area codes, report day, kind and category, status and
# outcome, hours from report to close and local days from report day to close day (both
# null while open).
CASE_COLUMNS = {**{level.code_column: pa.string() for level in AreaLevel}, "day": pa.date32(),
                "kind": pa.string(), "category": pa.string(), "status": pa.string(),
                "outcome": pa.string(), "hours": pa.float64(), "lag": pa.int32()}

_RESOLVED = (Status.RESOLVED.value, Status.CLOSED.value)


@dataclass
class LevelCounts:
    """One level's rows: daily (report-day cohorts) and closed (by close day)."""

    daily: pa.Table
    closed: pa.Table


def count_level(cases: pa.Table, level: AreaLevel) -> LevelCounts:
    """Rollup rows of one level from its cases (those with a code at that level)."""
    cases = cases.filter(pc.is_valid(cases[level.code_column]))
    codes, code_ids = _factorize(cases[level.code_column])
    kinds, kind_ids = _factorize(cases["kind"])
    categories, category_ids = _factorize(cases["category"])
    day = cases["day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    first_day = int(day.min()) if len(day) else 0
    day_span = int(day.max()) - first_day + 1 if len(day) else 1
    # One integer per (area, day, kind, category): groups are its distinct values, in order.
    key = ((code_ids * day_span + (day - first_day)) * len(kinds) + kind_ids) * len(categories) \
        + category_ids
    group_keys, group = np.unique(key, return_inverse=True)
    n = len(group_keys)
    status = cases["status"]
    outcome = cases["outcome"]
    hours = cases["hours"].to_numpy(zero_copy_only=False)
    is_closed = ~np.isnan(hours)

    def count(mask=None) -> np.ndarray:
        picked = group if mask is None else group[mask]
        return np.bincount(picked, minlength=n).astype(np.int32)

    def where(array, *values) -> np.ndarray:
        return pc.is_in(array, pa.array(values)).to_numpy(zero_copy_only=False)

    closed_group = group[is_closed]
    bucket = np.searchsorted(np.asarray(HOUR_EDGES, dtype=np.float64), hours[is_closed], side="right")
    hist = np.bincount(closed_group * HIST_BUCKETS + bucket, minlength=n * HIST_BUCKETS)
    measures = {
        "reported": count(),
        "resolved": count(where(status, *_RESOLVED)),
        "in_mediation": count(where(status, Status.IN_MEDIATION.value)),
        "settled": count(where(outcome, Outcome.SETTLED.value)),
        "not_settled": count(where(outcome, Outcome.NOT_SETTLED.value)),
        "closed": count(is_closed),
        "close_hours_sum": np.bincount(closed_group, weights=hours[is_closed], minlength=n),
        **{f"status_{s.value}": count(where(status, s.value)) for s in Status},
    }
    # Close lags of each group: its distinct (group, lag) pairs, in order, with their counts.
    lag = cases["lag"].to_numpy(zero_copy_only=False)[is_closed].astype(np.int64)
    max_lag = int(lag.max()) + 1 if len(lag) else 1
    pairs, pair_counts = np.unique(closed_group * max_lag + lag, return_counts=True)
    pair_group, pair_lag = pairs // max_lag, (pairs % max_lag).astype(np.int32)
    lag_offsets = np.searchsorted(pair_group, np.arange(n + 1)).astype(np.int32)

    code_of = group_keys // (len(categories) * len(kinds) * day_span)
    rest = group_keys % (len(categories) * len(kinds) * day_span)
    day_of = rest // (len(categories) * len(kinds)) + first_day
    kind_of = rest // len(categories) % len(kinds)
    category_of = rest % len(categories)
    area = codes.take(pa.array(code_of))
    daily_day = pa.array(day_of.astype(np.int32), pa.date32())
    kind = kinds.take(pa.array(kind_of))
    category = categories.take(pa.array(category_of))
    daily = pa.table({
        "area_code": area, "level": pa.repeat(pa.scalar(level.value), n), "day": daily_day,
        "kind": kind, "category": category, **measures,
        "close_hist": _pg_arrays(np.arange(0, n * HIST_BUCKETS + 1, HIST_BUCKETS, dtype=np.int32),
                                 hist.astype(np.int32)),
        "close_lags": _pg_arrays(lag_offsets, pair_lag),
        "close_lag_counts": _pg_arrays(lag_offsets, pair_counts.astype(np.int32)),
    })
    # Closures by close day: the lag pairs moved to day + lag and summed per day.
    close_key = ((code_of[pair_group] * (day_span + max_lag) + (day_of[pair_group] - first_day)
                  + pair_lag) * len(kinds) + kind_of[pair_group]) * len(categories) \
        + category_of[pair_group]
    close_keys, close_group = np.unique(close_key, return_inverse=True)
    per_kind = len(kinds) * len(categories)
    close_rest = close_keys % ((day_span + max_lag) * per_kind)
    closed = pa.table({
        "area_code": codes.take(pa.array(close_keys // ((day_span + max_lag) * per_kind))),
        "level": pa.repeat(pa.scalar(level.value), len(close_keys)),
        "day": pa.array((close_rest // per_kind + first_day).astype(np.int32), pa.date32()),
        "kind": kinds.take(pa.array(close_rest // len(categories) % len(kinds))),
        "category": categories.take(pa.array(close_rest % len(categories))),
        "closed": np.bincount(close_group, weights=pair_counts,
                              minlength=len(close_keys)).astype(np.int32),
    })
    return LevelCounts(daily, closed)


def _factorize(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Distinct values (sorted) and each row's index among them."""
    encoded = column.combine_chunks().dictionary_encode()
    values = encoded.dictionary
    order = pc.sort_indices(values)
    rank = np.empty(len(values), dtype=np.int64)
    rank[order.to_numpy()] = np.arange(len(values))
    return values.take(order), rank[encoded.indices.to_numpy(zero_copy_only=False)]


def _pg_arrays(offsets: np.ndarray, values: np.ndarray) -> pa.Array:
    """PostgreSQL array literals ('{1,2,3}') of the lists values[offsets[i]:offsets[i + 1]]."""
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values).cast(pa.string()))
    return pc.binary_join_element_wise("{", pc.binary_join(lists, ","), "}", "")
