"""Reliability benchmark of the ingest: kill points, backend terminations and broken inputs.

    .venv/bin/python bench/bench_reliability.py                 # --size small
    .venv/bin/python bench/bench_reliability.py --size tiny     # the test suite's run
    .venv/bin/python bench/bench_reliability.py --size full     # every point, 200,000 records

1. Kill points. A demo feed is ingested by `gridhub ingest` in a child process that stops at
   a chosen step (reading, landing, loading, rollups, the final commit): the parent then kills
   it with SIGKILL, or terminates its database backends (pg_terminate_backend) and lets it go
   on. The source is ingested again, and the database is compared with a clean run's: rows
   of the clean run missing (lost), rows the clean run does not have (duplicated), runs left
   `running`, and the interrupted run's output (one line, no traceback).
2. Bad inputs. Broken files and feeds (empty, wrong encoding, nested too deep, XML entity
   bomb, zip-bomb sheet, a bad line, a 50 MB field, a case closed in 2100, a feed that never
   stops paging, ...) go through `gridhub ingest` or `gridhub sources check` on a database
   already holding a clean ingest: each must give one line and a non-zero exit, or quarantine
   its bad rows while the good ones load, and no loaded row may be lost.
3. The API under backend terminations. `gridhub serve` answers summaries, stats, time series,
   case pages (an analyst's key) and tiles to concurrent clients, its answer cache off, while
   the backends of its connections (application_name gridhub-api and gridhub-api-watcher) are
   terminated again and again: every answer must be a 2xx, or a 503 with Retry-After; other
   5xx and reset connections are counted, and so are the audit rows of the answered requests
   missing once the server has stopped (lost), and the server's peak resident memory.

Every `gridhub` run is a process of its own, forked from a server that has imported the CLI
and the pipeline once (multiprocessing's forkserver): the same code as a fresh `gridhub`
process, without paying its imports (seconds each) at every run.

Prints a table per section and the totals: "lost N", "duplicated N", "tracebacks N", "5xx N",
"peak memory MB" (the largest process: a run of the CLI or an API worker).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import multiprocessing
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_ingest  # noqa: E402  (its databases are reused)

from tests.connectors.feed_server import FeedServer  # noqa: E402  (the tests' paged feed)

SOURCE = "hotline_12345"
READY = "GRIDHUB-BENCH-KILL-POINT"  # sent by a run that reached its kill point
# Imported once by the forkserver, before it forks each run of the CLI ("__main__": this
# script, so that a forked run finds child_gridhub without running the script again).
WARM_MODULES = ("__main__", "cli.main", "cli.ingest_cmd", "pipeline.ingest", "quality.validation",
                "great_expectations")


@dataclass(frozen=True)
class Size:
    records: int  # demo records over every feed
    chunk_rows: int  # rows per chunk of the source: kill points fall between chunks
    points: tuple[str, ...]  # kill points run (labels of KILL_POINTS), each in both modes unless fewer
    modes: tuple[str, ...]
    field_mb: int  # the oversized CSV field
    sheet_mb: int  # the zip-bomb sheet, uncompressed
    inputs: tuple[str, ...] | None  # the bad inputs run (names in write_corpus; None: all)
    api_seconds: float  # of load on the API
    api_terminations: int  # rounds of backend terminations, spread over the load
    api_workers: int


@dataclass(frozen=True)
class KillPoint:
    """Stop the ingest at the nth call of module.name."""

    label: str
    module: str
    name: str
    nth: int = 1


KILL_POINTS = {p.label: p for p in (
    KillPoint("reading", "pipeline.ingest", "land_raw", 1),
    KillPoint("landing", "pipeline.ingest", "land_raw", 2),
    KillPoint("loading", "pipeline.ingest", "merge_cases", 1),
    KillPoint("quarantining", "pipeline.ingest", "quarantine", 2),
    KillPoint("finishing", "pipeline.ingest", "_finish", 1),  # rollups, watermark, status
    KillPoint("committing", "store.runs", "finish_run", 1),  # the load's last statement
)}

# tiny is the test suite's run (about a minute): one kill, one termination, an input of each
# expectation, a few seconds of API load.
SIZES = {
    "tiny": Size(2_000, 300, ("landing", "committing"), ("kill", "terminate"), 2, 20,
                 ("empty_csv", "bad_line_jsonl", "entity_bomb_xlsx", "endless_rest", "zip_bomb_xlsx"),
                 3, 4, 2),
    "small": Size(20_000, 1_000, tuple(KILL_POINTS), ("kill", "terminate"), 50, 200, None, 30, 20, 2),
    "full": Size(200_000, 10_000, tuple(KILL_POINTS), ("kill", "terminate"), 50, 1500, None, 120, 60, 2),
}


@dataclass
class Figures:
    """What a section found; the totals are their sums (peak memory: the largest)."""

    lost: int = 0
    duplicated: int = 0
    tracebacks: int = 0
    server_errors: int = 0  # 5xx answers but 503 with Retry-After
    peak_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.tracebacks += other.tracebacks
        self.server_errors += other.server_errors
        self.peak_mb = max(self.peak_mb, other.peak_mb)
        self.notes += other.notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--server", default=None, help="PostgreSQL URL (default: the project's cluster)")
    parser.add_argument("--bench-dir", type=Path, default=ROOT / "var" / "bench",
                        help="where the demo feeds and broken inputs are written (default: var/bench)")
    args = parser.parse_args()
    run(SIZES[args.size], args.size, args.server, args.bench_dir)


def run(size: Size, size_name: str, server: str | None, bench_dir: Path) -> None:
    from store import provision
    from store.db import with_dbname

    server = with_dbname(server or provision.up(ROOT / "var", None).url, "postgres")
    data_dir = demo_data(bench_dir / f"reliability_{size.records}", size)
    template = f"gridhub_bench_rel_{uuid.uuid4().hex[:6]}"
    bench_ingest.make_template(server, template, data_dir)
    total = Figures()
    try:
        print(f"demo city, {size.records:,} records; source {SOURCE}; size {size_name}", flush=True)
        # One clean ingest: the state each kill point must end in, and the database the bad
        # inputs and the API start from (clones of it).
        with Database(server, template) as loaded:
            clean = ingest(loaded.url, data_dir)
            if clean.exit != 0:
                raise SystemExit(f"the clean ingest failed:\n{clean.errors[-3000:]}")
            expected = state(loaded.url)
            total.peak_mb = clean.peak_mb
            total.add(kill_points(server, template, data_dir, size, expected))
            total.add(bad_inputs(server, loaded.name, data_dir, size))
            total.add(api_under_terminations(server, loaded.name, size))
    finally:
        bench_ingest.drop(server, template)
    print()
    for note in total.notes:
        print(f"note: {note}")
    print(f"lost {total.lost}")
    print(f"duplicated {total.duplicated}")
    print(f"tracebacks {total.tracebacks}")
    print(f"5xx {total.server_errors}")
    print(f"peak memory MB {total.peak_mb:,.0f}")


def demo_data(data_dir: Path, size: Size) -> Path:
    """The demo city and its feeds, written once per size and reused."""
    import yaml

    from connectors.spec import load_spec
    from demo.generate import generate

    if not (data_dir / "demo" / "manifest.json").exists():
        print(f"writing the demo city and feeds to {data_dir} ...", flush=True)
        generate(data_dir / "demo", seed=7, records=size.records)
    # The source in small chunks, so that the kill points between chunks exist at any size.
    spec = load_spec(ROOT / "sources" / f"{SOURCE}.yaml")
    (data_dir / "sources").mkdir(exist_ok=True)
    (data_dir / "sources" / f"{SOURCE}.yaml").write_text(yaml.safe_dump(
        {**spec.model_dump(by_alias=True, mode="json", exclude_defaults=True), "chunk_rows": size.chunk_rows},
        allow_unicode=True, sort_keys=False), encoding="utf-8")
    return data_dir


class Database:
    """A clone of the template for a block; its URL."""

    def __init__(self, server: str, template: str):
        from store.db import with_dbname

        self.server, self.name = server, f"gridhub_bench_rel_{uuid.uuid4().hex[:8]}"
        bench_ingest.clone(server, self.name, template)
        self.url = with_dbname(server, self.name)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        bench_ingest.drop(self.server, self.name)


# ---- 1. kill points -------------------------------------------------------------------------


def kill_points(server: str, template: str, data_dir: Path, size: Size, expected: dict) -> Figures:
    figures = Figures()
    print(f"\nkill points: clean run {len(expected['cases']):,} cases, {len(expected['quarantine']):,}"
          " quarantined; each point then re-run and compared with it")
    print(f"{'point':<30}{'mode':<11}{'exit':>5}{'rerun':>7}{'lost':>6}{'dup':>5}{'running':>9}  output")
    points = [(p, m) for p in size.points for m in size.modes]
    if len(size.points) < len(KILL_POINTS):  # a smaller run alternates the modes
        points = [(p, size.modes[i % len(size.modes)]) for i, p in enumerate(size.points)]
    for label, mode in points:
        point = KILL_POINTS[label]
        with Database(server, template) as db:
            interrupted = interrupt(db.url, data_dir, label, mode)
            rerun = ingest(db.url, data_dir)
            got = state(db.url)
            running = scalar(db.url, "SELECT count(*) FROM ingest_runs WHERE status = 'running'")
        lost, duplicated = compare(expected, got)
        output = interrupted.errors
        figures.lost += lost
        figures.duplicated += duplicated
        figures.tracebacks += "Traceback" in output
        figures.peak_mb = max(figures.peak_mb, interrupted.peak_mb, rerun.peak_mb)
        if running:
            figures.notes.append(f"{label} / {mode}: {running} run(s) left running")
        if rerun.exit != 0:
            figures.notes.append(f"{label} / {mode}: the re-run failed: {rerun.errors.strip()[-300:]}")
        if not interrupted.reached:
            figures.notes.append(f"{label} / {mode}: the ingest ended before its kill point")
        shown = "(killed)" if mode == "kill" else output.strip().splitlines()[-1][:90] if output.strip() else "(none)"
        print(f"{f'{label} ({point.name} #{point.nth})':<30}{mode:<11}{interrupted.exit:>5}"
              f"{'ok' if rerun.exit == 0 else 'FAIL':>7}{lost:>6}{duplicated:>5}{running:>9}  {shown}",
              flush=True)
    return figures


def interrupt(url: str, data_dir: Path, point: str, mode: str) -> Ran:
    """Run the ingest up to the kill point, then kill it or terminate its backends."""

    def at_stop(child, pipe) -> None:
        if mode == "kill":
            child.kill()
            return
        with connect(url) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        pipe.send("go")

    return gridhub(["ingest", SOURCE], url, data_dir, stop_at=point, at_stop=at_stop)


def ingest(url: str, data_dir: Path) -> Ran:
    return gridhub(["ingest", SOURCE], url, data_dir)


# ---- runs of the CLI ------------------------------------------------------------------------


@dataclass
class Ran:
    """A finished run of `gridhub`: its exit code (-9: killed), output and peak memory."""

    exit: int
    output: str  # stdout
    errors: str  # stderr
    seconds: float
    peak_mb: float  # 0 when it was killed
    reached: bool = False  # its kill point, when it had one


@functools.cache
def _forkserver():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WARM_MODULES))
    return context


def gridhub(args: list[str], url: str, data_dir: Path, sources_dir: Path | None = None,
            stop_at: str | None = None, at_stop: Callable | None = None, timeout: float = 1200) -> Ran:
    """`gridhub ARGS` on the database at url, in a process of its own. With stop_at (a label of
    KILL_POINTS), the run waits there for at_stop(process, pipe): it kills the process, or
    sends on the pipe to let it go on."""
    context = _forkserver()
    ours, theirs = context.Pipe()
    env = {"DATABASE_URL": url, "GRIDHUB_DATA_DIR": str(data_dir),
           "GRIDHUB_SOURCES_DIR": str(sources_dir or data_dir / "sources")}
    with tempfile.TemporaryDirectory(prefix="gridhub-bench-") as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        child = context.Process(target=child_gridhub, args=(theirs, env, args, stop_at, str(out), str(err)))
        started = time.monotonic()
        child.start()
        theirs.close()  # the child's end: the pipe ends when the child does
        reached, peak_mb = False, 0.0
        while ours.poll(max(0.0, started + timeout - time.monotonic())):
            try:
                message = ours.recv()
            except EOFError:
                break
            if message == READY:
                reached = True
                at_stop(child, ours)
            else:
                peak_mb = message
        else:
            child.kill()  # out of time: counted as a failed run
        child.join()
        ours.close()
        output, errors = (path.read_text(errors="replace") if path.exists() else "" for path in (out, err))
        return Ran(child.exitcode, output, errors, time.monotonic() - started, peak_mb, reached)


def child_gridhub(pipe, env: dict, args: list[str], stop_at: str | None, out: str, err: str) -> None:
    """In the forked process: the CLI as a user runs it, its output into files, then its peak
    memory to the parent."""
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)
    os.environ.update(env)
    if stop_at:
        _stop_at(KILL_POINTS[stop_at], pipe)
    from cli.main import app

    try:
        app(args, prog_name="gridhub")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        pipe.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _stop_at(point: KillPoint, pipe) -> None:
    """At the nth call of module.name, say so on the pipe and wait for an answer."""
    import importlib

    module = importlib.import_module(point.module)
    inner = getattr(module, point.name)
    calls = 0

    def stopping(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == point.nth:
            pipe.send(READY)
            pipe.recv()  # killed meanwhile, or told to go on after a termination
        return inner(*args, **kwargs)

    setattr(module, point.name, stopping)
    # The pipeline imports some steps by name: replace them there too.
    pipeline = importlib.import_module("pipeline.ingest")
    if getattr(pipeline, point.name, None) is inner:
        setattr(pipeline, point.name, stopping)


STATE = {
    "cases": "SELECT source, source_record_id, record_hash, status, category, grid_code, geocode_method,"
             " reported_at::text FROM cases",
    "quarantine": "SELECT q.source, q.source_record_id, r.content_hash,"
                  " jsonb_path_query_array(q.reasons, '$[*].check')::text FROM quarantine q"
                  " LEFT JOIN raw_records r USING (raw_id) WHERE q.released_at IS NULL",
    "rollups": "SELECT area_code, day::text, kind, category, reported, resolved, closed FROM rollup_daily",
    "raw": "SELECT source, content_hash FROM raw_records",
    "watermark": "SELECT source, watermark FROM source_state",
}


def state(url: str) -> dict[str, list[tuple]]:
    with connect(url) as conn:
        return {table: conn.execute(query).fetchall() for table, query in STATE.items()}


def compare(expected: dict, got: dict) -> tuple[int, int]:
    """(rows of the clean run missing, rows the clean run does not have), over every table."""
    lost = duplicated = 0
    for table in STATE:
        want, have = Counter(expected[table]), Counter(got[table])
        lost += sum((want - have).values())
        duplicated += sum((have - want).values())
    return lost, duplicated


# ---- 2. bad inputs --------------------------------------------------------------------------


SPEC = """name: {name}
agency: bench
kind: dispute
format: {fmt}
location: "{location}"
primary_key: id
fields:
  source_record_id: {{from: id}}
  reported_at: {{from: t, parse: datetime}}
  closed_at: {{from: closed, parse: datetime}}
  category: {{const: neighbourhood}}
  status: {{const: reported}}
  address: {{from: addr}}
