"""Batch gates: a run whose volume collapses, whose columns drift, whose rows fail too often or
whose data is stale stops before it loads, says why, and keeps its raw landing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from pipeline.ingest import ingest
from quality.config import FreshnessGate, SchemaGate, VolumeGate
from quality.gates import (
    GateFailed,
    freshness_gate,
    quarantine_rate_gate,
    schema_gate,
    volume_gate,
)


def _one(url: str, query: str, params: tuple = ()):
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()


# -- the gates as functions ----------------------------------------------------------------

@pytest.mark.parametrize(("records", "history", "passed"), [
    (1000, [1000, 980, 1020], True),
    (50, [1000, 980, 1020], False),    # 5%: a collapse
    (6000, [1000, 980, 1020], False),  # 6x: a spike
    (50, [1000, 980], True),           # two runs are too little history to judge
])
def test_volume_gate(records, history, passed):
    result = volume_gate(records, history, VolumeGate())
    assert result.passed is passed
    if not passed:
        assert "median of the last 3 successful runs" in result.message


def test_schema_gate_names_new_and_missing_columns():
    base = ["id", "time", "addr"]
    assert schema_gate(base, base, ["id", "time"], SchemaGate()).passed
    drift = schema_gate(["id", "time", "addr2"], base, ["id", "time", "addr"], SchemaGate())
    assert not drift.passed and "missing columns ['addr']" in drift.message
    assert "new columns ['addr2']" in drift.message and "the mapping reads ['addr']" in drift.message
    lenient = SchemaGate(on_new="warn")
    assert schema_gate(["id", "time", "addr", "extra"], base, ["id"], lenient).passed
    assert not schema_gate(["id"], None, ["id", "time"], lenient).passed  # first run: mapped ones


def test_rate_and_freshness_gates():
    assert quarantine_rate_gate(5, 1000, 0.01).passed
    assert not quarantine_rate_gate(50, 1000, 0.01).passed
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert freshness_gate(now - timedelta(hours=30), now, FreshnessGate()).passed  # no limit set
    assert freshness_gate(now - timedelta(hours=30), now, FreshnessGate(max_age_hours=48)).passed
    stale = freshness_gate(now - timedelta(hours=30), now, FreshnessGate(max_age_hours=24))
    assert not stale.passed and "30.0 h ago" in stale.message


# -- gates in the pipeline -----------------------------------------------------------------

@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_a_run_whose_volume_collapses_to_5_percent_stops_and_loads_nothing(
        settings, db_url, fixture_feed, clean_hotline_rows):
    feed = fixture_feed()
    usual = 400
    for day in range(3):  # three ordinary daily exports
        feed.write(clean_hotline_rows.iloc[day * usual:(day + 1) * usual])
        assert ingest(feed.spec, settings, db_url).counts.records_read == usual
    cases_before = _one(db_url, "SELECT count(*) FROM cases")[0]
    quarantined_before = _one(db_url, "SELECT count(*) FROM quarantine")[0]

    collapsed = clean_hotline_rows.iloc[3 * usual:3 * usual + usual // 20]  # 5% of the usual
    feed.write(collapsed)
    with pytest.raises(GateFailed) as stop:  # in chunks of 5 records, prepared ahead of loading
        ingest(feed.spec.model_copy(update={"chunk_rows": 5}), settings, db_url)
    # The threads that read, land and prepare chunks ahead stop with the run.
    assert not [t.name for t in threading.enumerate() if t.name in ("read", "land", "process")]
    print(f"\n{stop.value}")
    run_id = stop.value.run_id
    status, error, landed = _one(db_url, "SELECT status, error, landed_at IS NOT NULL"
                                         " FROM ingest_runs WHERE run_id = %s", (run_id,))
    assert status == "stopped"
    assert "volume" in error and "20 records is 5% of the usual 400" in error
    assert _one(db_url, "SELECT count(*) FROM cases")[0] == cases_before
    assert _one(db_url, "SELECT count(*) FROM cases WHERE run_id = %s", (run_id,))[0] == 0
    assert _one(db_url, "SELECT count(*) FROM quarantine")[0] == quarantined_before
    # The raw landing stays, for audit and replay.
    assert landed
    assert _one(db_url, "SELECT count(*) FROM run_records WHERE run_id = %s", (run_id,))[0] == len(collapsed)
    # A stopped run is not part of the history the next run is compared with.
    feed.write(clean_hotline_rows.iloc[3 * usual:4 * usual])
    assert ingest(feed.spec, settings, db_url).counts.records_read == usual


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_schema_drift_and_quarantine_rate_stop_a_run(settings, db_url, fixture_feed,
                                                    clean_hotline_rows, hotline_rows, hotline_defects):
    feed = fixture_feed()
    feed.write(clean_hotline_rows.iloc[:300])
    ingest(feed.spec, settings, db_url)
    renamed = clean_hotline_rows.iloc[300:600].rename(columns={"事发地址": "事发地点"})
    feed.write(renamed)
    with pytest.raises(GateFailed) as drift:
        ingest(feed.spec, settings, db_url)
    assert "schema: missing columns ['事发地址']; new columns ['事发地点']" in str(drift.value)

    faulty = hotline_rows[hotline_rows["工单编号"].isin(
        hotline_defects.loc[hotline_defects.expected == "quarantine", "source_record_id"])]
    feed.write_spec({"max_quarantine_rate": 0.02})
    feed.write(pd.concat([faulty.head(10), clean_hotline_rows.iloc[600:800]]))
    with pytest.raises(GateFailed) as rate:
        ingest(feed.spec, settings, db_url)
    assert "quarantine_rate: 10 of 210 rows failed validation (4.8%; threshold 2.0%)" in str(rate.value)
    assert _one(db_url, "SELECT count(*) FROM quarantine")[0] == 0


def test_stale_data_stops_a_run_when_the_source_sets_a_freshness_limit(
        settings, db_url, fixture_feed, clean_hotline_rows):
    feed = fixture_feed()
    feed.write_spec({"freshness": {"max_age_hours": 48}})
    feed.write(clean_hotline_rows.iloc[:200])  # the demo's records are weeks old
    with pytest.raises(GateFailed) as stale:
        ingest(feed.spec, settings, db_url)
    assert "freshness: newest record reported" in str(stale.value) and "limit 48 h" in str(stale.value)
