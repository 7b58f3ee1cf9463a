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
3. The API under backend terminations: a section to come (api_under_terminations).

Prints a table per section and the totals: "lost N", "duplicated N", "tracebacks N",
"peak memory MB" (the largest child process).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_ingest  # noqa: E402  (its databases are reused)

SOURCE = "hotline_12345"
READY = "GRIDHUB-BENCH-KILL-POINT"  # printed by a child that reached its kill point


@dataclass(frozen=True)
class Size:
    records: int  # demo records over every feed
    points: tuple[str, ...]  # kill points run (labels of KILL_POINTS), each in both modes unless tiny
    modes: tuple[str, ...]
    field_mb: int  # the oversized CSV field
    sheet_mb: int  # the zip-bomb sheet, uncompressed


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

SIZES = {
    "tiny": Size(2_000, ("landing", "loading", "finishing", "committing"), ("kill", "terminate"), 2, 20),
    "small": Size(20_000, tuple(KILL_POINTS), ("kill", "terminate"), 50, 200),
    "full": Size(200_000, tuple(KILL_POINTS), ("kill", "terminate"), 50, 1500),
}


@dataclass
class Figures:
    """What a section found; the totals are their sums (peak memory: the largest)."""

    lost: int = 0
    duplicated: int = 0
    tracebacks: int = 0
    peak_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.tracebacks += other.tracebacks
        self.peak_mb = max(self.peak_mb, other.peak_mb)
        self.notes += other.notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--server", default=None, help="PostgreSQL URL (default: the project's cluster)")
    parser.add_argument("--bench-dir", type=Path, default=ROOT / "var" / "bench",
                        help="where the demo feeds and broken inputs are written (default: var/bench)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        CHILDREN[args.child[0]](*args.child[1:])
        return
    run(SIZES[args.size], args.size, args.server, args.bench_dir)


def run(size: Size, size_name: str, server: str | None, bench_dir: Path) -> None:
    from store import provision
    from store.db import with_dbname

    server = with_dbname(server or provision.up(ROOT / "var", None).url, "postgres")
    data_dir = demo_data(bench_dir / f"reliability_{size.records}", size.records)
    template = f"gridhub_bench_rel_{uuid.uuid4().hex[:6]}"
    bench_ingest.make_template(server, template, data_dir)
    total = Figures()
    try:
        print(f"demo city, {size.records:,} records; source {SOURCE}; size {size_name}", flush=True)
        total.add(kill_points(server, template, data_dir, size))
        total.add(bad_inputs(server, template, data_dir, size))
        api = api_under_terminations(server, template, data_dir, size)
        if api is None:
            print("\nAPI under backend terminations: not measured yet (api_under_terminations)")
        else:
            total.add(api)
    finally:
        bench_ingest.drop(server, template)
    print()
    for note in total.notes:
        print(f"note: {note}")
    print(f"lost {total.lost}")
    print(f"duplicated {total.duplicated}")
    print(f"tracebacks {total.tracebacks}")
    print(f"peak memory MB {total.peak_mb:,.0f}")


def demo_data(data_dir: Path, records: int) -> Path:
    """The demo city and its feeds, written once per size and reused."""
    import yaml

    from connectors.spec import load_spec
    from demo.generate import generate

    if not (data_dir / "demo" / "manifest.json").exists():
        print(f"writing the demo city and feeds to {data_dir} ...", flush=True)
        generate(data_dir / "demo", seed=7, records=records)
    # The source in small chunks, so that the kill points between chunks exist at any size.
    spec = load_spec(ROOT / "sources" / f"{SOURCE}.yaml")
    (data_dir / "sources").mkdir(exist_ok=True)
    (data_dir / "sources" / f"{SOURCE}.yaml").write_text(yaml.safe_dump(
        {**spec.model_dump(by_alias=True, mode="json", exclude_defaults=True), "chunk_rows": max(100, records // 20)},
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


def kill_points(server: str, template: str, data_dir: Path, size: Size) -> Figures:
    figures = Figures()
    with Database(server, template) as clean:
        done = ingest_child(clean.url, data_dir)
        if done.returncode != 0:
            raise SystemExit(f"the clean ingest failed:\n{done.stderr[-3000:]}")
        expected = state(clean.url)
    print(f"\nkill points: clean run {len(expected['cases']):,} cases, {len(expected['quarantine']):,}"
          " quarantined; each point then re-run and compared with it")
    print(f"{'point':<30}{'mode':<11}{'exit':>5}{'rerun':>7}{'lost':>6}{'dup':>5}{'running':>9}  output")
    points = [(p, m) for p in size.points for m in size.modes]
    if len(size.points) < len(KILL_POINTS):  # a small run alternates the modes
        points = [(p, size.modes[i % len(size.modes)]) for i, p in enumerate(size.points)]
    for label, mode in points:
        point = KILL_POINTS[label]
        with Database(server, template) as db:
            interrupted = interrupt(db.url, data_dir, point, mode)
            rerun = ingest_child(db.url, data_dir)
            got = state(db.url)
            running = scalar(db.url, "SELECT count(*) FROM ingest_runs WHERE status = 'running'")
        lost, duplicated = compare(expected, got)
        output = interrupted["output"]
        traceback = "Traceback" in output
        figures.lost += lost
        figures.duplicated += duplicated
        figures.tracebacks += traceback
        if running:
            figures.notes.append(f"{label} / {mode}: {running} run(s) left running")
        if rerun.returncode != 0:
            figures.notes.append(f"{label} / {mode}: the re-run failed: {rerun.stderr.strip()[-300:]}")
        if not interrupted["reached"]:
            figures.notes.append(f"{label} / {mode}: the ingest ended before its kill point")
        shown = "(killed)" if mode == "kill" else output.strip().splitlines()[-1][:90] if output.strip() else "(none)"
        print(f"{f'{label} ({point.name} #{point.nth})':<30}{mode:<11}{interrupted['exit']:>5}"
              f"{'ok' if rerun.returncode == 0 else 'FAIL':>7}{lost:>6}{duplicated:>5}{running:>9}  {shown}",
              flush=True)
    figures.peak_mb = children_peak_mb()
    return figures


def interrupt(url: str, data_dir: Path, point: KillPoint, mode: str) -> dict:
    """Run the ingest up to the kill point, then kill it or terminate its backends."""
    child = subprocess.Popen([sys.executable, __file__, "--child", "ingest", url, str(data_dir),
                              f"{point.module}:{point.name}:{point.nth}"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT)
    reached = False
    for line in child.stdout:
        if line.strip() == READY:
            reached = True
            break
    if reached and mode == "kill":
        child.send_signal(signal.SIGKILL)
    elif reached:
        with connect(url) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        child.stdin.write("go\n")
        child.stdin.flush()
    _, err = child.communicate(timeout=600)
    return {"reached": reached, "exit": child.returncode, "output": err}


def ingest_child(url: str, data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, __file__, "--child", "ingest", url, str(data_dir)],
                          capture_output=True, text=True, cwd=ROOT, timeout=1200)


def child_ingest(url: str, data_dir: str, hook: str | None = None) -> None:
    """`gridhub ingest SOURCE` as a user runs it, stopping at the hook's call when given."""
    import os

    if hook:
        module, name, nth = hook.split(":")
        _stop_at(module, name, int(nth))
    os.environ.update({"DATABASE_URL": url, "GRIDHUB_DATA_DIR": data_dir,
                       "GRIDHUB_SOURCES_DIR": str(Path(data_dir) / "sources")})
    from cli.main import app

    app(["ingest", SOURCE], prog_name="gridhub")


def _stop_at(module_name: str, name: str, nth: int) -> None:
    """At the nth call of module.name, say so on stdout and wait for a line on stdin."""
    import importlib

    module = importlib.import_module(module_name)
    inner = getattr(module, name)
    calls = 0

    def stopping(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth:
            print(READY, flush=True)
            sys.stdin.readline()  # killed meanwhile, or told to go on after a termination
        return inner(*args, **kwargs)

    setattr(module, name, stopping)
    # The pipeline imports some steps by name: replace them there too.
    ingest = importlib.import_module("pipeline.ingest")
    if getattr(ingest, name, None) is inner:
        setattr(ingest, name, stopping)


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
    """The broken inputs and their specs; name -> (what it is, expectation)."""
    import csv

    import openpyxl

    folder.mkdir(parents=True, exist_ok=True)
    specs = folder / "sources"
    shutil.rmtree(specs, ignore_errors=True)
    specs.mkdir()
    corpus: dict[str, tuple[str, str]] = {}

    def add(name: str, what: str, expect: str, fmt: str, location: str, options: dict | None = None) -> None:
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


class EndlessFeed:
    """A REST feed whose pages never end (or, with ?same=1, are always the first page)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                page = 1 if "same=1" in self.path else int(self.path.split("page=")[1].split("&")[0])
                body = json.dumps({"data": [good(page * 10 + i) for i in range(2)]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def bad_inputs(server: str, template: str, data_dir: Path, size: Size) -> Figures:
    figures = Figures()
    feed = EndlessFeed()
    try:
        corpus = write_corpus(data_dir / "broken", size, feed.url)
        with Database(server, template) as db:
            clean = ingest_child(db.url, data_dir)
            if clean.returncode != 0:
                raise SystemExit(f"the clean ingest before the bad inputs failed:\n{clean.stderr[-3000:]}")
            before = state(db.url)["cases"]
            done = subprocess.run([sys.executable, __file__, "--child", "corpus", db.url, str(data_dir)],
                                  capture_output=True, text=True, cwd=ROOT, timeout=1800)
            if done.returncode != 0:
                raise SystemExit(f"the bad-input child failed:\n{done.stderr[-3000:]}")
            results = json.loads(done.stdout.strip().splitlines()[-1])
            after = Counter(state(db.url)["cases"])
    finally:
        feed.close()
    figures.lost = sum((Counter(before) - after).values())  # the clean ingest's rows, all still there
    print(f"\nbad inputs: {len(corpus)}; {SOURCE} loaded first, {len(before):,} cases")
    print(f"{'input':<46}{'expected':<12}{'got':<12}{'lines':>6}{'seconds':>9}{'peak MB':>9}  output")
    for name, r in results.items():  # in the order the child ran them
        what, expect = corpus[name]
        figures.tracebacks += r["traceback"]
        if r["got"] != expect:
            figures.notes.append(f"{what}: expected {expect}, got {r['got']}")
        print(f"{what:<46}{expect:<12}{r['got']:<12}{r['lines']:>6}{r['seconds']:>9.1f}{r['peak_mb']:>9,.0f}"
              f"  {r['line'][:90]}", flush=True)
    figures.peak_mb = children_peak_mb()
    return figures


def child_corpus(url: str, data_dir: str) -> None:
    """Each input of the corpus through the CLI (in this one process); results as JSON."""
    from typer.testing import CliRunner

    from cli.main import app

    folder = Path(data_dir) / "broken" / "sources"
    env = {"DATABASE_URL": url, "GRIDHUB_DATA_DIR": data_dir, "GRIDHUB_SOURCES_DIR": str(folder)}
    results = {}
    for spec in sorted(folder.glob("*.yaml")):
        name = spec.stem
        sample = name == "zip_bomb_xlsx"
        command = ["sources", "check", name, "--rows", "5"] if sample else ["ingest", name]
        started = time.monotonic()
        result = CliRunner().invoke(app, command, env=env, terminal_width=400)
        seconds = time.monotonic() - started
        output = result.output.strip().splitlines()
        errors = [line for line in output if line.startswith("error:")]
        traceback = not isinstance(result.exception, SystemExit | None) or "Traceback" in result.output
        with connect(url) as conn:
            loaded, quarantined = conn.execute(
                "SELECT (SELECT count(*) FROM cases WHERE source = %(s)s),"
                " (SELECT count(*) FROM quarantine WHERE source = %(s)s)", {"s": name}).fetchone()
        if sample:
            got = "sample" if seconds < SAMPLE_SECONDS and not traceback else "slow"
        elif result.exit_code != 0 and len(errors) == 1 and len(output) == 1:
            got = "error"
        elif result.exit_code == 0 and quarantined and loaded:
            got = "quarantine"
        else:
            got = f"exit {result.exit_code}"
        # The process's peak so far: it grows at the input that needed the memory.
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results[name] = {"got": got, "traceback": traceback, "seconds": seconds, "peak_mb": peak_mb,
                         "lines": len(errors) if errors else len(output),
                         "line": errors[0] if errors else f"{loaded} loaded, {quarantined} quarantined"}
    print(json.dumps(results))


# ---- 3. the API under backend terminations --------------------------------------------------


def api_under_terminations(server: str, template: str, data_dir: Path, size: Size) -> Figures | None:
    """Serve the API on a clone with the demo loaded, load it while terminating its backends,
    and count 5xx answers and lost audit rows. To come: None means not measured."""
    return None


# ---- shared ---------------------------------------------------------------------------------


def connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def scalar(url: str, query: str):
    with connect(url) as conn:
        return conn.execute(query).fetchone()[0]


def children_peak_mb() -> float:
    """The largest resident memory of any child process waited for so far."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


CHILDREN = {"ingest": child_ingest, "corpus": child_corpus}


if __name__ == "__main__":
    main()
