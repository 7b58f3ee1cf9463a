"""The quarantine workflow through the command line: list rows by reason, fix the suite,
replay; a replayed row leaves quarantine exactly once and is never loaded twice."""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from pipeline.ingest import ingest

TRAFFIC = "交通出行"
# A spec bug: the source's own expectation forgets that the hotline also takes traffic cases.
TOO_STRICT = {"max_quarantine_rate": 0.5, "expectations": [{
    "expect": "expect_column_values_to_not_be_in_set", "column": "category", "value_set": ["traffic"],
    "key": "category_handled", "message": "the hotline does not handle this category"}]}


@pytest.fixture
def gridhub(settings):
    """Run `gridhub ...` in-process against this test's database and the fixture's sources."""
    runner = CliRunner()

    def run(sources_dir, *args: str):
        env = {"DATABASE_URL": settings.database_url, "GRIDHUB_DATA_DIR": str(settings.data_dir),
               "GRIDHUB_SOURCES_DIR": str(sources_dir), "COLUMNS": "250"}
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return run


def _all(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_fix_the_suite_then_replay(settings, db_url, fixture_feed, gridhub, clean_hotline_rows,
                                   hotline_rows, hotline_defects):
    feed = fixture_feed()
    sources = feed.yaml.parent
    feed.write_spec(TOO_STRICT)
    bad_ids = hotline_defects.loc[hotline_defects.expected == "quarantine", "source_record_id"]
    defects = hotline_rows[hotline_rows["工单编号"].isin(bad_ids)].head(8)
    first = pd.concat([clean_hotline_rows.iloc[:300], defects])
    feed.write(first)
    run1 = ingest(feed.spec, settings, db_url)
    in_traffic = set(first.loc[first["诉求类别"] == TRAFFIC, "工单编号"])
    traffic = in_traffic - set(defects["工单编号"])  # failing for the spec bug alone
    assert len(traffic) > 5
    assert run1.counts.quarantined == len(traffic) + len(defects)

    listed = gridhub(sources, "quarantine", "list", "--source", feed.name, "--reason",
                     "category_handled", "--json", "--limit", "1000")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {r["source_record_id"] for r in rows} == in_traffic
    assert all("the hotline does not handle this category" in [x["message"] for x in r["reasons"]]
               for r in rows)

    # Meanwhile the agency re-sends one of those records, re-classified: it loads as is.
    resent = first[first["工单编号"] == sorted(traffic)[0]].assign(诉求类别="劳动保障")
    others = clean_hotline_rows.iloc[300:400]
    feed.write(pd.concat([resent, others[others["诉求类别"] != TRAFFIC].head(20)]))
    run2 = ingest(feed.spec, settings, db_url)
    assert run2.counts.inserted == 21

    # The fix: the source's expectation goes; the quarantined rows are replayed.
    feed.write_spec({"max_quarantine_rate": 0.5})
    replayed = gridhub(sources, "quarantine", "replay", "--source", feed.name)
    assert replayed.exit_code == 0, replayed.output
    replay_run = _all(db_url, "SELECT max(run_id) FROM ingest_runs")[0][0]
    status, params, read, loaded, quarantined, duplicates = _all(
        db_url, "SELECT status, params, records_read, loaded, quarantined, duplicates"
                " FROM ingest_runs WHERE run_id = %s", (replay_run,))[0]
    print(f"\n{replayed.output}")
    assert status == "succeeded" and "replay_of" in params
    assert read == len(traffic) - 1 + len(defects) == loaded + quarantined + duplicates
    assert loaded == len(traffic) - 1

    released = dict(_all(db_url, "SELECT source_record_id, released_run_id FROM quarantine"
                                 " WHERE released_at IS NOT NULL"))
    assert set(released) == traffic and set(released.values()) == {replay_run}
    note = _all(db_url, "SELECT release_note FROM quarantine WHERE source_record_id = %s",
                (sorted(traffic)[0],))[0][0]
    assert note.startswith(f"superseded: run {run2.run_id}")
    # The newer version stays; the old quarantined one was not loaded over it.
    assert _all(db_url, "SELECT category, run_id FROM cases WHERE source_record_id = %s",
                (sorted(traffic)[0],))[0] == ("labour", run2.run_id)
    still = {r[0] for r in _all(db_url, "SELECT source_record_id FROM quarantine WHERE released_at IS NULL")}
    assert still == set(defects["工单编号"])

    # Replaying again changes nothing: nothing leaves twice, nothing is loaded twice.
    cases_before = _all(db_url, "SELECT count(*), count(DISTINCT source_record_id) FROM cases")[0]
    again = gridhub(sources, "quarantine", "replay", "--source", feed.name)
    assert again.exit_code == 0, again.output
    assert _all(db_url, "SELECT count(*), count(DISTINCT source_record_id) FROM cases")[0] == cases_before
    assert cases_before[0] == cases_before[1]
    assert _all(db_url, "SELECT count(*) FROM quarantine WHERE released_at IS NOT NULL")[0][0] == len(traffic)
    assert _all(db_url, "SELECT count(*) FROM quarantine")[0][0] == len(traffic) + len(defects)
    nothing = gridhub(sources, "quarantine", "replay", "--source", feed.name, "--run", str(replay_run))
    assert nothing.exit_code == 1 and "nothing to replay" in nothing.output


def test_quality_commands_show_the_record_of_a_run(settings, db_url, fixture_feed, gridhub,
                                                   clean_hotline_rows, hotline_rows, hotline_defects):
    feed = fixture_feed()
    bad_ids = hotline_defects.loc[hotline_defects.fault == "mojibake", "source_record_id"]
    feed.write(pd.concat([clean_hotline_rows.iloc[:100],
                          hotline_rows[hotline_rows["工单编号"].isin(bad_ids)].head(2)]))
    run = ingest(feed.spec, settings, db_url)
    sources = feed.yaml.parent
    shown = gridhub(sources, "quality", "show", str(run.run_id))
    assert shown.exit_code == 0, shown.output
    assert "address_readable" in shown.output and "102 passed" not in shown.output
    assert "100 passed, 2 failed" in " ".join(shown.output.split())
    listed = gridhub(sources, "quality", "runs", "--source", feed.name)
    assert listed.exit_code == 0 and str(run.run_id) in listed.output
    missing = gridhub(sources, "quality", "show", "999999")
    assert missing.exit_code == 1 and "no validation record" in missing.output
    suite = gridhub(sources, "quality", "suite", "--source", feed.name)
    assert suite.exit_code == 0 and "closed_after_reported" in suite.output
    docs = gridhub(sources, "quality", "docs", "--limit", "5")
    assert docs.exit_code == 0 and docs.stdout.strip().endswith("quality/docs/index.html")
