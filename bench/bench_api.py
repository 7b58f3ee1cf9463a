"""Benchmark of the API on millions of demo cases, against a count(*) GROUP BY baseline.

    .venv/bin/python bench/bench_api.py                    # 10,000,000 cases (setup ~15 min once)
    .venv/bin/python bench/bench_api.py --records 200000   # a quick run (database gridhub_bench_200000)
    .venv/bin/python bench/bench_api.py --only summary --no-baseline --workers 2   # one question

Setup (skipped when the bench database already holds that many cases): a separate database
(gridhub_bench for the default 10M cases, gridhub_bench_<records> otherwise; never the shared
gridhub one) gets the demo city's areas, then cases derived straight from the demo truth
(demo/truth.py: the true kind, category, status, times and grid of every case, as a perfect
ingest would store them) are COPYed into `cases` (through a staging table, their points made
from lon/lat as the pipeline's merge makes them) with their secondary indexes dropped and
rebuilt afterwards, and the rollups are built with store.rollups.rebuild. This skips the feeds
and the ingest pipeline on purpose: it measures the API, not the ingest.

Then, in one run, it prints for /areas/{code}/summary, /stats and z14 area tiles: latency
p50 / p95 / p99 and requests per second at 16 concurrent clients (wrk, `apt-get install wrk`)
against `gridhub serve`, with the answer cache on (the default) and off; and the same questions
answered by count(*) ... GROUP BY over `cases` (16 concurrent connections) as the baseline.
Request URLs rotate over thousands of areas, periods and tiles, so the cached figures include
every first-time miss. Beside each line: CPU milliseconds per request spent by the API
processes and by the PostgreSQL backends serving them, and the load average.

Server shape: one worker with at most 4 database connections by default. On 2 cores shared
with PostgreSQL and wrk, one worker (uvloop + httptools) and PostgreSQL fill both cores; two
workers answer more uncached requests per second but oversubscribe the cores, and the
scheduler then stalls whole workers (p99 of 150-900 ms with the cache on); more connections
than the cores can run only queue inside PostgreSQL. `--workers` and `--pool` change it. A
database on this machine is reached over its Unix socket (`--tcp` for loopback TCP).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import demo.truth as demo_truth  # noqa: E402
from api.keys import Role, create_key  # noqa: E402
from core.settings import GridHubSettings  # noqa: E402
from demo.city import build_city, write_city  # noqa: E402
from demo.truth import CITY_TZ, DAYS, START_DAY, TruthPlan, iter_truth, plan_outbreaks  # noqa: E402
from pipeline.demo import load_demo_areas  # noqa: E402
from store import migrations, provision, rollups  # noqa: E402
from store.copy import copy_frame  # noqa: E402
from store.db import redact, with_dbname  # noqa: E402

# demo.truth concatenates an empty, untyped outbreak frame onto chunks without outbreaks, which
# turns category_idx into objects and fails from about 2M records up (reported to the demo
# owner); give that empty frame integer columns until demo/truth.py does.
_draw_outbreaks = demo_truth._draw_outbreaks


def _typed_outbreaks(plan, rng, a, b):
    drawn = _draw_outbreaks(plan, rng, a, b)
    return drawn.astype("int64") if drawn.empty else drawn


demo_truth._draw_outbreaks = _typed_outbreaks

TARGETS = {"summary": (10, 50), "stats": (10, 50)}  # p50, p99 ms
TILE_P95_TARGET = 20
RPS_TARGET = 1000
BASELINE = "count(*) GROUP BY cases"
MONTHS = [f"{y}-{m:02d}" for y, m in [(2025, m) for m in range(1, 13)] + [(2026, m) for m in range(1, 10)]]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- setup
def _drop_case_indexes(conn) -> None:
    """Drop the secondary indexes of cases for a fast COPY, noting them in the bench database
    itself so that an interrupted setup still restores them."""
    conn.execute("CREATE TABLE IF NOT EXISTS bench_dropped_indexes (name text PRIMARY KEY, definition text)")
    conn.execute(
        "INSERT INTO bench_dropped_indexes SELECT indexname, replace(indexdef, ' ON ONLY ', ' ON ') FROM pg_indexes"
        " WHERE tablename = 'cases' AND indexname <> 'cases_pkey' ON CONFLICT DO NOTHING")
    for (name,) in conn.execute("SELECT name FROM bench_dropped_indexes").fetchall():
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


def _restore_case_indexes(conn) -> None:
    for name, definition in conn.execute("SELECT name, definition FROM bench_dropped_indexes").fetchall():
        conn.execute(definition)  # noqa: S608 - definitions read back from pg_indexes
        conn.execute("DELETE FROM bench_dropped_indexes WHERE name = %s", (name,))
    conn.execute("ANALYZE cases")


def _truth_to_cases(truth: pd.DataFrame, offset: int, city_code: str) -> pd.DataFrame:
    """Canonical case rows for truth rows, as a perfect ingest would store them."""
    n = len(truth)
    ids = np.arange(offset, offset + n).astype(str)
    return pd.DataFrame({
        "source": truth["feed"].astype(str).to_numpy(),
        "source_record_id": ids,
        "record_hash": ids,
        "run_id": 0,
        "kind": truth["kind"].astype(str).to_numpy(),
        "category": truth["category"].astype(str).to_numpy(),
        "status": truth["status"].astype(str).to_numpy(),
        "outcome": truth["outcome"].to_numpy(),
        "reported_at": truth["reported_at"].to_numpy(),
        "occurred_at": truth["occurred_at"].to_numpy(),
        "closed_at": truth["closed_at"].to_numpy(),
        "report_day": truth["reported_at"].dt.tz_convert(CITY_TZ).dt.date.to_numpy(),
        "lon": truth["lon"].to_numpy(),
        "lat": truth["lat"].to_numpy(),
        "grid_code": truth["grid_code"].to_numpy(),
        "community_code": truth["community_code"].to_numpy(),
        "street_code": truth["street_code"].to_numpy(),
        "district_code": truth["district_code"].to_numpy(),
        "city_code": city_code,
        "geocode_method": "coordinates",
        "geocode_precision": "grid",
        "severity": truth["severity"].to_numpy(),
        "parties": truth["parties"].to_numpy(),
    })


def _copy_cases(conn, cases: pd.DataFrame) -> None:
    """COPY case rows (lon/lat, no geometry) into cases. Binary COPY encodes no geometry, so
    the rows go through a staging table and the INSERT makes their points."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in cases.columns if c not in ("lon", "lat"))
    conn.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS bench_stage_cases AS"
                         " SELECT {}, 0::float8 AS lon, 0::float8 AS lat FROM cases WITH NO DATA").format(columns))
    conn.execute("TRUNCATE bench_stage_cases")
    copy_frame(conn, "bench_stage_cases", cases)
    conn.execute("SELECT gridhub_month_partitions('cases', (SELECT array_agg(DISTINCT report_day)"
                 " FROM bench_stage_cases))")
    conn.execute(sql.SQL("INSERT INTO cases ({}, geom) SELECT {}, ST_SetSRID(ST_MakePoint(lon, lat), 4326)"
                         " FROM bench_stage_cases").format(columns, columns))


