"""Broken and hostile inputs: each reader either stops with one line (SourceError) or turns
the one record it cannot read into an unreadable record that names its line, and stays
within its bounds (pages, bytes, seconds, the rows a sample asks for)."""

from __future__ import annotations

import json
import time
import zipfile

import openpyxl
import pandas as pd
import pytest

from connectors.readers import POSITION, ReadContext, read_chunks
from connectors.readers.base import MAX_NESTING, RAW_TEXT, READ_PROBLEM
from connectors.spec import SourceSpec
from core.errors import SourceError
from tests.connectors.feed_server import FeedServer


def _spec(fmt: str, location: str, **extra) -> SourceSpec:
    return SourceSpec.model_validate({
        "name": "fixture", "agency": "test", "kind": "dispute", "format": fmt, "location": location,
        "primary_key": "id", "fields": {"source_record_id": {"from": "id"},
                                        "reported_at": {"from": "t", "parse": "datetime"}},
        **extra})


def _read(spec: SourceSpec, tmp_path, **context) -> pd.DataFrame:
    chunks = list(read_chunks(spec, ReadContext(tmp_path, **context)))
    return pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()


def _one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text and len(text) < 600, text
    return text


def test_an_empty_csv_is_one_line(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SourceError) as error:
        _read(_spec("csv", "{data_dir}/empty.csv"), tmp_path)
    assert "empty.csv is empty" in _one_line(error)


def test_a_bad_json_lines_line_is_an_unreadable_record_with_its_line_number(tmp_path):
    good = [json.dumps({"id": str(i), "t": "2025-01-01"}) for i in range(4)]
    lines = [good[0], "", good[1], '{"id": 1, oops', good[2], "[1, 2]", good[3]]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    frame = _read(_spec("jsonl", "{data_dir}/a.jsonl"), tmp_path)
    assert frame[POSITION].tolist() == list(range(6))  # every record numbered, the bad ones too
    assert frame["id"].dropna().tolist() == ["0", "1", "2", "3"]
    bad = frame[frame[READ_PROBLEM].notna()]
    assert bad[READ_PROBLEM].tolist()[0].startswith("a.jsonl line 4 is not JSON: Expecting")
    assert bad[READ_PROBLEM].tolist()[1] == "a.jsonl line 6 is a JSON list, not an object"
    assert bad[RAW_TEXT].tolist() == ['{"id": 1, oops', "[1, 2]"]  # kept as read, for audit


def test_json_lines_in_the_wrong_encoding_say_so_per_line(tmp_path):
    (tmp_path / "gbk.jsonl").write_bytes(
        '{"id": "1", "t": "2025-01-01", "地址": "江岸市西城区"}\n'.encode("gbk"))
    frame = _read(_spec("jsonl", "{data_dir}/gbk.jsonl"), tmp_path)
    problem = frame.loc[0, READ_PROBLEM]
    assert problem.startswith("gbk.jsonl line 1 is not utf-8 text") and "encoding" in problem
    assert "\\x" in frame.loc[0, RAW_TEXT]  # the undecodable bytes kept, escaped


def test_deeply_nested_json_is_refused_in_one_line_or_per_record(tmp_path):
    deep = '{"id": "1", "t": "x", "v": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (tmp_path / "deep.json").write_text("[" + deep + "]")
    with pytest.raises(SourceError) as error:
        _read(_spec("json", "{data_dir}/deep.json"), tmp_path)
    assert "nests arrays or objects too deep" in _one_line(error)

    objects = '{"id": "2", "t": "x", "v": ' + '{"a": ' * (MAX_NESTING + 5) + "1" + "}" * (MAX_NESTING + 5) + "}"
    (tmp_path / "deep.jsonl").write_text(f'{deep}\n{objects}\n{{"id": "3", "t": "x"}}\n')
    frame = _read(_spec("jsonl", "{data_dir}/deep.jsonl"), tmp_path)
    problems = frame[READ_PROBLEM].tolist()
    assert problems[0] == "deep.jsonl line 1 nests arrays or objects too deep to parse"
    assert problems[1].startswith(f"deep.jsonl line 2: objects nested deeper than {MAX_NESTING} levels")
    assert frame["id"].tolist()[2] == "3"


def _workbook(tmp_path, name: str, sheet_xml: str) -> str:
    """A valid workbook whose first sheet's XML is replaced."""
    book = openpyxl.Workbook()
    book.active.append(["id", "t"])
    plain = tmp_path / "plain.xlsx"
    book.save(plain)
    target = tmp_path / name
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = sheet_xml.encode() if item.filename == "xl/worksheets/sheet1.xml" else src.read(item)
            dst.writestr(item.filename, data)
    return name


SHEET = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{dimension}<sheetData>{rows}'