options: {options}
quality: {{max_quarantine_rate: 0.5}}
"""

# expectation: "error" (one line, non-zero exit), "quarantine" (bad rows quarantined, good rows
# loaded), "sample" (`sources check --rows 5` answers within SAMPLE_SECONDS)
SAMPLE_SECONDS = 20


def good(i: int, **values) -> dict:
    return {"id": f"B{i}", "t": "2025-03-01T10:00:00+08:00", "closed": "", "addr": "江岸市西城区", **values}


def write_corpus(folder: Path, size: Size, feed_url: str) -> dict[str, tuple[str, str]]:
    """The broken inputs and the specs of those the size runs; name -> (what it is, expectation)."""
    import csv

    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    specs = folder / "sources"
    shutil.rmtree(specs, ignore_errors=True)
    specs.mkdir()
    corpus: dict[str, tuple[str, str]] = {}

    def add(name: str, what: str, expect: str, fmt: str, location: str, options: dict | None = None) -> None:
        if size.inputs is not None and name not in size.inputs:
            return
        corpus[name] = (what, expect)
        (specs / f"{name}.yaml").write_text(SPEC.format(name=name, fmt=fmt, location=location,
                                                        options=json.dumps(options or {})), encoding="utf-8")

    def lines(name: str, rows: list[str], encoding: str = "utf-8") -> Path:
        path = folder / name
        path.write_bytes("\n".join(rows).encode(encoding) + b"\n")
        return path

    def table(name: str, rows: list[dict]) -> Path:
        path = folder / name
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(good(0)))
            writer.writeheader()
            writer.writerows(rows)
        return path

    records = [json.dumps(good(i), ensure_ascii=False) for i in range(20)]
    (folder / "empty.csv").write_bytes(b"")
    add("empty_csv", "empty CSV", "error", "csv", str(folder / "empty.csv"))
    plain = table("plain.csv", [good(0)])
    (folder / "gbk.csv").write_bytes(plain.read_text(encoding="utf-8").encode("gbk"))
    add("gbk_csv", "CSV in GBK, spec says utf-8", "error", "csv", str(folder / "gbk.csv"))
    add("gbk_jsonl", "JSON Lines in GBK, spec says utf-8", "error", "jsonl",
        str(lines("gbk.jsonl", records[:5], "gbk")))
    (folder / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    add("deep_json", "JSON nested 200,000 deep", "error", "json", str(folder / "deep.json"))
    add("bad_line_jsonl", "JSON Lines with one line cut short", "quarantine", "jsonl",
        str(lines("bad_line.jsonl", [*records[:10], records[10][:25], *records[11:]])))
    add("deep_line_jsonl", "JSON Lines with one line nested 100,000 deep", "quarantine", "jsonl",
        str(lines("deep_line.jsonl", [*records[:10], "[" * 100_000 + "]" * 100_000, *records[11:]])))
    add("not_object_jsonl", "JSON Lines with a bare list", "quarantine", "jsonl",
        str(lines("list.jsonl", [*records[:10], "[1, 2, 3]", *records[11:]])))
    big = "长" * (size.field_mb * 1024 * 1024 // 3)
    add("big_field_csv", f"CSV with a {size.field_mb} MB field", "quarantine", "csv",
        str(table("big_field.csv", [good(i, addr=big) if i == 3 else good(i) for i in range(20)])))
    add("future_csv", "CSV with a case closed in 2100", "quarantine", "csv",
        str(table("future.csv", [good(i, closed="2100-01-01T00:00:00+08:00") if i == 5 else good(i)
                                 for i in range(20)])))
    book = openpyxl.Workbook()
    book.active.append(list(good(0)))
    book.save(folder / "plain.xlsx")
    entities = '<!ENTITY e0 "lollollol">' + "".join(
        f'<!ENTITY e{i} "' + f"&e{i - 1};" * 10 + '">' for i in range(1, 10))
    _with_sheet(folder / "plain.xlsx", folder / "bomb.xlsx", [
        f'<?xml version="1.0"?><!DOCTYPE b [{entities}]>' + _SHEET_HEAD + _cells(1, ["&e9;"])
        + "</sheetData></worksheet>"])
    add("entity_bomb_xlsx", "xlsx with an XML entity bomb", "error", "xlsx", str(folder / "bomb.xlsx"))
    (folder / "truncated.xlsx").write_bytes((folder / "plain.xlsx").read_bytes()[:300])
    add("truncated_xlsx", "xlsx cut short", "error", "xlsx", str(folder / "truncated.xlsx"))
    rows = "".join(_cells(n, [f"Z{n}", "2025-03-01T10:00:00+08:00", "", "江岸市"]) for n in range(2, 20_002))
    repeats = max(1, size.sheet_mb * 1024 * 1024 // len(rows.encode()))
    _with_sheet(folder / "plain.xlsx", folder / "zip_bomb.xlsx",
                [_SHEET_HEAD + _cells(1, list(good(0))), *([rows] * repeats), "</sheetData></worksheet>"])
    add("zip_bomb_xlsx", f"xlsx sheet of {size.sheet_mb:,} MB unpacked (sample)", "sample", "xlsx",
        str(folder / "zip_bomb.xlsx"))
    add("endless_rest", "REST feed that never stops paging", "error", "rest", feed_url,
        {"paging": "page", "page_size": 2, "retries": 0, "max_pages": 50})
    add("repeating_rest", "REST feed that ignores its page parameter", "error", "rest",
        feed_url + "?same=1", {"paging": "page", "page_size": 2, "retries": 0})
    return corpus


_SHEET_HEAD = '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'


def _cells(number: int, values: list[str]) -> str:
    cells = "".join(f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
                    for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def _with_sheet(plain: Path, target: Path, parts: list[str]) -> None:
    """A copy of a workbook whose first sheet is the parts, streamed into the zip."""
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item.filename, src.read(item))
                continue
            with dst.open(item.filename, "w", force_zip64=True) as sheet:
                for part in parts:
                    sheet.write(part.encode())


def endless_pages(query: dict[str, str]) -> tuple[int, bytes]:
    """A REST feed whose pages never end (or, with ?same=1, are always the first page)."""
    page = 1 if query.get("same") == "1" else int(query["page"])
    return 200, json.dumps({"data": [good(page * 10 + i) for i in range(2)]}).encode()


def bad_inputs(server: str, loaded: str, data_dir: Path, size: Size) -> Figures:
    """Each input through the CLI, in the corpus's order, on a clone of the loaded database."""
    figures = Figures()
    with FeedServer(endless_pages) as feed:
        corpus = write_corpus(data_dir / "broken", size, feed.url)
        with Database(server, loaded) as db:
            before = state(db.url)["cases"]
            results = {name: try_input(db.url, data_dir, name) for name in corpus}
            after = Counter(state(db.url)["cases"])
    figures.lost = sum((Counter(before) - after).values())  # the clean ingest's rows, all still there
    print(f"\nbad inputs: {len(corpus)}; {SOURCE} loaded first, {len(before):,} cases")
    print(f"{'input':<46}{'expected':<12}{'got':<12}{'lines':>6}{'seconds':>9}{'peak MB':>9}  output")
    for name, r in results.items():
        what, expect = corpus[name]
        figures.tracebacks += r["traceback"]
        figures.peak_mb = max(figures.peak_mb, r["peak_mb"])
        if r["got"] != expect:
            figures.notes.append(f"{what}: expected {expect}, got {r['got']}")
        print(f"{what:<46}{expect:<12}{r['got']:<12}{r['lines']:>6}{r['seconds']:>9.1f}{r['peak_mb']:>9,.0f}"
              f"  {r['line'][:90]}", flush=True)
    return figures


