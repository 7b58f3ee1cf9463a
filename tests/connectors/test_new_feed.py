"""A new feed in a supported format needs only a YAML file; updates and watermarks behave."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from connectors.spec import load_spec
from core.settings import GridHubSettings
from pipeline.ingest import ingest
from tests.pipeline.helpers import rows, scalar

pytestmark = pytest.mark.slow  # feeds written and ingested end to end


def _spec_and_settings(fixture_sources, settings):
    spec = load_spec(fixture_sources / "housing_bureau.yaml")
    cfg = GridHubSettings(data_dir=settings.data_dir, database_url=settings.database_url,
                          sources_dir=fixture_sources)
    return spec, cfg, {"FIXTURE_DIR": str(fixture_sources)}


def test_a_yaml_file_adds_a_feed(fixture_sources, settings, db_url):
    spec, cfg, variables = _spec_and_settings(fixture_sources, settings)
    result = ingest(spec, cfg, db_url, variables=variables)
    c = result.counts
    assert (c.records_read, c.inserted, c.quarantined, c.duplicates) == (4, 3, 1, 0)
    cases = dict((r[0], r[1:]) for r in rows(db_url,
        "SELECT source_record_id, category, status, amount, parties, grid_code, reported_at,"
        " person_key FROM cases WHERE source = 'housing_bureau'"))
    assert cases["ZJ001"][:2] == ("property_management", "resolved")
    assert float(cases["ZJ001"][2]) == 12500.0 and float(cases["ZJ002"][2]) == 15000.0
    assert {v[3] for v in cases.values()} == {2}
    assert all(v[4] for v in cases.values())  # BD-09 points located in a grid
    assert cases["ZJ001"][5] == pd.Timestamp("2025-03-05 14:22", tz="Asia/Shanghai")
    assert cases["ZJ001"][6] == cases["ZJ003"][6] != cases["ZJ002"][6]  # repeat caller linked
    reasons = scalar(db_url, "SELECT reasons::text FROM quarantine WHERE source_record_id = 'ZJ004'")
    assert "未知状态" in reasons
    assert scalar(db_url, "SELECT watermark FROM source_state WHERE source = 'housing_bureau'") \
        == "2025-03-10T03:00:00+00:00"
    landed = scalar(db_url, "SELECT payload->>'地址' FROM raw_records WHERE record_key = 'ZJ002'")
    assert landed == "江岸市西城区嘉禾小区3栋"


def test_an_updated_record_updates_its_case_and_keeps_the_previous_version(fixture_sources, settings, db_url):
    spec, cfg, variables = _spec_and_settings(fixture_sources, settings)
    ingest(spec, cfg, db_url, variables=variables)
    old_hash, old_time = rows(db_url, "SELECT record_hash, ingested_at FROM cases"
                                      " WHERE source_record_id = 'ZJ002'")[0]
    path = fixture_sources / "housing_bureau.csv"
    frame = pd.read_csv(path, sep="|", dtype=str, keep_default_na=False, encoding="gb18030")
    frame.loc[frame["编号"] == "ZJ002", ["状态", "办结时间"]] = ["已办结", "1741700000000"]
    frame.to_csv(path, sep="|", index=False, encoding="gb18030")

    again = ingest(spec, cfg, db_url, variables=variables)
    c = again.counts
    assert (c.records_read, c.inserted, c.updated, c.quarantined, c.duplicates) == (4, 0, 1, 0, 3)
    status, previous_hash, previous_time, new_hash = rows(db_url,
        "SELECT status, previous_hash, previous_ingested_at, record_hash FROM cases"
        " WHERE source_record_id = 'ZJ002'")[0]
    assert status == "resolved" and new_hash != old_hash
    assert (previous_hash, previous_time) == (old_hash, old_time)
    assert scalar(db_url, "SELECT count(*) FROM cases WHERE source = 'housing_bureau'") == 3


def test_sources_check_prints_mapped_rows_and_problems(fixture_sources, settings, db_url):
    runner = CliRunner()
    env = {"GRIDHUB_SOURCES_DIR": str(fixture_sources), "FIXTURE_DIR": str(fixture_sources),
           "GRIDHUB_DATA_DIR": str(settings.data_dir), "DATABASE_URL": db_url}
    result = runner.invoke(app, ["sources", "check", "housing_bureau", "--rows", "4"], env=env)
    assert result.exit_code == 1, result.output  # one row has a problem
    assert "property_management" in result.output and "ZJ003" in result.output
    assert "record 3 mapping" in result.output and "未知状态" in result.output
    listed = runner.invoke(app, ["sources", "list"], env=env)
    assert listed.exit_code == 0 and "housing_bureau" in listed.output


def test_a_broken_spec_beside_a_feed_stops_only_itself(fixture_sources, settings, db_url):
    (fixture_sources / "broken_feed.yaml").write_text("name: broken_feed\nkind: [unclosed\n",
                                                      encoding="utf-8")
    env = {"DATABASE_URL": db_url, "GRIDHUB_DATA_DIR": str(settings.data_dir),
           "GRIDHUB_SOURCES_DIR": str(fixture_sources), "FIXTURE_DIR": str(fixture_sources)}
    listed = CliRunner().invoke(app, ["sources", "list"], env=env, terminal_width=200)
    assert listed.exit_code == 1
    assert "housing_bureau" in listed.output
    assert "broken_feed.yaml: cannot read YAML" in listed.output
    ingested = CliRunner().invoke(app, ["ingest", "housing_bureau"], env=env, terminal_width=200)
    assert ingested.exit_code == 0, ingested.output
    assert scalar(db_url, "SELECT count(*) FROM cases WHERE source = 'housing_bureau'") == 3
    refused = CliRunner().invoke(app, ["ingest", "broken_feed"], env=env, terminal_width=200)
    assert refused.exit_code == 1 and "broken_feed.yaml: cannot read YAML" in refused.output
    everything = CliRunner().invoke(app, ["ingest", "--all"], env=env, terminal_width=200)
    assert everything.exit_code == 1 and "housing_bureau" in everything.output
    assert "broken_feed.yaml" in everything.output
