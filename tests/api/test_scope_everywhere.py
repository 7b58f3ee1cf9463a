"""Every endpoint applies the key's scope (issue 30, items 3 and 9): sources and quality
records, kept per feed for the whole city, go to keys of the whole city only, their failing
examples masked like case rows; an area or alert outside the scope answers exactly as one
that does not exist, and no error names it."""

from __future__ import annotations

import json

import psycopg
import pytest

from api.keys import Role
from tests.api.helpers import busiest

ADDRESS = "幸福路12号3单元402室"
FUTURE_DAY = "2100-01-01 08:00:00+00:00"
RECORD_ID = "110101199003071234"  # a source's record id that is an ID-card number


def _districts(db_url: str) -> tuple[str, str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT district_code FROM cases WHERE district_code IS NOT NULL"
                            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 2").fetchall()
    return rows[0][0], rows[1][0]


def _grid_in(db_url: str, district: str) -> str:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT min(grid_code) FROM cases WHERE district_code = %s",
                            (district,)).fetchone()[0]


def _seed_examples(db_url: str) -> int:
    """Failing examples of a person's address, a record id and a date on the newest validated run."""
    expectations = [
        {"key": "address_readable", "expectation": "expect_column_values_to_match_regex",
         "columns": ["address"], "action": "warn", "message": "address is unreadable",
         "evaluated": 10, "unexpected": 1, "missing": 0, "success": False, "examples": [ADDRESS]},
        {"key": "record_id_short", "expectation": "expect_column_value_lengths_to_be_between",
         "columns": ["source_record_id"], "action": "warn", "message": "record id too long",
         "evaluated": 10, "unexpected": 1, "missing": 0, "success": False, "examples": [RECORD_ID]},
        {"key": "reported_not_future", "expectation": "expect_column_values_to_be_between",
         "columns": ["reported_at"], "action": "quarantine", "message": "reported_at is in the future",
         "evaluated": 10, "unexpected": 1, "missing": 0, "success": False, "examples": [FUTURE_DAY]},
    ]
    with psycopg.connect(db_url) as conn:
        run_id = conn.execute("SELECT max(run_id) FROM quality_runs").fetchone()[0]
        assert run_id is not None, "the hotline ingest recorded no validation"
        conn.execute("UPDATE quality_runs SET expectations = %s WHERE run_id = %s",
                     (json.dumps(expectations), run_id))
    return run_id


def _examples(run: dict) -> dict[str, list]:
    return {e["key"]: e.get("examples") for e in run["validation"]["expectations"]}


def test_sources_and_quality_records_go_to_keys_of_the_whole_city_only(api):
    run_id = _seed_examples(api.db_url)
    district, _ = _districts(api.db_url)
    grid = _grid_in(api.db_url, district)
    city_wide = {role: api.client(role) for role in Role}
    confined = [(role, api.client(role, scope)) for role in Role for scope in (district, grid)]

    for role, client in confined:  # any role, a district's or a grid's: nothing of the city's feeds
        for path in ("/sources", "/quality/runs", f"/quality/runs/{run_id}", "/quality/runs/999999",
                     "/quality/docs/", "/quality/docs/index.html"):
            answer = client.get(path)
            assert answer.status_code == 403, (path, answer.text)
            detail = answer.json()["detail"]
            assert "\n" not in detail
            # (a viewer is refused the Data Docs for its role before its scope)
            assert "whole city" in detail or (role is Role.VIEWER and "/docs/" in path), detail
            assert "hotline" not in answer.text and str(run_id) not in detail

    for role, client in city_wide.items():
        sources = client.get("/sources")
        assert sources.status_code == 200 and sources.json()["sources"], sources.text
        runs = client.get("/quality/runs").json()["runs"]
        one = client.get(f"/quality/runs/{run_id}").json()
        assert run_id in {r["run_id"] for r in runs} and one["run_id"] == run_id
        listed = next(r for r in runs if r["run_id"] == run_id)
        if role is Role.VIEWER:  # counts, never examples
            assert all(ex is None for ex in _examples(one).values())
            assert all(ex is None for ex in _examples(listed).values())
            assert client.get("/quality/docs/").status_code == 403
            continue
        for seen in (_examples(one), _examples(listed)):
            # Digits of an address and of a record id hidden, as /cases hides them; a date is no
            # one's: it stays as it was, since that is what the data engineer needs to see.
            assert seen["address_readable"] == ["幸福路**号*单元***室"]
            assert seen["record_id_short"] == ["*" * len(RECORD_ID)]
            assert seen["reported_not_future"] == [FUTURE_DAY]
        assert ADDRESS not in client.get("/quality/runs").text
        assert client.get("/quality/docs/").status_code in (200, 404)  # 404: no docs built here


