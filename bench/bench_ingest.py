"""Benchmark of the full ingest on a large 12345 hotline CSV, against its limit and a naive peer.

    .venv/bin/python bench/bench_ingest.py                     # 5,000,000 rows
    .venv/bin/python bench/bench_ingest.py --rows 1000000      # quicker, while iterating

Prints, in one run, records per second and peak memory (RSS) of:
  - the full GridHub ingest (read the GBK CSV, land raw, map, validate, geocode, load, rollups)
    through pipeline.ingest.ingest, as the CLI runs it: one pass, each chunk processed once
    landed (the DAGs run the same steps as two tasks, reading the landing back between them);
  - the limit: a plain binary COPY (psycopg write_row) of the same rows, already prepared as
    canonical cases with their grid, into the same `cases` table (indexes and all);
  - the naive peer: pandas read_csv -> geopandas sjoin onto the grids -> GeoDataFrame.to_postgis;
and the ratios against the targets (>= 40% of the limit, >= 2x naive, peak < 1.5 GB).

The CSV is written once (<bench-dir>/hotline_<rows>.csv, --bench-dir var/bench by default; the
demo's hotline writer with its faults) and reused. Each contender runs in its own process on its own fresh database cloned
from one template (schema + demo city areas), so their peak memory is their own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_OF_LIMIT = 0.40
TARGET_OF_NAIVE = 2.0
TARGET_PEAK_MB = 1536


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--server", default=None, help="PostgreSQL URL (default: the project's cluster)")
    parser.add_argument("--only", choices=["full", "copy", "naive"], action="append")
    parser.add_argument("--bench-dir", type=Path, default=ROOT / "var" / "bench",
                        help="where the CSV and the demo city are written and reused (default: var/bench)")
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "DB_URL", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, url, csv = args.child
        started = time.perf_counter()
        records, seconds = CHILDREN[what](url, Path(csv))
        seconds = seconds if seconds is not None else time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"records": records, "seconds": seconds, "peak_mb": peak_mb,
                          "stages": STAGES}))
        return
    run(args.rows, args.server, args.only or ["full", "copy", "naive"], args.bench_dir)


# ---- the parent: data, databases, one child per contender -----------------------------------


def run(rows: int, server: str | None, contenders: list[str], bench_dir: Path) -> None:
    from store import provision
    from store.db import with_dbname

    server = server or provision.up(ROOT / "var", None).url
    csv = hotline_csv(bench_dir, rows)
    template = f"gridhub_bench_tpl_{uuid.uuid4().hex[:6]}"
    make_template(with_dbname(server, "postgres"), template, bench_dir)
    results = {}
    try:
        for what in contenders:
            name = f"gridhub_bench_{what}_{uuid.uuid4().hex[:6]}"
            clone(with_dbname(server, "postgres"), name, template)
            try:
                print(f"running {what} ...", flush=True)
                out = subprocess.run([sys.executable, __file__, "--child", what,
                                      with_dbname(server, name), str(csv)],
                                     check=True, capture_output=True, text=True, cwd=ROOT)
                results[what] = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"  {what}: {json.dumps(results[what])}", flush=True)  # kept if a later step dies
            except subprocess.CalledProcessError as exc:
                print(exc.stdout[-3000:], exc.stderr[-3000:], file=sys.stderr)
                raise
            finally:
                drop(with_dbname(server, "postgres"), name)
    finally:
        drop(with_dbname(server, "postgres"), template)
    report(rows, results)


def report(rows: int, results: dict) -> None:
    print(f"\nhotline CSV: {rows:,} rows (GBK, BD-09, Chinese headers, ~1.2% faulty)")
    print(f"{'contender':<44}{'records':>11}{'seconds':>10}{'rec/s':>11}{'peak MB':>10}")
    labels = {"full": "GridHub full ingest (pipeline.ingest)", "copy": "limit: binary COPY into cases",
              "naive": "naive: read_csv -> sjoin -> to_postgis"}
    for what, r in results.items():
        rate = r["records"] / r["seconds"]
        r["rate"] = rate
        print(f"{labels[what]:<44}{r['records']:>11,}{r['seconds']:>10.1f}{rate:>11,.0f}{r['peak_mb']:>10,.0f}")
    if results.get("full", {}).get("stages"):
        print("full ingest, seconds by step (Python steps run in a thread beside the database"
              " steps, so they overlap; not shown: reading the CSV, index builds):")
        for label, seconds in results["full"]["stages"].items():
            print(f"  {label:<40}{seconds:>8.1f}")
    full = results.get("full")
    if full:
        if "copy" in results:
            share = full["rate"] / results["copy"]["rate"]
            print(f"full / limit = {share:.0%} (target >= {TARGET_OF_LIMIT:.0%}): "
                  f"{'met' if share >= TARGET_OF_LIMIT else 'NOT met'}")
        if "naive" in results:
            times = full["rate"] / results["naive"]["rate"]
            print(f"full / naive = {times:.2f}x (target >= {TARGET_OF_NAIVE:.0f}x): "
                  f"{'met' if times >= TARGET_OF_NAIVE else 'NOT met'}")
        print(f"full peak memory = {full['peak_mb']:,.0f} MB (target < {TARGET_PEAK_MB:,} MB): "
              f"{'met' if full['peak_mb'] < TARGET_PEAK_MB else 'NOT met'}")
    if "copy" in results and "naive" in results:
        # The full ingest writes the same cases as the limit, and lands every raw record and
        # rebuilds the rollups besides: it cannot outrun the limit, so this bounds full / naive.
        ceiling = results["copy"]["rate"] / results["naive"]["rate"]
        print(f"limit / naive = {ceiling:.2f}x: the most full / naive could reach here")


def hotline_csv(bench_dir: Path, rows: int) -> Path:
    """A hotline CSV of exactly `rows` data rows, written by the demo's own hotline writer."""
    import numpy as np

    from demo.city import build_city
    from demo.feeds.base import FeedContext
    from demo.feeds.hotline import HotlineWriter
    from demo.truth import DAYS, START_DAY, TruthPlan, iter_truth, plan_outbreaks

    path = bench_dir / f"hotline_{rows}.csv"
    if path.exists():
        return path
    print(f"writing {path} ...", flush=True)
    city = build_city(7)
    rng = np.random.default_rng([7, 99])
    plan = TruthPlan(city.addresses, plan_outbreaks(city.areas, rng, START_DAY, DAYS, rows), rows, 7)
    partial = bench_dir / f"hotline_{rows}.partial"
    writer = HotlineWriter(FeedContext(partial, "Asia/Shanghai", {}))
    written = 0
    for truth in iter_truth(plan, 500_000):
        truth = truth.head(rows - written)  # faults add copies: stop at exactly `rows`
        frame = truth.assign(feed=writer.name)
        writer.write(frame.reset_index(drop=True), rng)
        written += len(truth)
        if written >= rows:
            break
    (partial / f"{writer.name}.csv").rename(path)
    partial.rmdir()
    return path


