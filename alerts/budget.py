"""The false-alert budget: each detector's threshold, chosen from the statistic's own past.

A threshold tuned on one city does not carry to another: real series are over-dispersed and
patterned in ways a synthetic city is not. So the threshold of every level and day is the
one at which the statistic, over the days before it (a year at most, never the guard days
just before), would have started as many alert episodes as the level's budget allows. An
episode starts on a day at or above the threshold after gap_days below it, so for a threshold
T the number of starts is #(s >= T) - #(min(s, max of the gap_days before) >= T), read off two
sorted arrays; the log of that number is fitted linearly in T above a low base, so that a rate
rarer than the past has seen is extrapolated rather than set by the past's largest peak.
Levels with too little past (a city is one series) take the threshold of all levels pooled.

The rate each alert carries is the fitted tail's rate at its threshold: the budget share, or
less where the floor (the method's fixed threshold) is higher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alerts.panel import AreaHierarchy
from core.case import AreaLevel


def _every_level(rate: float) -> dict[str, float]:
    return {level.value: rate for level in AreaLevel}


MIN_DECAY = 0.1  # a fitted tail must fall at least this fast (log starts per unit of statistic)


@dataclass(frozen=True)
class BudgetSettings:
    """False alerts allowed per 100 area-weeks, by level, and how thresholds are calibrated."""

    false_per_100_area_weeks: dict[str, float] = field(default_factory=lambda: _every_level(1.0))
    calibration_days: int = 365  # past days whose statistic sets a day's threshold
    guard_days: int = 7  # days just before a judged day left out (an outbreak's own start)
    min_area_weeks: float = 10.0  # past a level needs before it is calibrated on its own
    min_peaks: int = 3  # episode starts at a threshold for it to join the fitted tail
    margin: float = 1.0  # share of the budget aimed at (below 1: a safety margin)
    recalibrate_every: int = 7  # days

    def of(self, level: str) -> float:
        return float(self.false_per_100_area_weeks.get(level, 1.0))


@dataclass
class Calibration:
    """Per area and day: the threshold, and its false alerts per 100 area-weeks on the past."""

    threshold: np.ndarray  # (areas x days); inf where the past is too short to judge
    rate: np.ndarray  # (areas x days); NaN where not calibrated


def calibrate(statistic: np.ndarray, areas: AreaHierarchy, ordinals: np.ndarray, base: float,
              floor: float, share: float, cfg: BudgetSettings, gap_days: int) -> Calibration:
    """Thresholds (>= floor) keeping `share` of each level's budget on the statistic's past.

    Thresholds are set on the first judged day, then once a week (days whose ordinal is a
    multiple of 7, whatever the panel's first day, so that runs over different spans agree),
    and daily until every level has one.
    """
    n_areas, n_days = statistic.shape
    judged = ~np.isnan(statistic)
    s = np.where(judged, statistic, -np.inf)
    before = np.full_like(s, -np.inf)  # the largest value of the gap_days before each day
    for lag in range(1, min(gap_days, n_days - 1) + 1):
        np.maximum(before[:, lag:], s[:, :-lag], out=before[:, lag:])
    rows, days = np.nonzero(s >= base)
    order = np.argsort(days, kind="stable")
    rows, days = rows[order], days[order]
    high = s[rows, days]
    low = np.minimum(high, before[rows, days])  # an episode starts at T where low < T <= high
    levels = [lv.value for lv in AreaLevel if (areas.levels == lv.value).any()]
    row_level = np.array([levels.index(v) for v in areas.levels])
    # Judged area-days per level (and all levels, last) and day, summed over windows by running sums.
    per_level = np.zeros((len(levels) + 1, n_days))
    for k in range(len(levels)):
        per_level[k] = judged[row_level == k].sum(axis=0)
    per_level[-1] = per_level[:-1].sum(axis=0)
    running = np.hstack([np.zeros((len(per_level), 1)), per_level.cumsum(axis=1)])
    cell_level = row_level[rows]
    threshold = np.full((len(levels) + 1, n_days), np.inf)
    rate = np.full((len(levels) + 1, n_days), np.nan)
    judged_days = np.flatnonzero(judged.any(axis=0))
    for t in judged_days:
        if t != judged_days[0] and ordinals[t] % cfg.recalibrate_every and np.isfinite(threshold[:, t - 1]).all():
            threshold[:, t], rate[:, t] = threshold[:, t - 1], rate[:, t - 1]
            continue  # recalibrated weekly, daily until every level has a threshold
        lo, hi = max(0, t - cfg.calibration_days), t - cfg.guard_days
        if hi <= lo:
            continue  # stays inf: no past to judge by
        area_weeks = (running[:, hi] - running[:, lo]) / 7.0
        a, b = np.searchsorted(days, [lo, hi])
        for k in [len(levels), *range(len(levels))]:  # all levels pooled first: the fallback
            mine = slice(a, b)
            in_level = np.ones(b - a, dtype=bool) if k == len(levels) else cell_level[mine] == k
            budget = cfg.of(levels[k]) if k < len(levels) else min(map(cfg.of, levels))
            found = None
            if area_weeks[k] >= cfg.min_area_weeks:
                allowed = budget * share * cfg.margin * area_weeks[k] / 100.0
                found = _tail_threshold(high[mine][in_level], low[mine][in_level], base, floor,
                                        allowed, area_weeks[k], cfg.min_peaks)
            threshold[k, t], rate[k, t] = found or (threshold[-1, t], rate[-1, t])
    return Calibration(threshold=threshold[row_level], rate=rate[row_level])


def _tail_threshold(high: np.ndarray, low: np.ndarray, base: float, floor: float, allowed: float,
                    area_weeks: float, min_starts: int) -> tuple[float, float] | None:
    """The threshold at which `allowed` episodes would have started on this past, and its rate
    per 100 area-weeks; None when fewer than min_starts episodes start above base.

    At threshold T, #(high >= T) - #(low >= T) episodes start. Their number falls about
    exponentially with T (the statistic is a log-likelihood or a -log10 p-value): log N(T) is
    fitted on the thresholds where N(T) >= min_starts and extrapolated, so that a budget rarer
    than the past has seen does not put the threshold just above the past's single largest peak.
    """
    high, low = np.sort(high), np.sort(low)
    grid = base + 0.25 * np.arange(int(np.ceil((high[-1] - base) / 0.25)) + 1) if len(high) else np.array([base])
    starts = (len(high) - np.searchsorted(high, grid)) - (len(low) - np.searchsorted(low, grid))
    fitted = starts >= min_starts
    if fitted.sum() < 2:
        return None
    slope, intercept = np.polyfit(grid[fitted], np.log(starts[fitted]), 1)
    seen = grid[np.flatnonzero(starts <= allowed)[0]]  # the lowest the past itself allows
    if slope > -MIN_DECAY:  # no tail to extrapolate: the past's own count decides
        chosen = seen
    else:
        chosen = (np.log(allowed) - intercept) / slope
        if allowed >= 1:  # never below what the past itself shows
            chosen = max(chosen, seen)
    chosen = max(float(chosen), floor)
    return chosen, 100.0 * float(np.exp(intercept + slope * chosen)) / area_weeks