def _row(number: int, *values: str) -> str:
    cells = "".join(f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
                    for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def test_an_xlsx_entity_bomb_is_refused_quickly_in_one_line(tmp_path):
    entities = '<!ENTITY e0 "' + "lol" * 10 + '">' + "".join(
        f'<!ENTITY e{i} "' + f"&e{i - 1};" * 10 + '">' for i in range(1, 10))
    sheet = (f'<?xml version="1.0"?><!DOCTYPE bomb [{entities}]>'
             + SHEET.format(dimension="", rows=_row(1, "id", "t") + _row(2, "&e9;", "x"))
             + "</sheetData></worksheet>")
    name = _workbook(tmp_path, "bomb.xlsx", sheet)
    started = time.monotonic()
    with pytest.raises(SourceError) as error:
        _read(_spec("xlsx", "{data_dir}/" + name), tmp_path)
    assert time.monotonic() - started < 5  # refused, not expanded to 30 GB
    assert "bomb.xlsx" in _one_line(error) and "amplification" in str(error.value)


def test_a_sample_of_an_xlsx_reads_only_the_rows_asked(tmp_path):
    # The sheet claims 16,384 columns and a million rows, and turns to garbage after its first
    # 3,000 rows: a sample of 5 neither pads its rows to the claim nor parses that far.
    rows = "".join(_row(n + 2, f"R{n}", "2025-01-01") for n in range(3000))
    sheet = (SHEET.format(dimension='<dimension ref="A1:XFD1048576"/>', rows=_row(1, "id", "t") + rows)
             + "<row r=" + "garbage" * 10_000)
    name = _workbook(tmp_path, "big.xlsx", sheet)
    spec = _spec("xlsx", "{data_dir}/" + name)
    sample = _read(spec, tmp_path, limit=5)
    assert sample["id"].tolist() == ["R0", "R1", "R2", "R3", "R4"]
    assert list(sample.columns) == ["id", "t", POSITION]
    with pytest.raises(SourceError, match="cannot read sheet 0 of .*big.xlsx"):
        _read(spec, tmp_path)  # the whole sheet does reach the garbage


def _endless(query: dict[str, str]) -> tuple[int, bytes]:
    page = int(query.get("page", "1"))
    return 200, json.dumps({"data": [{"id": f"{page}-{i}", "t": "2025-01-01"} for i in range(2)]}).encode()


def _rest(url: str, **options) -> SourceSpec:
    return _spec("rest", url, options={"paging": "page", "page_size": 2, "retries": 0, **options})


def test_a_feed_that_never_stops_paging_stops_at_max_pages(tmp_path):
    with FeedServer(_endless) as feed:
        with pytest.raises(SourceError) as error:
            _read(_rest(feed.url, max_pages=25), tmp_path)
        assert feed.requests == 25
    assert "still had more pages after 25 (options.max_pages)" in _one_line(error)


def test_a_feed_bounded_by_bytes_and_seconds(tmp_path):
    with FeedServer(_endless) as feed:
        with pytest.raises(SourceError) as error:
            _read(_rest(feed.url, max_bytes=2_000), tmp_path)
        assert "more than 2,000 bytes in all (options.max_bytes)" in _one_line(error)
        assert feed.requests < 40

    def slow(query):
        time.sleep(0.1)
        return _endless(query)

    with FeedServer(slow) as feed:
        started = time.monotonic()
        with pytest.raises(SourceError) as error:
            _read(_rest(feed.url, max_seconds=0.5), tmp_path)
        assert time.monotonic() - started < 3
    assert "reading took longer than 0.5 s" in _one_line(error) and "options.max_seconds" in str(error.value)


def test_a_feed_whose_paging_does_not_advance_stops_at_once(tmp_path):
    same = json.dumps({"data": [{"id": "1", "t": "x"}, {"id": "2", "t": "x"}], "next_cursor": "c"}).encode()
    seen = []

    def ignoring_the_page(query):
        seen.append(query)
        return 200, same

    with FeedServer(ignoring_the_page) as feed:
        with pytest.raises(SourceError) as error:
            _read(_rest(feed.url + "?type=all"), tmp_path)  # page paging, but the server ignores the page
    assert [q["page"] for q in seen] == ["1", "2"]
    assert all(q["type"] == "all" for q in seen)  # the location's own query is kept
    assert "answered page 2 exactly as page 1" in _one_line(error)

    def looping(query):
        cursor = query.get("cursor", "a")
        following = {"a": "b", "b": "a"}[cursor]
        return 200, json.dumps({"data": [{"id": cursor, "t": "x"}], "next_cursor": following}).encode()

    with FeedServer(looping) as feed:
        with pytest.raises(SourceError, match="sent the cursor 'b' a second time"):
            _read(_rest(feed.url, paging="cursor"), tmp_path)
