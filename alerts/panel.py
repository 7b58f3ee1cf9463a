"""Dense area x day count matrices, one per signal, built from the daily rollups.

Detectors work on whole matrices at once (numpy), never row by row: a city of 5,000 areas
over two years is 3.8 million cells per signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from alerts.signals import Signal, all_signals
from core.case import AreaLevel
from store.warning_inputs import ROLLUP_COLUMNS  # the rollup columns a panel is built from

# Area table columns: the current hierarchy.
AREA_COLUMNS = ("code", "level", "parent_code")


@dataclass(frozen=True)
class AreaHierarchy:
    """Areas in a fixed order with the index of each one's parent (-1 for the root)."""

    codes: np.ndarray  # object array of area codes
    levels: np.ndarray  # object array of AreaLevel values
    parent: np.ndarray  # int64 index into codes, -1 when none
    orphans: int = 0  # areas seen in rollups but missing from the area table

    @classmethod
    def from_frame(cls, areas: pd.DataFrame, extra: pd.DataFrame | None = None) -> AreaHierarchy:
        """Build from (code, level, parent_code); extra (code, level) rows become parentless areas."""
        frame = areas.loc[:, list(AREA_COLUMNS)].astype({"code": str})
        orphans = 0
        if extra is not None and len(extra):
            missing = extra[~extra["code"].isin(frame["code"])].drop_duplicates("code")
            orphans = len(missing)
            frame = pd.concat([frame, missing.assign(parent_code=None)], ignore_index=True)
        depth = frame["level"].map(lambda v: AreaLevel(v).depth)
        frame = frame.assign(depth=depth).sort_values(["depth", "code"], kind="stable")
        codes = frame["code"].to_numpy(dtype=object)
        index = pd.Index(codes)
        parent = index.get_indexer(frame["parent_code"].astype(object).where(frame["parent_code"].notna(), None))
        return cls(codes, frame["level"].to_numpy(dtype=object), parent.astype(np.int64), orphans)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def index(self) -> pd.Index:
        return pd.Index(self.codes)

    def at_level(self, level: AreaLevel | str) -> np.ndarray:
        """Indices of the areas of one level."""
        return np.flatnonzero(self.levels == AreaLevel(level).value)

    def ancestors(self, i: int) -> list[int]:
        """Indices of the areas enclosing area i, nearest first."""
        chain = []
        while (i := int(self.parent[i])) >= 0:
            chain.append(i)
        return chain

    def ancestor_matrix(self) -> np.ndarray:
        """(areas x depth) indices: column k is the ancestor k+1 levels up, or -1."""
        depth = len(AreaLevel) - 1
        out = np.full((len(self), depth), -1, dtype=np.int64)
        current = self.parent.copy()
        for k in range(depth):
            out[:, k] = current
            current = np.where(current >= 0, self.parent[np.maximum(current, 0)], -1)
        return out


@dataclass
class CountPanel:
    """Daily counts per area for each signal, plus all-case totals and mediation outcomes."""

    areas: AreaHierarchy
    days: pd.DatetimeIndex
    signals: list[Signal]
    counts: dict[str, np.ndarray]  # signal name -> (areas x days) float64
    total: np.ndarray  # every case, whatever its signal
    settled: np.ndarray
    not_settled: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.areas), len(self.days)

    def tail(self, days: int) -> CountPanel:
        """The last `days` days only (views, no copies)."""
        return CountPanel(
            areas=self.areas, days=self.days[-days:], signals=self.signals,
            counts={name: c[:, -days:] for name, c in self.counts.items()},
            total=self.total[:, -days:], settled=self.settled[:, -days:],
            not_settled=self.not_settled[:, -days:])

    def day_index(self, day: date) -> int:
        position = self.days.get_indexer([pd.Timestamp(day)])[0]
        if position < 0:
            raise ValueError(f"{day} is outside the panel ({self.days[0].date()} .. {self.days[-1].date()})")
        return int(position)


def build_panel(rollups: pd.DataFrame, areas: pd.DataFrame, end: date | None = None,
                start: date | None = None, signals: list[Signal] | None = None) -> CountPanel:
    """Turn rollup rows (ROLLUP_COLUMNS) and the area table (AREA_COLUMNS) into a CountPanel.

    Days run from `start` (default: the first day with data) to `end` (default: the last);
    rows after `end` are left out, so a run "as of" a past day never sees the future.
    """
    signals = signals or all_signals()
    missing = [c for c in ROLLUP_COLUMNS if c not in rollups]
    if missing:
        raise ValueError(f"rollup frame lacks columns {missing}")
    rows = rollups.assign(day=pd.to_datetime(rollups["day"]).dt.normalize())
    if rows.empty:
        raise ValueError("no rollup rows to build a panel from")
    # Days before the first data are not zero counts but no history: never start before it.
    first = max(pd.Timestamp(start), rows["day"].min()) if start else rows["day"].min()
    last = pd.Timestamp(end) if end else rows["day"].max()
    if last < first:
        raise ValueError(f"no rollup days between {first.date()} and {last.date()}")
    rows = rows[(rows["day"] >= first) & (rows["day"] <= last)]
    hierarchy = AreaHierarchy.from_frame(
        areas, rows[["area_code", "level"]].drop_duplicates().rename(columns={"area_code": "code"}))
    days = pd.date_range(first, last, freq="D")
    n_areas, n_days = len(hierarchy), len(days)
    cell = hierarchy.index.get_indexer(rows["area_code"]) * n_days + (rows["day"] - first).dt.days.to_numpy()

    def dense(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        flat_cells, weights = (cell, values) if mask is None else (cell[mask], values[mask])
        flat = np.bincount(flat_cells, weights=weights.astype(float), minlength=n_areas * n_days)
        return flat.reshape(n_areas, n_days)

    reported = rows["reported"].to_numpy()
    kind = rows["kind"].to_numpy(dtype=object)
    category = rows["category"].to_numpy(dtype=object)
    counts = {}
    for signal in signals:
        if signal.kind is not None:
            mask = kind == signal.kind.value
        else:
            mask = np.isin(category, [c.value for c in signal.categories])
        counts[signal.name] = dense(reported, mask)
    return CountPanel(
        areas=hierarchy, days=days, signals=list(signals), counts=counts,
        total=dense(reported), settled=dense(rows["settled"].to_numpy()),
        not_settled=dense(rows["not_settled"].to_numpy()),
    )
