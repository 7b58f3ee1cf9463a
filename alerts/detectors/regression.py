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
from alerts.scores import Scores

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
                    windows: tuple[int, ...] = WINDOWS) -> Scores:
    """Scores of the windowed count test for every area and day."""
    shape = counts.shape
    best_p = np.ones(shape)
    best_observed = counts.copy()
    best_expected = baseline.expected.copy()
    count_sums = counts.cumsum(axis=1)
    expected_sums = baseline.expected.cumsum(axis=1)
    valid_sums = baseline.valid.cumsum()
    for width in windows:
        # A window is judged once the baseline covers all of its days; only windows with
        # enough cases above expectation can alarm, so only those cells are tested.
        judged = _trailing_sum(valid_sums[None, :], width)[0] >= width
        observed = _trailing_sum(count_sums, width)
        candidate = (observed >= min_count) & judged[None, :]
        rows, cols = np.nonzero(candidate)
        window_observed = observed[rows, cols]
        window_expected = _trailing_at(expected_sums, rows, cols, width)
        above = window_observed > window_expected
        rows, cols = rows[above], cols[above]
        window_observed, window_expected = window_observed[above], window_expected[above]
        p = nb_upper_tail(window_observed, window_expected, baseline.shape[rows, cols],
                          baseline.dispersion[cols])
        better = p < best_p[rows, cols]
        r, c = rows[better], cols[better]
        best_p[r, c] = p[better]
        best_observed[r, c] = window_observed[better]
        best_expected[r, c] = window_expected[better]
    p_value = np.minimum(best_p * len(windows), 1.0)
    statistic = -np.log10(np.maximum(p_value, 1e-300))
    statistic[:, ~baseline.valid] = np.nan
    return Scores(statistic=statistic, observed=best_observed, expected=best_expected,
                  p_value=p_value)


def _trailing_sum(cumulative: np.ndarray, width: int) -> np.ndarray:
    """Window sums from running sums along the last axis (fewer days at the start)."""
    sums = cumulative.copy()
    sums[..., width:] -= cumulative[..., :-width]
    return sums


def _trailing_at(cumulative: np.ndarray, rows: np.ndarray, cols: np.ndarray, width: int) -> np.ndarray:
    """Window sums from running sums, only at the given cells."""
    before = cols - width
    return cumulative[rows, cols] - np.where(before >= 0, cumulative[rows, np.maximum(before, 0)], 0.0)