def make_template(server: str, name: str, bench_dir: Path) -> None:
    from core.settings import GridHubSettings
    from demo.city import build_city, write_city
    from pipeline.demo import load_demo_areas
    from store.db import with_dbname

    city_dir = bench_dir / "demo" / "city"
    if not (city_dir / "areas_grid.geojson").exists():
        write_city(build_city(7), city_dir)
    clone(server, name, None)
    url = with_dbname(server, name)
    load_demo_areas(GridHubSettings(data_dir=bench_dir, database_url=url), url)


def clone(server: str, name: str, template: str | None) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)


def drop(server: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# ---- the contenders, each in its own process ------------------------------------------------


STAGES: dict[str, float] = {}


def _timed(module, name: str, label: str) -> None:
    """Wrap module.name so that its time adds up under label in STAGES (a breakdown only)."""
    inner = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            STAGES[label] = STAGES.get(label, 0.0) + time.perf_counter() - started

    setattr(module, name, wrapper)


def full_ingest(url: str, csv: Path) -> tuple[int, None]:
    """The GridHub ingest as the CLI runs it, on the bench CSV."""
    import pipeline.ingest as steps
    from connectors.spec import load_specs
    from core.settings import GridHubSettings
    from pipeline.ingest import ingest

    for name, label in [("raw_landing_frame", "land: payload + hash"), ("land_raw", "land: COPY + link"),
                        ("map_chunk", "map"), ("judge", "validate (quality)"),
                        ("settle_batch", "gates + records (quality)"), ("geocode", "geocode (geo)"),
                        ("merge_cases", "merge into cases"), ("quarantine", "quarantine")]:
        _timed(steps, name, label)
    _timed(steps.rollups, "rebuild", "rollups (store.rollups)")  # a bulk load rebuilds them

    settings = GridHubSettings(data_dir=csv.parent, database_url=url)
    spec = load_specs(ROOT / "sources")["hotline_12345"]
    spec = spec.model_copy(update={"location": str(csv),
                                   "quality": {**(spec.quality or {}), "max_quarantine_rate": 0.5}})
    result = ingest(spec, settings, url)
    assert result.counts.adds_up(), result.counts
    return result.counts.records_read, None


def binary_copy(url: str, csv: Path) -> tuple[int, float]:
    """The limit: the same rows, prepared in memory as canonical cases, binary-COPYed into cases.

    Only the COPY is timed: preparing rows is not part of the limit.
    """
    import pandas as pd
    import psycopg
    import shapely
    from psycopg import adapt, pq

    from geo.crs import to_wgs84
    from geo.grids import GridIndex
    from store.areas import read_areas

    raw = pd.read_csv(csv, dtype=str, encoding="gbk", keep_default_na=False)
    raw = raw.drop_duplicates("工单编号")
    lon, lat = to_wgs84(pd.to_numeric(raw["经度"], errors="coerce"), pd.to_numeric(raw["纬度"], errors="coerce"), "BD-09")
    reported = pd.to_datetime(raw["受理时间"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    with psycopg.connect(url) as conn:
        grids = GridIndex.from_frame(read_areas(conn))
        found = grids.locate(lon, lat)
        codes = grids.codes_for(found)
        keep = (found >= 0) & reported.notna().to_numpy()
        reported = reported.dt.tz_localize("Asia/Shanghai")
        geom = shapely.to_wkb(shapely.points(lon, lat), include_srid=False, hex=False)
        ewkb = [b[:1] + (int.from_bytes(b[1:5], "little") | 0x20000000).to_bytes(4, "little")
                + (4326).to_bytes(4, "little") + b[5:] for b in geom]
        columns = ("source", "source_record_id", "record_hash", "run_id", "kind", "category",
                   "status", "reported_at", "report_day", "grid_code", "community_code",
                   "street_code", "district_code", "city_code", "geocode_method", "geom")
        frame = pd.DataFrame({
            "source": "hotline_12345", "source_record_id": raw["工单编号"].to_numpy(),
            "record_hash": raw["工单编号"].to_numpy(), "run_id": 1, "kind": "complaint",
            "category": "other", "status": "accepted", "reported_at": reported.dt.to_pydatetime(),
            "report_day": reported.dt.date.to_numpy(), "grid_code": codes["grid_code"].to_numpy(),
            "community_code": codes["community_code"].to_numpy(),
            "street_code": codes["street_code"].to_numpy(),
            "district_code": codes["district_code"].to_numpy(), "city_code": "339900000000",
            "geocode_method": "coordinates", "geom": ewkb})[keep]
        rows = list(frame.itertuples(index=False, name=None))
        frame_days = frame["report_day"]
        del raw, frame
        oid = conn.execute("SELECT 'geometry'::regtype::oid").fetchone()[0]

        class Ewkb(bytes):
            pass

        class EwkbDumper(adapt.Dumper):
            format = pq.Format.BINARY

            def dump(self, obj):
                return bytes(obj)

        EwkbDumper.oid = oid
        conn.adapters.register_dumper(Ewkb, EwkbDumper)
        rows = [(*r[:-1], Ewkb(r[-1])) for r in rows]
        types = ["text", "text", "text", "int8", "text", "text", "text", "timestamptz", "date",
                 "text", "text", "text", "text", "text", "text", oid]
        _make_months(conn, frame_days)
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                f"COPY cases ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
    return len(rows), seconds


def naive(url: str, csv: Path) -> tuple[int, None]:
    """The peer: pandas read_csv -> geopandas sjoin -> GeoDataFrame.to_postgis, as tutorials do."""
    import geopandas as gpd
    import pandas as pd
    import psycopg
    import sqlalchemy as sa

    from demo.feeds.base import CATEGORY_LABELS, STATUS_LABELS
    from geo.crs import to_wgs84

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    raw = pd.read_csv(csv, dtype=str, encoding="gbk")
    records = len(raw)
    raw = raw.drop_duplicates("工单编号")
    reported = pd.to_datetime(raw["受理时间"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    lon, lat = to_wgs84(pd.to_numeric(raw["经度"], errors="coerce"), pd.to_numeric(raw["纬度"], errors="coerce"), "BD-09")
    points = gpd.GeoDataFrame({
        "source": "hotline_12345", "source_record_id": raw["工单编号"].to_numpy(),
        "record_hash": raw["工单编号"].to_numpy(), "run_id": 1, "kind": "complaint",
        "category": raw["诉求类别"].map({v: str(k) for k, v in CATEGORY_LABELS.items()}).to_numpy(),
        "status": raw["工单状态"].map({v: str(k) for k, v in STATUS_LABELS.items()}).to_numpy(),
        "reported_at": reported.dt.tz_localize("Asia/Shanghai").to_numpy(),
        "report_day": reported.dt.normalize().to_numpy(), "city_code": "339900000000",
        "geocode_method": "coordinates"}, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    points = points[points["reported_at"].notna() & points["category"].notna() & points["status"].notna()]
    grids = gpd.read_postgis("SELECT code AS grid_code, geom FROM areas WHERE level = 'grid'"
                             " AND valid_to IS NULL", engine, geom_col="geom")
    joined = gpd.sjoin(points, grids, how="inner", predicate="within").drop(columns="index_right")
    joined = joined.drop_duplicates("source_record_id").rename_geometry("geom")
    with psycopg.connect(url) as conn:
        _make_months(conn, joined["report_day"].dt.date)
    joined.to_postgis("cases", engine, if_exists="append", index=False, chunksize=50_000)
    return records, None


def _make_months(conn, days) -> None:
    """The monthly partitions of cases the baselines' rows fall in (an ingest makes its own)."""
    conn.execute("SELECT gridhub_month_partitions('cases', %s::date[])", (sorted(set(days)),))
    conn.commit()


CHILDREN = {"full": full_ingest, "copy": binary_copy, "naive": naive}


if __name__ == "__main__":
    main()
