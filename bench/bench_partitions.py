"""Cases partitioned by month against the same cases in one table, at 20,000,000 cases.

    .venv/bin/python bench/bench_partitions.py                   # 20,000,000 cases, 36 months
    .venv/bin/python bench/bench_partitions.py --cases 1000000   # quicker, while iterating

Two databases get every migration; in one, cases stays partitioned by month as migrated, in the
other it is made one table with the same columns, keys, indexes and case_keys triggers, so the
partitions are the only difference. Both get the same synthetic cases (64 agencies, 10,000 grids,
spread evenly over the months, made in SQL), then, per layout:
  - load: every case inserted a month at a time with the secondary indexes built after, as a
    bulk ingest does (store.loading.indexes_built_after);
  - merge: batches staged and merged by the pipeline's own merge (store.loading.merge_cases):
    new cases of the last month and corrections of stored cases in random months (one in ten
    moved to another day), each batch committed; the median batch;
  - queries: the median of repeated runs (after one warm-up) of what the API and analysts ask of
    cases: one month by district, one grid's last 30 days, one year's count, a case by its id,
    a case by its agency's key;
  - retention: the oldest month retired (partitioned: detached by store.partitions; one table:
    DELETE of its cases), each with the rollup recount of its days.
Prints every figure with the ratio one table / partitioned (above 1: partitions are faster).
Durability as in production (fsync, full_page_writes on the server given or the project's).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from store import migrations, partitions  # noqa: E402
from store.db import with_dbname  # noqa: E402
from store.loading import STAGE_COLUMNS, indexes_built_after, merge_cases, sql_text  # noqa: E402
from store.rollups import refresh_touched  # noqa: E402

FIRST_DAY = date(2024, 1, 1)
AGENCIES, GRIDS, CATEGORIES = 64, 10_000, 20
TIMEZONE = "Asia/Shanghai"

# Case i (1..n) of the synthetic city: reported at an even pace over the months, in grid
# hash(i); its grid code names its community, street and district (10 of each per parent).
GENERATE = """
    INSERT INTO cases (source, source_record_id, record_hash, run_id, kind, category, status,
                       reported_at, report_day, geom, grid_code, community_code, street_code,
                       district_code, city_code, geocode_method, severity)
    SELECT 'agency_' || lpad((i %% {agencies})::text, 2, '0'), i::text, md5(i::text), 1, 'dispute',
           'category_' || (i %% {categories}), 'accepted', t, (t AT TIME ZONE 'UTC')::date,
           ST_SetSRID(ST_MakePoint(120.5 + g / 40000.0, 31.5 + (g %% 100) / 400.0), 4326),
           'G' || lpad(g::text, 5, '0'), 'C' || lpad((g / 10)::text, 4, '0'),
           'S' || lpad((g / 100)::text, 3, '0'), 'D' || lpad((g / 1000)::text, 2, '0'), 'CITY',
           'coordinates', (i %% 3 + 1)::smallint
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) i,
         LATERAL (SELECT %(start)s::timestamptz + (i - 1) * %(step)s AS t,
                         abs(hashint8(i)) %% {grids} AS g) x