def test_outside_the_scope_is_answered_as_unknown(api):
    mine, other = _districts(api.db_url)
    theirs = _grid_in(api.db_url, other)
    client = api.client(Role.ANALYST, mine)
    unknown = theirs[:-3] + "999"  # fits the city's code patterns, no such area
    with psycopg.connect(api.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM areas WHERE code = %s", (unknown,)).fetchone()[0] == 0

    def same(path: str, **params) -> None:
        outside = client.get(path.format(code=theirs), params={k: v.format(code=theirs) for k, v in params.items()})
        absent = client.get(path.format(code=unknown), params={k: v.format(code=unknown) for k, v in params.items()})
        assert outside.status_code == absent.status_code == 404, (path, outside.text, absent.text)
        assert outside.json() == json.loads(absent.text.replace(unknown, theirs)), (path, outside.text)

    for path in ("/areas/{code}", "/areas/{code}/summary", "/areas/{code}/timeseries"):
        same(path)
    same("/stats", parent="{code}")
    same("/rankings", parent="{code}")
    same("/areas", parent="{code}")
    same("/cases", area="{code}")
    same("/warnings", area="{code}")
    same("/hotspots", area="{code}")


def test_a_refused_acknowledge_names_no_area_and_reads_as_no_alert(api):
    mine, other = _districts(api.db_url)
    theirs = _grid_in(api.db_url, other)
    with psycopg.connect(api.db_url) as conn:
        alert_id = conn.execute(
            "INSERT INTO alerts (area_code, level, signal, method, severity, first_day, last_day)"
            " VALUES (%s, 'grid', 'kind:dispute', 'test', 'red', current_date, current_date)"
            " RETURNING alert_id", (theirs,)).fetchone()[0]
        conn.execute("INSERT INTO alert_areas (area_code, alert_id, depth) VALUES (%s, %s, 0)", (theirs, alert_id))
        missing = conn.execute("SELECT coalesce(max(alert_id), 0) + 1000 FROM alerts").fetchone()[0]
    client = api.client(Role.ANALYST, mine)
    refused = client.post(f"/warnings/{alert_id}/ack")
    absent = client.post(f"/warnings/{missing}/ack")
    assert refused.status_code == absent.status_code == 404, refused.text
    assert refused.json() == json.loads(absent.text.replace(str(missing), str(alert_id)))
    assert theirs not in refused.text and other not in refused.text
    with psycopg.connect(api.db_url) as conn:
        assert conn.execute("SELECT status FROM alerts WHERE alert_id = %s", (alert_id,)).fetchone()[0] == "new"
    # The key of the whole city may.
    assert api.client(Role.ANALYST).post(f"/warnings/{alert_id}/ack").json()["status"] == "acknowledged"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_a_grid_key_sees_its_grid_and_nothing_around_it(api, role):
    district, _ = _districts(api.db_url)
    grid = busiest(api.db_url, "grid", within=("district", district))
    client = api.client(role, grid)
    assert client.get(f"/areas/{grid}/summary").status_code == 200
    assert client.get(f"/areas/{district}").status_code == 404
    assert client.get("/sources").status_code == 403
