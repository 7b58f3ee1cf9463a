"""Evidence and score of candidate pairs: each piece of evidence adds or takes points, and a
pair at or above the threshold is a link. Every link keeps its evidence, so it explains itself.

Points are log-odds in spirit: how much more often a pair of one dispute shows this evidence
than two unrelated records in the same block do. An equal hashed phone / ID number weighs by
its rarity (a number on many records says less: a frequent caller is not one dispute).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from linking.categories import agreement
from linking.records import MISSING_TIME, Prepared

EVIDENCE_COLUMNS = ["distance_m", "gap_hours", "same_occurrence", "category", "person",
                    "same_amount", "address_similarity", "text_similarity", "score"]


@dataclass(frozen=True)
class ScoringSettings:
    threshold: float = 5.1
    near_m: float = 50.0  # closer than this: full distance points
    far_m: float = 300.0  # the distance at which distance says nothing either way
    window_hours: float = 720.0  # the time gap at which time speaks against a link


def person_weights(person: np.ndarray, counts_of: pd.Series, total: int) -> np.ndarray:
    """Points an equal key earns per record: high for a rare key, about none for a common one."""
    counts = pd.Series(person).map(counts_of).fillna(1).to_numpy(dtype=float)
    return np.clip(0.5 * np.log2(max(total, 2) / counts), 0.0, 4.0)


def score_pairs(a: Prepared, ia: np.ndarray, b: Prepared, ib: np.ndarray,
                weight_a: np.ndarray, settings: ScoringSettings) -> pd.DataFrame:
    """Evidence and score of pairs (a[ia], b[ib]); only pairs at or above the threshold return."""
    dx, dy = a.x[ia] - b.x[ib], a.y[ia] - b.y[ib]
    distance = np.hypot(dx, dy)
    gap = np.abs(a.seconds[ia] - b.seconds[ib]) / 3600.0
    occurred_a, occurred_b = a.occurred[ia], b.occurred[ib]
    same_occurrence = ((occurred_a != MISSING_TIME) & (occurred_b != MISSING_TIME)
                       & (np.abs(occurred_a - occurred_b) <= 60))
    category = agreement(a.category[ia], b.category[ib], a.family[ia], b.family[ib])
    pa, pb = a.person[ia], b.person[ib]
    person = np.where((pa < 0) | (pb < 0), 0, np.where(pa == pb, 1, -1)).astype(np.int8)
    same_source = a.source[ia] == b.source[ib]
    # Two records of one agency that give different times of occurrence tell of two events;
    # two agencies' clocks of one event may differ by a while.
    apart_s = np.where(same_source, 60, 1800)
    occurred_apart = ((occurred_a != MISSING_TIME) & (occurred_b != MISSING_TIME)
                      & (np.abs(occurred_a - occurred_b) > apart_s))
    amount_a, amount_b = a.amount[ia], b.amount[ib]
    same_amount = np.abs(amount_a - amount_b) <= 0.01 * np.fmax(amount_a, amount_b)  # NaN: False
    # One agency places one matter once: its own records apart in space are apart in fact.
    near = np.where(np.isnan(distance), np.nan,
                    np.where(same_source, _distance_points(distance, settings.near_m / 5, settings.far_m / 3),
                             _distance_points(distance, settings.near_m, settings.far_m)))
    # One agency keeps one record per matter: its records hours apart are apart. Another
    # agency's record of a dispute comes hours to weeks after the first (a referral).
    decay = np.log1p(gap) / np.log1p(settings.window_hours)
    points = (np.where(same_source, 2.5 - 6.0 * decay, 2.5 - 3.0 * decay)
              + np.select([same_occurrence, occurred_apart], [2.5, -3.0], 0.0)
              + np.select([category == 1, category == -1], [1.0, -5.0], 0.0)
              + np.select([person == 1, person == -1], [weight_a[ia], -1.0], 0.0)
              + np.where(same_amount, 2.0, 0.0))
    # Text comparisons cost the most: only for pairs that text could still lift to a link.
    best_place = np.fmax(np.nan_to_num(near, nan=_PLACE_MAX), _PLACE_MAX * (distance < 1000))
    best_place = np.where(best_place > 0, best_place * (1 + _AGREEING_PLACE), best_place)
    hopeful = np.flatnonzero(points + best_place + _TEXT_MAX >= settings.threshold)
    address = np.full(len(ia), np.nan)
    text = np.full(len(ia), np.nan)
    address[hopeful] = _similarity(a.address[ia[hopeful]], b.address[ib[hopeful]])
    # Free text (a party's name, a resolution) may be cut short: the best-matching stretch counts.
    text[hopeful] = _similarity(a.text[ia[hopeful]], b.text[ib[hopeful]], fuzz.partial_ratio)
    written = np.clip((address - 80.0) / 5.0, -2.0, _PLACE_MAX)
    # Coordinates and address both say where: the stronger counts; the other adds a little when
    # two agencies, each placing and writing its own way, agree (one agency's point and address
    # come from one desk); an address cannot outvote coordinates a kilometre apart.
    agree = np.where(same_source, 0.0, _AGREEING_PLACE * np.clip(np.fmin(near, written), 0.0, None))
    place = np.where(np.isnan(near), written, np.where(np.isnan(written) | (distance >= 1000), near,
                                                        np.fmax(near, written) + agree))
    # Text two agencies wrote apart agreeing says more than one desk's text repeated.
    text_max = np.where(same_source, _TEXT_MAX / 2, _TEXT_MAX)
    points = points + np.nan_to_num(place) + np.nan_to_num(np.clip((text - 85.0) / 5.0, -4.0, text_max))
    keep = points >= settings.threshold
    return pd.DataFrame({
        "distance_m": np.round(distance[keep], 1),
        "gap_hours": np.round(gap[keep], 2),
        "same_occurrence": same_occurrence[keep],
        "category": pd.Categorical.from_codes(category[keep] + 1, ["apart", "kindred", "same"]),
        "person": pd.Categorical.from_codes(person[keep] + 1, ["different", "absent", "equal"]),
        "same_amount": same_amount[keep],
        "address_similarity": np.round(address[keep], 1),
        "text_similarity": np.round(text[keep], 1),
        "score": np.round(points[keep], 3),
    }).assign(_a=ia[keep], _b=ib[keep])


_PLACE_MAX = 3.0
_AGREEING_PLACE = 0.3
_TEXT_MAX = 2.0


def _distance_points(distance: np.ndarray, near_m: float, far_m: float) -> np.ndarray:
    """3 when near, falling to 0 at far_m and to -3 at three times that; 0 when unknown."""
    near = 3.0 * (1.0 - np.clip((distance - near_m) / (far_m - near_m), 0.0, 1.0))
    far = -3.0 * np.clip((distance - far_m) / (2.0 * far_m), 0.0, 1.0)
    return np.nan_to_num(near + far)


def _similarity(left: np.ndarray, right: np.ndarray, scorer=fuzz.ratio) -> np.ndarray:
    """rapidfuzz ratio 0-100 of each pair; NaN where either side is missing."""
    out = np.full(len(left), np.nan)
    both = pd.notna(left) & pd.notna(right)
    if both.any():
        out[both] = cpdist(list(left[both]), list(right[both]), scorer=scorer, workers=1)
    return out
