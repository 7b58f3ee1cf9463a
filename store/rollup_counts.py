"""Rollup rows counted from cases in memory, for store.rollups to write with COPY.

At grid level a rollup group holds about one case, so PostgreSQL would evaluate some thirty
aggregates per case and level; numpy sums the same measures with one bincount per measure.
Input: the columns of CASE_COLUMNS for a set of whole report days (store.rollups reads them).
Output: Arrow tables of rollup_daily, rollup_closed_daily and rollup_monthly rows; the hours
histogram stays one column per bucket (HIST) until for_copy joins it into close_hist.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
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
HIST = tuple(f"h{i}" for i in range(HIST_BUCKETS))  # close_hist, one column per bucket
KEYS = ("area_code", "level", "kind", "category")
DAILY_COLUMNS = ("area_code", "level", "day", "kind", "category", *ADDITIVE, "close_hist",
                 "close_lags", "close_lag_counts")
TOTAL = "*"  # kind and category of the per-area total rows in rollup_monthly
CLOSED_COLUMNS = ("area_code", "level", "day", "kind", "category", "closed")
# Keys and measures of rollup_monthly rows, before open_end (HIST still one column per bucket).
MONTH_KEYS = ["area_code", "level", "month", "kind", "category"]
MONTH_MEASURES = (*ADDITIVE, *HIST, "closed_on")

# What is read of each case: its area codes, report day, kind and category, status and
# outcome, hours from report to close and local days from report day to close day (both
# null while open).
CASE_COLUMNS = {**{level.code_column: pa.string() for level in AreaLevel}, "day": pa.date32(),
                "kind": pa.string(), "category": pa.string(), "status": pa.string(),
                "outcome": pa.string(), "hours": pa.float64(), "lag": pa.int32()}

_RESOLVED = (Status.RESOLVED.value, Status.CLOSED.value)


@dataclass
class LevelCounts:
    """One level's rows: daily (report-day cohorts, close_hist as columns HIST) and closed
    (by close day)."""

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
        # float64 even with no closure in the slice (bincount of nothing gives int64)
        "close_hours_sum": np.bincount(closed_group, weights=hours[is_closed], minlength=n).astype(np.float64),
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
        **{h: column for h, column in zip(HIST, hist.reshape(n, HIST_BUCKETS).T.astype(np.int32),
                                          strict=True)},
        "close_lags": _int_lists(lag_offsets, pair_lag),
        "close_lag_counts": _int_lists(lag_offsets, pair_counts.astype(np.int32)),
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


def monthly_rows(daily: pa.Table, closed: pa.Table) -> pa.Table:
    """Month sums of report-day rows (KEYS, day, ADDITIVE, HIST) and close-day rows (KEYS, day,
    closed) covering whole months, with each area's totals (kind = category = TOTAL); the
    closures of a month are its closed_on. open_end is left to the caller."""
    reported = sum_by(_with_month(daily), MONTH_KEYS, (*ADDITIVE, *HIST))
    closures = sum_by(_with_month(closed), MONTH_KEYS, ("closed",)).rename_columns([*MONTH_KEYS, "closed_on"])
    detail = reported.join(closures, MONTH_KEYS, join_type="full outer")
    detail = detail.select([*MONTH_KEYS, *MONTH_MEASURES])
    detail = pa.table({name: pc.fill_null(detail[name], 0) if name not in MONTH_KEYS else detail[name]
                       for name in detail.column_names})
    totals = sum_by(detail, ["area_code", "level", "month"], MONTH_MEASURES)
    totals = totals.append_column("kind", pa.repeat(pa.scalar(TOTAL), len(totals)))
    totals = totals.append_column("category", pa.repeat(pa.scalar(TOTAL), len(totals)))
    return pa.concat_tables([detail, totals.select(detail.column_names).cast(detail.schema)])


def add_open_end(monthly: pa.Table, carried: pd.DataFrame | None) -> tuple[pa.Table, pd.DataFrame]:
    """monthly with open_end (cases open at the end of each month: reported - closed_on summed
    over the months so far of its area, kind and category), starting from `carried` (the last
    open_end of each KEYS before these months); returns it and the carry for later months."""
    frame = monthly.select([*KEYS, "month", "reported", "closed_on"]).to_pandas()
    frame = frame.sort_values([*KEYS, "month"], kind="stable")
    change = (frame["reported"] - frame["closed_on"]).astype(np.int64)
    open_end = change.groupby([frame[k] for k in KEYS], sort=False).cumsum()
    if carried is not None and len(carried):
        before = frame[list(KEYS)].merge(carried, on=list(KEYS), how="left")["open_end"]
        open_end += before.fillna(0).astype(np.int64).to_numpy()
    frame["open_end"] = open_end
    last = frame.drop_duplicates(list(KEYS), keep="last")[[*KEYS, "open_end"]]
    carry = last if carried is None else pd.concat([carried, last]).drop_duplicates(list(KEYS), keep="last")
    ordered = monthly.take(pa.array(frame.index.to_numpy()))
    return ordered.append_column("open_end", pa.array(frame["open_end"].to_numpy(np.int32))), carry


def for_copy(rows: pa.Table) -> pa.Table:
    """rows with the histogram columns HIST joined into one list (an integer[]), close_hist."""
    if HIST[0] not in rows.column_names:
        return rows
    hist = np.column_stack([rows[h].to_numpy() for h in HIST]).astype(np.int32).ravel()
    offsets = np.arange(0, len(hist) + 1, HIST_BUCKETS, dtype=np.int32)
    kept = rows.drop_columns(list(HIST))
    return kept.append_column("close_hist", _int_lists(offsets, hist))


def _with_month(rows: pa.Table) -> pa.Table:
    day = rows["day"].to_numpy().astype("datetime64[D]")
    month = day.astype("datetime64[M]").astype("datetime64[D]")
    return rows.append_column("month", pa.array(month, pa.date32()))


def sum_by(rows: pa.Table, keys: list[str], measures) -> pa.Table:
    """rows summed per keys: the keys, then each measure (integers stay int32)."""
    summed = rows.group_by(keys, use_threads=False).aggregate([(m, "sum") for m in measures])
    names = {f"{m}_sum": m for m in measures}
    summed = summed.rename_columns([names.get(c, c) for c in summed.column_names])
    return pa.table({c: (summed[c].cast(pa.int32()) if c in measures and c != "close_hours_sum" else summed[c])
                     for c in [*keys, *measures]})


def _factorize(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Distinct values (sorted) and each row's index among them."""
    encoded = column.combine_chunks().dictionary_encode()
    values = encoded.dictionary
    order = pc.sort_indices(values)
    rank = np.empty(len(values), dtype=np.int64)
    rank[order.to_numpy()] = np.arange(len(values))
    return values.take(order), rank[encoded.indices.to_numpy(zero_copy_only=False)]


def _int_lists(offsets: np.ndarray, values: np.ndarray) -> pa.Array:
    """The lists values[offsets[i]:offsets[i + 1]] (int32, for integer[] columns)."""
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa.int32()))
