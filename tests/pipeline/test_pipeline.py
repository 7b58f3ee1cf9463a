"""One path through everything: hotline CSV -> cases -> rollups -> the summary endpoint."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from connectors.spec import load_specs
from pipeline.ingest import ingest


def _hotline(settings):
    return load_specs(settings.resolved_sources_dir)["hotline_12345"]


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_hotline_counts_add_up_and_rerun_changes_nothing(settings, db_url):
    first = ingest(_hotline(settings), settings, db_url)
    c = first.counts
    assert c.records_read > 5000
    assert c.records_read == c.inserted + c.updated + c.quarantined + c.duplicates
    assert c.inserted > 0.95 * c.records_read
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        quarantined = conn.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        rollup_cases = conn.execute("SELECT sum(reported) FROM rollup_daily WHERE level = 'city'").fetchone()[0]
    assert stored == c.inserted
    assert quarantined == c.quarantined
    assert rollup_cases == stored

    second = ingest(_hotline(settings), settings, db_url)
    assert (second.counts.inserted, second.counts.updated, second.counts.quarantined) == (0, 0, 0)
    assert second.counts.duplicates == second.counts.records_read
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == stored
        assert conn.execute("SELECT count(*) FROM quarantine").fetchone()[0] == quarantined
        assert conn.execute("SELECT count(*) FROM raw_records").fetchone()[0] <= first.counts.records_read


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_a_run_that_fails_to_load_still_lands_every_record(settings, db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS"
                     " $$ BEGIN RAISE EXCEPTION 'cases refused by the test'; END $$")
        conn.execute("CREATE TRIGGER test_refuse BEFORE INSERT ON cases"
                     " FOR EACH STATEMENT EXECUTE FUNCTION test_refuse()")
    spec = _hotline(settings).model_copy(update={"chunk_rows": 1000})
    with pytest.raises(psycopg.errors.RaiseException, match="cases refused by the test"):
        ingest(spec, settings, db_url)  # fails at its first chunk's merge
    with psycopg.connect(db_url) as conn:
        status, error, read, landed = conn.execute(
            "SELECT status, error, records_read, landed_at IS NOT NULL FROM ingest_runs").fetchone()
        linked = conn.execute("SELECT count(*) FROM run_records").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
    assert status == "failed" and "cases refused by the test" in error
    assert landed and linked == read

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER test_refuse ON cases")
    rerun = ingest(spec, settings, db_url)
    assert rerun.counts.records_read == read > 5000  # the failed run had landed every record
    assert rerun.counts.adds_up()


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_located_cases_are_in_their_true_grid(settings, db_url, demo_dir):
    ingest(_hotline(settings), settings, db_url)
    truth = pd.concat(pd.read_parquet(p, columns=["feed", "source_record_id", "grid_code"])
                      for p in sorted((demo_dir / "demo" / "truth" / "records").glob("*.parquet")))
    truth = truth[truth["feed"] == "hotline_12345"].set_index("source_record_id")["grid_code"]
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT source_record_id, grid_code FROM cases"
                            " WHERE geocode_method = 'coordinates'").fetchall()
    got = pd.Series(dict(rows))
    agree = (truth.reindex(got.index) == got).mean()
    assert len(got) > 5000
    assert agree > 0.999


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_personal_data_is_not_stored_in_clear(settings, db_url, demo_dir):
    ingest(_hotline(settings), settings, db_url)
    feed = pd.read_csv(demo_dir / "demo" / "feeds" / "hotline_12345.csv", encoding="gbk", dtype=str)
    phones = feed["来电号码"].drop_duplicates().head(300).tolist()
    names = feed["来电人"].drop_duplicates().head(300).tolist()
    with psycopg.connect(db_url) as conn:
        keys = conn.execute("SELECT person_key FROM cases WHERE person_key IS NOT NULL LIMIT 50").fetchall()
        leaked = conn.execute("SELECT count(*) FROM cases WHERE cases::text LIKE ANY(%s)",
                              ([f"%{v}%" for v in phones + names],)).fetchone()[0]
        repeat_callers = conn.execute(
            "SELECT count(*) FROM (SELECT person_key FROM cases GROUP BY 1 HAVING count(*) > 1) t"
        ).fetchone()[0]
    assert keys and all(len(k[0]) == 32 for k in keys)
    assert leaked == 0
    assert repeat_callers > 0  # the keyed hash still links repeat callers


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_summary_endpoint_equals_a_recount(settings, db_url, live_api):
    ingest(_hotline(settings), settings, db_url)
    with psycopg.connect(db_url) as conn:
        district, expected = conn.execute(
            "SELECT district_code, count(*) FROM cases WHERE district_code IS NOT NULL"
            " GROUP BY 1 ORDER BY 2 DESC LIMIT 1").fetchone()
        by_cat = dict(conn.execute("SELECT category, count(*) FROM cases WHERE district_code = %s"
                                   " GROUP BY 1", (district,)).fetchall())
    body = live_api.get(f"/areas/{district}/summary").json()
    assert body["total"] == expected
    assert body["by_category"] == by_cat
    assert body["area"]["level"] == "district"
    assert live_api.get("/areas/339999000000/summary").status_code == 404
    bad = live_api.get(f"/areas/{district}/summary", params={"from": "yesterday"})
    assert bad.status_code == 422 and "from" in bad.text
