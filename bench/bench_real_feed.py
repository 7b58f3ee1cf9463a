"""Benchmark: a real city's feed against the demo's hotline feed, per record, at the same size.

    .venv/bin/python bench/bench_real_feed.py                  # >= 500,000 rows each
    .venv/bin/python bench/bench_real_feed.py --rows 100000    # quicker, while iterating
    .venv/bin/python bench/bench_real_feed.py --profile        # + cProfile of the SF ingest

The SF police incidents of 2026 (23,552 rows, ../shared/data/real/sf) are repeated until
--rows is reached, each copy moved back one year (2026, 2025, ...): the feed has no incident
id, its spec knows a record by its content, date included, so every copy brings new ids.
That CSV is written to a temporary folder, never into the repo, and ingested through the SF
example spec (examples/cities/sf) into a fresh database holding the 41 neighbourhoods. Beside
it, the demo's hotline CSV of the same row count is ingested into a fresh database holding
the demo city, as bench/bench_ingest.py does (its CSV and city are kept in --bench-dir).
Each ingest runs in its own process, through pipeline.ingest.ingest as the CLI runs it.

Prints records per second of both, the SF ingest's seconds by step, and the ratio
SF / hotline against the target (>= 0.8x: a real feed costs no more per record).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_ingest  # noqa: E402  (its CSV writer, databases and step timers are reused)

REAL = ROOT.parent / "shared" / "data" / "real"
SF_CSV = REAL / "sf" / "sf_police_incidents_2026-01-01_to_04-16.csv"
SF_AREAS = REAL / "sf" / "sf_analysis_neighborhoods.geojson"
SF_CITY = ROOT / "examples" / "cities" / "sf"
SF_SOURCE = "sf_incidents_2026"
FIRST_YEAR = 2026
OLDEST_YEAR = 2001  # the quality suite's default start is 2000-01-01
TARGET_RATIO = 0.8
LABELS = {"sf": "SF 2026 incidents (examples/cities/sf)", "hotline": "demo hotline_12345"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000, help="rows of each feed (default 500,000)")
    parser.add_argument("--server", default=None, help="PostgreSQL URL (default: the project's cluster)")
    parser.add_argument("--only", choices=["sf", "hotline"], action="append")
    parser.add_argument("--bench-dir", type=Path, default=ROOT / "var" / "bench",
                        help="where the hotline CSV and the demo city are written and reused")
    parser.add_argument("--profile", action="store_true", help="cProfile the SF ingest; print the top 25")
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "DB_URL", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, url, path = args.child
        started = time.perf_counter()
        records = CHILDREN[what](url, Path(path), args.profile)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"records": records, "seconds": seconds, "peak_mb": peak_mb,
                          "stages": bench_ingest.STAGES}))
        return
    if not SF_CSV.exists() or not SF_AREAS.exists():
        sys.exit(f"error: the real data is missing: {SF_CSV.parent} (../shared/data/real)")
    run(args.rows, args.server, args.only or ["sf", "hotline"], args.bench_dir, args.profile)


# ---- the parent: data, databases, one child per contender -----------------------------------


def run(rows: int, server: str | None, contenders: list[str], bench_dir: Path, profile: bool) -> None:
    from store import provision
    from store.db import with_dbname

    server = server or provision.up(ROOT / "var", None).url
    maintenance = with_dbname(server, "postgres")
    results = {}
    with tempfile.TemporaryDirectory(prefix="gridhub-bench-sf-") as scratch:
        for what in contenders:
            csv_path = (repeated_sf_csv(Path(scratch), rows) if what == "sf"
                        else bench_ingest.hotline_csv(bench_dir, rows))
            name = f"gridhub_bench_real_{what}_{uuid.uuid4().hex[:6]}"
            try:
                if what == "sf":
                    sf_database(maintenance, name, Path(scratch))
                else:
                    bench_ingest.make_template(maintenance, name, bench_dir)
                print(f"running {what} ...", flush=True)
                command = [sys.executable, __file__, "--child", what, with_dbname(server, name), str(csv_path)]
                out = subprocess.run(command + (["--profile"] if profile and what == "sf" else []),
                                     check=False, capture_output=True, text=True, cwd=ROOT)
                if out.returncode:
                    print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
                    sys.exit(f"error: the {what} ingest exited {out.returncode}")
                lines = out.stdout.strip().splitlines()
                results[what] = json.loads(lines[-1])
                if len(lines) > 1:
                    print("\n".join(lines[:-1]))  # the profile
                print(f"  {what}: {json.dumps(results[what])}", flush=True)
            finally:
                bench_ingest.drop(maintenance, name)
    report(rows, results)


def report(rows: int, results: dict) -> None:
    copies = -(-rows // sf_rows())
    print(f"\nSF 2026 police incidents: {sf_rows():,} rows repeated {copies} times (years {FIRST_YEAR}"
          f" back to {FIRST_YEAR - copies + 1}) to {rows:,} rows; demo hotline CSV: {rows:,} rows")
    print(f"{'feed':<44}{'records':>11}{'seconds':>10}{'rec/s':>11}{'peak MB':>10}")
    for what, r in results.items():
        r["rate"] = r["records"] / r["seconds"]
        print(f"{LABELS[what]:<44}{r['records']:>11,}{r['seconds']:>10.1f}{r['rate']:>11,.0f}{r['peak_mb']:>10,.0f}")
    for what, r in results.items():
        print(f"{what} ingest, seconds by step (Python steps overlap the database steps):")
        for label, seconds in r["stages"].items():
            print(f"  {label:<40}{seconds:>8.1f}")
    if {"sf", "hotline"} <= results.keys():
        ratio = results["sf"]["rate"] / results["hotline"]["rate"]
        print(f"SF / hotline = {ratio:.2f}x records per second (target >= {TARGET_RATIO}x): "
              f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}")


def sf_rows() -> int:
    with SF_CSV.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in f) - 1


def repeated_sf_csv(folder: Path, rows: int) -> Path:
    """The SF 2026 CSV repeated to exactly `rows` rows, each copy one year earlier than the last."""
    with SF_CSV.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        records = list(reader)
    copies = -(-rows // len(records))
    if FIRST_YEAR - copies + 1 < OLDEST_YEAR:
        sys.exit(f"error: --rows {rows:,} needs {copies} yearly copies; at most"
                 f" {FIRST_YEAR - OLDEST_YEAR + 1} fit after {OLDEST_YEAR} ({len(records) * 26:,} rows)")
    date, year = header.index("Incident Date"), header.index("Incident Year")
    path = folder / f"sf_2026_x{copies}_{rows}.csv"
    written = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for copy in range(copies):
            shifted = str(FIRST_YEAR - copy)
            for record in records[:rows - written]:
                record = list(record)
                record[date] = shifted + record[date][4:]  # "2026/02/22" -> "2025/02/22"
                record[year] = shifted
                writer.writerow(record)
            written += min(len(records), rows - written)
    return path


def sf_settings(url: str, data_dir: Path):
    from core.settings import GridHubSettings

    return GridHubSettings(city_profile=SF_CITY / "city.yaml", sources_dir=SF_CITY / "sources",
                           data_dir=data_dir, database_url=url)


def sf_database(maintenance: str, name: str, data_dir: Path) -> None:
    """A fresh database holding the schema and SF's 41 neighbourhoods (and its derived outline)."""
    from pipeline.boundaries import load_area_file
    from store import migrations
    from store.db import with_dbname

    bench_ingest.clone(maintenance, name, None)
    url = with_dbname(maintenance, name)
    migrations.migrate(url)
    load_area_file(url, sf_settings(url, data_dir), SF_AREAS, "neighborhood", code_field="nhood")


