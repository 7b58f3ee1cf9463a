"""A bad record is quarantined with its reason and the rest of its file loads: a line that is
not JSON (with its line number), a value past max_field_bytes (quickly, and never stored in a
case), a time beyond the future horizon (a case closed in 2100)."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from connectors.spec import SourceSpec
from pipeline.ingest import ingest
from tests.pipeline.helpers import rows, scalar

FIELDS = {"source_record_id": {"from": "id"}, "reported_at": {"from": "t", "parse": "datetime"},
          "closed_at": {"from": "closed", "parse": "datetime"},
          "category": {"const": "neighbourhood"}, "status": {"const": "reported"},
          "address": {"from": "addr"}}


def _spec(fmt: str, location: str, **extra) -> SourceSpec:
    return SourceSpec.model_validate({"name": "bad_rows", "agency": "test", "kind": "dispute",
                                      "format": fmt, "location": location, "primary_key": "id",
                                      "fields": FIELDS, **extra})


def _record(i: int, **values) -> dict:
    return {"id": f"R{i}", "t": "2025-03-01T10:00:00+08:00", "closed": None, "addr": "江岸市西城区", **values}


@pytest.mark.slow  # an ingest of a feed written for the test
def test_a_bad_json_lines_line_is_quarantined_and_the_file_loads(settings, db_url, tmp_path):
    lines = [json.dumps(_record(i), ensure_ascii=False) for i in range(30)]
    lines[11] = '{"id": "R11", "t": "2025-03-01T10:00:00+08:00", '  # cut short
    (tmp_path / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(_spec("jsonl", f"{tmp_path}/feed.jsonl"), settings, db_url)
    c = result.counts
    assert (c.records_read, c.inserted, c.quarantined) == (30, 29, 1) and c.adds_up()
    check, message, payload = rows(db_url, "SELECT reasons->0->>'check', reasons->0->>'message',"
                                           " payload->>'_raw_text' FROM quarantine")[0]
    assert check == "unreadable"
    assert message.startswith("feed.jsonl line 12 is not JSON: Expecting property name")
    assert payload == lines[11]  # the line as read, for audit and replay
    assert scalar(db_url, "SELECT count(*) FROM cases WHERE source_record_id = 'R29'") == 1
    # The reader's own columns are no source columns: a second run passes the schema gate.
    assert ingest(_spec("jsonl", f"{tmp_path}/feed.jsonl"), settings, db_url).counts.adds_up()


@pytest.mark.slow  # an ingest of a feed written for the test
def test_a_50_mb_field_is_quarantined_quickly_and_never_stored(settings, db_url, tmp_path):
    frame = pd.DataFrame([_record(i) for i in range(4)])
    frame.loc[2, "addr"] = "长" * (50 * 1024 * 1024 // 3)  # 50 MB of UTF-8
    path = tmp_path / "feed.csv"
    frame.to_csv(path, index=False)
    spec = _spec("csv", str(path), quality={"max_quarantine_rate": 0.5})
    started = time.monotonic()
    result = ingest(spec, settings, db_url)
    assert time.monotonic() - started < 60  # 88 s and 3.5 GB before the bound
    assert (result.counts.inserted, result.counts.quarantined) == (3, 1)
    assert scalar(db_url, "SELECT max(length(address)) FROM cases") == len("江岸市西城区")
    reason = scalar(db_url, "SELECT reasons->0->>'message' FROM quarantine WHERE source_record_id = 'R2'")
    assert reason == f"addr: {50 * 1024 * 1024 // 3 * 3:,} bytes, over the spec's max_field_bytes (65,536)"
    assert scalar(db_url, "SELECT length(payload->>'addr') FROM raw_records WHERE record_key = 'R2'") \
        == 50 * 1024 * 1024 // 3  # the raw landing keeps the value whole

    (tmp_path / "bad_rows.yaml").write_text(json.dumps(spec.model_dump(by_alias=True, mode="json")))
    started = time.monotonic()
    checked = CliRunner().invoke(app, ["sources", "check", str(tmp_path / "bad_rows.yaml"), "--rows", "5"],
                                 env={"DATABASE_URL": db_url, "GRIDHUB_DATA_DIR": str(settings.data_dir)},
                                 terminal_width=200)
    assert time.monotonic() - started < 60
    assert checked.exit_code == 1 and isinstance(checked.exception, SystemExit)
    assert "over the spec's max_field_bytes" in checked.output and len(checked.output) < 20_000


@pytest.mark.slow  # an ingest of a feed written for the test
def test_a_case_closed_in_2100_is_quarantined(settings, db_url, tmp_path):
    soon = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=2)).isoformat()
    records = [_record(0), _record(1, closed="2100-01-01T00:00:00+08:00"), _record(2, closed=soon)]
    (tmp_path / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    lenient = {"max_quarantine_rate": 1.0}
    result = ingest(_spec("jsonl", f"{tmp_path}/feed.jsonl", quality=lenient), settings, db_url)
    assert (result.counts.inserted, result.counts.quarantined) == (1, 2)
    quarantined = dict(rows(db_url, "SELECT source_record_id, reasons->0->>'check' FROM quarantine"))
    assert quarantined == {"R1": "closed_not_future", "R2": "closed_not_future"}
    # A horizon of a day lets the case closed in two hours (a clock ahead) in, not 2100's.
    horizon = {**lenient, "future_horizon": "P1D"}
    again = ingest(_spec("jsonl", f"{tmp_path}/feed.jsonl", quality=horizon), settings, db_url)
    assert again.counts.inserted == 1
    assert scalar(db_url, "SELECT count(*) FROM cases WHERE source_record_id = 'R2'") == 1
    assert scalar(db_url, "SELECT count(*) FROM cases WHERE closed_at > now() + interval '1 day'") == 0