def setup(url: str, records: int, seed: int, workdir: Path) -> None:
    cfg = GridHubSettings(data_dir=workdir, database_url=url)
    t0 = time.perf_counter()
    city = build_city(seed)
    write_city(city, cfg.demo_dir / "city")
    load_demo_areas(cfg, url)
    log(f"areas loaded ({time.perf_counter() - t0:.0f} s)")
    rng = np.random.default_rng([seed, 99])
    plan = TruthPlan(city.addresses, plan_outbreaks(city.areas, rng, START_DAY, DAYS, records),
                     records, seed)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE cases, case_keys, case_groups, case_links RESTART IDENTITY")
        _drop_case_indexes(conn)
        t1, loaded = time.perf_counter(), 0
        for chunk in iter_truth(plan, 500_000):
            chunk = chunk.iloc[: records - loaded]
            with conn.transaction():
                _copy_cases(conn, _truth_to_cases(chunk, loaded, cfg.city_code))
            loaded += len(chunk)
            log(f"  {loaded:,} cases copied ({loaded / (time.perf_counter() - t1):,.0f}/s)")
            if loaded >= records:
                break
        t2 = time.perf_counter()
        _restore_case_indexes(conn)
        log(f"indexes rebuilt ({time.perf_counter() - t2:.0f} s)")
    t3 = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET work_mem = '256MB'")
        written = rollups.rebuild(conn, CITY_TZ)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE rollup_daily")
        conn.execute("VACUUM ANALYZE rollup_closed_daily")
        conn.execute("VACUUM ANALYZE rollup_monthly")
    log(f"rollups rebuilt: {written:,} daily rows ({time.perf_counter() - t3:.0f} s)")