"""


def add_months(day: date, months: int) -> date:
    return date(day.year + (day.month - 1 + months) // 12, (day.month - 1 + months) % 12 + 1, day.day)


def agency(i: int) -> str:
    """The agency of synthetic case i, as GENERATE names it."""
    return f"agency_{i % AGENCIES:02d}"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def median_seconds(run, repeat: int) -> float:
    run()  # warm-up: the same pages cached for both layouts
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def make_database(server: str, partitioned: bool) -> str:
    name = f"gridhub_bench_{'partitioned' if partitioned else 'one_table'}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(with_dbname(server, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_dbname(server, name)
    migrations.migrate(url)
    if not partitioned:
        with psycopg.connect(url) as conn:
            triggers = conn.execute(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'cases'::regclass"
                " AND NOT tgisinternal").fetchall()
            conn.execute("ALTER TABLE cases RENAME TO cases_by_month")
            conn.execute("CREATE TABLE cases (LIKE cases_by_month INCLUDING ALL)")
            conn.execute("DROP TABLE cases_by_month")
            for (definition,) in triggers:
                conn.execute(definition)  # noqa: S608 - read back from pg_trigger
    return url


def load(url: str, cases: int, months: int) -> float:
    """Every case, a month's worth per statement, secondary indexes built after; seconds."""
    step = (add_months(FIRST_DAY, months) - FIRST_DAY) / cases
    generate = sql.SQL(GENERATE).format(agencies=AGENCIES, categories=CATEGORIES, grids=GRIDS)
    per_month = -(-cases // months)
    started = time.perf_counter()
    with psycopg.connect(url) as conn, indexes_built_after(conn, "cases"):
        conn.execute("SELECT gridhub_month_partitions('cases', ARRAY(SELECT %s::date + m * interval '1 month'"
                     " FROM generate_series(0, %s) m)::date[])", (FIRST_DAY, months - 1))
        for first in range(1, cases + 1, per_month):
            conn.execute(generate, {"first": first, "last": min(first + per_month - 1, cases),
                                    "start": f"{FIRST_DAY} 00:00:00+00", "step": step})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE cases")
        conn.execute("VACUUM ANALYZE case_keys")
    return time.perf_counter() - started


def merge_batches(url: str, cases: int, months: int, batches: int, batch: int, seed: int) -> list[float]:
    """Seconds of each merge batch (staged, merged, committed)."""
    rng = np.random.default_rng(seed)
    last_month = add_months(FIRST_DAY, months - 1)
    columns = [c for c in STAGE_COLUMNS if c not in ("lon", "lat", "position")]
    seconds, next_id = [], cases + 1
    with psycopg.connect(url) as conn:
        for b in range(batches):
            corrected = rng.choice(cases, size=batch // 10, replace=False) + 1
            stored = pd.DataFrame(conn.execute(
                sql.SQL("SELECT {}, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM case_keys k"
                        " JOIN cases c ON c.case_id = k.case_id AND c.report_day = k.report_day"
                        " WHERE (k.source, k.source_record_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
                        ).format(sql.SQL(", ").join(sql.Identifier("c", c) for c in columns)),
                ([agency(i) for i in corrected], [str(i) for i in corrected])).fetchall(),
                columns=[*columns, "lon", "lat"])
            stored["record_hash"] = stored["record_hash"] + f"-corrected-{b}"
            stored["status"] = "resolved"
            moved = stored.index[: len(stored) // 10]
            stored.loc[moved, "report_day"] = stored.loc[moved, "report_day"].map(lambda d: d + timedelta(days=20))
            fresh = stored.iloc[np.arange(batch - len(stored)) % len(stored)].copy()
            fresh["source_record_id"] = [str(i) for i in range(next_id, next_id + len(fresh))]
            fresh["record_hash"] = fresh["source_record_id"]
            fresh["report_day"] = [last_month + timedelta(days=int(d)) for d in rng.integers(0, 28, len(fresh))]
            next_id += len(fresh)
            staged = pd.concat([stored, fresh], ignore_index=True)
            staged["position"] = np.arange(len(staged))
            started = time.perf_counter()
            counts = merge_cases(conn, 2 + b, staged)
            conn.commit()
            seconds.append(time.perf_counter() - started)
            assert (counts.inserted, counts.updated) == (len(fresh), len(stored)), counts
    return seconds


def queries(url: str, cases: int, months: int, repeat: int) -> dict[str, float]:
    middle = FIRST_DAY + timedelta(days=int(months * 30.4 / 2))
    case = cases // 2 + 1
    month = middle.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    asked = {
        "one month by district": ("SELECT district_code, count(*) FROM cases WHERE report_day >= %(m)s"
                                  " AND report_day < %(n)s GROUP BY 1", {"m": month, "n": next_month}),
        "one grid, last 30 days": ("SELECT count(*), max(reported_at) FROM cases WHERE grid_code = 'G04242'"
                                   " AND report_day > %(d)s::date - 30 AND report_day <= %(d)s", {"d": middle}),
        "one year's count": ("SELECT count(*) FROM cases WHERE report_day >= %(m)s"
                             " AND report_day < %(m)s::date + 365", {"m": month}),
        "a case by its id": ("SELECT * FROM cases WHERE case_id = %(id)s", {"id": case}),
        "a case by its agency's key": ("SELECT c.* FROM case_keys k JOIN cases c ON c.case_id = k.case_id"
                                       " AND c.report_day = k.report_day WHERE k.source = %(source)s"
                                       " AND k.source_record_id = %(key)s", {"source": agency(case), "key": str(case)}),
    }
    figures = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")  # one core each, as under load
        for label, (query, params) in asked.items():
            figures[label] = median_seconds(lambda q=query, p=params: conn.execute(q, p).fetchall(), repeat)
    return figures


def stored_bytes(url: str) -> tuple[int, int]:
    """Bytes of cases (every partition, indexes and TOAST included) and of case_keys."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('cases')),"
                            " pg_total_relation_size('cases')),"
                            " pg_total_relation_size('case_keys')").fetchone()


def retire_oldest_month(url: str, partitioned: bool) -> float:
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        second_month = (FIRST_DAY + timedelta(days=32)).replace(day=1)
        if partitioned:
            partitions.detach_before(conn, second_month, TIMEZONE, drop=True)
        else:
            conn.execute(sql_text("stage_cases.sql"))  # creates touched_days
            conn.execute("WITH gone AS (DELETE FROM cases WHERE report_day < %s RETURNING report_day,"
                         " grid_code, community_code, street_code, district_code, city_code)"
                         " INSERT INTO touched_days SELECT DISTINCT * FROM gone", (second_month,))
            refresh_touched(conn, TIMEZONE)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20_000_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch", type=int, default=50_000, help="records staged per merge batch")
    parser.add_argument("--repeat", type=int, default=9, help="runs of each query (median)")
    parser.add_argument("--server", default=None, help="PostgreSQL URL (default: the project's cluster)")
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    args = parser.parse_args()
    from store import provision

    server = args.server or provision.up(ROOT / "var", None).url
    with psycopg.connect(with_dbname(server, "postgres")) as conn:
        settings = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN"
                                     " ('fsync', 'full_page_writes', 'synchronous_commit')").fetchall())
    log(f"{args.cases:,} cases over {args.months} months; server settings {settings}")
    results, urls, sizes = {}, [], {}
    try:
        for partitioned in (True, False):
            layout = "partitioned" if partitioned else "one table"
            url = make_database(server, partitioned)
            urls.append(url)
            figures = results[layout] = {}
            figures["load (insert, then indexes)"] = load(url, args.cases, args.months)
            sizes[layout] = stored_bytes(url)
            log(f"{layout}: loaded in {figures['load (insert, then indexes)']:.1f} s")
            merged = merge_batches(url, args.cases, args.months, args.batches, args.batch, seed=7)
            figures[f"merge of {args.batch:,} records (median batch)"] = statistics.median(merged)
            log(f"{layout}: merge batches {', '.join(f'{s:.2f}' for s in merged)} s")
            figures.update(queries(url, args.cases, args.months, args.repeat))
            figures["retire the oldest month"] = retire_oldest_month(url, partitioned)
            log(f"{layout}: done")
    finally:
        if not args.keep:
            for url in urls:
                with psycopg.connect(with_dbname(server, "postgres"), autocommit=True) as conn:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(url.rsplit("/", 1)[-1].split("?")[0])))
    print(f"\n{args.cases:,} cases, {args.months} months; seconds (median where repeated)")
    print(f"{'':<44}{'partitioned':>14}{'one table':>14}{'one table / partitioned':>26}")
    for label, seconds in results["partitioned"].items():
        other = results["one table"][label]
        print(f"{label:<44}{seconds:>14.4f}{other:>14.4f}{other / seconds:>25.2f}x")
    print("bytes per case once loaded (heap and indexes; the capacity plan's storage figure):")
    for layout, (cases_bytes, keys_bytes) in sizes.items():
        print(f"  {layout:<12} cases {cases_bytes / args.cases:>6,.0f}   case_keys {keys_bytes / args.cases:>5,.0f}"
              f"   total {(cases_bytes + keys_bytes) / 2**30:>8,.2f} GiB")


if __name__ == "__main__":
    main()
