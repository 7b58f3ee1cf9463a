"""The demo generator streams in chunks: several parts per feed, truth for every record."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from demo.feeds.police_api import PoliceStore
from demo.generate import generate, read_truth
from demo.truth import FEEDS


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_generate_in_many_chunks_writes_every_feed_and_its_truth(tmp_path):
    out = tmp_path / "demo"
    manifest = generate(out, seed=11, records=3000, chunk_records=1000)
    assert set(manifest.per_feed) == set(FEEDS) and sum(manifest.per_feed.values()) >= 3000
    truth = read_truth(out, columns=["feed", "source_record_id", "grid_code"])
    assert len(truth) == sum(manifest.per_feed.values())
    assert truth["source_record_id"].notna().all() and truth["source_record_id"].is_unique
    for feed, count in manifest.per_feed.items():
        assert (truth["feed"] == feed).sum() == count
    # Multi-part feeds got one file per chunk; the police store pages across all of them.
    assert len(list((out / "feeds" / "court_mediation").glob("*.xlsx"))) >= 2
    assert len(list((out / "feeds" / "people_mediation").glob("*.json"))) >= 2
    store = PoliceStore(out / "feeds" / "police_110")
    lines = (out / "feeds" / "police_110" / "incidents.jsonl").read_text(encoding="utf-8").splitlines()
    assert store.count == len(lines)
    updated = [json.loads(line)["updated_at"] for line in lines]
    assert updated == sorted(updated)  # served in watermark order
    assert [r["incident_id"] for r in store.records_from(store.count - 3, 10)] == \
        [json.loads(line)["incident_id"] for line in lines[-3:]]
    # Every defect names a record of its feed, once, with the field it damages.
    defects = pd.read_csv(out / "truth" / "defects.csv", dtype=str)
    assert len(defects) == manifest.defects > 0
    assert list(defects.columns) == ["feed", "source_record_id", "fault", "field", "expected"]
    known = set(zip(truth["feed"], truth["source_record_id"], strict=True))
    assert set(zip(defects["feed"], defects["source_record_id"], strict=True)) <= known
    assert not defects.duplicated(["feed", "source_record_id"]).any()
    assert set(defects["expected"]) <= {"quarantine", "repair", "duplicate"}
