"""Local times at a daylight-saving change: resolved by one rule and counted, never quarantined."""

from __future__ import annotations

import pandas as pd

from connectors.mapping import clock_change_counts, map_chunk, parse_datetimes
from connectors.spec import SourceSpec

CHICAGO = "America/Chicago"


def test_missing_and_ambiguous_chicago_times_follow_the_rule():
    text = pd.Series(["2024-03-10 02:30:00", "2024-11-03 01:30:00", "2024-03-10 01:59:00",
                      "2024-11-03 02:30:00", "not a time"], dtype="string")
    resolved: dict = {}
    got = parse_datetimes(text, ["%Y-%m-%d %H:%M:%S"], CHICAGO, resolved)
    # 02:30 never happens on 10 March: read with the offset before the change (-06:00), i.e.
    # 03:30 daylight time, as an unchanged wall clock would read.
    assert got.iloc[0] == pd.Timestamp("2024-03-10 08:30", tz="UTC")
    assert got.iloc[0].tz_convert(CHICAGO).strftime("%H:%M %Z") == "03:30 CDT"
    # 01:30 happens twice on 3 November: the first (earlier, daylight) one.
    assert got.iloc[1] == pd.Timestamp("2024-11-03 06:30", tz="UTC")
    assert got.iloc[2] == pd.Timestamp("2024-03-10 07:59", tz="UTC")  # ordinary times unchanged
    assert got.iloc[3] == pd.Timestamp("2024-11-03 08:30", tz="UTC")
    assert pd.isna(got.iloc[4])
    assert resolved == {0: "missing", 1: "ambiguous"}


def test_mapped_rows_at_a_clock_change_load_with_a_note_and_a_count():
    spec = SourceSpec.model_validate({
        "name": "chicago_test", "agency": "CPD", "kind": "incident", "format": "csv",
        "location": "x", "primary_key": "id", "timezone": CHICAGO,
        "fields": {
            "source_record_id": {"from": "id"},
            "reported_at": {"from": "date", "parse": "datetime", "formats": ["%m/%d/%Y %I:%M:%S %p"]},
            "closed_at": {"from": "closed", "parse": "datetime", "formats": ["%m/%d/%Y %I:%M:%S %p"]},
            "category": {"const": "public_security"}, "status": {"const": "accepted"},
        },
    })
    raw = pd.DataFrame({
        "id": ["a", "b", "c"],
        "date": ["03/10/2024 02:30:00 AM", "11/03/2024 01:30:00 AM", "05/01/2024 10:00:00 AM"],
        "closed": ["11/03/2024 01:15:00 AM", None, None],
    })
    mapped = map_chunk(spec, raw, b"k", CHICAGO, "17031")
    assert [p for p in mapped.problems] == [[], [], []]  # nothing to quarantine
    assert mapped.cases["reported_at"].notna().all()
    notes = mapped.cases["attributes"].tolist()
    assert notes[0] == {"clock_change": {"reported_at": "missing", "closed_at": "ambiguous"}}
    assert notes[1] == {"clock_change": {"reported_at": "ambiguous"}}
    assert notes[2] is None
    assert clock_change_counts(mapped.cases) == {"clock change: missing": 1, "clock change: ambiguous": 2}
    # The day the city counts the case on is the resolved instant's (here, the spec's zone's).
    assert str(mapped.cases["report_day"].iloc[0].date()) == "2024-03-10"
