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
from alerts.scores import Scores


def poisson_cusum(counts: np.ndarray, baseline: Baseline, rho: float = 2.0,
                  threshold: float = 5.0) -> Scores:
    """CUSUM statistic per area and day; observed/expected are sums over the current run."""
    n_areas, n_days = counts.shape
    gain, drift = np.log(rho), rho - 1.0
    statistic = np.full((n_areas, n_days), np.nan)
    run_observed = np.zeros((n_areas, n_days))
    run_expected = np.zeros((n_areas, n_days))
    s = np.zeros(n_areas)
    obs = np.zeros(n_areas)
    exp = np.zeros(n_areas)
    for t in range(n_days):
        if not baseline.valid[t]:
            continue
        mu = baseline.expected[:, t]
        x = counts[:, t]
        s = np.maximum(0.0, s + x * gain - drift * mu)
        running = s > 0
        obs = np.where(running, obs + x, 0.0)
        exp = np.where(running, exp + mu, 0.0)
        statistic[:, t] = s
        run_observed[:, t] = obs
        run_expected[:, t] = exp
        fired = s >= threshold
        s[fired] = 0.0  # restart after an alarm
        obs[fired] = 0.0
        exp[fired] = 0.0
    p_value = np.full((n_areas, n_days), np.nan)
    cells = np.nonzero(statistic >= threshold)
    if len(cells[0]):
        phi = np.broadcast_to(baseline.dispersion, counts.shape)
        p_value[cells] = nb_upper_tail(run_observed[cells], run_expected[cells],
                                       baseline.shape[cells], phi[cells])
    return Scores(statistic=statistic, observed=run_observed, expected=run_expected,
                  p_value=p_value)