def try_input(url: str, data_dir: Path, name: str) -> dict:
    """One input of the corpus through the CLI: what it got (error, quarantine, sample, ...)."""
    sample = name == "zip_bomb_xlsx"
    command = ["sources", "check", name, "--rows", "5"] if sample else ["ingest", name]
    ran = gridhub(command, url, data_dir, sources_dir=data_dir / "broken" / "sources")
    output = (ran.output + ran.errors).strip().splitlines()
    errors = [line for line in output if line.startswith("error:")]
    traceback = "Traceback" in ran.output + ran.errors
    with connect(url) as conn:
        loaded, quarantined = conn.execute(
            "SELECT (SELECT count(*) FROM cases WHERE source = %(s)s),"
            " (SELECT count(*) FROM quarantine WHERE source = %(s)s)", {"s": name}).fetchone()
    if sample:
        got = "sample" if ran.seconds < SAMPLE_SECONDS and not traceback else "slow"
    elif ran.exit != 0 and len(errors) == 1 and len(output) == 1:
        got = "error"
    elif ran.exit == 0 and quarantined and loaded:
        got = "quarantine"
    else:
        got = f"exit {ran.exit}"
    return {"got": got, "traceback": traceback, "seconds": ran.seconds, "peak_mb": ran.peak_mb,
            "lines": len(errors) if errors else len(output),
            "line": errors[0] if errors else f"{loaded} loaded, {quarantined} quarantined"}


