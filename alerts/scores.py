"""What every detector hands on: per area and day, how alarming the day is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SparseCells:
    """Observed, expected and p-value at the few cells a detector actually tested."""

    n_days: int
    flat: np.ndarray  # sorted flat indices (area * n_days + day)
    observed: np.ndarray
    expected: np.ndarray
    p_value: np.ndarray

    @classmethod
    def of(cls, n_days: int, rows: np.ndarray, cols: np.ndarray, observed: np.ndarray,
           expected: np.ndarray, p_value: np.ndarray) -> SparseCells:
        flat = rows.astype(np.int64) * n_days + cols
        order = np.argsort(flat, kind="stable")
        return cls(n_days, flat[order], observed[order], expected[order], p_value[order])

    @classmethod
    def empty(cls, n_days: int) -> SparseCells:
        nothing = np.array([], dtype=float)
        return cls(n_days, np.array([], dtype=np.int64), nothing, nothing, nothing)

    def take(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values at the given cells; NaN where the detector did not test a cell."""
        wanted = rows.astype(np.int64) * self.n_days + cols
        position = np.clip(np.searchsorted(self.flat, wanted), 0, max(len(self.flat) - 1, 0))
        found = (self.flat[position] == wanted) if len(self.flat) else np.zeros(len(wanted), bool)

        def pick(values: np.ndarray) -> np.ndarray:
            return np.where(found, values[position], np.nan) if len(values) else np.full(len(wanted), np.nan)

        return pick(self.observed), pick(self.expected), pick(self.p_value)


@dataclass
class Scores:
    """One detector's verdicts for one signal.

    `statistic` (areas x days) grows with the evidence (a z-score, -log10 p, a CUSUM sum); a
    method alarms where it reaches the method's threshold; NaN where there is no verdict (too
    little history). What the verdict is about, the count observed (a day, or a window of
    days), what the baseline expected and the p-value, comes either as dense arrays or, for
    detectors that test only a few cells, as SparseCells.
    """

    statistic: np.ndarray
    observed: np.ndarray | None = None
    expected: np.ndarray | None = None
    p_value: np.ndarray | None = None
    cells: SparseCells | None = None

    def alarms(self, threshold: float) -> np.ndarray:
        """Boolean (areas x days): where the statistic reaches the threshold."""
        with np.errstate(invalid="ignore"):
            return self.statistic >= threshold

    def at(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observed, expected and p-value at the given cells."""
        if self.cells is not None:
            return self.cells.take(rows, cols)
        return self.observed[rows, cols], self.expected[rows, cols], self.p_value[rows, cols]
