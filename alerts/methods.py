"""The detection methods and their settings: which detector, which threshold, for one signal.

`detect_signal` is the one place that runs detectors; `gridhub warn run`, the backtest and the
benchmark all call it. The configured method (glm+cusum) joins the count-regression test,
quick on sudden clusters, with the CUSUM, which accumulates slow rises. Both judge each series
against the city-wide baseline corrected by the series' own recent level and spread
(baseline.own_history), and their thresholds keep the false-alert budget of each level on the
statistic's own past (alerts.budget); the fixed thresholds are only their floors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from alerts.baseline import Baseline, BaselineSettings, Volumes, area_baseline, own_history
from alerts.budget import BudgetSettings, calibrate
from alerts.detectors.cusum import poisson_cusum
from alerts.detectors.ears import EarsVariant, ears
from alerts.detectors.regression import regression_test
from alerts.episodes import EpisodeSettings, alarm_cells, combine
from alerts.panel import CountPanel


class Method(StrEnum):
    EARS_C1 = "ears_c1"
    EARS_C2 = "ears_c2"
    EARS_C3 = "ears_c3"
    GLM = "glm"
    CUSUM = "cusum"
    GLM_CUSUM = "glm+cusum"

    @property
    def parts(self) -> tuple[Method, ...]:
        return (Method.GLM, Method.CUSUM) if self is Method.GLM_CUSUM else (self,)

    @property
    def needs_baseline(self) -> bool:
        return any(p in (Method.GLM, Method.CUSUM) for p in self.parts)


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds of every method; the defaults are the configured operating points."""

    baseline: BaselineSettings = field(default_factory=BaselineSettings)
    episodes: EpisodeSettings = field(default_factory=EpisodeSettings)
    configured: Method = Method.GLM_CUSUM  # what `gridhub warn run` raises alerts with
    glm_threshold: float = 3.5  # -log10 of the Bonferroni-corrected p-value
    glm_min_count: int = 3  # fewer cases than this in the window never alarm
    cusum_rho: float = 2.0  # the rise the CUSUM is tuned to: twice the expected rate
    cusum_threshold: float = 6.0
    ears_threshold: float = 3.0  # C1 and C2 z-score, as in EARS
    ears_c3_threshold: float = 2.0
    ears_min_sigma: float = 0.5
    red_p_value: float = 1e-6  # alerts this unlikely under the baseline are red, others yellow
    # The false-alert budget: GLM and CUSUM thresholds set from each level's past (None: the
    # fixed thresholds above, and the Poisson CUSUM restarting after each alarm).
    budget: BudgetSettings | None = field(default_factory=BudgetSettings)
    glm_budget_share: float = 0.2  # of the budget given to the GLM test; the CUSUM has the rest
    glm_tail_base: float = 2.0  # the calibration fits the statistic's tail above these
    cusum_tail_base: float = 3.0

    def floor(self, method: Method) -> float:
        """The lowest threshold a calibrated method may take: its fixed one."""
        return self.threshold(method)

    def tail_base(self, method: Method) -> float:
        """Where the fitted tail of a calibrated method's statistic starts."""
        return self.cusum_tail_base if method is Method.CUSUM else self.glm_tail_base

    def share(self, method: Method) -> float:
        return self.glm_budget_share if method is Method.GLM else 1.0 - self.glm_budget_share

    def threshold(self, method: Method) -> float:
        return {
            Method.EARS_C1: self.ears_threshold, Method.EARS_C2: self.ears_threshold,
            Method.EARS_C3: self.ears_c3_threshold, Method.GLM: self.glm_threshold,
            Method.CUSUM: self.cusum_threshold,
        }[method]


def detect_signal(panel: CountPanel, signal: str, methods: list[Method],
                  cfg: DetectorSettings, first_day: int = 0,
                  keep_statistic_above: dict[Method, float] | None = None,
                  volumes: Volumes | None = None,
                  baseline: Baseline | None = None) -> dict[Method, pd.DataFrame]:
    """Alarm cells (episodes.CELL_COLUMNS) of each method for one signal, from day index first_day.

    keep_statistic_above lowers a method's threshold for this call (a backtest sweeping
    thresholds keeps every cell above the lowest one it will try); volumes, from
    baseline.area_volumes, saves recomputing what every signal of a panel shares, and a
    baseline already computed for this signal is used as given.
    """
    counts = panel.counts[signal]
    lowered = keep_statistic_above or {}
    if baseline is None and any(m.needs_baseline for m in methods):
        baseline = area_baseline(panel, signal, cfg.baseline, volumes)
    calibrated = cfg.budget is not None
    own = None
    if calibrated and baseline is not None:  # each series judged against its own recent past too
        baseline, own = own_history(baseline, counts, cfg.baseline)
    ordinals = np.asarray([d.toordinal() for d in panel.days.date])
    parts: dict[Method, pd.DataFrame] = {}
    rates: dict[Method, np.ndarray] = {}
    for part in sorted({p for m in methods for p in m.parts}, key=list(Method).index):
        threshold, rate = cfg.threshold(part), None
        if part is Method.GLM:
            scores = regression_test(counts, baseline, min_count=cfg.glm_min_count, dispersion=own)
        elif part is Method.CUSUM:
            floor = cfg.cusum_threshold
            scores = poisson_cusum(counts, baseline, cfg.cusum_rho, min(floor, lowered.get(part, floor)),
                                   reset=not calibrated, dispersion=own)
        else:
            variant = {Method.EARS_C1: EarsVariant.C1, Method.EARS_C2: EarsVariant.C2,
                       Method.EARS_C3: EarsVariant.C3}[part]
            scores = ears(counts, variant, cfg.ears_min_sigma)
        if calibrated and part.needs_baseline:
            # An area's budget is for all of its signals together.
            share = cfg.share(part) / len(panel.signals)
            found = calibrate(scores.statistic, panel.areas, ordinals, cfg.tail_base(part),
                              cfg.floor(part), share, cfg.budget, cfg.episodes.gap_days)
            threshold, rate = found.threshold, found.rate
            rates[part] = rate
        alarms = scores.alarms(lowered.get(part, threshold))
        alarms[:, :first_day] = False
        parts[part] = alarm_cells(alarms, scores, part.value, rate)
    result = {}
    for method in methods:
        if len(method.parts) > 1:
            cells = combine([parts[p] for p in method.parts])
            if all(p in rates for p in method.parts):  # the method's rate: its parts' together
                total = sum(np.nan_to_num(rates[p]) for p in method.parts)
                rows, days = cells["area"].to_numpy(dtype=int), cells["day"].to_numpy(dtype=int)
                cells = cells.assign(false_rate=total[rows, days])
        else:
            cells = parts[method]
        result[method] = cells.assign(signal=signal)
    return result


def severity(p_value: pd.Series | np.ndarray, cfg: DetectorSettings) -> np.ndarray:
    """'red' where the evidence is overwhelming, else 'yellow'."""
    p = np.asarray(p_value, dtype=float)
    return np.where(np.nan_to_num(p, nan=1.0) < cfg.red_p_value, "red", "yellow")