def ensure_database(server_url: str, name: str, records: int, seed: int, fresh: bool) -> str:
    url = with_dbname(server_url, name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    migrations.migrate(url)
    with psycopg.connect(url) as conn:
        have = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        built = conn.execute("SELECT count(*) FROM rollup_monthly").fetchone()[0]
    if have == records and built:
        log(f"reusing {name}: {have:,} cases already loaded and rolled up")
        with psycopg.connect(url, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('bench_dropped_indexes')").fetchone()[0]:
                _restore_case_indexes(conn)
        return url
    log(f"building {name} with {records:,} cases derived from the demo truth")
    with tempfile.TemporaryDirectory(prefix="gridhub-bench-") as tmp:
        setup(url, records, seed, Path(tmp))
    return url


def over_local_socket(url: str) -> str:
    """The same database over PostgreSQL's Unix socket when the server runs on this machine, as
    a same-host deployment connects (loopback TCP cost the API ~0.1 ms more CPU per query)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    if info.get("host") not in ("127.0.0.1", "localhost", "::1"):
        return url
    with psycopg.connect(url) as conn:
        dirs = conn.execute("SHOW unix_socket_directories").fetchone()[0]
    for folder in (d.strip() for d in dirs.split(",")):
        if folder and Path(folder, f".s.PGSQL.{info.get('port', 5432)}").exists():
            return psycopg.conninfo.make_conninfo(url, host=folder)
    return url


# ---------------------------------------------------------------- workloads
@dataclass
class Workload:
    name: str
    paths: list[str]                      # API paths with query strings
    baseline: list[tuple[sql.Composable, tuple]]  # the same questions over raw cases


def _month_bounds(month: str) -> tuple[str, str]:
    start = pd.Timestamp(month + "-01")
    end = start + pd.offsets.MonthEnd(0)
    return start.date().isoformat(), end.date().isoformat()


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def workloads(url: str, rnd: random.Random, size: int) -> list[Workload]:
    with psycopg.connect(url) as conn:
        areas = conn.execute("SELECT code, level, parent_code FROM areas WHERE valid_to IS NULL").fetchall()
        w, s, e, n = conn.execute("SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM"
                                  " (SELECT ST_Extent(geom) x FROM areas WHERE level = 'city') b").fetchone()
    level_of = {c: lvl for c, lvl, _ in areas}
    by_level: dict[str, list[str]] = {}
    for code, level, _ in areas:
        by_level.setdefault(level, []).append(code)
    summary_areas = (by_level["city"] + by_level["district"] + by_level["street"]
                     + by_level["community"] + rnd.sample(by_level["grid"], 300))
    summary, summary_base = [], []
    for _ in range(size):
        code = rnd.choice(summary_areas)
        col = sql.Identifier(f"{level_of[code]}_code")
        if rnd.random() < 0.2:
            summary.append(f"/areas/{code}/summary")
            summary_base.append((sql.SQL(
                "SELECT kind, category, status, count(*), count(*) FILTER (WHERE closed_at IS NOT NULL)"
                " FROM cases WHERE {} = %s GROUP BY 1, 2, 3").format(col), (code,)))
        else:
            lo, hi = _month_bounds(rnd.choice(MONTHS))
            summary.append(f"/areas/{code}/summary?from={lo}&to={hi}")
            summary_base.append((sql.SQL(
                "SELECT kind, category, status, count(*), count(*) FILTER (WHERE closed_at IS NOT NULL)"
                " FROM cases WHERE {} = %s AND report_day BETWEEN %s AND %s GROUP BY 1, 2, 3").format(col),
                (code, lo, hi)))
    parents = ([("district", c) for c in by_level["city"]] + [("street", c) for c in by_level["district"]]
               + [("community", c) for c in by_level["street"]] + [("grid", c) for c in by_level["community"]])
    stats, stats_base = [], []
    for _ in range(size):
        level, parent = rnd.choice(parents)
        lo, hi = _month_bounds(rnd.choice(MONTHS))
        stats.append(f"/stats?level={level}&parent={parent}&from={lo}&to={hi}")
        stats_base.append((sql.SQL(
            "SELECT {child}, count(*), count(*) FILTER (WHERE status IN ('resolved', 'closed'))"
            " FROM cases WHERE {parent} = %s AND report_day BETWEEN %s AND %s GROUP BY 1").format(
            child=sql.Identifier(f"{level}_code"), parent=sql.Identifier(f"{level_of[parent]}_code")),
            (parent, lo, hi)))
    x0, y1 = _tile_xy(w, s, 14)
    x1, y0 = _tile_xy(e, n, 14)
    tiles = [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    tile_paths, tile_base = [], []
    for _ in range(size):
        x, y = rnd.choice(tiles)
        tile_paths.append(f"/tiles/areas/14/{x}/{y}.mvt")
        tile_base.append((sql.SQL(
            "SELECT ST_AsMVT(t, 'areas', 4096, 'geom') FROM ("
            " SELECT a.code, c.n, ST_AsMVTGeom(ST_Transform(a.geom, 3857), ST_TileEnvelope(14, %s, %s))"
            " AS geom FROM areas a LEFT JOIN LATERAL (SELECT count(*) AS n FROM cases"
            " WHERE grid_code = a.code) c ON true WHERE a.valid_to IS NULL AND a.level = 'grid'"
            " AND a.geom && ST_Transform(ST_TileEnvelope(14, %s, %s), 4326)) t"), (x, y, x, y)))
    return [Workload("summary", summary, summary_base), Workload("stats", stats, stats_base),
            Workload("tile z14", tile_paths, tile_base)]


# ---------------------------------------------------------------- measuring
@dataclass
class Figures:
    requests: int
    seconds: float
    errors: int
    p50: float
    p95: float
    p99: float
    app_ms: float = math.nan   # CPU of the API processes (or the baseline's client) per request
    db_ms: float = math.nan    # CPU of the PostgreSQL backends serving them, per request
    load: float = math.nan     # 1-minute load average at the end

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pids) -> dict[int, float]:
    """CPU seconds (user + system) so far of each live process."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def _process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo.extend(int(c) for c in task.read_text().split())
    return pids


class CpuMeter:
    """CPU spent by the API server's processes and by the database's backends during a test
    (per request, so that app and database costs can be told apart)."""

    def __init__(self, url: str, server_pid: int | None):
        self.url, self.server_pid = url, server_pid

    def _backends(self) -> list[int]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()").fetchall()]

    def __enter__(self) -> CpuMeter:
        self.app0 = _cpu_of(_process_tree(self.server_pid)) if self.server_pid else {}
        self.own0 = time.process_time()
        self.db0 = _cpu_of(self._backends())
        return self

    def __exit__(self, *exc) -> None:
        app1 = _cpu_of(_process_tree(self.server_pid)) if self.server_pid else {}
        self.app = (sum(v - self.app0.get(p, 0.0) for p, v in app1.items()) if self.server_pid
                    else time.process_time() - self.own0)
        db1 = _cpu_of(self._backends())
        self.db = sum(v - self.db0.get(p, 0.0) for p, v in db1.items())

    def fill(self, f: Figures) -> Figures:
        if f.requests:
            f.app_ms, f.db_ms = self.app * 1000 / f.requests, self.db * 1000 / f.requests
        f.load = os.getloadavg()[0]
        return f


WRK_SCRIPT = r"""
local urls = {}
local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do urls[#urls + 1] = line end
  math.randomseed(id * 7919)
  idx = math.random(#urls)
  headers = {["Authorization"] = "Bearer " .. os.getenv("GRIDHUB_KEY")}
end
function request()
  idx = idx % #urls + 1
  return wrk.format("GET", urls[idx], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %f %f %f\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def run_wrk(base_url: str, key: str, paths: list[str], seconds: int, connections: int) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        script, urls = Path(tmp) / "rotate.lua", Path(tmp) / "urls.txt"
        script.write_text(WRK_SCRIPT)
        urls.write_text("\n".join(paths) + "\n")
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script),
             base_url, "--", str(urls)],
            capture_output=True, text=True, env={**os.environ, "GRIDHUB_KEY": key}, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    req, dur_us, err, p50, p95, p99 = line.split()[1:]
    return Figures(int(req), int(dur_us) / 1e6, int(err), float(p50) / 1000, float(p95) / 1000,
                   float(p99) / 1000)


def run_baseline(url: str, queries: list, seconds: float, connections: int,
                 max_queries: int = 2000) -> Figures:
    """The questions answered by GROUP BY over cases, from `connections` threads."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(max_queries))
    conns = [psycopg.connect(url, autocommit=True) for _ in range(connections)]
    for conn in conns:
        conn.execute("SET statement_timeout = '120s'")

    def worker(offset: int, conn: psycopg.Connection) -> None:
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            q, params = queries[(offset * 97 + i) % len(queries)]
            t = time.perf_counter()
            conn.execute(q, params).fetchall()
            with lock:
                latencies.append(time.perf_counter() - t)

    try:
        # the meter reads the backends' CPU before the connections close
        with CpuMeter(url, None) as meter:
            started = time.perf_counter()
            deadline = started + seconds
            threads = [threading.Thread(target=worker, args=(k, c)) for k, c in enumerate(conns)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()
    q = statistics.quantiles([x * 1000 for x in latencies], n=100) if len(latencies) > 1 else [0] * 99
    return meter.fill(Figures(len(latencies), elapsed, 0, q[49], q[94], q[98]))


class Server:
    """`gridhub serve` in a subprocess on the bench database."""

    def __init__(self, url: str, port: int, workers: int, cache_entries: int, pool: int):
        env = {**os.environ, "DATABASE_URL": url, "GRIDHUB_ENV": "development",
               "GRIDHUB_API_CACHE_ENTRIES": str(cache_entries), "GRIDHUB_API_POOL_MAX_SIZE": str(pool)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.base_url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gridhub"), "serve", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 240  # workers import the whole CLI first: slow on a busy machine
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server did not become healthy")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def check_answers(base_url: str, key: str, work: Workload) -> None:
    """Every path answers 200 before it is timed (no benchmark of error pages)."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        for path in work.paths[:20]:
            r = c.get(path)
            if r.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {r.status_code} {r.text[:300]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=10_000_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--db-name", help="default: gridhub_bench (10M cases) or gridhub_bench_<records>")
    p.add_argument("--fresh", action="store_true", help="rebuild the bench database")
    p.add_argument("--seconds", type=int, default=10, help="per load test")
    p.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each load test")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=1, help="API worker processes")
    p.add_argument("--pool", type=int, default=4, help="database connections per worker (at most)")
    p.add_argument("--tcp", action="store_true", help="reach a local database over TCP, not its socket")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--urls", type=int, default=3000, help="distinct requests per workload")
    p.add_argument("--setup-only", action="store_true", help="build the bench database and stop")
    p.add_argument("--only", help="comma-separated workloads to run (summary, stats, tile); default all")
    p.add_argument("--no-baseline", action="store_true", help="skip the count(*) baseline (quick iterations)")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed for the load tests: apt-get install wrk")
    if args.db_name is None:  # a quick run never empties the 10M database
        args.db_name = "gridhub_bench" if args.records == 10_000_000 else f"gridhub_bench_{args.records}"
    if args.db_name == "gridhub":
        sys.exit("use a separate database for the benchmark, not the shared gridhub one")
    server_url = with_dbname(provision.up(ROOT / "var", os.environ.get("DATABASE_URL")).url, "postgres")
    url = ensure_database(server_url, args.db_name, args.records, args.seed, args.fresh)
    if not args.tcp:
        url = over_local_socket(url)
    if args.setup_only:
        return
    with psycopg.connect(url) as conn:
        city = conn.execute("SELECT code FROM areas WHERE level = 'city' AND valid_to IS NULL").fetchone()[0]
        key = create_key(conn, Role.ADMIN, city, "bench").key
        n_cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        n_rollup = conn.execute("SELECT (SELECT count(*) FROM rollup_daily), (SELECT count(*) FROM rollup_monthly)").fetchone()
    loads = workloads(url, random.Random(args.seed), args.urls)
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        loads = [w for w in loads if w.name.split()[0] in wanted]
    log(f"{n_cases:,} cases; rollup_daily {n_rollup[0]:,} rows, rollup_monthly {n_rollup[1]:,} rows; "
        f"{args.connections} clients, {args.seconds} s per test, {os.cpu_count()} cores; "
        f"{args.workers} worker(s) x {args.pool} connections, database via {redact(url)}")
    results: dict[tuple[str, str], Figures] = {}
    for label, cache in (("api (cache on)", 20_000), ("api (cache off)", 0)):
        with Server(url, args.port, args.workers, cache, args.pool) as server:
            for work in loads:
                check_answers(server.base_url, key, work)
                if args.warmup > 0:
                    run_wrk(server.base_url, key, work.paths[:200], args.warmup, args.connections)
                with CpuMeter(url, server.proc.pid) as meter:
                    figures = run_wrk(server.base_url, key, work.paths, args.seconds, args.connections)
                results[(work.name, label)] = meter.fill(figures)
                log(f"{work.name:9} {label}: done (load average {os.getloadavg()[0]:.1f})")
    for work in [] if args.no_baseline else loads:
        results[(work.name, BASELINE)] = run_baseline(url, work.baseline, args.seconds, args.connections)
        log(f"{work.name:9} baseline: done (load average {os.getloadavg()[0]:.1f})")
    report(results, loads, args)


def _vs_baseline(base_p50: float, p50: float) -> str:
    """The p50 ratio in words: "0x faster" said nothing when the baseline was the faster one."""
    times = base_p50 / p50 if base_p50 >= p50 else p50 / base_p50
    return f"{times:,.{0 if times >= 10 else 1}f}x {'faster' if base_p50 >= p50 else 'slower'}"


def report(results: dict, loads: list[Workload], args) -> None:
    print()
    print(f"{'question':10} {'answered by':26} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>9}"
          f" {'errors':>6} {'app ms/req':>10} {'db ms/req':>9} {'load':>5}  {'p50 vs baseline':>15}")
    summary_rows = {}
    for work in loads:
        base = results.get((work.name, BASELINE))
        for label in ("api (cache on)", "api (cache off)", BASELINE):
            f = results.get((work.name, label))
            if f is None:
                continue
            ratio = (_vs_baseline(base.p50, f.p50) if base and base.p50 and label != BASELINE and f.p50
                     else "")
            print(f"{work.name:10} {label:26} {f.p50:8.2f} {f.p95:8.2f} {f.p99:8.2f} {f.rps:9.0f}"
                  f" {f.errors:6d} {f.app_ms:10.3f} {f.db_ms:9.3f} {f.load:5.1f}  {ratio:>15}")
            summary_rows[f"{work.name} | {label}"] = f.__dict__ | {"rps": f.rps}
    print()
    checks = []
    for name, (p50_t, p99_t) in TARGETS.items():
        for label in ("api (cache on)", "api (cache off)"):
            if (f := results.get((name, label))) is not None:
                checks.append((f"{name} p50 <= {p50_t} ms", label, f.p50 <= p50_t, f"{f.p50:.2f}"))
                checks.append((f"{name} p99 <= {p99_t} ms", label, f.p99 <= p99_t, f"{f.p99:.2f}"))
    for label in ("api (cache on)", "api (cache off)"):
        if (tile := results.get(("tile z14", label))) is not None:
            checks.append((f"tile z14 p95 <= {TILE_P95_TARGET} ms", label, tile.p95 <= TILE_P95_TARGET,
                           f"{tile.p95:.2f}"))
        if (f := results.get(("summary", label))) is not None:
            checks.append((f"summary >= {RPS_TARGET} req/s", label, f.rps >= RPS_TARGET, f"{f.rps:.0f}"))
    for text, label, ok, value in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {text:28} {label:16} measured {value}")
    print(json.dumps({"records": args.records, "connections": args.connections,
                      "workers": args.workers, "pool": args.pool, "results": summary_rows}, default=str))


if __name__ == "__main__":
    main()
