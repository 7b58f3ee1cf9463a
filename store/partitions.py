"""Monthly partitions of cases (migration 0625) detached whole when a city's retention retires
old months. (The merge makes the months its staged cases need: store/loading.merge_cases.)

A month is the partition `cases_YYYY_MM`, holding the cases reported on its days. Detaching it
takes its cases out of every query at the cost of a catalog change, where a DELETE of the same
rows would write each one to the WAL twice (heap and indexes) and leave the table to vacuum. A
detached month is kept as the table `archived_cases_YYYY_MM` unless dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

from store import rollups
from store.loading import sql_text

_MONTH_NAME = re.compile(r"^cases_(\d{4})_(\d{2})$")


def months(conn: psycopg.Connection) -> list[tuple[date, str]]:
    """(first day, partition name) of every month of cases, oldest first."""
    names = conn.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                         " WHERE i.inhparent = 'cases'::regclass").fetchall()
    found = [(_MONTH_NAME.match(name), name) for (name,) in names]
    return sorted((date(int(m[1]), int(m[2]), 1), name) for m, name in found if m)


@dataclass(frozen=True)
class Detached:
    """What one retirement did."""

    months: list[str]   # the partitions taken out of cases
    cases: int          # the cases they held
    dropped: bool       # dropped, or kept as archived_cases_YYYY_MM


def detach_before(conn: psycopg.Connection, first_kept: date, timezone: str, drop: bool = False) -> Detached:
    """Take every month before first_kept's month out of cases, in the caller's transaction.

    Their keys go from case_keys (with the links and dispute groups of those cases), and the
    rollups of their days are recounted, so every count the API serves still adds up from the
    cases that remain.
    """
    conn.execute(sql_text("stage_cases.sql"))  # creates touched_days
    retired, total = [], 0
    for month, name in months(conn):
        if month >= first_kept.replace(day=1):
            break
        part = sql.Identifier(name)
        conn.execute(sql.SQL("INSERT INTO touched_days SELECT DISTINCT report_day, grid_code, community_code,"
                             " street_code, district_code, city_code FROM {}").format(part))
        total += conn.execute(sql.SQL("DELETE FROM case_keys k USING {} c WHERE k.case_id = c.case_id"
                                      ).format(part)).rowcount
        conn.execute(sql.SQL("ALTER TABLE cases DETACH PARTITION {}").format(part))
        if drop:
            conn.execute(sql.SQL("DROP TABLE {}").format(part))
        else:
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(part, sql.Identifier(f"archived_{name}")))
        retired.append(name)
    if retired:
        rollups.refresh_touched(conn, timezone)
    return Detached(retired, total, drop)
