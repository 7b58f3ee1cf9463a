"""Every demo feed ingests with counts that add up, and ends where the ground truth says."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from demo.feeds.services import drop_district_database
from demo.generate import read_truth
from demo.truth import FEEDS
from pipeline.demo import run_demo
from pipeline.ingest import IngestResult
from store.runs import RunCounts
from tests.pipeline.helpers import ingest_state, rows, scalar

pytestmark = pytest.mark.slow  # every demo feed ingested end to end


def _defects(demo_dir) -> pd.DataFrame:
    return pd.read_csv(demo_dir / "demo" / "truth" / "defects.csv", dtype=str)


def _cli_ingest_all(settings, db_url) -> list[IngestResult]:
    """`gridhub ingest --all`, then its runs as recorded in the database."""
    env = {"GRIDHUB_DATA_DIR": str(settings.data_dir), "DATABASE_URL": db_url}
    try:
        outcome = CliRunner().invoke(app, ["ingest", "--all"], env=env)
    finally:
        drop_district_database(db_url)
    assert outcome.exit_code == 0, outcome.output
    runs = rows(db_url, "SELECT source, run_id, records_read, inserted, updated, quarantined,"
                        " duplicates FROM ingest_runs ORDER BY run_id")
    return [IngestResult(s, run, RunCounts(*counts)) for s, run, *counts in runs]


def test_ingest_all_counts_add_up_for_every_feed(settings, db_url, demo_dir):
    results = _cli_ingest_all(settings, db_url)
    assert sorted(r.source for r in results) == sorted(FEEDS)
    manifest = json.loads((demo_dir / "demo" / "manifest.json").read_text())
    defects = _defects(demo_dir)
    for r in results:
        c = r.counts
        assert c.records_read == c.loaded + c.quarantined + c.duplicates, r
        # Every record the generator wrote was read: the truth's plus the injected copies.
        copies = defects[(defects.feed == r.source) & (defects.expected == "duplicate")]
        assert c.records_read == manifest["per_feed"][r.source] + len(copies), r.source
        stored = rows(db_url, "SELECT status, records_read, loaded, quarantined, duplicates"
                      " FROM ingest_runs WHERE run_id = %s", (r.run_id,))[0]
        assert stored == ("succeeded", c.records_read, c.loaded, c.quarantined, c.duplicates)
    assert scalar(db_url, "SELECT count(*) FROM cases") == sum(r.counts.inserted for r in results)
    assert scalar(db_url, "SELECT count(*) FROM quarantine") == sum(r.counts.quarantined for r in results)

    # Faults end where the truth says: quarantined ones (and only those), duplicates skipped.
    quarantined = set(rows(db_url, "SELECT source, source_record_id FROM quarantine"))
    expected = defects[defects.expected == "quarantine"]
    assert quarantined == set(zip(expected.feed, expected.source_record_id, strict=True))
    loaded = set(rows(db_url, "SELECT source, source_record_id FROM cases"))
    for kind in ("repair", "duplicate"):
        hit = defects[defects.expected == kind]
        assert set(zip(hit.feed, hit.source_record_id, strict=True)) <= loaded, kind

    # The truth covers every record of every feed.
    truth = read_truth(demo_dir / "demo", columns=["feed", "source_record_id", "grid_code"])
    assert set(truth["feed"]) == set(FEEDS)
    assert truth["source_record_id"].notna().all()
    assert loaded <= set(zip(truth.feed, truth.source_record_id, strict=True))

    # A second pass over every feed changes nothing.
    before = scalar(db_url, "SELECT md5(string_agg(source || source_record_id || record_hash, ','"
                            " ORDER BY source, source_record_id)) FROM cases")
    again = run_demo(settings, db_url, keep_services=False)
    for r in again:
        c = r.counts
        assert (c.inserted, c.updated, c.quarantined) == (0, 0, 0), r
        assert c.duplicates == c.records_read, r
    after = scalar(db_url, "SELECT md5(string_agg(source || source_record_id || record_hash, ','"
                           " ORDER BY source, source_record_id)) FROM cases")
    assert after == before


def test_one_pass_ingest_ends_like_landing_then_processing(settings, db_url, second_db_url,
                                                          variables, demo_specs):
    """The CLI's one-pass ingest against the DAG's two steps, over every demo feed's format."""
    from pipeline.ingest import ingest, land, process

    two_steps = {}
    for name, spec in demo_specs.items():
        run_id = land(spec, settings, db_url, variables=variables)
        two_steps[name] = process(spec, settings, db_url, run_id).counts
    one_pass = {name: ingest(spec, settings.model_copy(update={"database_url": second_db_url}),
                             second_db_url, variables=variables).counts
                for name, spec in demo_specs.items()}
    assert one_pass == two_steps
    assert all(c.loaded and c.adds_up() for c in one_pass.values()), one_pass
    assert ingest_state(second_db_url) == ingest_state(db_url)


def test_sources_with_coordinates_land_in_their_true_grid(settings, db_url, demo_dir, variables, demo_specs):
    from pipeline.ingest import ingest

    for name in ("police_110", "urban_management", "grid_patrol", "district_system"):
        ingest(demo_specs[name], settings, db_url, variables=variables)
    truth = read_truth(demo_dir / "demo", columns=["feed", "source_record_id", "grid_code"])
    truth = truth.set_index(["feed", "source_record_id"])["grid_code"]
    got = pd.DataFrame(rows(db_url, "SELECT source, source_record_id, grid_code FROM cases"
                                    " WHERE geocode_method = 'coordinates'"),
                       columns=["feed", "source_record_id", "grid_code"]).set_index(["feed", "source_record_id"])
    agree = (truth.reindex(got.index) == got["grid_code"]).groupby(level=0).mean()
    assert set(agree.index) == {"police_110", "urban_management", "grid_patrol", "district_system"}
    assert (agree > 0.999).all(), agree