# ---- 3. the API under backend terminations --------------------------------------------------


API_KINDS = ("summary", "stats", "timeseries", "cases", "tile z14")  # cases: an analyst's key


def api_under_terminations(server: str, loaded: str, size: Size) -> Figures:
    """Serve the API on a clone of the loaded database and ask it every kind of question from
    concurrent clients while terminating its backends; count its answers, the audit rows of
    the answered requests and its peak memory."""
    import bench_api

    from tests.api.terminations import Tally, clients, terminate_backends

    figures = Figures()
    with Database(server, loaded) as db:
        work = api_work(db.url)
        check_keys, load_keys = api_keys(db.url), api_keys(db.url)
        tallies = {kind: Tally() for kind in API_KINDS}
        stop = threading.Event()
        terminated = 0
        with bench_api.Server(db.url, free_port(), size.api_workers, 0, API_POOL) as api:
            # Its log read as it comes (the last lines kept), so that a full pipe never stalls it.
            server_log: deque = deque(maxlen=20)
            threading.Thread(target=server_log.extend, args=(api.proc.stderr,), daemon=True).start()
            for kind in API_KINDS:  # each kind answers before it is counted: no bench of error pages
                bench_api.check_answers(api.base_url, check_keys[kind].key, work[kind])
            threads = [thread for kind in API_KINDS for thread in clients(
                api.base_url, [(load_keys[kind].key, itertools.cycle(work[kind].paths))], stop, tallies[kind])]
            pause = size.api_seconds / (size.api_terminations + 1)
            try:
                for _ in range(size.api_terminations):
                    time.sleep(pause)
                    terminated += terminate_backends(db.url)
                    figures.peak_mb = max(figures.peak_mb, server_peak_mb(api.proc.pid))
                time.sleep(pause)
            finally:
                stop.set()
                for thread in threads:
                    thread.join()
            figures.peak_mb = max(figures.peak_mb, server_peak_mb(api.proc.pid))
        if any(tally.bad for tally in tallies.values()):
            figures.notes += [f"API log: {line.strip()[:200]}" for line in server_log]
        # The server has stopped: every answered request's audit row must have been written.
        with connect(db.url) as conn:
            audited = conn.execute("SELECT count(*) FROM audit_log WHERE key_id = ANY(%s)",
                                   ([key.key_id for key in load_keys.values()],)).fetchone()[0]
    return api_report(tallies, figures, audited, terminated, size)


