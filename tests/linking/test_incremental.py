"""Linking as records arrive: the same groups as linking all at once, and re-running changes nothing."""

from __future__ import annotations

import pandas as pd

from linking.linker import LinkSettings, link_all, link_new
from linking.scoring import ScoringSettings

T0 = pd.Timestamp("2025-03-01 09:00", tz="UTC")
# Cross-agency pairs lack a shared occurrence time: a lower bar than the default (set on SF).
CROSS = LinkSettings(scoring=ScoringSettings(threshold=5.0))


def _records() -> pd.DataFrame:
    # Records 1 and 3 are one dispute (same spot, same key, hours apart); 2 is far away; 4 links
    # 1's group to 5's (same spot and key): the group takes the smallest id.
    return pd.DataFrame({
        "record_id": [5, 1, 2, 3, 4],
        "source": ["court", "hotline", "hotline", "police", "labour"],
        "reported_at": [T0 + pd.Timedelta(hours=h) for h in (30, 0, 1, 3, 20)],
        "category": ["labour"] * 5,
        "lon": [120.10001, 120.1, 120.2, 120.1001, 120.1],
        "lat": [30.2, 30.2, 30.3, 30.2001, 30.20005],
        "person_key": ["k1", "k1", "k2", "k1", "k1"],
        "amount": [12000.0, 12000.0, 500.0, None, 12000.0],
        "address": ["幸福路12号", "幸福路12号", "长安街3号", "幸福路十二号", "幸福路12号"],
    })


def test_incremental_groups_equal_batch_groups_and_rerun_changes_nothing() -> None:
    frame = _records()
    batch = link_all(frame, CROSS).groups.set_index("record_id")["group_id"].sort_index()
    assert batch.to_dict() == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1}

    first = link_all(frame[frame["record_id"].isin([5, 2])], CROSS)
    assert first.groups.set_index("record_id")["group_id"].to_dict() == {5: 5, 2: 2}
    second = link_new(first.state, frame[frame["record_id"].isin([1, 3, 4])], CROSS)
    # 5's group merged into the group of 1: both the new records and 5 are reported.
    assert second.groups.set_index("record_id")["group_id"].sort_index().to_dict() == {1: 1, 3: 1, 4: 1, 5: 1}
    assert len(second.links) >= 3 and set(second.links.columns) >= {"score", "distance_m", "person"}

    again = link_new(second.state, frame, CROSS)  # nothing new: nothing links, nothing regroups
    assert again.links.empty and again.groups.empty
