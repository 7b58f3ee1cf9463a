"""`gridhub ingest` and `gridhub sources check` answer broken inputs, and a database connection
lost mid-run, with one line and a non-zero exit, never a traceback; the run is marked failed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.connectors.feed_server import FeedServer
from tests.pipeline.helpers import rows, scalar

SPEC = """name: {name}
agency: test
kind: dispute
format: {fmt}
location: "{location}"
primary_key: id
chunk_rows: 2
fields:
  source_record_id: {{from: id}}
  reported_at: {{from: t, parse: datetime}}
  category: {{const: neighbourhood}}
  status: {{const: reported}}
  address: {{from: addr}}
options: {options}
"""


def _bomb(path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["id", "t"])
    book.save(path.with_suffix(".plain"))
    entities = '<!ENTITY e0 "lollollol">' + "".join(
        f'<!ENTITY e{i} "' + f"&e{i - 1};" * 10 + '">' for i in range(1, 10))
    sheet = (f'<?xml version="1.0"?><!DOCTYPE b [{entities}]><worksheet xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr">'
             "<is><t>&e9;</t></is></c></row></sheetData></worksheet>")
    with zipfile.ZipFile(path.with_suffix(".plain")) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            dst.writestr(item.filename, sheet if item.filename == "xl/worksheets/sheet1.xml" else src.read(item))


# name -> (format, file name, how to write it, what the one line says)
BROKEN = {
    "empty_csv": ("csv", "empty.csv", lambda p: p.write_bytes(b""), "empty.csv is empty"),
    "deep_json": ("json", "deep.json", lambda p: p.write_text("[" * 200_000 + "]" * 200_000),
                  "nests arrays or objects too deep"),
    "bomb_xlsx": ("xlsx", "bomb.xlsx", _bomb, "amplification"),
    "gbk_jsonl": ("jsonl", "gbk.jsonl", lambda p: p.write_bytes(
        '{"id": "1", "t": "2025-01-01", "addr": "江岸市"}\n'.encode("gbk") * 3),
        "is not utf-8 text"),
}


@pytest.fixture
def sources(tmp_path) -> Path:
    folder = tmp_path / "sources"
    folder.mkdir()
    for name, (fmt, file, write, _) in BROKEN.items():
        write(tmp_path / file)
        (folder / f"{name}.yaml").write_text(
            SPEC.format(name=name, fmt=fmt, location=tmp_path / file, options="{}"), encoding="utf-8")
    return folder


def _env(sources: Path, db_url: str, demo_dir: Path) -> dict[str, str]:
    return {"GRIDHUB_SOURCES_DIR": str(sources), "DATABASE_URL": db_url, "GRIDHUB_DATA_DIR": str(demo_dir)}


def _one_error_line(result) -> str:
    assert isinstance(result.exception, SystemExit), result.exception  # no unhandled error
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    return lines[0]


@pytest.mark.parametrize("name", [n for n in BROKEN if n != "gbk_jsonl"])
def test_unreadable_files_are_one_line_in_ingest_and_check(name, sources, db_url, demo_dir):
    env = _env(sources, db_url, demo_dir)
    expected = BROKEN[name][3]
    for command in (["ingest", name], ["sources", "check", name, "--rows", "5"]):
        result = CliRunner().invoke(app, command, env=env, terminal_width=400)
        assert expected in _one_error_line(result), result.output
    assert rows(db_url, "SELECT status FROM ingest_runs") == [("failed",)]  # the ingest's run
    assert scalar(db_url, "SELECT count(*) FROM cases") == 0


def test_json_lines_in_the_wrong_encoding(sources, db_url, demo_dir):
    env = _env(sources, db_url, demo_dir)
    # Each line is quarantined with its reason; all of them failing, the quality gate stops the run.
    result = CliRunner().invoke(app, ["ingest", "gbk_jsonl"], env=env, terminal_width=400)
    line = _one_error_line(result)
    assert "stopped by quality gates" in line and "3 of 3 rows failed validation" in line
    # Nothing loaded; the raw landing stays, for a replay once the spec names the encoding.
    assert rows(db_url, "SELECT status FROM ingest_runs") == [("stopped",)]
    assert (scalar(db_url, "SELECT count(*) FROM raw_records"), scalar(db_url, "SELECT count(*) FROM cases")) == (3, 0)
    checked = CliRunner().invoke(app, ["sources", "check", "gbk_jsonl"], env=env, terminal_width=400)
    assert checked.exit_code == 1 and isinstance(checked.exception, SystemExit)
    assert checked.output.count("unreadable: gbk.jsonl line") == 3 and "check the spec's encoding" in checked.output


def _terminating_feed(db_url: str):
    """A feed of three pages that, asked for its second page, terminates every other backend
    of the database (the ingest's), once."""
    done = []

    def answer(query: dict[str, str]) -> tuple[int, bytes]:
        page = int(query["page"])
        if page == 2 and not done:
            done.append(True)
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        records = [{"id": f"{page}-{i}", "t": "2025-03-01T10:00:00+08:00", "addr": "江岸市"}
                   for i in range(2 if page < 3 else 1)]
        return 200, json.dumps({"data": records}).encode()

    return answer


@pytest.mark.slow  # a CLI ingest killed from outside
def test_a_backend_terminated_mid_run_is_one_line_and_the_run_failed(tmp_path, db_url, second_db_url, demo_dir):
    folder = tmp_path / "sources"
    folder.mkdir()
    with FeedServer(_terminating_feed(db_url)) as feed:
        options = json.dumps({"paging": "page", "page_size": 2, "retries": 0})
        (folder / "feed.yaml").write_text(SPEC.format(name="feed", fmt="rest", location=feed.url,
                                                      options=options), encoding="utf-8")
        env = _env(folder, db_url, demo_dir)
        result = CliRunner().invoke(app, ["ingest", "feed"], env=env, terminal_width=400)
        line = _one_error_line(result)
        assert "the database connection was lost during run 1" in line and "run the source again" in line
        assert rows(db_url, "SELECT status FROM ingest_runs") == [("failed",)]
        assert scalar(db_url, "SELECT count(*) FROM cases") == 0

        again = CliRunner().invoke(app, ["ingest", "feed"], env=env, terminal_width=400)
        assert again.exit_code == 0, again.output
        clean = CliRunner().invoke(app, ["ingest", "feed"], env=_env(folder, second_db_url, demo_dir),
                                   terminal_width=400)
        assert clean.exit_code == 0, clean.output
    assert rows(db_url, "SELECT run_id, status FROM ingest_runs ORDER BY 1") == [(1, "failed"), (2, "succeeded")]
    cases = "SELECT source_record_id, record_hash FROM cases ORDER BY 1"
    assert len(rows(db_url, cases)) == 5 and rows(db_url, cases) == rows(second_db_url, cases)
