"""Poisson CUSUM against the baseline, for rises too gradual for a single day to stand out.

S_t = max(0, S_{t-1} + (x_t ln(rho) - (rho - 1) mu_t) / phi) accumulates evidence that the
rate is rho times the expected one (the log-likelihood ratio of the two Poisson rates, divided
by the series' own over-dispersion phi, as a quasi-likelihood does, when one is given). It
alarms when S reaches the threshold h. With `reset` it restarts from zero after an alarm, as is
usual, so that one long rise raises a run of alarms that the episode logic joins into one
alert; without it the path does not depend on h, so that h can be chosen afterwards from the
path's own past (alerts.budget).
"""

from __future__ import annotations

import numpy as np

from alerts.baseline import Baseline
from alerts.detectors.regression import nb_upper_tail
from alerts.scores import Scores, SparseCells


def poisson_cusum(counts: np.ndarray, baseline: Baseline, rho: float = 2.0,
                  threshold: float = 5.0, reset: bool = True,
                  dispersion: np.ndarray | None = None) -> Scores:
    """CUSUM statistic per area and day; at cells reaching the threshold, observed and
    expected sum the run that reached it (without reset, every cell at or above the threshold
    is kept, so that any higher threshold picks its alarms among them)."""
    n_areas, n_days = counts.shape
    # Day-major copies: the loop below reads and writes one day of every area at a time.
    increment = np.log(rho) * counts - (rho - 1.0) * baseline.expected
    if dispersion is not None:
        increment = increment / dispersion
    increment = increment.T.copy()
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
            if reset:
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
    extra = baseline.dispersion[days] if dispersion is None else dispersion[areas, days]
    p_value = nb_upper_tail(observed, expected, baseline.shape[areas, days], extra)
    return Scores(statistic=statistic,
                  cells=SparseCells.of(n_days, areas, days, observed, expected, p_value))
