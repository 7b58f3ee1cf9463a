"""Exports and their limits: `format=csv` on every endpoint that answers rows (a UTF-8 BOM for
Excel, a file name), and a format or a page size the API does not offer refused, never changed."""

from __future__ import annotations

import csv
import io

import httpx
import psycopg

from api.settings import ApiSettings
from tests.api.conftest import Api, serve
from tests.api.helpers import busiest

JUNE = {"from": "2025-06-01", "to": "2025-06-30"}
BOM = "\ufeff".encode()


def _rows(answer: httpx.Response, name: str) -> list[dict]:
    """The CSV rows of a download, after checking what makes it one."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.content.startswith(BOM), answer.content[:20]
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith('.csv"'), disposition
    assert name in disposition
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _raise_alert(db_url: str, district: str, city: str) -> int:
    """An open alert on the district, listed under the district and the city."""
    with psycopg.connect(db_url) as conn:
        [alert] = conn.execute(
            "INSERT INTO alerts (area_code, level, signal, method, severity, status, first_day, last_day,"
            " observed, expected, score, details) VALUES (%s, 'district', 'category:labour', 'test', 'red',"
            " 'new', '2025-06-01', '2025-06-03', 12, 4, 2.5, '{\"note\": \"a, b\"}') RETURNING alert_id",
            (district,)).fetchone()
        conn.execute("INSERT INTO alert_areas (area_code, alert_id, depth) VALUES (%s, %s, 0), (%s, %s, 1)",
                     (district, alert, city, alert))
    return alert


def test_every_row_endpoint_exports_the_same_rows_as_csv(api: Api):
    district = busiest(api.db_url, "district")
    alert = _raise_alert(api.db_url, district, api.city)
    client = api.client()
    exports = [  # path, params, the rows' list in the JSON answer, the key the rows are compared
        # on, the file name
        (f"/areas/{district}/timeseries", {**JUNE, "interval": "week"}, "points", "start",
         f'filename="timeseries-{district}-week.csv"'),
        ("/rankings", {**JUNE, "level": "street"}, "areas", "code", 'filename="rankings-street-count.csv"'),
        ("/warnings", {}, "warnings", "alert_id", f'filename="warnings-{api.city}.csv"'),
        ("/stats", {**JUNE, "level": "street", "parent": district}, "areas", "code", 'filename="stats-street.csv"'),
        ("/cases", {"area": district, "limit": 30}, "cases", "case_id", 'filename="cases.csv"'),
        ("/areas", {"level": "street"}, "areas", "code", 'filename="areas.csv"'),
    ]
    for path, params, key, id_column, file_name in exports:
        rows = client.get(path, params=params).json()[key]
        assert rows, path
        exported = _rows(client.get(path, params={**params, "format": "csv"}), file_name)
        assert [r[id_column] for r in exported] == [str(r[id_column]) for r in rows], path
        assert [r.get("reported") for r in exported] == [
            None if "reported" not in r else str(r["reported"]) for r in rows], path
    [warning] = _rows(client.get("/warnings", params={"format": "csv"}), "warnings-")
    assert warning["alert_id"] == str(alert) and warning["details"] == '{"note":"a, b"}'


def test_a_format_or_a_page_size_not_offered_is_refused_saying_what_is(api: Api):
    district = busiest(api.db_url, "district")
    client = api.client()
    refused = [  # path, params, the parameter, words the answer must hold
        (f"/areas/{district}/timeseries", {"format": "xlsx"}, "format", "'json' or 'csv'"),
        ("/rankings", {"format": "geojson"}, "format", "'json' or 'csv'"),
        ("/warnings", {"format": "csv2"}, "format", "'json' or 'csv'"),
        ("/stats", {"format": "xml"}, "format", "'json', 'geojson' or 'csv'"),
        ("/areas", {"format": "kml"}, "format", "'json', 'geojson' or 'csv'"),
        ("/hotspots", {"format": "csv"}, "format", "'json' or 'geojson'"),
        ("/cases", {"limit": 1001}, "limit", "1000"),
        ("/cases", {"limit": 10_000}, "limit", "1000"),
        ("/warnings", {"limit": 1001}, "limit", "1000"),
        ("/rankings", {"limit": 501}, "limit", "500"),
        ("/quality/runs", {"limit": 501}, "limit", "500"),
    ]
    wrong = []
    for path, params, parameter, words in refused:
        answer = client.get(path, params=params)
        problem = answer.json()
        if (answer.status_code != 422 or answer.headers["content-type"] != "application/problem+json"
                or problem["parameters"] != [parameter] or words not in problem["detail"]):
            wrong.append((path, params, answer.status_code, answer.text[:300]))
    assert not wrong
    # The largest page declared is served whole: no silent cap below it.
    assert len(client.get("/cases", params={"limit": 1000}).json()["cases"]) == 1000


def test_a_lower_page_cap_set_on_the_server_is_said_not_applied_silently(api_settings):
    with serve(api_settings, ApiSettings(max_page_size=50, audit_flush_seconds=0.1)) as server:
        live = Api(server.base_url, api_settings.database_url, api_settings.city_code, [])
        client = live.client()
        assert len(client.get("/cases", params={"limit": 50}).json()["cases"]) == 50
        refused = client.get("/cases", params={"limit": 51})
        assert refused.status_code == 400, refused.text
        assert refused.json()["parameter"] == "limit" and "at most 50" in refused.json()["detail"]
        client.close()