API_POOL = 16  # connections per worker at most: the API's default (api.settings)


def api_report(tallies: dict, figures: Figures, audited: int, terminated: int, size: Size) -> Figures:
    print(f"\nAPI under backend terminations: gridhub serve, {size.api_workers} worker(s), answer cache off;"
          f" {len(tallies)} clients for {size.api_seconds:g} s; {size.api_terminations} rounds of"
          f" pg_terminate_backend, {terminated} backends")
    print(f"{'question':<20}{'requests':>9}{'2xx':>8}{'4xx':>6}{'503 Retry-After':>16}{'other 5xx':>10}{'resets':>8}")
    total: Counter = Counter()
    for kind, tally in tallies.items():
        seen = tally.seen
        row = Counter({"requests": tally.requests, "2xx": sum(n for s, n in seen.items() if s in range(200, 300)),
                       "4xx": sum(n for s, n in seen.items() if s in range(400, 500)),
                       "503": seen["503 with Retry-After"], "5xx": seen["other 5xx"], "reset": seen["reset"]})
        total += row
        print(f"{kind:<20}{row['requests']:>9,}{row['2xx']:>8,}{row['4xx']:>6,}{row['503']:>16,}{row['5xx']:>10,}"
              f"{row['reset']:>8,}")
        figures.notes += [f"API {kind}: {line[:200]}" for line in tally.bad[:3]]
        if row["4xx"]:
            figures.notes.append(f"API {kind}: {row['4xx']} answers 4xx (a path the bench got wrong)")
    print(f"{'all':<20}{total['requests']:>9,}{total['2xx']:>8,}{total['4xx']:>6,}{total['503']:>16,}"
          f"{total['5xx']:>10,}{total['reset']:>8,}")
    answered = total["requests"] - total["reset"]
    figures.lost = max(0, answered - audited)
    figures.server_errors = total["5xx"]
    print(f"requests {total['requests']:,}; 2xx {total['2xx']:,}; 503 with Retry-After {total['503']:,};"
          f" 5xx other than 503 {total['5xx']:,}; connection resets {total['reset']:,}")
    print(f"audit rows {audited:,} of {answered:,} answered requests (lost {figures.lost:,});"
          f" API peak RSS MB {figures.peak_mb:,.0f}", flush=True)
    if total["reset"]:
        figures.notes.append(f"API: {total['reset']} connections reset")
    if not terminated:
        figures.notes.append("API: no backend was terminated")
    return figures


