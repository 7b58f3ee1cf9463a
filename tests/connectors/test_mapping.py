"""Mapping transforms: dates in every agency's style, numbers, value maps, joins, constants, PII."""

from __future__ import annotations

import pandas as pd

from connectors.mapping import map_chunk, parse_datetimes, parse_numbers
from connectors.spec import SourceSpec

KEY = b"test-key"
SH = "Asia/Shanghai"


def _text(values):
    return pd.Series(values, dtype="string")


def test_datetimes_in_every_style_become_utc():
    cases = {
        "2026-03-05T14:22:00+08:00": ["ISO8601"],
        "2026-03-05 14:22:00": ["%Y-%m-%d %H:%M:%S"],
        "2026/03/05 14:22": ["%Y/%m/%d %H:%M"],
        "2026年3月5日 14时22分": ["chinese"],
        "1772691720000": ["epoch_ms"],
        "1772691720": ["epoch_s"],
        "46086.598611": ["excel"],
        "20260305142200": ["%Y%m%d%H%M%S"],
    }
    expected = pd.Timestamp("2026-03-05 06:22:00", tz="UTC")
    for text, formats in cases.items():
        got = parse_datetimes(_text([text]), formats, SH).iloc[0]
        assert abs(got - expected) <= pd.Timedelta(seconds=1), (text, got)
    mixed = parse_datetimes(_text(["2026/03/05 14:22", "2026-03-05T06:22:00Z", "nonsense", None]),
                            ["%Y/%m/%d %H:%M", "ISO8601"], SH)
    assert mixed.iloc[0] == mixed.iloc[1] == expected
    assert mixed.iloc[2:].isna().all()
    # The source's own zone decides local times: the same text in UTC is 8 hours later.
    assert parse_datetimes(_text(["2026-03-05 14:22:00"]), ["%Y-%m-%d %H:%M:%S"], "UTC").iloc[0] \
        == expected + pd.Timedelta(hours=8)


def test_numbers_with_units_separators_and_full_width_digits():
    from connectors.mapping import DEFAULT_UNITS, _clean_text

    text = _clean_text(pd.Series(["12,500.00元", "1.25万元", "１２５００", "3人", "-7", "5kg", ""], dtype=object))
    got = parse_numbers(text, DEFAULT_UNITS).tolist()
    assert got[:5] == [12500.0, 12500.0, 12500.0, 3.0, -7.0]
    assert pd.isna(got[5]) and pd.isna(got[6])


def test_map_chunk_value_maps_joins_constants_pii_and_problems():
    spec = SourceSpec.model_validate({
        "name": "t", "agency": "a", "kind": "dispute", "format": "csv", "location": "x",
        "primary_key": "id", "crs": "GCJ-02",
        "fields": {
            "source_record_id": {"from": "id"},
            "reported_at": {"from": ["d", "t"], "join": " ", "parse": "datetime",
                            "formats": ["%Y-%m-%d %H:%M"]},
            "category": {"from": "cat", "values": {"劳资": "labour", "噪音": "environment"}},
            "status": {"const": "accepted"},
            "amount": {"from": "amt", "parse": "number", "units": {"千元": 1000}},
            "src_x": {"from": "x", "parse": "number"},
            "person_key": {"from": "phone", "pii": "hash"},
            "address": {"from": "addr"},
            "area_name": {"from": "name", "pii": "mask"},
        }})
    raw = pd.DataFrame({
        "id": [" Ａ1 ", "A2", "A3"], "d": ["2025-01-02", "2025-01-03", "bad"], "t": ["08:00", "09:30", "x"],
        "cat": ["劳资", "噪音 ", "未知"], "amt": ["3千元", "", "1万"], "x": ["121.1", "121.2", "abc"],
        "phone": ["13900001111", "13900001111", None], "addr": ["江岸市１号", None, "路"],
        "name": ["张三丰", "李四", None]}, dtype=object)
    mapped = map_chunk(spec, raw, KEY, SH, "339900000000")
    cases, problems = mapped.cases, mapped.problems
    assert cases["source_record_id"].tolist() == ["A1", "A2", "A3"]  # full width and spaces cleaned
    assert cases.loc[0, "reported_at"] == pd.Timestamp("2025-01-02 00:00", tz="UTC")
    assert cases["category"].tolist()[:2] == ["labour", "environment"] and pd.isna(cases.loc[2, "category"])
    assert cases["status"].tolist() == ["accepted"] * 3 and cases["kind"].tolist() == ["dispute"] * 3
    assert cases.loc[0, "amount"] == 3000.0 and cases.loc[2, "amount"] == 10000.0
    assert cases["src_crs"].tolist() == ["GCJ-02"] * 3
    assert cases.loc[0, "person_key"] == cases.loc[1, "person_key"] != "13900001111"
    assert len(cases.loc[0, "person_key"]) == 32 and pd.isna(cases.loc[2, "person_key"])
    assert cases["area_name"].tolist()[:2] == ["张*丰", "李*"]  # masked, never in clear
    assert cases.loc[0, "address"] == "江岸市1号"
    assert cases.loc[0, "report_day"] == pd.Timestamp("2025-01-02")
    assert problems.iloc[0] == [] and problems.iloc[1] == []
    assert any("reported_at: cannot parse 'bad x'" in p for p in problems.iloc[2])
    assert any("category: unknown code '未知'" in p for p in problems.iloc[2])
    assert any("src_x: cannot parse 'abc'" in p for p in problems.iloc[2])
    # The record hash follows canonical content only: the same case re-exported hashes alike.
    again = map_chunk(spec, raw.assign(id=["A1", "A2", "A3"]), KEY, SH, "339900000000")
    assert again.cases["record_hash"].tolist() == cases["record_hash"].tolist()
