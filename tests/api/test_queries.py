"""Statements over the rollups as built, without a database: their text and named parameters."""

from __future__ import annotations

import re
from datetime import date

import pytest

from api.database import Statement, merged
from api.periods import Period
from api.queries import Filters, OuterColumn, Wrapper, open_at_end, period_rows, summed
from api.routers.tiles import areas_tile_statement
from core.case import AreaLevel

CODE, OTHER = "339902000000", "339903000000"
JUNE = Period(date(2025, 6, 1), date(2025, 6, 30))
NAMED = re.compile(rb"%\((\w+)\)s")


def placeholders(statement: Statement) -> set[str]:
    """The names the text asks for; no positional %s may be left."""
    assert b"%s" not in statement.text.replace(b"%%", b"")
    return {m.decode() for m in NAMED.findall(statement.text)}


def pieces(statement: Statement) -> list[bytes]:
    return statement.text.split(b" UNION ALL ")


def test_all_time_reads_the_monthly_totals_of_one_area():
    q = period_rows([("cur", Period())], [CODE], Filters())
    assert q.params == {"area": CODE}
    assert placeholders(q) == {"area"}
    [piece] = pieces(q)
    assert b"FROM rollup_monthly WHERE area_code = %(area)s AND kind = '*' AND category = '*'" in piece
    assert piece.startswith(b"SELECT 'cur' AS label")


def test_a_whole_month_is_one_monthly_piece_bounded_by_named_parameters():
    q = period_rows([("cur", JUNE)], [CODE], Filters())
    assert q.params == {"area": CODE, "cur_months_from": date(2025, 6, 1), "cur_months_to": date(2025, 6, 1)}
    assert b'"month" >= %(cur_months_from)s AND "month" <= %(cur_months_to)s' in q.text
    assert placeholders(q) == set(q.params)


def test_loose_days_read_the_daily_and_closed_tables_under_shared_bounds():
    q = period_rows([("cur", Period(date(2025, 6, 3), date(2025, 8, 10)))], [CODE], Filters())
    assert q.params == {
        "area": CODE,
        "cur_months_from": date(2025, 7, 1), "cur_months_to": date(2025, 7, 1),
        "cur_days0_from": date(2025, 6, 3), "cur_days0_to": date(2025, 6, 30),
        "cur_days1_from": date(2025, 8, 1), "cur_days1_to": date(2025, 8, 10),
    }
    tables = [re.search(rb"FROM (\w+)", p).group(1) for p in pieces(q)]
    assert tables == [b"rollup_monthly", b"rollup_daily", b"rollup_closed_daily",
                      b"rollup_daily", b"rollup_closed_daily"]
    assert placeholders(q) == set(q.params)


def test_two_periods_are_labelled_and_named_apart():
    q = period_rows([("cur", JUNE), ("prev", Period(date(2025, 5, 1), date(2025, 5, 31)))],
                    [CODE, OTHER], Filters(kind="dispute"))
    assert q.params["areas"] == [CODE, OTHER] and q.params["kind"] == "dispute"
    assert q.params["prev_months_from"] == date(2025, 5, 1)
    assert b"area_code = ANY(%(areas)s)" in q.text and b'"kind" = %(kind)s' in q.text
    # a filter reads the kind x category rows, not the per-area totals
    assert b"kind <> '*' AND category <> '*'" in q.text
    assert [p[:20] for p in pieces(q)] == [b"SELECT 'cur' AS labe", b"SELECT 'prev' AS lab"]
    assert placeholders(q) == set(q.params)


def test_detail_and_day_series_choose_the_rows_they_read():
    assert b"kind <> '*'" in period_rows([("cur", JUNE)], [CODE], Filters(), detail=True).text
    days = period_rows([("cur", JUNE)], [CODE], Filters(), months=False)
    assert b"rollup_monthly" not in days.text
    assert days.params == {"area": CODE, "cur_days0_from": JUNE.start, "cur_days0_to": JUNE.end}


def test_text_depends_on_the_shape_only_and_holds_no_value():
    june = period_rows([("cur", JUNE)], [CODE], Filters(category="labour"))
    march = period_rows([("cur", Period(date(2024, 3, 1), date(2024, 3, 31)))], [OTHER],
                        Filters(category="family"))
    assert june.text == march.text and june.params != march.params
    for value in (CODE, "labour", "2025"):
        assert value.encode() not in june.text


def test_an_outer_column_takes_no_parameter():
    q = period_rows([("cur", JUNE)], OuterColumn("a", "code"), Filters())
    assert b'area_code = "a"."code"' in q.text
    assert "area" not in q.params and "areas" not in q.params


@pytest.mark.parametrize(("end", "expected"), [
    (None, {"area": CODE}),
    (date(2025, 6, 30), {"area": CODE, "open_months_to": date(2025, 6, 1)}),
    (date(2025, 6, 15), {"area": CODE, "open_months_to": date(2025, 5, 1),
                         "open_days0_from": date(2025, 6, 1), "open_days0_to": date(2025, 6, 15)}),
])
def test_open_at_end_reads_the_last_whole_month_and_the_days_after_it(end, expected):
    q = open_at_end([CODE], Filters(), end)
    assert q.params == expected
    assert q.text.startswith(b"SELECT area_code, sum(n)::bigint AS open FROM (")
    assert placeholders(q) == set(expected)
    assert len(pieces(q)) == (3 if "open_days0_from" in expected else 1)


def test_summed_groups_every_measure_and_keeps_the_parameters():
    rows = period_rows([("cur", JUNE)], [CODE], Filters())
    q = summed(rows, "label")
    assert q.text.startswith(b'SELECT "label", sum("reported")::bigint AS "reported"')
    assert b'sum("close_hours_sum")::float8' in q.text and b"::bigint[] AS hist" in q.text
    assert q.text.endswith(b') u GROUP BY "label"')
    assert q.params == rows.params


def test_a_wrapper_adds_its_own_named_parameters():
    series = Wrapper.of("SELECT date_trunc({interval}, day) FROM ({rows}) u GROUP BY 1",
                        interval=__import__("psycopg").sql.Placeholder("interval"))
    q = series.around(period_rows([("cur", JUNE)], [CODE], Filters()), interval="week")
    assert q.text.startswith(b"SELECT date_trunc(%(interval)s, day) FROM (SELECT 'cur'")
    assert q.params["interval"] == "week" and placeholders(q) == set(q.params)


def test_a_name_may_recur_only_with_the_same_value():
    assert merged({"area": CODE}, {"area": CODE, "k": 5}) == {"area": CODE, "k": 5}
    with pytest.raises(ValueError, match="area"):
        merged({"area": CODE}, {"area": OTHER})


def test_the_areas_tile_names_every_parameter_once():
    q = areas_tile_statement(14, 13705, 6783, AreaLevel.GRID, [CODE], 5, JUNE, Filters())
    assert placeholders(q) == set(q.params)
    assert {k: q.params[k] for k in ("z", "x", "y", "level", "allowed", "k")} == {
        "z": 14, "x": 13705, "y": 6783, "level": "grid", "allowed": [CODE], "k": 5}
    assert b"ST_TileEnvelope(%(z)s, %(x)s, %(y)s)" in q.text
    assert b'area_code = "a"."code"' in q.text
