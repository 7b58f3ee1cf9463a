"""Candidate pairs: records that share a block (an area, a spatial cell or a hashed person key,
within one family of categories) and were reported within the time window of each other.

Spatial cells come in four grids shifted by half a cell, so that two points closer than half
a cell along each axis share a cell in at least one grid, whichever boundary lies between them.
A record with no point meets every record of its area instead (a second index, by area), so
an address-only record still meets the located records of its dispute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from linking.categories import WILDCARD
from linking.records import Prepared

_MIX = np.int64(0x9E3779B97F4A7C1)  # odd multiplier to spread (key, scheme, family) into one hash
_TIME_BITS = 40  # seconds since 2000 fit in 40 bits for 34,000 years
_EPOCH_2000 = 946_684_800


@dataclass(frozen=True)
class BlockingSettings:
    window_days: float = 30.0
    cell_m: float = 300.0
    # A hashed key on more records than this (a switchboard, a frequent caller) makes no block:
    # it would pair thousands of unrelated records and its equality says little anyway.
    person_block_max: int = 50


@dataclass
class BlockIndex:
    """The blocked entries of a set of records, sorted, for pairing later records against them."""

    blocks: np.ndarray  # sorted distinct block hashes
    keys: np.ndarray  # sorted (dense block << 40 | seconds)
    rows: np.ndarray  # the record position of each sorted key


def block_entries(p: Prepared, settings: BlockingSettings,
                  by_area: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(block hash, record position, seconds) of every block a record belongs to: its person
    key and cells, or (by_area) its area."""
    fam = p.family
    present = np.unique(fam[fam != WILDCARD])
    if len(present) == 0:
        present = np.array([0], dtype=np.int64)
    wild = np.flatnonzero(fam == WILDCARD)
    tame = np.flatnonzero(fam != WILDCARD)
    # A wildcard record joins every family present, so it meets records of any category.
    rows = np.concatenate([tame, np.repeat(wild, len(present))])
    families = np.concatenate([fam[tame], np.tile(present, len(wild))])
    hashes, positions = [], []
    codes, counts = np.unique(p.person, return_counts=True)
    frequent = codes[counts > settings.person_block_max]
    person = np.where(np.isin(p.person, frequent), -1, p.person)
    schemes = [("person", person[rows])]
    located = ~np.isnan(p.x[rows])
    for shift_x in (0.0, 0.5) if not by_area else ():
        for shift_y in (0.0, 0.5):
            cx = np.floor(np.nan_to_num(p.x[rows]) / settings.cell_m + shift_x).astype(np.int64)
            cy = np.floor(np.nan_to_num(p.y[rows]) / settings.cell_m + shift_y).astype(np.int64)
            cell = (cx * np.int64(1_000_003) + cy) & np.int64(0x3FFFFFFFFFFF)
            schemes.append((f"cell{shift_x}{shift_y}", np.where(located, cell, -1)))
    if by_area:
        schemes = [("area", p.area[rows])]
    for number, (_, key) in enumerate(schemes):
        keep = key >= 0
        with np.errstate(over="ignore"):
            h = ((key[keep] * _MIX) ^ (families[keep] * np.int64(1_000_033)) ^ np.int64(number * 7919 + 1))
        hashes.append(h)
        positions.append(rows[keep])
    block = np.concatenate(hashes)
    row = np.concatenate(positions)
    return block, row, np.clip(p.seconds[row] - _EPOCH_2000, 0, None)


def build_index(p: Prepared, settings: BlockingSettings, by_area: bool = False) -> BlockIndex:
    """Sort a set of records' block entries by block and time."""
    block, row, seconds = block_entries(p, settings, by_area)
    blocks, dense = np.unique(block, return_inverse=True)
    keys = (dense.astype(np.int64) << _TIME_BITS) | seconds
    order = np.argsort(keys, kind="stable")
    return BlockIndex(blocks, keys[order], row[order])


def pairs_within(index: BlockIndex, settings: BlockingSettings) -> tuple[np.ndarray, np.ndarray]:
    """Distinct candidate pairs (i < j) among the indexed records."""
    window = int(settings.window_days * 86_400)
    starts = np.arange(len(index.keys), dtype=np.int64)
    ends = np.searchsorted(index.keys, index.keys + window, side="right")
    owner, other = _expand(starts + 1, ends)  # owner is the start's own sorted position
    return _distinct(index.rows[owner], index.rows[other])


def pairs_against(index: BlockIndex, new: Prepared, settings: BlockingSettings, by_area: bool = False,
                  only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (new position, indexed position) between new records (those marked in
    `only`, when given) and indexed ones."""
    block, row, seconds = block_entries(new, settings, by_area)
    if only is not None:
        keep = only[row]
        block, row, seconds = block[keep], row[keep], seconds[keep]
    found = np.searchsorted(index.blocks, block)
    found = np.minimum(found, len(index.blocks) - 1)
    hit = len(index.blocks) > 0
    known = (index.blocks[found] == block) if hit else np.zeros(len(block), dtype=bool)
    keys = (found[known].astype(np.int64) << _TIME_BITS) | seconds[known]
    window = int(settings.window_days * 86_400)
    lo = np.searchsorted(index.keys, keys - window, side="left")
    hi = np.searchsorted(index.keys, keys + window, side="right")
    owner, other = _expand(lo, hi)
    new_rows = row[known][owner]
    return distinct_pairs(new_rows, index.rows[other])


def area_pairs_within(p: Prepared, index: BlockIndex, settings: BlockingSettings) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs (i < j) of one set (index: its area index) in which a record with no
    point meets its area."""
    # Only records with no point ask: every pair found has one, and no located pair is formed.
    a, b = pairs_against(index, p, settings, by_area=True, only=np.isnan(p.x))
    return _distinct(a, b)


def area_pairs_against(index: BlockIndex, old: Prepared, new: Prepared,
                       settings: BlockingSettings) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (new, indexed) by area in which at least one of the two has no point."""
    a, b = pairs_against(index, new, settings, by_area=True)
    keep = np.isnan(new.x[a]) | np.isnan(old.x[b])
    return a[keep], b[keep]


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): (range number, position) of every element, vectorised."""
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), counts)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(lo, counts) + offsets


def _distinct(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    return distinct_pairs(lo[keep], hi[keep])


def distinct_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs, sorted."""
    joined = (a.astype(np.int64) << 32) | b.astype(np.int64)
    joined.sort()  # sort and compare neighbours: faster here than np.unique's hashing
    joined = joined[np.concatenate([[True], joined[1:] != joined[:-1]])] if len(joined) else joined
    return joined >> 32, joined & np.int64(0xFFFFFFFF)
