"""Done when: every injected defect of every demo feed ends where the ground truth says, with
the right reason, and no clean row is quarantined (precision = recall = 1.0)."""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pytest

from demo.feeds.faults import FAULT_FIELD, FAULTS
from demo.generate import read_truth

# The check that must appear among a quarantined defect's reasons ("mapping": the mapping
# could not read the damaged field).
pytestmark = pytest.mark.slow  # every demo feed ingested end to end


EXPECTED_CHECK = {
    "missing_required": "reported_at_present",
    "unparseable_date": "mapping",
    "unknown_code": "mapping",
    "mojibake": "address_readable",
    "future_timestamp": "reported_not_future",
    "closed_before_reported": "closed_after_reported",
}
# What the loaded case's attributes must say about a repaired defect.
REPAIR_NOTE = {
    "swapped_coordinates": ("repaired", "swapped_coordinates"),
    "zero_coordinates": ("coordinates_rejected", "zero"),
    "outside_city": ("coordinates_rejected", "outside_city"),
}


def _frame(url: str, query: str, columns: list[str]) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        return pd.DataFrame(conn.execute(query).fetchall(), columns=columns)


def test_every_injected_defect_ends_where_the_truth_says(all_feeds_template, all_feeds_db, demo_dir):
    results, db_url = all_feeds_template.results, all_feeds_db
    manifest = json.loads((demo_dir / "demo" / "manifest.json").read_text())
    assert {r.source for r in results} == set(manifest["per_feed"]), "every demo feed is covered"
    assert all(r.counts.adds_up() for r in results)
    defects = pd.read_csv(demo_dir / "demo" / "truth" / "defects.csv", dtype=str)
    assert set(defects["fault"]) <= set(FAULTS)
    assert set(defects.loc[defects.expected == "quarantine", "fault"]) <= set(EXPECTED_CHECK), \
        "a new quarantining fault needs its expected check here"

    quarantined = _frame(db_url, "SELECT source, source_record_id, reasons FROM quarantine",
                         ["feed", "source_record_id", "reasons"])
    cases = _frame(db_url, "SELECT source, source_record_id, attributes FROM cases",
                   ["feed", "source_record_id", "attributes"])
    truth = read_truth(demo_dir / "demo", columns=["feed", "source_record_id"])
    key = ["feed", "source_record_id"]
    q_keys = set(map(tuple, quarantined[key].to_numpy()))
    should = defects[defects.expected == "quarantine"]
    d_keys = set(map(tuple, should[key].to_numpy()))
    all_keys = set(map(tuple, truth[key].to_numpy()))

    # Confusion counts, per feed and overall: "positive" = quarantined.
    rows = []
    for feed in sorted(manifest["per_feed"]):
        q = {k for k in q_keys if k[0] == feed}
        d = {k for k in d_keys if k[0] == feed}
        n = sum(1 for k in all_keys if k[0] == feed)
        rows.append((feed, len(q & d), len(q - d), len(d - q), n - len(q | d)))
    confusion = pd.DataFrame(rows, columns=["feed", "TP", "FP", "FN", "TN"]).set_index("feed")
    confusion.loc["all"] = confusion.sum()
    tp, fp, fn = (int(confusion.loc["all", c]) for c in ("TP", "FP", "FN"))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print("\nquarantine vs ground truth (positive = quarantined)\n" + confusion.to_string())
    print(f"precision {precision:.4f}  recall {recall:.4f}  over {len(all_keys):,} records,"
          f" {len(defects):,} injected defects")
    assert tp > 0
    assert precision == recall == 1.0

    # Quarantined with the right reason: the expected check, about the damaged field.
    reasons = dict(zip(map(tuple, quarantined[key].to_numpy()), quarantined["reasons"], strict=True))
    wrong = []
    for d in should.itertuples():
        found = reasons[(d.feed, d.source_record_id)]
        check = EXPECTED_CHECK[d.fault]
        ok = any(r["check"] == check and (check != "mapping" or r["field"] == FAULT_FIELD[d.fault])
                 for r in found)
        if not ok:
            wrong.append((d.feed, d.source_record_id, d.fault, [r["check"] for r in found]))
    assert not wrong, wrong[:10]

    # Repaired: loaded, with the repair (or the rejected coordinates) noted on the case.
    notes = dict(zip(map(tuple, cases[key].to_numpy()), cases["attributes"], strict=True))
    unrepaired = []
    for d in defects[defects.expected == "repair"].itertuples():
        attributes = notes.get((d.feed, d.source_record_id))
        name, value = REPAIR_NOTE[d.fault]
        if attributes is None or attributes.get(name) != value:
            unrepaired.append((d.feed, d.source_record_id, d.fault, attributes))
    assert not unrepaired, (pd.Series([(u[0], u[2]) for u in unrepaired]).value_counts().to_dict(),
                            unrepaired[:5])

    # The warning-level extent check counted exactly the coordinates the generator spoiled.
    spoiled = defects[defects.fault.isin(["zero_coordinates", "outside_city", "swapped_coordinates"])]
    records = _frame(db_url, "SELECT source, expectations FROM quality_runs", ["feed", "expectations"])
    outside = {r.feed: sum(e["unexpected"] for e in r.expectations if e["key"] == "lon_in_city")
               for r in records.itertuples()}
    assert outside == {feed: int((spoiled.feed == feed).sum()) for feed in outside}

    # Duplicates: loaded once, never quarantined, and counted as skipped duplicates.
    dups = defects[defects.expected == "duplicate"]
    loaded_once = cases.groupby(key).size()
    for d in dups.itertuples():
        assert loaded_once.get((d.feed, d.source_record_id)) == 1, d
        assert (d.feed, d.source_record_id) not in q_keys, d
    skipped = {r.source: r.counts.duplicates for r in results}
    for feed, n in dups.groupby("feed").size().items():
        assert skipped[feed] >= n, (feed, skipped[feed], n)