# ---- the contenders, each in its own process ------------------------------------------------


def _time_steps() -> None:
    import pipeline.ingest as steps

    for name, label in [("raw_landing_frame", "land: payload + hash"), ("land_raw", "land: COPY + link"),
                        ("map_chunk", "map"), ("judge", "validate (quality)"),
                        ("settle_batch", "gates + records (quality)"), ("geocode", "geocode (geo)"),
                        ("merge_cases", "merge into cases"), ("quarantine", "quarantine")]:
        bench_ingest._timed(steps, name, label)
    bench_ingest._timed(steps.rollups, "rebuild", "rollups (store.rollups)")


def _profile_preparation():
    """A cProfile of map -> validate -> geocode: it runs in the ingest's `process` thread, which
    a profiler started in the main thread would not see."""
    import cProfile

    import pipeline.ingest as steps

    profiler, inner = cProfile.Profile(), steps._prepare_chunk

    def profiled(*args, **kwargs):
        return profiler.runcall(inner, *args, **kwargs)

    steps._prepare_chunk = profiled
    return profiler


def sf_ingest(url: str, path: Path, profile: bool) -> int:
    """The SF example spec on the repeated CSV, as `gridhub ingest sf_incidents_2026` runs it."""
    from connectors.spec import load_specs
    from pipeline.ingest import ingest

    settings = sf_settings(url, path.parent)
    spec = load_specs(settings.resolved_sources_dir)[SF_SOURCE].model_copy(update={"location": str(path)})
    _time_steps()
    profiler = _profile_preparation() if profile else None
    result = ingest(spec, settings, url)
    if profiler is not None:
        import pstats

        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    assert result.counts.adds_up(), result.counts
    return result.counts.records_read


def hotline_ingest(url: str, path: Path, profile: bool) -> int:
    """The demo hotline feed, exactly as bench/bench_ingest.py's full ingest runs it."""
    records, _ = bench_ingest.full_ingest(url, path)
    return records


CHILDREN = {"sf": sf_ingest, "hotline": hotline_ingest}


if __name__ == "__main__":
    main()
