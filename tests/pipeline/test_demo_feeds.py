"""Every demo feed ingests with counts that add up, and ends where the ground truth says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from connectors.spec import load_specs
from core.settings import GridHubSettings
from demo.feeds.services import drop_district_database
from demo.generate import DemoManifest, generate, read_truth
from demo.truth import FEEDS
from pipeline.demo import feed_variables
from pipeline.ingest import IngestResult
from store.runs import RunCounts
from tests.pipeline.helpers import ingest_state, rows, scalar

pytestmark = pytest.mark.slow  # every demo feed ingested end to end

# Enough for every feed to have records and some faults of its own. What these tests prove
# holds record by record (a source is read in chunks of 200,000), and each ingest costs seconds
# per feed whatever its size: tests/quality/test_demo_defects.py checks the faults of the
# session's larger demo.
SMALL_RECORDS = 2_000


def _defects(demo_dir) -> pd.DataFrame:
    return pd.read_csv(demo_dir / "demo" / "truth" / "defects.csv", dtype=str)


@dataclass(frozen=True)
class IngestedAll:
    """A database of the demo city after `gridhub ingest --all` of a small demo."""

    data_dir: Path
    url: str
    results: list[IngestResult]


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory, demo_dir) -> Path:
    """A small demo of the session's city (its seed: the areas of city_template)."""
    data_dir = tmp_path_factory.mktemp("small-demo")
    generate(data_dir / "demo", seed=DemoManifest.read(demo_dir / "demo").seed, records=SMALL_RECORDS)
    return data_dir


@pytest.fixture(scope="module")
def ingested_all(databases, city_template, small_demo) -> Iterator[IngestedAll]:
    """One `gridhub ingest --all` for the module's tests, which only read its database."""
    with databases.clone(city_template) as url:
        env = {"GRIDHUB_DATA_DIR": str(small_demo), "DATABASE_URL": url}
        try:
            outcome = CliRunner().invoke(app, ["ingest", "--all"], env=env)
        finally:
            drop_district_database(url)
        assert outcome.exit_code == 0, outcome.output
        runs = rows(url, "SELECT source, run_id, records_read, inserted, updated, quarantined,"
                         " duplicates FROM ingest_runs ORDER BY run_id")
        yield IngestedAll(small_demo, url, [IngestResult(s, run, RunCounts(*counts)) for s, run, *counts in runs])


def test_ingest_all_counts_add_up_for_every_feed(ingested_all):
    # (That a second pass over every feed changes nothing: tests/cli/test_demo_cli.py.)
    results, db_url, demo_dir = ingested_all.results, ingested_all.url, ingested_all.data_dir
    assert sorted(r.source for r in results) == sorted(FEEDS)
    manifest = DemoManifest.read(demo_dir / "demo")
    defects = _defects(demo_dir)
    for r in results:
        c = r.counts
        assert c.records_read == c.loaded + c.quarantined + c.duplicates, r
        # Every record the generator wrote was read: the truth's plus the injected copies.
        copies = defects[(defects.feed == r.source) & (defects.expected == "duplicate")]
        assert c.records_read == manifest.per_feed[r.source] + len(copies), r.source
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
        assert not hit.empty and set(zip(hit.feed, hit.source_record_id, strict=True)) <= loaded, kind

    # The truth covers every record of every feed.
    truth = read_truth(demo_dir / "demo", columns=["feed", "source_record_id", "grid_code"])
    assert set(truth["feed"]) == set(FEEDS)
    assert truth["source_record_id"].notna().all()
    assert loaded <= set(zip(truth.feed, truth.source_record_id, strict=True))


def test_one_pass_ingest_ends_like_landing_then_processing(ingested_all, db_url):
    """The CLI's one-pass ingest against the DAG's two steps, over every demo feed's format."""
    from pipeline.ingest import land, process

    settings = GridHubSettings(data_dir=ingested_all.data_dir, database_url=db_url)
    two_steps = {}
    with feed_variables(settings, db_url, {}, keep_services=False) as variables:
        for name, spec in load_specs(settings.resolved_sources_dir).items():
            run_id = land(spec, settings, db_url, variables=variables)
            two_steps[name] = process(spec, settings, db_url, run_id).counts
    one_pass = {r.source: r.counts for r in ingested_all.results}
    assert one_pass == two_steps
    assert all(c.loaded and c.adds_up() for c in one_pass.values()), one_pass
    assert ingest_state(db_url) == ingest_state(ingested_all.url)


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
