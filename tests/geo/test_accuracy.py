"""The cascade against the demo truth: every feed the demo writes, ingested for real."""

from __future__ import annotations

import psycopg

from demo.generate import read_truth
from geo.accuracy import TRUTH_COLUMNS, InputKind, accuracy_report, missed_targets, read_assignments
from pipeline.demo import run_demo


def test_every_feed_lands_in_its_true_areas(settings, db_url):
    results = run_demo(settings, db_url)
    assert results, "the demo has source specs"
    with psycopg.connect(db_url) as conn:
        assigned = read_assignments(conn)
    truth = read_truth(settings.demo_dir, columns=TRUTH_COLUMNS)
    report = accuracy_report(assigned, truth)
    by_input = report["input"].set_index("input")
    print(report["input"].to_string(), report["source"].to_string(), sep="\n")

    # Every feed that the demo wrote and that was ingested appears in the comparison.
    fed = set(truth.dropna(subset=["source_record_id"])["feed"])
    assert set(report["source"]["source"]) == fed & {r.source for r in results}
    assert by_input.at[InputKind.COORDINATES.value, "records"] > 1000
    assert by_input.at[InputKind.COORDINATES.value, "true_grid"] >= 0.999
    if InputKind.ADDRESS_ONLY.value in by_input.index:
        assert by_input.at[InputKind.ADDRESS_ONLY.value, "true_community"] >= 0.95
        assert by_input.at[InputKind.ADDRESS_ONLY.value, "true_grid"] >= 0.85
    assert missed_targets(report["input"]) == []
    # Every stored case is either placed or says why not.
    assert assigned["geocode_method"].notna().all()
