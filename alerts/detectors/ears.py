"""EARS C1, C2 and C3 (CDC Early Aberration Reporting System), the baseline everyone knows.

C1 compares today with the mean and standard deviation of the 7 days before it; C2 does the
same with a 2-day gap between baseline and today; C3 sums the last three days of C2's excess
over one standard deviation. The standard deviation has a floor, as sparse series would
otherwise divide by zero.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
from scipy import special

from alerts.scores import Scores

BASELINE_DAYS = 7


class EarsVariant(StrEnum):
    C1 = "C1"
    C2 = "C2"
    C3 = "C3"


def ears(counts: np.ndarray, variant: EarsVariant, min_sigma: float = 0.5) -> Scores:
    """EARS scores for every area and day; statistic is C1/C2's z or C3's sum."""
    variant = EarsVariant(variant)
    lag = 1 if variant is EarsVariant.C1 else 3
    z, mean = _z_scores(counts, lag, min_sigma)
    if variant is EarsVariant.C3:
        excess = np.maximum(z - 1.0, 0.0)
        statistic = excess.copy()
        statistic[:, 1:] += excess[:, :-1]
        statistic[:, 2:] += excess[:, :-2]
        statistic[:, :2] = np.nan
        # The C3 sum is not a z-score; report the normal tail of today's z as its p-value.
    else:
        statistic = z
    return Scores(statistic=statistic, observed=counts, expected=mean, p_value=special.ndtr(-z))


def _z_scores(counts: np.ndarray, lag: int, min_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """z of each day against the BASELINE_DAYS days ending `lag` days before it."""
    n_areas, n_days = counts.shape
    first = lag + BASELINE_DAYS - 1  # first day with a full baseline
    mean = np.full((n_areas, n_days), np.nan)
    z = np.full((n_areas, n_days), np.nan)
    if first >= n_days:
        return z, mean
    # Baseline of day t: days [t-lag-6, t-lag], from running sums at t-lag and t-lag-7 (the
    # first judged day's baseline starts on day 0, so it has nothing to subtract).
    c1, c2 = counts.cumsum(axis=1), (counts * counts).cumsum(axis=1)
    hi = slice(first - lag, n_days - lag)
    total, squares = c1[:, hi].copy(), c2[:, hi].copy()
    lo = slice(0, n_days - lag - BASELINE_DAYS)
    total[:, 1:] -= c1[:, lo]
    squares[:, 1:] -= c2[:, lo]
    day_mean = total / BASELINE_DAYS
    variance = np.maximum(squares - BASELINE_DAYS * day_mean**2, 0.0) / (BASELINE_DAYS - 1)
    mean[:, first:] = day_mean
    z[:, first:] = (counts[:, first:] - day_mean) / np.maximum(np.sqrt(variance), min_sigma)
    return z, mean
