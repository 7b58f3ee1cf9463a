"""Recounts straight from `cases` (what the API must agree with) and small HTTP helpers."""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

TZ = "Asia/Shanghai"
CLOSE_DAY = "greatest((closed_at AT TIME ZONE 'Asia/Shanghai')::date, report_day)"


def recount(db_url: str, level: str, code: str, start: date | None = None, end: date | None = None,
            **equal) -> dict:
    """Counts of the cases of an area reported in [start, end], from cases."""
    where = [sql.SQL("{} = %s").format(sql.Identifier(f"{level}_code"))]
    params: list = [code]
    if start:
        where.append(sql.SQL("report_day >= %s"))
        params.append(start)
    if end:
        where.append(sql.SQL("report_day <= %s"))
        params.append(end)
    for column, value in equal.items():
        where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    cond = sql.SQL(" AND ").join(where)
    with psycopg.connect(db_url) as conn:
        def grouped(column: str) -> dict:
            return dict(conn.execute(sql.SQL("SELECT {c}, count(*) FROM cases WHERE {w} GROUP BY 1")
                                     .format(c=sql.Identifier(column), w=cond), params).fetchall())
        total, resolved, closed, hours = conn.execute(sql.SQL(
            "SELECT count(*), count(*) FILTER (WHERE status IN ('resolved', 'closed')),"
            " count(closed_at), sum(greatest(extract(epoch FROM closed_at - reported_at) / 3600, 0))"
            " FROM cases WHERE {}").format(cond), params).fetchone()
        median = conn.execute(sql.SQL(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY greatest(extract(epoch FROM"
            " closed_at - reported_at) / 3600, 0)) FROM cases WHERE {} AND closed_at IS NOT NULL")
            .format(cond), params).fetchone()[0]
        return {"total": total, "resolved": resolved, "closed": closed,
                "mean_hours": float(hours) / closed if closed else None,
                "median_hours": float(median) if median is not None else None,
                "by_kind": grouped("kind"), "by_category": grouped("category"),
                "by_status": grouped("status")}


def open_at(db_url: str, level: str, code: str, day: date, **equal) -> int:
    """Cases of the area reported by `day` and not closed by the end of it (city time)."""
    where = [sql.SQL("{} = %s").format(sql.Identifier(f"{level}_code")), sql.SQL("report_day <= %s"),
             sql.SQL("(closed_at IS NULL OR " + CLOSE_DAY + " > %s)")]
    params: list = [code, day, day]
    for column, value in equal.items():
        where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql.SQL("SELECT count(*) FROM cases WHERE {}").format(
            sql.SQL(" AND ").join(where)), params).fetchone()[0]


def busiest(db_url: str, level: str, within: tuple[str, str] | None = None) -> str:
    """The area of a level with the most cases (optionally inside another area)."""
    where, params = sql.SQL("{} IS NOT NULL").format(sql.Identifier(f"{level}_code")), []
    if within:
        where = sql.SQL("{} = %s").format(sql.Identifier(f"{within[0]}_code"))
        params = [within[1]]
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql.SQL("SELECT {c} FROM cases WHERE {w} AND {c} IS NOT NULL"
                                    " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").format(
            c=sql.Identifier(f"{level}_code"), w=where), params).fetchone()[0]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def read_mvt(content: bytes, z: int, x: int, y: int) -> list[dict]:
    """Features of a vector tile as GDAL (a real GIS client) reads them (GeoJSON features)."""
    if not content:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tile.mvt"
        path.write_bytes(content)
        out = subprocess.run(["ogr2ogr", "-f", "GeoJSONSeq", "/vsistdout/", str(path),
                              "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}", "-t_srs", "EPSG:4326"],
                             capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]
