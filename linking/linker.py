"""Link records into disputes, all at once or as records arrive.

A group is named by the smallest record id among its members, so a group found at once and
the same group grown record by record carry one name, and a record that links two groups
merges them under the smaller name. Records already linked are never linked again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linking.blocking import (
    BlockIndex,
    BlockingSettings,
    area_pairs_against,
    area_pairs_within,
    build_index,
    distinct_pairs,
    pairs_against,
    pairs_within,
)
from linking.records import Prepared, link_frame, prepare, reference_latitude
from linking.scoring import EVIDENCE_COLUMNS, ScoringSettings, person_weights, score_pairs


@dataclass(frozen=True)
class LinkSettings:
    blocking: BlockingSettings = field(default_factory=BlockingSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)


@dataclass
class LinkState:
    """What earlier records leave for later ones: their arrays, block index and groups."""

    reference_lat: float
    records: Prepared
    groups: np.ndarray  # group id of each record, aligned with records
    person_counts: pd.Series  # records per hashed person key code
    # Built when the next records arrive, not after each batch.
    index: BlockIndex | None = None
    area_index: BlockIndex | None = None

    def block_index(self, settings: BlockingSettings) -> BlockIndex:
        """The sorted person and cell entries of the records, built once."""
        if self.index is None:
            self.index = build_index(self.records, settings)
        return self.index

    def area_block_index(self, settings: BlockingSettings) -> BlockIndex:
        """The sorted area entries of the records, built once."""
        if self.area_index is None:
            self.area_index = build_index(self.records, settings, by_area=True)
        return self.area_index


@dataclass
class LinkResult:
    links: pd.DataFrame  # record_a < record_b, EVIDENCE_COLUMNS
    groups: pd.DataFrame  # record_id, group_id: every new record and every regrouped older one
    state: LinkState


LINK_RESULT_COLUMNS = ["record_a", "record_b", *EVIDENCE_COLUMNS]


def empty_state(reference_lat: float = 0.0) -> LinkState:
    """The state before any record: nothing indexed, no groups."""
    none = prepare(link_frame(pd.DataFrame({"record_id": [], "reported_at": []})), reference_lat)
    return LinkState(reference_lat, none, np.array([], dtype=np.int64), pd.Series([], dtype="int64"))


def state_from(frame: pd.DataFrame, groups: np.ndarray, reference: pd.Series | None = None) -> LinkState:
    """The state left by records already linked into groups (read back from storage)."""
    records = link_frame(frame)
    lat = reference_latitude(pd.DataFrame({"lat": reference if reference is not None else records["lat"]}))
    p = prepare(records, lat)
    counts = pd.Series(p.person[p.person >= 0]).value_counts()
    return LinkState(lat, p, np.asarray(groups, dtype=np.int64), counts)


def link_all(frame: pd.DataFrame, settings: LinkSettings | None = None) -> LinkResult:
    """Link a whole set of records from scratch."""
    records = link_frame(frame)
    return link_new(empty_state(reference_latitude(records)), records, settings)


def link_new(state: LinkState, frame: pd.DataFrame, settings: LinkSettings | None = None) -> LinkResult:
    """Link records that arrive after those in state: each joins, founds or merges groups."""
    settings = settings or LinkSettings()
    new = link_frame(frame)
    new = new[~new["record_id"].isin(state.records.ids)].reset_index(drop=True)
    p = prepare(new, state.reference_lat)
    counts = state.person_counts.add(pd.Series(p.person[p.person >= 0]).value_counts(), fill_value=0)
    total = len(state.records.ids) + len(new)
    weight = person_weights(p.person, counts, total)
    own_index = build_index(p, settings.blocking)
    own_area_index = build_index(p, settings.blocking, by_area=True)
    ia, ib = _union(pairs_within(own_index, settings.blocking),
                    area_pairs_within(p, own_area_index, settings.blocking))
    inner = score_pairs(p, ia, p, ib, weight, settings.scoring)
    old = state.records
    na, nb = _union(pairs_against(state.block_index(settings.blocking), p, settings.blocking),
                    area_pairs_against(state.area_block_index(settings.blocking), old, p, settings.blocking))
    outer = score_pairs(p, na, old, nb, weight, settings.scoring)
    links = _link_rows(inner, p.ids, p.ids, outer, state.records.ids)
    groups, regrouped = _grouped(p, inner, outer, state)
    merged = _merge_state(state, p, groups, counts)
    if len(state.records.ids) == 0:  # the new records are all there is: their index is the state's
        merged.index, merged.area_index = own_index, own_area_index
    changed = pd.DataFrame({"record_id": np.concatenate([p.ids, state.records.ids[regrouped]]),
                            "group_id": np.concatenate([groups, merged.groups[regrouped]])})
    return LinkResult(links, changed, merged)


def _union(first: tuple[np.ndarray, np.ndarray],
           second: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs found by either blocking."""
    return distinct_pairs(np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]]))


def _link_rows(inner: pd.DataFrame, ids_a: np.ndarray, ids_b: np.ndarray, outer: pd.DataFrame,
               old_ids: np.ndarray) -> pd.DataFrame:
    frames = []
    for scored, left, right in ((inner, ids_a, ids_b), (outer, ids_a, old_ids)):
        x, y = left[scored["_a"].to_numpy()], right[scored["_b"].to_numpy()]
        frames.append(scored.drop(columns=["_a", "_b"]).assign(record_a=np.minimum(x, y),
                                                               record_b=np.maximum(x, y)))
    links = pd.concat(frames, ignore_index=True)[LINK_RESULT_COLUMNS]
    return links.sort_values(["record_a", "record_b"], ignore_index=True)


def _grouped(p: Prepared, inner: pd.DataFrame, outer: pd.DataFrame,
             state: LinkState) -> tuple[np.ndarray, np.ndarray]:
    """Group id of each new record, and positions of older records whose group changed (their
    ids in state.groups are renamed in place: the state passed in is spent)."""
    m = len(p.ids)
    old_group = state.groups[outer["_b"].to_numpy()]
    touched, node = np.unique(old_group, return_inverse=True)
    rows = np.concatenate([inner["_a"].to_numpy(), outer["_a"].to_numpy()])
    cols = np.concatenate([inner["_b"].to_numpy(), m + node])
    size = m + len(touched)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    names = np.concatenate([p.ids, touched])  # a touched old group's name is its smallest id
    smallest = pd.Series(names).groupby(component).min()
    group_of_node = smallest.loc[component].to_numpy()
    renamed = dict(zip(touched, group_of_node[m:], strict=True))
    changed_names = [old for old, now in renamed.items() if old != now]
    regrouped = np.flatnonzero(np.isin(state.groups, changed_names))
    if len(regrouped):
        state.groups[regrouped] = pd.Series(state.groups[regrouped]).map(renamed).to_numpy()
    return group_of_node[:m], regrouped


def _merge_state(state: LinkState, p: Prepared, groups: np.ndarray, counts: pd.Series) -> LinkState:
    """The state after the new records: their arrays appended; the index is rebuilt on demand."""
    joined = Prepared(**{name: np.concatenate([getattr(state.records, name), getattr(p, name)])
                         for name in Prepared.__dataclass_fields__})
    return LinkState(state.reference_lat, joined, np.concatenate([state.groups, groups]), counts)
