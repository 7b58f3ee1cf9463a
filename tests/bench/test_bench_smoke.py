"""Every bench script runs at a tiny size, so that a change cannot silently break it.

Each script runs as a reader runs it, in its own process, on the test server (DATABASE_URL, or
the private cluster, as `server_url` found it), and must exit 0 and print its figures and the
ratios to its baseline. Timing targets are not judged at a tiny size: a target line must be
printed, with either verdict. bench_cli_start.py has its own test (tests/cli).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import uuid

import psycopg
import pytest
from psycopg import sql

from core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow  # 3 to 4 minutes on 2 busy cores: each script imports and sets up a lot

BENCH = PROJECT_ROOT / "bench"
NUMBER = r"[\d,]+(?:\.\d+)?"
VERDICT = r"(?:met|NOT met)"


def run_bench(script: str, *args: str) -> str:
    """The script's standard output, after checking that it exited 0."""
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True,
                          text=True, cwd=PROJECT_ROOT, timeout=900)
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def line(out: str, pattern: str) -> re.Match:
    """The first printed line matching pattern (anchored at the line's start)."""
    found = re.search(f"^{pattern}", out, re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{out}"
    return found


def as_number(text: str) -> float:
    return float(text.replace(",", ""))


def test_bench_validate():
    out = run_bench("bench_validate.py", "--rows", "2000", "--repeat", "1")
    assert as_number(line(out, rf"rows validated\s+({NUMBER})").group(1)) == 2000
    for frame in ("whole frame", "column groups"):
        line(out, rf"GX alone: \d+ built-in expectations, {frame}, SUMMARY\s+{NUMBER} s")
    line(out, rf"full suite: \d+ expectations, COMPLETE, \+ split into passed / quarantined\s+{NUMBER} s")
    line(out, rf"  = {NUMBER} x GX whole-frame, {NUMBER} x GX column groups; target <= 5 s: {VERDICT}$")
    split = line(out, rf"passed ({NUMBER})   quarantined ({NUMBER})   \(({NUMBER}) for mapping problems\)")
    passed, quarantined, mapping = (as_number(g) for g in split.groups())
    assert passed + quarantined == 2000 and 0 < quarantined < 2000 and mapping <= quarantined
    line(out, rf"  \w+\s+quarantine\s+{NUMBER} rows")  # the rules that quarantined rows, with counts


def test_bench_grid_assign(server_url):  # its PostGIS peer runs on the test server
    out = run_bench("bench_grid_assign.py", "--points", "2000")
    line(out, r"4,500 grid cells, 2,000 points \(where people live\)")
    line(out, rf"pixel table built once in {NUMBER} s \({NUMBER} MB\)")
    line(out, r"path\s+seconds\s+points/s\s+vs faster baseline")
    for path in ("project (pixel table + STRtree)", "project, STRtree only", "geopandas sjoin",
                 "PostGIS ST_Contains join"):
        row = line(out, rf"{re.escape(path)}\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})x$")
        assert as_number(row.group(2)) > 0, row.group(0)
    agree = line(out, r"same cell as sjoin for ([\d.]+)% of points")
    assert float(agree.group(1)) >= 99.0  # not timing: the answers themselves
    line(out, r"project path is [\d.]+x the faster baseline \(target 3x\): (?:MET|NOT MET)$")


def test_bench_warn():
    out = run_bench("bench_warn.py", "--records", "2000")
    panel = line(out, rf"panel: ({NUMBER}) areas .*, (\d+) days .*, (\d+) signals, {NUMBER} area-day-signal"
                      rf" cells, ({NUMBER}) cases$")
    assert as_number(panel.group(1)) == 5169 and int(panel.group(2)) > 700  # the whole demo city, two years
    assert int(panel.group(3)) > 0 and as_number(panel.group(4)) >= 2000
    line(out, rf"alarms: {NUMBER} cells in {NUMBER} episodes \([\w+]+\); EARS C2 {NUMBER} cells;"
              rf" {NUMBER} recent episodes; \d+ hotspots on the last day$")
    line(out, r"step\s+wall s\s+cpu s\s+x EARS C2 \(cpu\)$")
    steps = ("prepare inputs", "build panels", "EARS C2, all days (baseline)", "warn run pass (last 120 days)",
             "Gi* hotspots, one day")
    for step in steps:
        line(out, rf"{re.escape(step)}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$")
    assert line(out, rf"EARS C2, all days \(baseline\)\s+{NUMBER}\s+{NUMBER}\s+(\S+)$").group(1) == "1.00"
    line(out, rf"[\w+]+, all days \+ episodes\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$")  # the configured method
    line(out, rf"detection for all grids and parents over two years \(panels \+ [\w+]+\): {NUMBER} s wall,"
              rf" {NUMBER} s CPU; target <= 30 s: {VERDICT}$")


def test_bench_ingest(server_url, tmp_path):
    out = run_bench("bench_ingest.py", "--rows", "2000", "--server", server_url, "--bench-dir", str(tmp_path))
    assert (tmp_path / "hotline_2000.csv").exists()  # the CSV went where it was told, not into var/
    line(out, r"hotline CSV: 2,000 rows")
    line(out, r"contender\s+records\s+seconds\s+rec/s\s+peak MB$")
    records = {}
    for what, label in (("full", "GridHub full ingest (pipeline.ingest)"),
                        ("copy", "limit: binary COPY into cases"),
                        ("naive", "naive: read_csv -> sjoin -> to_postgis")):
        row = line(out, rf"{re.escape(label)}\s+({NUMBER})\s+{NUMBER}\s+({NUMBER})\s+({NUMBER})$")
        records[what] = as_number(row.group(1))
        assert as_number(row.group(2)) > 0 and as_number(row.group(3)) > 0, row.group(0)
    # full and naive count every row they read; the limit only the rows it could place
    assert records["full"] == records["naive"] >= 2000 and 0 < records["copy"] <= records["full"]
    line(out, r"full ingest, seconds by step")
    for step in ("land: COPY + link", "map", "validate (quality)", "geocode (geo)", "merge into cases"):
        line(out, rf"  {re.escape(step)}\s+{NUMBER}$")
    line(out, rf"full / limit = \d+% \(target >= 40%\): {VERDICT}$")
    line(out, rf"full / naive = {NUMBER}x \(target >= 2x\): {VERDICT}$")
    line(out, rf"full peak memory = {NUMBER} MB \(target < 1,536 MB\): {VERDICT}$")
    line(out, rf"limit / naive = {NUMBER}x: the most full / naive could reach here$")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bench_api(server_url):
    name = f"gridhub_bench_smoke_{uuid.uuid4().hex[:8]}"
    try:
        out = run_bench("bench_api.py", "--records", "2000", "--db-name", name, "--seconds", "1",
                        "--warmup", "1", "--urls", "50", "--connections", "4",
                        "--port", str(_free_port()))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    line(out, r"\[[\d:]+\] 2,000 cases; rollup_daily [\d,]+ rows, rollup_monthly [\d,]+ rows; 4 clients")
    line(out, r"question\s+answered by\s+p50 ms\s+p95 ms\s+p99 ms\s+req/s\s+errors\s+app ms/req\s+db ms/req"
              r"\s+load\s+p50 vs baseline$")
    figures = rf"\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+({NUMBER})\s+(\d+)\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}"
    for question in ("summary", "stats", "tile z14"):
        for answered_by in ("api (cache on)", "api (cache off)", "count(*) GROUP BY cases"):
            vs_baseline = r" *" if answered_by.startswith("count") else r"\s+[\d,.]+x (?:faster|slower)"
            row = line(out, rf"{question}\s+{re.escape(answered_by)}{figures}{vs_baseline}$")
            rps, errors = as_number(row.group(1)), int(row.group(2))
            assert rps > 0 and errors == 0, row.group(0)  # every request answered, none failed
    checks = re.findall(r"^  (PASS|MISS)  .+ measured [\d.]+$", out, re.MULTILINE)
    assert len(checks) == 12, out  # p50 and p99 of summary and stats, tile p95, summary req/s; cache on/off
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["records"] == 2000 and len(summary["results"]) == 9
    with psycopg.connect(server_url) as conn:
        assert not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()


def test_bench_rollup_counts():
    out = run_bench("bench_rollup_counts.py", "--cases", "20000", "--repeat", "1")
    line(out, r"20,000 cases in slices of [\d,]+, every level counted")
    for contender in (r"numpy \(store\.rollup_counts\)", "Arrow group_by"):
        assert as_number(line(out, rf"{contender}\s+{NUMBER} s\s+({NUMBER}) cases/s").group(1)) > 0
    line(out, r"numpy saves -?\d+% of the counting time against Arrow group_by \(kept while >= 15%: (?:yes|NO)\)")
    assert "count different rows" not in out


def test_bench_warn_real():
    # Needs Rscript with r-cran-surveillance (Makefile OS_PACKAGES): without it the script exits
    # 1 and this test fails, it never skips.
    out = run_bench("bench_warn_real.py", "--starts", "1", "--ks", "10", "--areas", "3")
    line(out, r"SF 2026 by neighbourhood: 41 areas \+ the city, 106 days \(2026-01-01 \.\. 2026-04-16\), 23,552 cases$")
    line(out, rf"3 injected outbreaks \(1 start days x 3 areas x k in \[10\.0\]\), scored from day 42;"
              rf" GridHub {NUMBER} s, R references {NUMBER} s$")
    line(out, r"method\s+threshold\s+false/100aw\s+POD k=10\s+median delay\s+delay k>=5$")
    rows = [r"GridHub default \(glm\+cusum, budget\)\s+budget",
            *(rf"{m}\s+(?:{NUMBER}|inf)" for m in ("farringtonFlexible", "ears_c1", "ears_c2", "ears_c3",
                                                   "quasipoisson_glm"))]
    for row in rows:
        line(out, rf"{row}\s+{NUMBER}\s+{NUMBER}\s+(?:{NUMBER}|-)\s+(?:{NUMBER}|-)$")
    line(out, rf"SF 2026 by neighbourhood: GridHub default {NUMBER} false alerts per 100 area-weeks"
              rf" \(target <= 1\): {VERDICT}$")
    line(out, rf"SF 2026 by neighbourhood: mean POD over k at matched false-alert rate: GridHub {NUMBER},"
              rf" best reference {NUMBER} \(\w+\): {VERDICT}$")
    line(out, r"Chicago 2024 by community area: 77 areas, 10,000 cases; 2024-05 holds 8,332")
    line(out, r"Chicago 2024: not benchmarked: \d+ usable days")


def test_bench_real_feed(server_url, tmp_path):
    # A bulk load from 500 records, so that the tiny run takes the bulk path (rollups
    # recounted) as the 500,000-row run does: the SF feed has no closures at all.
    import os

    done = subprocess.run([sys.executable, str(BENCH / "bench_real_feed.py"), "--rows", "1000",
                           "--server", server_url, "--bench-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=900,
                          env={**os.environ, "GRIDHUB_BULK_LOAD_MIN_RECORDS": "500"})
    assert done.returncode == 0, f"exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    out = done.stdout
    assert list(tmp_path.glob("sf_*.csv")) == []  # the repeated SF CSV lives in a temporary folder
    line(out, r"SF 2026 police incidents: 23,552 rows repeated 1 times \(years 2026 back to 2026\) to 1,000 rows;"
              r" demo hotline CSV: 1,000 rows$")
    line(out, r"feed\s+records\s+seconds\s+rec/s\s+peak MB$")
    for label in ("SF 2026 incidents (examples/cities/sf)", "demo hotline_12345"):
        row = line(out, rf"{re.escape(label)}\s+({NUMBER})\s+{NUMBER}\s+({NUMBER})\s+{NUMBER}$")
        assert as_number(row.group(1)) >= 1000 and as_number(row.group(2)) > 0, row.group(0)
    for feed in ("sf", "hotline"):
        line(out, rf"{feed} ingest, seconds by step")
    line(out, rf"SF / hotline = {NUMBER}x records per second \(target >= 0.8x\): {VERDICT}$")


def test_bench_link():
    done = subprocess.run([sys.executable, str(BENCH / "bench_link.py"), "--records", "20000", "--new", "500",
                           "--baseline-blocks", "20"],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert done.returncode == 0, f"exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    out = done.stdout
    for label in ("link all at once (GridHub)", "baseline: all pairs in area x category family, scaled",
                  "link new into the linked (GridHub)", "baseline: link all again from scratch (scaled from above)"):
        row = line(out, rf"{re.escape(label)}\s+({NUMBER})\s+({NUMBER})$")
        assert as_number(row.group(1)) >= 500 and as_number(row.group(2)) >= 0, row.group(0)
    score = line(out, rf"links: {NUMBER}; pairwise precision ({NUMBER}), recall ({NUMBER}), F1 ({NUMBER})")
    assert min(as_number(score.group(i)) for i in (1, 2, 3)) >= 0.9, score.group(0)
    line(out, rf"link 20,000 records in {NUMBER} s \(target <= 60 s at 1,000,000\): {VERDICT}$")
    line(out, rf"link 500 new into 20,000 in {NUMBER} s \(target <= 2 s at 10,000 into 1,000,000\): {VERDICT}$")


def test_bench_reliability(server_url, tmp_path):
    out = run_bench("bench_reliability.py", "--size", "tiny", "--server", server_url, "--bench-dir", str(tmp_path))
    line(out, r"demo city, 2,000 records; source hotline_12345; size tiny$")
    line(out, r"point\s+mode\s+exit\s+rerun\s+lost\s+dup\s+running\s+output$")
    for point, mode in (("landing", "kill"), ("committing", "terminate")):
        row = line(out, rf"{point} \(\w+ #\d\)\s+{mode}\s+(-?\d+)\s+(\w+)\s+(\d+)\s+(\d+)\s+(\d+)  (.*)$")
        exit_code, rerun, lost, duplicated, running, output = row.groups()
        assert int(exit_code) == (-9 if mode == "kill" else 1), row.group(0)
        assert (rerun, lost, duplicated, running) == ("ok", "0", "0", "0"), row.group(0)
        if mode == "terminate":
            assert output.startswith("error: hotline_12345: the database connection was lost"), row.group(0)
    line(out, r"bad inputs: 5; hotline_12345 loaded first, [\d,]+ cases$")
    for what, expected in (("empty CSV", "error"), ("JSON Lines with one line cut short", "quarantine"),
                           ("xlsx with an XML entity bomb", "error"), ("REST feed that never stops paging", "error"),
                           ("xlsx sheet of 20 MB unpacked (sample)", "sample")):
        line(out, rf"{re.escape(what)}\s+{expected}\s+{expected}\s+")
    api = line(out, r"API under backend terminations: gridhub serve, 2 worker\(s\), answer cache off; 5 clients"
                    rf" for 3 s; 4 rounds of pg_terminate_backend, ({NUMBER}) backends$")
    assert as_number(api.group(1)) >= 4, api.group(0)  # the API's connections were cut, every round
    line(out, r"question\s+requests\s+2xx\s+4xx\s+503 Retry-After\s+other 5xx\s+resets$")
    for question in ("summary", "stats", "timeseries", "cases", "tile z14", "all"):
        row = line(out, rf"{re.escape(question)}\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})"
                        rf"\s+({NUMBER})$")
        requests, ok, client_errors, unavailable, server_errors, resets = (as_number(g) for g in row.groups())
        # Every answer a 2xx or a 503 with Retry-After; none reset, none another 5xx.
        assert ok > 0 and ok + unavailable == requests, row.group(0)
        assert client_errors == server_errors == resets == 0, row.group(0)
    line(out, rf"requests {NUMBER}; 2xx {NUMBER}; 503 with Retry-After {NUMBER}; 5xx other than 503 0;"
              r" connection resets 0$")
    audit = line(out, rf"audit rows ({NUMBER}) of ({NUMBER}) answered requests \(lost 0\); API peak RSS MB ({NUMBER})$")
    assert as_number(audit.group(1)) >= as_number(audit.group(2)) > 0 and as_number(audit.group(3)) > 0
    assert "note:" not in out, out  # every input as expected, every kill point reached, no answer amiss
    for figure in ("lost", "duplicated", "tracebacks", "5xx"):
        assert line(out, rf"{figure} (\d+)$").group(1) == "0"
    assert as_number(line(out, rf"peak memory MB ({NUMBER})$").group(1)) > 0
