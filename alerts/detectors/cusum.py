"""Poisson CUSUM against the baseline, for rises too gradual for a single day to stand out.

S_t = max(0, S_{t-1} + x_t ln(rho) - (rho - 1) mu_t) accumulates evidence that the rate is
rho times the expected one (the log-likelihood ratio of the two Poisson rates); it alarms when
S reaches the threshold h, and restarts from zero after an alarm, as is usual, so that one
long rise raises a run of alarms that the episode logic joins into one alert.
"""

from __future__ import annotations

import numpy as np

from alerts.baseline import Baseline
from alerts.detectors.regression import nb_upper_tail
from alerts.scores import Scores, SparseCells


def poisson_cusum(counts: np.ndarray, baseline: Baseline, rho: float = 2.0,
                  threshold: float = 5.0) -> Scores:
    """CUSUM statistic per area and day; at alarms, observed and expected sum the alarming run."""
    n_areas, n_days = counts.shape
    # Day-major copies: the loop below reads and writes one day of every area at a time.
    increment = (np.log(rho) * counts - (rho - 1.0) * baseline.expected).T.copy()
    statistic = np.full((n_days, n_areas), np.nan)
    s = np.zeros(n_areas)
    run_start = np.zeros(n_areas, dtype=np.int64)  # first day of each area's current run
    alarm_days, alarm_areas, alarm_starts = [], [], []
    for t in np.flatnonzero(baseline.valid):
        s += increment[t]
        np.maximum(s, 0.0, out=s)
        run_start[s == 0.0] = t + 1  # a run that fell to zero starts again tomorrow
        statistic[t] = s
        fired = np.flatnonzero(s >= threshold)
        if len(fired):
            alarm_days.append(np.full(len(fired), t))
            alarm_areas.append(fired)
            alarm_starts.append(run_start[fired].copy())
            s[fired] = 0.0  # restart after an alarm
            run_start[fired] = t + 1
    statistic = statistic.T
    if not alarm_days:
        return Scores(statistic=statistic, cells=SparseCells.empty(n_days))
    days, areas, starts = (np.concatenate(a) for a in (alarm_days, alarm_areas, alarm_starts))
    rows, row_of = np.unique(areas, return_inverse=True)  # only the areas that alarmed
    zero = np.zeros((len(rows), 1))
    count_sums = np.hstack([zero, counts[rows].cumsum(axis=1)])
    expected_sums = np.hstack([zero, baseline.expected[rows].cumsum(axis=1)])
    observed = count_sums[row_of, days + 1] - count_sums[row_of, starts]
    expected = expected_sums[row_of, days + 1] - expected_sums[row_of, starts]
    p_value = nb_upper_tail(observed, expected, baseline.shape[areas, days], baseline.dispersion[days])
    return Scores(statistic=statistic,
                  cells=SparseCells.of(n_days, areas, days, observed, expected, p_value))
