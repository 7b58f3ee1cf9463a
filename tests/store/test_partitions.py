"""Cases are stored by month (migration 0625): every case sits in the partition of its
report_day, case_keys holds one row per case, a corrected case moves to its new month, a
period's query reads only its months, and retiring old months leaves counts that add up."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from core.settings import PROJECT_ROOT
from store import partitions, rollups
from store.loading import STAGE_COLUMNS, merge_cases
from store.rollups import DEFAULT_TIMEZONE
from tests.pipeline.helpers import rollup_rows

GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")

_STAGED = sql.SQL(", ").join(
    sql.SQL("ST_X(geom)") if c == "lon" else sql.SQL("ST_Y(geom)") if c == "lat"
    else sql.SQL("0") if c == "position" else sql.Identifier(c) for c in STAGE_COLUMNS)


def _staged(conn, table: str, case_id: int | None = None) -> pd.DataFrame:
    """One case of table (the given one, or any) as merge_cases stages it."""
    query = sql.SQL("SELECT {} FROM {} WHERE %(id)s::bigint IS NULL OR case_id = %(id)s LIMIT 1").format(
        _STAGED, sql.Identifier(table))
    return pd.DataFrame(conn.execute(query, {"id": case_id}).fetchall(), columns=list(STAGE_COLUMNS))


def _keys_match_cases(conn) -> bool:
    return conn.execute("""
        SELECT NOT EXISTS (SELECT case_id, source, source_record_id, report_day FROM cases
                           EXCEPT SELECT case_id, source, source_record_id, report_day FROM case_keys)
           AND (SELECT count(*) FROM cases) = (SELECT count(*) FROM case_keys)""").fetchone()[0]


def test_every_case_is_in_the_month_of_its_day(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        stored = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        wrong = conn.execute(
            "SELECT count(*) FROM cases"
            " WHERE tableoid::regclass::text <> 'cases_' || to_char(report_day, 'YYYY_MM')").fetchone()[0]
        months = partitions.months(conn)
        spanned = conn.execute("SELECT count(DISTINCT date_trunc('month', report_day)) FROM cases").fetchone()[0]
        assert stored > 5000 and wrong == 0
        assert len(months) == spanned
        assert _keys_match_cases(conn)
        # The natural key still holds across months: the same record cannot be stored twice.
        conn.execute("SELECT gridhub_month_partitions('cases', array[(SELECT report_day - 40 FROM cases LIMIT 1)])")
        with pytest.raises(psycopg.errors.UniqueViolation, match="case_keys_natural_key"):
            conn.execute("INSERT INTO cases (source, source_record_id, record_hash, run_id, kind, category,"
                         " status, reported_at, report_day, city_code, geocode_method)"
                         " SELECT source, source_record_id, 'x', run_id, kind, category, status,"
                         " reported_at - interval '40 days', report_day - 40, city_code, 'none'"
                         " FROM cases LIMIT 1")


def test_a_corrected_case_moves_to_its_new_month_and_rollups_follow(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        case_id, old_day = conn.execute("SELECT case_id, report_day FROM cases ORDER BY case_id LIMIT 1").fetchone()
        stored = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        staged = _staged(conn, "cases", case_id)
        new_day = date(2031, 5, 17)  # a month no case has been in
        staged["report_day"] = new_day
        staged["reported_at"] = pd.Timestamp("2031-05-17 09:00", tz="UTC")
        staged["record_hash"] = "corrected"
        counts = merge_cases(conn, 1, staged)
        assert (counts.inserted, counts.updated) == (0, 1)
        moved = conn.execute("SELECT tableoid::regclass::text, report_day, previous_hash IS NOT NULL FROM cases"
                             " WHERE case_id = %s", (case_id,)).fetchone()
        assert moved == ("cases_2031_05", new_day, True)
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == stored
        assert _keys_match_cases(conn)
        rollups.refresh_touched(conn, DEFAULT_TIMEZONE)
        assert conn.execute("SELECT sum(reported) FROM rollup_daily WHERE level = 'city' AND day = %s",
                            (new_day,)).fetchone()[0] == 1
        refreshed = rollup_rows(conn)
        rollups.rebuild(conn, DEFAULT_TIMEZONE)
        assert rollup_rows(conn) == refreshed
        # Merging the same version again changes nothing.
        assert merge_cases(conn, 1, staged).unchanged == 1
        assert old_day != new_day


def test_a_period_reads_only_its_months(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        first, last = conn.execute("SELECT min(report_day), max(report_day) FROM cases").fetchone()
        assert (last.year - first.year) * 12 + last.month - first.month >= 2
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT count(*) FROM cases WHERE report_day >= %s AND report_day < %s",
            (first.replace(day=1), first.replace(day=28))).fetchall())
        scanned = {name for _, name in partitions.months(conn) if name in plan}
        assert scanned == {f"cases_{first:%Y_%m}"}


@pytest.mark.slow  # a CLI run / rollups recounted twice
def test_retiring_old_months_detaches_them_and_counts_still_add_up(hotline_db):
    with psycopg.connect(hotline_db) as conn:
        months = partitions.months(conn)
        keep_from = months[2][0]
        before = conn.execute("SELECT count(*), count(*) FILTER (WHERE report_day < %s) FROM cases",
                              (keep_from,)).fetchone()
        old_id = conn.execute("SELECT case_id FROM cases WHERE report_day < %s LIMIT 1", (keep_from,)).fetchone()[0]
        new_id = conn.execute("SELECT case_id FROM cases WHERE report_day >= %s LIMIT 1", (keep_from,)).fetchone()[0]
        conn.execute("INSERT INTO case_groups (case_id, group_id) VALUES (%s, %s), (%s, %s)",
                     (old_id, old_id, new_id, old_id))
        conn.execute("INSERT INTO case_links (case_a, case_b, score, evidence) VALUES (%s, %s, 1, '{}')",
                     (min(old_id, new_id), max(old_id, new_id)))

        done = partitions.detach_before(conn, keep_from, DEFAULT_TIMEZONE)
        assert done.months == [name for _, name in months[:2]] and done.cases == before[1] > 0
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == before[0] - before[1]
        archived = f"archived_{months[0][1]}"
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(archived))).fetchone()[0] > 0
        assert _keys_match_cases(conn)
        assert conn.execute("SELECT count(*) FROM case_links").fetchone()[0] == 0
        assert conn.execute("SELECT array_agg(case_id) FROM case_groups").fetchone()[0] == [new_id]
        # The rollups count what is left: the city's total, and every row as a recount gives it.
        city = conn.execute("SELECT sum(reported) FROM rollup_daily WHERE level = 'city'").fetchone()[0]
        assert city == before[0] - before[1]
        left = rollup_rows(conn)
        rollups.rebuild(conn, DEFAULT_TIMEZONE)
        assert rollup_rows(conn) == left
        # A retired month that gets a case again gets a new partition.
        assert [name for _, name in partitions.months(conn)][0] == months[2][1]
        staged = _staged(conn, archived)
        staged["source_record_id"] = "late-record"
        assert merge_cases(conn, 1, staged).inserted == 1
        assert [name for _, name in partitions.months(conn)][0] == months[0][1]


@pytest.mark.slow  # a CLI run / rollups recounted twice
def test_the_command_retires_months_with_one_line(hotline_db):
    env = {**os.environ, "DATABASE_URL": hotline_db, "COLUMNS": "250"}
    with psycopg.connect(hotline_db) as conn:
        second = partitions.months(conn)[1]
    done = subprocess.run([GRIDHUB, "db", "retire-months", "--before", f"{second[0]:%Y-%m}", "--drop"],
                          capture_output=True, text=True, env=env, timeout=120)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and output.startswith(f"retired 1 month(s) before {second[0]:%Y-%m} holding "), output
    with psycopg.connect(hotline_db) as conn:
        assert partitions.months(conn)[0] == second
        assert conn.execute("SELECT to_regclass('archived_' || %s)", (second[1],)).fetchone()[0] is None
    refused = subprocess.run([GRIDHUB, "db", "retire-months", "--before", "2026-13"], capture_output=True,
                             text=True, env=env, timeout=120)
    output = (refused.stdout + refused.stderr).strip()
    assert refused.returncode == 1 and output == "error: --before '2026-13' is not a month: expected e.g. 2020-01"


def test_two_writers_needing_one_new_month_take_turns(db_url):
    make = "SELECT gridhub_month_partitions('cases', ARRAY['2033-03-09'::date])"
    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second:
        assert first.execute(make).fetchone()[0] == 1  # made, not committed yet
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(lambda: second.execute(make).fetchone()[0])
            time.sleep(0.5)
            assert not waiting.done()  # waits on the first writer's transaction
            first.commit()
            assert waiting.result(timeout=30) == 0  # the month it waited for is there
        second.commit()
        assert [name for _, name in partitions.months(second)][-1] == "cases_2033_03"
