"""Pairwise precision, recall and F1 of found groups against true groups."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class LinkAccuracy:
    records: int
    true_groups: int  # groups of two or more records
    found_groups: int
    precision: float
    recall: float
    f1: float


def pair_accuracy(found: pd.Series, truth: pd.Series) -> LinkAccuracy:
    """Scores over record pairs: found and truth give a group label per record (same index)."""
    both = pd.DataFrame({"found": found, "truth": truth})
    if both.isna().any().any():
        raise ValueError("every record needs a found and a true group")
    true_pairs = _pairs(both.groupby("truth").size())
    found_pairs = _pairs(both.groupby("found").size())
    agreed = _pairs(both.groupby(["found", "truth"]).size())
    precision = agreed / found_pairs if found_pairs else 1.0
    recall = agreed / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return LinkAccuracy(len(both), int((both.groupby("truth").size() > 1).sum()),
                        int((both.groupby("found").size() > 1).sum()), precision, recall, f1)


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())
