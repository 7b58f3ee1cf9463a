"""Which categories one dispute can carry at different agencies.

An agency names a dispute its own way and maps to the canonical taxonomy its own way, so one
dispute may be property management at the hotline and real estate at the court: records are
compared only within a family of kindred categories. "other" and a missing category fit every
family; a city's own category outside these families is a family of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.case import Category

FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({Category.LABOUR}),
    frozenset({Category.NEIGHBOURHOOD, Category.FAMILY, Category.PUBLIC_SECURITY, Category.ENVIRONMENT}),
    frozenset({Category.PROPERTY_MANAGEMENT, Category.REAL_ESTATE, Category.LAND_CONSTRUCTION}),
    frozenset({Category.MEDICAL}),
    frozenset({Category.TRAFFIC}),
    frozenset({Category.CONSUMER}),
)
WILDCARDS = frozenset({Category.OTHER})
WILDCARD = -1
_FAMILY_OF = {str(c): i for i, family in enumerate(FAMILIES) for c in family}


def family_codes(category: pd.Series) -> np.ndarray:
    """Family number per row: WILDCARD, one of FAMILIES, or a stable number past them for a
    city's own category (the same in every frame, so later records block with earlier ones)."""
    codes = stable_codes(category)
    known = {str(c): _FAMILY_OF.get(str(c), WILDCARD) for c in Category}
    mapped = category.astype(object).map(known)
    missing = category.isna().to_numpy()
    own = mapped.isna().to_numpy() & ~missing
    out = mapped.fillna(WILDCARD).to_numpy(dtype=np.int64, copy=True)
    out[own] = len(FAMILIES) + (codes[own] & 0xFFFFFF)
    return out


def stable_codes(category: pd.Series) -> np.ndarray:
    """A stable number per value (-1 when missing): the same in every frame, for equality on pairs."""
    values = category.astype(object).where(category.notna(), "")
    hashed = pd.util.hash_array(values.to_numpy(dtype=object), categorize=True).astype(np.int64) & 0x7FFFFFFFFFFFFFFF
    return np.where(category.notna().to_numpy(), hashed, -1)


def family_members(family: np.ndarray) -> list[np.ndarray]:
    """Per family, the row positions that may belong to it (wildcards belong to all)."""
    wild = family == WILDCARD
    numbers = np.unique(family[~wild])
    if len(numbers) == 0:
        return [np.flatnonzero(wild)]
    return [np.flatnonzero((family == f) | wild) for f in numbers]


def agreement(code_a: np.ndarray, code_b: np.ndarray, family_a: np.ndarray,
              family_b: np.ndarray) -> np.ndarray:
    """Per pair: 1 the same category, 0 kindred or a wildcard, -1 in different families."""
    out = np.zeros(len(code_a), dtype=np.int8)
    out[(code_a == code_b) & (code_a >= 0)] = 1
    out[(family_a != family_b) & (family_a != WILDCARD) & (family_b != WILDCARD)] = -1
    return out
