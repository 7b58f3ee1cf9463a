"""Cross-agency linking composed: cases read from store, addresses normalised by geo, linked
by linking/, the groups and links written back by store; and its accuracy on the demo truth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.case import AreaLevel
from demo.disputes import read_disputes
from geo.address import normalise_address, strip_province
from linking.accuracy import LinkAccuracy, pair_accuracy
from linking.linker import LinkSettings, link_all, link_new, state_from
from store.db import connect
from store.links import read_link_cases, write_links

# The city and district a writer may put before the place, or leave out: not evidence.
_AREA_PREFIX = re.compile(r"^(?:[\u4e00-\u9fff]{1,6}?市)?(?:[\u4e00-\u9fff]{1,6}?[区县])?")
_LEGAL_FORM = re.compile(r"(?:有限责任公司|股份有限公司|有限公司|集团|公司)$")


@dataclass(frozen=True)
class LinkRun:
    new_records: int  # never linked before
    links: int
    regrouped: int  # older records whose group merged into another
    relinked: int = 0  # records linked again: one record of their group had changed


def place_text(address: pd.Series) -> pd.Series:
    """The address as compared between agencies: one spelling, without province, city, district."""
    def one(text: object) -> str | None:
        if not isinstance(text, str) or not text.strip():
            return None
        return _AREA_PREFIX.sub("", normalise_address(strip_province(text.strip()))) or None
    uniques = pd.unique(address.dropna())
    table = {u: one(u) for u in uniques}
    return address.map(table).astype("string")


def party_text(names: pd.Series) -> pd.Series:
    """A party named in a record as compared between agencies: without city or legal form."""
    def one(text: object) -> str | None:
        if not isinstance(text, str) or not text.strip():
            return None
        return _LEGAL_FORM.sub("", _AREA_PREFIX.sub("", normalise_address(text.strip()))) or None
    table = {u: one(u) for u in pd.unique(names.dropna())}
    return names.map(table).astype("string")


def link_frame_of(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases (record_id, source, times, category, lon/lat, area, person_key, address, amount,
    respondent) as the linker reads them: the other party named in the record is its text."""
    prepared = cases.assign(address=place_text(cases["address"]))
    if "respondent" in cases:
        prepared["text"] = party_text(cases["respondent"])
    return prepared


def link_cases(url: str, area_level: AreaLevel = AreaLevel.COMMUNITY,
               settings: LinkSettings | None = None) -> LinkRun:
    """Link the cases not yet linked to those that are, in one transaction; re-running adds nothing."""
    with connect(url) as conn, conn.transaction():
        found = read_link_cases(conn, area_level)
        linked, new = found.linked, found.new
        if new.empty:
            return LinkRun(0, 0, 0)
        state = state_from(link_frame_of(linked), linked["group_id"].to_numpy(dtype=np.int64),
                           reference=pd.concat([linked["lat"], new["lat"]]))
        result = link_new(state, link_frame_of(new), settings)
        write_links(conn, result.links, result.groups, found.relinked)
    relinked = len(found.relinked)
    return LinkRun(len(new) - relinked, len(result.links), len(result.groups) - len(new), relinked)


def demo_accuracy(demo_dir: Path, settings: LinkSettings | None = None) -> LinkAccuracy:
    """Pairwise precision, recall and F1 of linking the demo's cross-feed records."""
    records, truth = read_disputes(demo_dir)
    frame = link_frame_of(records.assign(record_id=np.arange(len(records)),
                                         area=records["community_code"]))
    groups = link_all(frame, settings).groups.set_index("record_id")["group_id"]
    return pair_accuracy(pd.Series(groups.reindex(frame["record_id"]).to_numpy()), truth["dispute_id"])
