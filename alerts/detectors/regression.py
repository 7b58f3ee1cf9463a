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


def window_sums(values: np.ndarray, width: int) -> np.ndarray:
    """Sum over the `width` days ending on each day (fewer at the start)."""
    cumulative = values.cumsum(axis=1)
    sums = cumulative.copy()
    sums[:, width:] -= cumulative[:, :-width]
    return sums


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
    phi = np.broadcast_to(baseline.dispersion, shape)
    for width in windows:
        observed = window_sums(counts, width)
        expected = window_sums(baseline.expected, width)
        # A window is judged once the baseline covers all of its days; only windows with
        # enough cases above expectation can alarm, so only those cells are tested.
        judged = window_sums(baseline.valid[None, :].astype(float), width)[0] >= width
        candidate = (observed >= min_count) & (observed > expected) & judged[None, :]
        rows, cols = np.nonzero(candidate)
        p = nb_upper_tail(observed[rows, cols], expected[rows, cols],
                          baseline.shape[rows, cols], phi[rows, cols])
        better = p < best_p[rows, cols]
        r, c = rows[better], cols[better]
        best_p[r, c] = p[better]
        best_observed[r, c] = observed[r, c]
        best_expected[r, c] = expected[r, c]
    p_value = np.minimum(best_p * len(windows), 1.0)
    statistic = -np.log10(np.maximum(p_value, 1e-300))
    statistic[:, ~baseline.valid] = np.nan
    return Scores(statistic=statistic, observed=best_observed, expected=best_expected,
                  p_value=p_value)
