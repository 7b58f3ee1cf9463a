"""Escalation signals: trouble that repeats before it grows.

- repeat_place: the same place (the geocoded point, about 10 m, or else the address text) with
  several cases of one category within `window_days`, far more than its own past suggests;
- repeat_party: the same (hashed) person coming back about one community again and again, not
  a frequent caller spread over the whole city;
- unresolved: the share of mediations ending unsettled in an area rising above its own past.

Each finding is an alarm cell of its area on the judged day, so the alert lifecycle treats
it like any other signal (one alert per area and signal while it keeps recurring).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from alerts.panel import CountPanel
from core.case import AreaLevel

# Columns of an escalation frame: alarm cells plus what to show a worker.
ESCALATION_COLUMNS = ("area_code", "signal", "statistic", "p_value", "observed", "expected", "details")

REPEAT_PLACE = "escalation:repeat_place"
REPEAT_PARTY = "escalation:repeat_party"
UNRESOLVED = "escalation:unresolved"


@dataclass(frozen=True)
class EscalationSettings:
    window_days: int = 30
    history_days: int = 365
    min_cases: int = 3
    p_value: float = 1e-3
    local_share: float = 0.5  # a repeat party keeps at least this share of its cases in one community
    unresolved_min: int = 5  # unsettled mediations in the window before the share is judged
    unresolved_rise: float = 0.10  # and the share must exceed its past by this much


def windows(day: date, cfg: EscalationSettings) -> tuple[date, date]:
    """The first day of the history and of the window that judge `day`."""
    window_start = day - timedelta(days=cfg.window_days - 1)
    return window_start - timedelta(days=cfg.history_days), window_start


def repeat_places(places: pd.DataFrame, cfg: EscalationSettings) -> pd.DataFrame:
    """Grids holding a place with an unusual run of cases of one category, from the counts
    per place of the window and of the history before it (store.warning_inputs.place_counts)."""
    found = places.copy()  # gains the expectation and the p-value
    if found.empty:
        return _empty()
    # Expected from the place's own past, with half a case of prior so that a quiet place
    # still has a small, non-zero expectation.
    found["expected"] = (found["past"] + 0.5) * cfg.window_days / cfg.history_days
    found["p_value"] = stats.poisson.sf(found["recent"] - 1, found["expected"])
    hits = found[found["p_value"] < cfg.p_value]
    return _per_area(hits.rename(columns={"grid_code": "area_code", "recent": "observed"}), REPEAT_PLACE,
                     lambda g: [{"place": p, "category": c, "cases": int(n)}
                                for p, c, n in zip(g["place"], g["category"], g["observed"], strict=True)])


def repeat_parties(parties: pd.DataFrame, cfg: EscalationSettings) -> pd.DataFrame:
    """Communities to which one (hashed) person keeps returning, from each person's cases of
    the window per community (store.warning_inputs.party_counts)."""
    found = parties[parties["area_code"].notna() & (parties["observed"] >= cfg.min_cases)
                    & (parties["observed"] >= cfg.local_share * parties["everywhere"].astype(float))]
    if found.empty:
        return _empty()
    found = found.assign(expected=np.nan, p_value=np.nan)
    # The key is already a keyed hash; a prefix is enough to tell two parties apart on screen.
    return _per_area(found, REPEAT_PARTY,
                     lambda g: [{"party": k[:8], "cases": int(n), "categories": list(c)}
                                for k, n, c in zip(g["person_key"], g["observed"], g["categories"], strict=True)])


def rising_unresolved(panel: CountPanel, day_index: int, cfg: EscalationSettings) -> pd.DataFrame:
    """Communities and streets where unsettled mediations take a growing share."""
    levels = np.isin(panel.areas.levels, [AreaLevel.COMMUNITY.value, AreaLevel.STREET.value])
    recent = slice(max(0, day_index - cfg.window_days + 1), day_index + 1)
    past = slice(max(0, recent.start - cfg.history_days), recent.start)
    k1 = panel.not_settled[levels, recent].sum(axis=1)
    n1 = k1 + panel.settled[levels, recent].sum(axis=1)
    k0 = panel.not_settled[levels, past].sum(axis=1)
    n0 = k0 + panel.settled[levels, past].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share1, share0 = k1 / n1, k0 / n0
    judged = (k1 >= cfg.unresolved_min) & (n0 > 0) & (share1 > share0 + cfg.unresolved_rise)
    rows = []
    for i in np.flatnonzero(judged):
        _, p = proportions_ztest([k1[i], k0[i]], [n1[i], n0[i]], alternative="larger")
        if p < cfg.p_value:
            rows.append({"area_code": panel.areas.codes[levels][i], "signal": UNRESOLVED,
                         "statistic": -np.log10(max(p, 1e-300)), "p_value": p,
                         "observed": float(k1[i]), "expected": float(n1[i] * share0[i]),
                         "details": {"unsettled": int(k1[i]), "mediations": int(n1[i]),
                                     "past_share": round(float(share0[i]), 3)}})
    return pd.DataFrame(rows, columns=list(ESCALATION_COLUMNS))


def _per_area(hits: pd.DataFrame, signal: str, describe) -> pd.DataFrame:
    """One alarm per area: the strongest finding's figures, every finding in the details."""
    if hits.empty:
        return _empty()
    rows = []
    for area, group in hits.groupby("area_code", sort=True):
        group = group.sort_values("observed", ascending=False)
        p = group["p_value"].min()
        rows.append({"area_code": area, "signal": signal,
                     "statistic": float(-np.log10(max(p, 1e-300))) if pd.notna(p) else float(group["observed"].iloc[0]),
                     "p_value": float(p) if pd.notna(p) else None,
                     "observed": float(group["observed"].iloc[0]),
                     "expected": float(group["expected"].iloc[0]) if pd.notna(group["expected"].iloc[0]) else None,
                     "details": {"findings": describe(group.head(5))}})
    return pd.DataFrame(rows, columns=list(ESCALATION_COLUMNS))


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in ESCALATION_COLUMNS})
