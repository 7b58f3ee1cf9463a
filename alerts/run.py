"""`gridhub warn run`: judge one day, keep the alerts table and the hotspots up to date.

One run loads the rollups up to its day, runs the configured method over the whole history
(the CUSUM and the episodes need it), adds the day's escalation signals, syncs the alert
lifecycle and replaces the day's hotspots, all in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from alerts import lifecycle
from alerts.baseline import area_baseline, area_volumes
from alerts.detectors import escalation
from alerts.detectors.hotspots import (
    GridNeighbours,
    HotspotSettings,
    gi_star_hotspots,
    window_counts,
)
from alerts.episodes import episodes_by_signal
from alerts.methods import DetectorSettings, detect_signal, severity
from alerts.panel import CountPanel
from alerts.repository import load_panel
from store import alerts as stored
from store import rollups, warning_inputs
from store.db import connect

if TYPE_CHECKING:
    import psycopg  # the run's connection, handed to store


# The key of an alert's details that holds the expected false-alert rate of its threshold.
FALSE_RATE = "expected_false_per_100_area_weeks"


@dataclass(frozen=True)
class WarnSettings:
    detectors: DetectorSettings = field(default_factory=DetectorSettings)
    hotspots: HotspotSettings = field(default_factory=HotspotSettings)
    escalation: escalation.EscalationSettings = field(default_factory=escalation.EscalationSettings)
    lookback_days: int = 28  # episodes that ended longer ago than this are left alone
    judged_days: int = 120  # recent days judged again on each run (the CUSUM's warm-up)
    history_days: int = 3 * 365  # rollup days loaded: the baseline's history


@dataclass
class WarnRunResult:
    as_of: date
    method: str
    episodes: int
    opened: int
    updated: int
    closed: int
    hotspots: int
    escalations: int
    seconds: float


def run_warnings(url: str, as_of: date | None = None, cfg: WarnSettings = WarnSettings()) -> WarnRunResult:
    """Judge `as_of` (default: the last day with rollups) and update alerts and hotspots."""
    with connect(url) as conn:
        panel = load_panel(conn, end=as_of, history_days=cfg.history_days)
        return judge_panel(conn, panel, cfg, warning_inputs.read_grid_shapes(conn))


def judge_panel(conn: psycopg.Connection, panel: CountPanel, cfg: WarnSettings = WarnSettings(),
                grid_shapes: gpd.GeoDataFrame | None = None) -> WarnRunResult:
    """Judge the panel's last day and update alerts and hotspots, in the caller's transaction
    (a panel from rollups, or one counted from an incident extract: alerts.incident_panel)."""
    started = time.perf_counter()
    day = panel.days[-1].date()
    recent, episodes, hotspots = detect_day(panel, cfg, grid_shapes)
    escalations = _escalations(conn, panel, cfg)
    rows = pd.concat([_alert_rows(episodes, recent, cfg), escalations], ignore_index=True)
    counts = lifecycle.sync(conn, rows, day, cfg.detectors.episodes.gap_days, panel.areas)
    stored.replace_hotspots(conn, day, hotspots)
    result = WarnRunResult(as_of=day, method=cfg.detectors.configured.value,
                           episodes=len(rows), opened=counts.opened, updated=counts.updated,
                           closed=counts.closed, hotspots=len(hotspots),
                           escalations=len(escalations), seconds=time.perf_counter() - started)
    stored.record_run(conn, result.as_of, result.method, result.opened, result.updated,
                      result.closed, result.hotspots, result.escalations,
                      params={"lookback_days": cfg.lookback_days, "detectors": asdict(cfg.detectors)})
    rollups.announce(conn)  # summaries carry open warnings: cached ones are stale now
    return result


def detect_day(panel: CountPanel, cfg: WarnSettings,
               grid_shapes: gpd.GeoDataFrame | None = None) -> tuple[CountPanel, pd.DataFrame, pd.DataFrame]:
    """Episodes of the configured method over the last judged_days of the panel (returned as
    a panel of those days, which the episodes' day numbers refer to), and Gi* hotspots of the
    last day among the grid cells of grid_shapes (code, polygon), when given."""
    method = cfg.detectors.configured
    judged = min(cfg.judged_days, len(panel.days))
    volumes = area_volumes(panel, cfg.detectors.baseline, from_day=len(panel.days) - judged)
    recent = panel.tail(judged)
    neighbours = _neighbours(grid_shapes, panel, cfg.hotspots) if grid_shapes is not None else None
    grid_rows = panel.areas.index.get_indexer(neighbours.codes) if neighbours is not None else None
    cells, hot = [], []
    last = judged - 1
    for signal in panel.signals:
        baseline = area_baseline(panel, signal.name, cfg.detectors.baseline, volumes,
                                 from_day=len(panel.days) - judged).tail(judged)
        found = detect_signal(recent, signal.name, [method], cfg.detectors, baseline=baseline)
        cells.append(found[method])
        if neighbours is not None and baseline.valid[last]:
            observed, expected = window_counts(recent.counts[signal.name][grid_rows],
                                               baseline.expected[grid_rows], last,
                                               cfg.hotspots.window_days)
            hot.append(gi_star_hotspots(observed, expected, neighbours, cfg.hotspots)
                       .assign(signal=signal.name))
    episodes, _ = episodes_by_signal(pd.concat(cells, ignore_index=True), panel.areas,
                                     judged, cfg.detectors.episodes)
    hotspots = pd.concat(hot, ignore_index=True) if hot else pd.DataFrame()
    return recent, episodes, hotspots


def _neighbours(shapes: gpd.GeoDataFrame, panel: CountPanel, cfg: HotspotSettings) -> GridNeighbours | None:
    shapes = shapes[panel.areas.index.get_indexer(shapes["code"].to_numpy(dtype=object)) >= 0]
    if len(shapes) < 3:
        return None
    return GridNeighbours.from_shapes(shapes, cfg.touch_tolerance_deg)


def _alert_rows(episodes: pd.DataFrame, panel: CountPanel, cfg: WarnSettings) -> pd.DataFrame:
    """Episodes still running or recently ended, as lifecycle.ALERT_COLUMNS."""
    first = len(panel.days) - 1 - cfg.lookback_days
    recent = episodes[episodes["last_day"] >= first]
    to_date = panel.days.date
    return pd.DataFrame({
        "area_code": panel.areas.codes[recent["area"].to_numpy(dtype=int)],
        "level": panel.areas.levels[recent["area"].to_numpy(dtype=int)],
        "signal": recent["signal"].to_numpy(),
        "method": recent["method"].to_numpy(),
        "severity": severity(recent["p_value"], cfg.detectors),
        "first_day": to_date[recent["first_day"].to_numpy(dtype=int)],
        "last_day": to_date[recent["last_day"].to_numpy(dtype=int)],
        "peak_day": to_date[recent["peak_day"].to_numpy(dtype=int)],
        "alarm_days": recent["alarm_days"].to_numpy(),
        "observed": recent["observed"].to_numpy(),
        "expected": recent["expected"].to_numpy(),
        "score": recent["statistic"].to_numpy(),
        "p_value": recent["p_value"].to_numpy(),
        "details": [{"linked_parent_days": int(n), FALSE_RATE: _rate(r)}
                    for n, r in zip(recent["linked_days"], recent["false_rate"], strict=True)],
    }, columns=list(lifecycle.ALERT_COLUMNS))


def _rate(value) -> float | None:
    """A threshold's expected false alerts per 100 area-weeks, None where it had no past."""
    return None if pd.isna(value) else round(float(value), 4)


def _escalations(conn: psycopg.Connection, panel: CountPanel, cfg: WarnSettings) -> pd.DataFrame:
    """The day's escalation findings as lifecycle.ALERT_COLUMNS."""
    day = panel.days[-1].date()
    history_start, window_start = escalation.windows(day, cfg.escalation)
    places = warning_inputs.place_counts(conn, history_start, window_start, day, cfg.escalation.min_cases)
    found = pd.concat([
        escalation.repeat_places(places, cfg.escalation),
        escalation.repeat_parties(warning_inputs.party_counts(conn, window_start, day), cfg.escalation),
        escalation.rising_unresolved(panel, len(panel.days) - 1, cfg.escalation),
    ], ignore_index=True)
    if found.empty:
        return pd.DataFrame(columns=list(lifecycle.ALERT_COLUMNS))
    position = panel.areas.index.get_indexer(found["area_code"])
    level = np.where(position >= 0, panel.areas.levels[np.maximum(position, 0)], None)
    return pd.DataFrame({
        "area_code": found["area_code"], "level": level, "signal": found["signal"],
        "method": "escalation", "severity": severity(found["p_value"], cfg.detectors),
        "first_day": day, "last_day": day, "peak_day": day, "alarm_days": 1,
        "observed": found["observed"], "expected": found["expected"],
        "score": found["statistic"], "p_value": found["p_value"], "details": found["details"],
    }, columns=list(lifecycle.ALERT_COLUMNS))
