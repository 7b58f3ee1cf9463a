"""The evaluation harness: every method over the whole history, scored against the truth.

Each method runs prospectively (every day's verdict uses only the days before it) over every
area and signal; its episodes are scored by alerts.evaluation. The configured method (the one
`gridhub warn run` raises alerts with) must meet the targets, and is compared with EARS C2 at
the same false-alert rate: C2's threshold is raised until it makes no more false alerts than
the configured method, and the two are compared on outbreaks detected, then on delay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alerts.baseline import area_volumes
from alerts.episodes import episodes_by_signal
from alerts.evaluation import EvaluationSettings, MethodScore, Outbreak, Scorer, read_outbreaks
from alerts.methods import DetectorSettings, Method, detect_signal
from alerts.panel import CountPanel
from alerts.repository import load_panel
from store.db import connect

# EARS C2 thresholds tried, from the textbook 3 up, until C2 is no noisier than the configured
# method; fine steps where the false-alert rate falls fastest.
C2_SWEEP = (*np.arange(3.0, 10.0, 0.25).round(2), 11.0, 12.0, 15.0, 20.0, 30.0, 50.0)


@dataclass(frozen=True)
class Targets:
    """The bar from the issue: detected share, median delay, false alerts per 100 area-weeks."""

    detected_share: float = 0.9
    median_delay: float = 3.0
    false_per_100_area_weeks: float = 1.0

    def met_by(self, score: MethodScore) -> bool:
        return (score.detected_share >= self.detected_share
                and score.median_delay is not None and score.median_delay <= self.median_delay
                and score.false_per_100_area_weeks <= self.false_per_100_area_weeks)


@dataclass
class BacktestReport:
    scores: dict[Method, MethodScore]
    configured: Method  # the method whose alerts `gridhub warn run` raises
    c2_matched: MethodScore | None  # EARS C2 at the configured method's false-alert rate
    c2_threshold: float | None
    targets: Targets
    first_day: pd.Timestamp
    last_day: pd.Timestamp
    seconds: float = 0.0
    skipped_outbreaks: list[int] = field(default_factory=list)

    @property
    def configured_score(self) -> MethodScore:
        return self.scores[self.configured]

    @property
    def beats_c2(self) -> bool:
        """More outbreaks detected than C2 at the same false-alert rate, or as many, sooner."""
        if self.c2_matched is None:
            return False
        best, c2 = self.configured_score, self.c2_matched
        if best.detected != c2.detected:
            return best.detected > c2.detected
        return (best.median_delay is not None and
                (c2.median_delay is None or best.median_delay < c2.median_delay))

    @property
    def passed(self) -> bool:
        return self.targets.met_by(self.configured_score) and self.beats_c2


def backtest(panel: CountPanel, outbreaks: list[Outbreak], methods: list[Method] | None = None,
             cfg: DetectorSettings = DetectorSettings(),
             evaluation: EvaluationSettings = EvaluationSettings(),
             targets: Targets = Targets()) -> BacktestReport:
    """Run and score the methods; compare the configured one with EARS C2 at its false-alert rate."""
    started = time.perf_counter()
    methods = list(dict.fromkeys([*(methods or Method), cfg.configured, Method.EARS_C2]))
    scorer = Scorer(outbreaks, panel.areas, panel.days, evaluation)
    cells: dict[Method, list[pd.DataFrame]] = {m: [] for m in methods}
    volumes = area_volumes(panel, cfg.baseline)
    for signal in panel.signals:
        found = detect_signal(panel, signal.name, methods, cfg, first_day=evaluation.burn_in_days,
                              keep_statistic_above={Method.EARS_C2: min(C2_SWEEP)}, volumes=volumes)
        for method, frame in found.items():
            cells[method].append(frame)
    all_cells = {m: pd.concat(frames, ignore_index=True) for m, frames in cells.items()}
    scores = {}
    for method in methods:
        chosen = all_cells[method]
        if method is Method.EARS_C2:
            chosen = chosen[chosen["statistic"] >= cfg.ears_threshold]
        scores[method] = _score(scorer, panel, method.value, chosen, cfg)
    c2, c2_threshold = None, None
    budget = scores[cfg.configured].false_alerts
    c2_cells = all_cells[Method.EARS_C2]
    for threshold in C2_SWEEP:
        c2 = _score(scorer, panel, f"ears_c2@{threshold:g}", c2_cells[c2_cells["statistic"] >= threshold], cfg)
        c2_threshold = threshold
        if c2.false_alerts <= budget:
            break
    kept = {o.outbreak_id for o in scorer.outbreaks}
    return BacktestReport(scores=scores, configured=cfg.configured, c2_matched=c2,
                          c2_threshold=c2_threshold, targets=targets,
                          first_day=panel.days[evaluation.burn_in_days], last_day=panel.days[-1],
                          seconds=time.perf_counter() - started,
                          skipped_outbreaks=sorted(o.outbreak_id for o in outbreaks
                                                   if o.outbreak_id not in kept))


def _score(scorer: Scorer, panel: CountPanel, name: str, cells: pd.DataFrame,
           cfg: DetectorSettings) -> MethodScore:
    episodes, kept = episodes_by_signal(cells, panel.areas, len(panel.days), cfg.episodes)
    return scorer.score(name, kept, episodes)


def backtest_database(url: str, truth: Path, methods: list[Method] | None = None,
                      cfg: DetectorSettings = DetectorSettings(),
                      evaluation: EvaluationSettings = EvaluationSettings(),
                      targets: Targets = Targets()) -> BacktestReport:
    """Backtest over every rollup in the database against the outbreaks in `truth`."""
    outbreaks = read_outbreaks(truth)
    with connect(url) as conn:
        panel = load_panel(conn)
    return backtest(panel, outbreaks, methods, cfg, evaluation, targets)


def report_rows(report: BacktestReport) -> list[dict]:
    """One row per method (and EARS C2 at the matched rate), as printed by the CLI."""
    rows = []
    scored = list(report.scores.values())
    if report.c2_matched is not None:
        scored.append(report.c2_matched)
    for score in scored:
        rows.append({
            "method": score.method,
            "detected": f"{score.detected}/{score.outbreaks}",
            "detected_share": score.detected_share,
            "median_delay_days": score.median_delay,
            "false_alerts": score.false_alerts,
            "false_per_100_area_weeks": score.false_per_100_area_weeks,
            "configured": score.method == report.configured.value,
        })
    return rows
