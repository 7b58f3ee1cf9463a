"""Scoring detectors against known outbreaks: detected share, delay, false alerts.

An outbreak counts as detected when a method alarms on the outbreak's category group, between
its start and `tail_days` after its end, in one of its areas, in their direct parent or in
their direct children: one level either way still sends a worker to the right place, while
chance alarms among the dozens of grids of a street would not be a detection.
An episode is a false alert when it overlaps no outbreak in time, signal (the group or any
kind, since the outbreak's cases are counted under their kinds too) and place (the outbreak's
areas, every area inside them and every area enclosing them: all their counts really rose).
False alerts are counted per 100 area-weeks outside outbreaks, over every monitored area.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from alerts.panel import AreaHierarchy
from alerts.signals import signal_of_category
from core.case import CaseKind
from core.errors import ConfigError


@dataclass(frozen=True)
class Outbreak:
    """One injected outbreak, as the demo generator's truth/outbreaks.json records it."""

    outbreak_id: int
    pattern: str
    category: str
    level: str
    area_codes: tuple[str, ...]
    start_day: date
    days: int
    extra_cases: int

    @property
    def signal(self) -> str:
        """The signal whose alarms detect this outbreak."""
        return signal_of_category(self.category).name

    @property
    def signals(self) -> frozenset[str]:
        """Every signal the outbreak's cases raise."""
        return frozenset({self.signal, *(f"kind:{k.value}" for k in CaseKind)})


def read_outbreaks(path: Path) -> list[Outbreak]:
    """Outbreaks from a truth file (a JSON list of records)."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        return [Outbreak(outbreak_id=int(r["outbreak_id"]), pattern=r["pattern"], category=r["category"],
                         level=r["level"], area_codes=tuple(r["area_codes"]),
                         start_day=date.fromisoformat(r["start_day"]), days=int(r["days"]),
                         extra_cases=int(r["extra_cases"])) for r in records]
    except FileNotFoundError as exc:
        raise ConfigError(f"no outbreak truth at {path}: run `gridhub demo generate` first") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not an outbreak truth file: {exc}") from exc


@dataclass(frozen=True)
class EvaluationSettings:
    burn_in_days: int = 90  # first days of data: detectors still learning, nothing scored
    tail_days: int = 7  # an alarm this long after an outbreak's end still belongs to it


@dataclass
class MethodScore:
    method: str
    outbreaks: int
    detected: int
    median_delay: float | None  # days from start to first alarm, over detected outbreaks
    false_alerts: int
    area_weeks: float  # outside outbreaks, over the scored period
    delays: dict[int, int]  # outbreak_id -> delay in days

    @property
    def detected_share(self) -> float:
        return self.detected / self.outbreaks if self.outbreaks else 0.0

    @property
    def false_per_100_area_weeks(self) -> float:
        return 100.0 * self.false_alerts / self.area_weeks if self.area_weeks else 0.0


class Scorer:
    """Matches alarms and episodes of any method against one set of outbreaks."""

    def __init__(self, outbreaks: list[Outbreak], areas: AreaHierarchy, days: pd.DatetimeIndex,
                 cfg: EvaluationSettings = EvaluationSettings()):
        self.areas = areas
        self.first_scored = cfg.burn_in_days
        self.n_days = len(days)
        index = areas.index
        ancestors = areas.ancestor_matrix()
        self.windows = []  # (outbreak, credit areas, related areas, first day, last day)
        outside = np.ones((len(areas), self.n_days), dtype=bool)
        outside[:, :self.first_scored] = False
        for ob in outbreaks:
            start = int((pd.Timestamp(ob.start_day) - days[0]).days)
            if start < self.first_scored or start >= self.n_days:
                continue  # outside the scored period
            own = index.get_indexer(list(ob.area_codes))
            if (own < 0).any():
                missing = [c for c, i in zip(ob.area_codes, own, strict=True) if i < 0]
                raise ConfigError(f"outbreak {ob.outbreak_id}: areas {missing} are not in the hierarchy")
            inside = np.flatnonzero(np.isin(ancestors, own).any(axis=1))
            children = np.flatnonzero(np.isin(areas.parent, own))
            parents = areas.parent[own][areas.parent[own] >= 0]
            above = ancestors[own][ancestors[own] >= 0]
            credit = np.unique(np.concatenate([own, children, parents]))
            related = np.unique(np.concatenate([own, inside, above]))
            last = min(start + ob.days + cfg.tail_days - 1, self.n_days - 1)
            self.windows.append((ob, credit, related, start, last))
            outside[np.ix_(related, np.arange(start, last + 1))] = False
        self.area_weeks = outside.sum() / 7.0

    @property
    def outbreaks(self) -> list[Outbreak]:
        return [w[0] for w in self.windows]

    def score(self, method: str, cells: pd.DataFrame, episodes: pd.DataFrame) -> MethodScore:
        """Score alarm cells and episodes (both with a `signal` column) of one method."""
        delays = {}
        for ob, credit, _, start, last in self.windows:
            hit = cells[(cells["signal"] == ob.signal) & cells["area"].isin(credit)
                        & cells["day"].between(start, last)]
            if len(hit):
                delays[ob.outbreak_id] = int(hit["day"].min() - start)
        false = self._false(episodes)
        return MethodScore(method=method, outbreaks=len(self.windows), detected=len(delays),
                           median_delay=float(np.median(list(delays.values()))) if delays else None,
                           false_alerts=false, area_weeks=self.area_weeks, delays=delays)

    def _false(self, episodes: pd.DataFrame) -> int:
        scored = episodes[episodes["last_day"] >= self.first_scored]
        true = np.zeros(len(scored), dtype=bool)
        for ob, _, related, start, last in self.windows:
            true |= (scored["signal"].isin(ob.signals) & scored["area"].isin(related)
                     & (scored["first_day"] <= last) & (scored["last_day"] >= start)).to_numpy()
        return int((~true).sum())
