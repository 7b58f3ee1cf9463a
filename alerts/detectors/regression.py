"""Count-regression test: is the count over the last 1, 3 or 7 days above the baseline?

Each window's count is compared with the negative-binomial predictive distribution of the
baseline (alerts.baseline); the smallest p-value over the windows, Bonferroni-corrected for
their number, is the day's p-value and -log10 of it the statistic. Short windows catch a
sudden jump on its first days, the week window a steady excess.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from alerts.baseline import Baseline
from alerts.scores import Scores, SparseCells

WINDOWS = (1, 3, 7)


def nb_upper_tail(observed: np.ndarray, expected: np.ndarray, shape: np.ndarray,
                  dispersion: np.ndarray) -> np.ndarray:
    """P(X >= observed) for X negative-binomial with this mean, shape and extra dispersion."""
    # Moment matching: var = mu + mu^2 / shape + (phi - 1) mu.
    inverse_shape = 1.0 / shape + (dispersion - 1.0) / np.maximum(expected, 1e-12)
    size = 1.0 / np.maximum(inverse_shape, 1e-12)
    # P(X >= k) = 1 - P(X <= k-1) = I_{1-p}(k, size) with p = size / (size + mean): the
    # regularised incomplete beta, which scipy.stats.nbinom.sf evaluates through more layers.
    tail = special.betainc(np.maximum(observed, 1e-12), size, expected / (size + expected))
    return np.where(observed <= 0, 1.0, tail)


def regression_test(counts: np.ndarray, baseline: Baseline, min_count: int = 3,
                    windows: tuple[int, ...] = WINDOWS,
                    dispersion: np.ndarray | None = None) -> Scores:
    """Scores of the windowed count test for every area and day.

    dispersion, (areas x days), is each series' own over-dispersion (baseline.own_history);
    without it every area takes the city-wide fit's.

    Windows are nested, so a cell can alarm only if its widest window holds min_count cases:
    those few cells are found with one dense pass and tested one by one; every other cell
    gets statistic 0 (p = 1). Observed and expected are those of the window with the
    smallest p-value.
    """
    shape = counts.shape
    count_sums = counts.cumsum(axis=1)
    widest = _trailing_sum(count_sums, max(windows))
    rows, cols = np.nonzero((widest >= min_count) & baseline.valid[None, :])
    del widest
    expected_sums = baseline.expected.cumsum(axis=1)
    valid_sums = baseline.valid.cumsum()[None, :]
    best_p = np.ones(len(rows))
    best_observed = counts[rows, cols]
    best_expected = baseline.expected[rows, cols]
    for width in windows:
        observed = _trailing_at(count_sums, rows, cols, width)
        expected = _trailing_at(expected_sums, rows, cols, width)
        # A window is judged once the baseline covers all of its days.
        judged = _trailing_at(valid_sums, np.zeros_like(cols), cols, width) >= width
        tested = np.flatnonzero(judged & (observed >= min_count) & (observed > expected))
        extra = (baseline.dispersion[cols[tested]] if dispersion is None
                 else dispersion[rows[tested], cols[tested]])
        p = nb_upper_tail(observed[tested], expected[tested], baseline.shape[rows[tested], cols[tested]],
                          extra)
        better = tested[p < best_p[tested]]
        best_p[better] = p[p < best_p[tested]]
        best_observed[better] = observed[better]
        best_expected[better] = expected[better]
    p_cells = np.minimum(best_p * len(windows), 1.0)
    statistic = np.zeros(shape)
    statistic[rows, cols] = -np.log10(np.maximum(p_cells, 1e-300))
    statistic[:, ~baseline.valid] = np.nan
    return Scores(statistic=statistic, cells=SparseCells.of(shape[1], rows, cols, best_observed,
                                                            best_expected, p_cells))


def _trailing_sum(cumulative: np.ndarray, width: int) -> np.ndarray:
    """Window sums from running sums along the last axis (fewer days at the start)."""
    sums = cumulative.copy()
    sums[..., width:] -= cumulative[..., :-width]
    return sums


def _trailing_at(cumulative: np.ndarray, rows: np.ndarray, cols: np.ndarray, width: int) -> np.ndarray:
    """Window sums from running sums, only at the given cells."""
    before = cols - width
    return cumulative[rows, cols] - np.where(before >= 0, cumulative[rows, np.maximum(before, 0)], 0.0)