def api_work(url: str) -> dict:
    """The paths asked of each kind of question (bench_api's, and time series and case pages)."""
    import bench_api

    rnd = random.Random(7)
    work = {w.name: w for w in bench_api.workloads(url, rnd, 200)}
    with connect(url) as conn:
        codes = [code for (code,) in conn.execute(
            "SELECT code FROM areas WHERE valid_to IS NULL AND level IN ('district', 'street') ORDER BY code")]
    months = [bench_api._month_bounds(rnd.choice(bench_api.MONTHS)) for _ in range(200)]
    work["timeseries"] = bench_api.Workload("timeseries", [
        f"/areas/{rnd.choice(codes)}/timeseries?interval=day&from={lo}&to={hi}" for lo, hi in months], [])
    work["cases"] = bench_api.Workload("cases", [
        f"/cases?area={rnd.choice(codes)}&from={lo}&to={hi}&limit=50" for lo, hi in months], [])
    return work


def api_keys(url: str) -> dict:
    """A key for each kind of question: an analyst's for case pages, an admin's for the rest."""
    from api.keys import Role, create_key

    with connect(url) as conn:
        city = conn.execute("SELECT code FROM areas WHERE level = 'city' AND valid_to IS NULL").fetchone()[0]
        admin = create_key(conn, Role.ADMIN, city, "bench reliability")
        analyst = create_key(conn, Role.ANALYST, city, "bench reliability")
    return {kind: analyst if kind == "cases" else admin for kind in API_KINDS}


def server_peak_mb(pid: int) -> float:
    """The largest peak resident memory (VmHWM) among the server's processes so far."""
    import bench_api

    peak = 0.0
    for process in bench_api._process_tree(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        peak = max([peak, *(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:"))])
    return peak


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- shared ---------------------------------------------------------------------------------


def connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def scalar(url: str, query: str):
    with connect(url) as conn:
        return conn.execute(query).fetchone()[0]


if __name__ == "__main__":
    main()
