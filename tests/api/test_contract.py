"""The OpenAPI contract holds on a live server: errors are RFC 9457 problems, no input gives a
500, and schemathesis finds every answer of every endpoint, for an admin and for a viewer,
among the statuses, content types and bodies the document declares."""

from __future__ import annotations

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.keys import Role
from tests.api.conftest import Api
from tests.api.helpers import busiest

PROBLEM = "application/problem+json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 6  # generated cases per operation and role, beside the documented examples
BEYOND_BIGINT = str(2**63)


def _is_problem(answer: httpx.Response, status: int) -> bool:
    body = answer.json() if answer.headers.get("content-type") == PROBLEM else {}
    return (answer.status_code == status and body.get("status") == status and body.get("type") == "about:blank"
            and isinstance(body.get("title"), str) and isinstance(body.get("detail"), str)
            and "\n" not in body["detail"])


def test_errors_are_problems_with_their_headers(api: Api):
    client = api.client()
    anonymous = api.client(None)
    viewer = api.client(Role.VIEWER)
    unauthorised = anonymous.get("/stats")
    assert _is_problem(unauthorised, 401) and unauthorised.headers["www-authenticate"] == "Bearer"
    assert _is_problem(viewer.get("/cases"), 403)
    assert _is_problem(client.get("/areas/339999999999"), 404)
    assert _is_problem(client.get("/no/such/route"), 404)
    assert _is_problem(client.delete("/stats"), 405)
    bad = client.get("/stats", params={"from": "2025-07-01", "to": "2025-06-30"})
    assert _is_problem(bad, 400) and bad.json()["parameter"] == "from"
    malformed = client.get("/stats", params={"limit": "x", "from": "June", "simplify": "-1"})
    assert _is_problem(malformed, 422)
    problem = malformed.json()
    assert set(problem["parameters"]) == {"from", "simplify"}
    assert [e["loc"] for e in problem["errors"]] == [["query", "from"], ["query", "simplify"]]
    assert all(e["msg"] and e["type"] for e in problem["errors"])
    assert problem["detail"].startswith("from: ") and "; simplify: " in problem["detail"]


def test_out_of_range_integers_and_nul_bytes_answer_4xx_with_one_line(api: Api):
    """Each of these answered 500: a cursor or id beyond bigint reached PostgreSQL, and so did
    a NUL byte in a text parameter (which PostgreSQL refuses in any text value)."""
    district = busiest(api.db_url, "district")
    with psycopg.connect(api.db_url) as conn:
        [alert] = conn.execute(
            "INSERT INTO alerts (area_code, level, signal, method, severity, status, first_day, last_day)"
            " VALUES (%s, 'district', 'category:labour', 'test', 'red', 'new', '2025-06-01', '2025-06-02')"
            " RETURNING alert_id", (district,)).fetchone()
    client = api.client()
    hostile = [  # method, path, params, json body
        ("GET", "/warnings", {"after": BEYOND_BIGINT}, None),
        ("GET", "/cases", {"after": BEYOND_BIGINT}, None),
        ("GET", "/quality/runs", {"before": BEYOND_BIGINT}, None),
        ("GET", f"/quality/runs/{BEYOND_BIGINT}", {}, None),
        ("GET", f"/cases/{BEYOND_BIGINT}/links", {}, None),
        ("GET", f"/cases/{BEYOND_BIGINT}/timeline", {}, None),
        ("POST", f"/warnings/{BEYOND_BIGINT}/ack", {}, {}),
        ("GET", f"/ogc/collections/cases/items/{BEYOND_BIGINT}", {}, None),
        ("GET", "/ogc/collections/warnings/items/²", {}, None),
        ("GET", "/ogc/collections/cases/items", {"offset": BEYOND_BIGINT}, None),
        ("GET", "/warnings", {"signal": "\x00"}, None),
        ("GET", "/hotspots", {"signal": "\x00"}, None),
        ("GET", "/areas/%00", {}, None),
        ("GET", "/stats", {"category": "labour\x00"}, None),
        ("GET", f"/areas/{district}/summary", {"category": "\x00"}, None),
        ("GET", "/areas", {"q": "\x00"}, None),
        ("GET", "/cases", {"bbox": "\x00"}, None),
        ("GET", "/ogc/collections/warnings/items", {"filter": "signal = '\x00'"}, None),
        ("GET", "/ogc/collections/hotspots/items/%00", {}, None),
        ("GET", "/quality/docs/%00", {}, None),
        ("POST", f"/warnings/{alert}/ack", {}, {"by": "someone\x00"}),
    ]
    wrong = []
    for method, path, params, body in hostile:
        answer = client.request(method, path, params=params, json=body)
        if not 400 <= answer.status_code < 500 or not _is_problem(answer, answer.status_code):
            wrong.append((method, path, params, answer.status_code, answer.text[:200]))
    assert not wrong
    assert client.get("/warnings").status_code == 200  # and the API still serves


@pytest.mark.slow  # ~35 s: every operation, two roles, about a thousand live requests
def test_every_endpoint_answers_as_its_schema_says(api: Api):
    """Schemathesis: every operation of /openapi.json, as an admin and as a viewer, with its
    documented examples and a few generated cases; then again with path ids of real rows (an
    area, a case, a run, an alert, each OGC collection), so that full bodies are checked too.
    No 5xx, and every status, content type, header and body as declared."""
    known = _real_path_values(api.db_url)
    document = httpx.get(f"{api.base_url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    for role in (Role.ADMIN, Role.VIEWER):
        headers = {"Authorization": api.client(role).headers["authorization"]}
        for result in schema.get_all_operations():
            operation = result.ok()
            names = {p.name for p in operation.path_parameters}
            real = [{name: values[0] for name, values in known.items() if name in names}]
            if "collectionId" in names:
                real = [real[0] | {"collectionId": c} for c in known["collectionId"]]
            for path_values in [{}, *real] if names else [{}]:  # generated, then real, path values
                try:
                    _check_operation(operation, api.base_url, headers, path_values)
                except (Exception, FailureGroup) as exc:  # collect every operation's failures, then report
                    failures.append(f"{role} {operation.label} {path_values}: {exc}")
    assert not failures, "\n\n".join(failures)


def _real_path_values(db_url: str) -> dict[str, list]:
    """Path values of rows that exist: an area, a linked case, a run, an open alert (raised here,
    with a hotspot, so that those answers hold rows too), a tile with areas in it."""
    district = busiest(db_url, "district")
    with psycopg.connect(db_url) as conn:
        grid, case_id = conn.execute("SELECT grid_code, case_id FROM cases WHERE district_code = %s"
                                     " AND grid_code IS NOT NULL ORDER BY case_id LIMIT 1", (district,)).fetchone()
        [run_id] = conn.execute("SELECT max(run_id) FROM ingest_runs").fetchone()
        [alert] = conn.execute(
            "INSERT INTO alerts (area_code, level, signal, method, severity, status, first_day, last_day,"
            " observed, expected, score, details) VALUES (%s, 'grid', 'category:labour', 'test', 'red', 'new',"
            " '2025-06-01', '2025-06-03', 3, 1.5, 2.5, '{\"places\": [\"x\"]}') RETURNING alert_id",
            (grid,)).fetchone()
        conn.execute("INSERT INTO alert_areas (area_code, alert_id, depth) SELECT unnest(%s::text[]), %s, 0",
                     ([grid, district], alert))
        conn.execute("INSERT INTO hotspots (day, signal, grid_code, z_score, p_value, q_value, observed, expected)"
                     " VALUES ('2025-06-03', 'category:labour', %s, 3.2, 0.001, 0.01, 4, 1.2)", (grid,))
    return {"code": [district], "case_id": [case_id], "run_id": [run_id], "alert_id": [alert],
            # not the grid level's collection: each of its pages sums every grid (a second a request)
            "collectionId": ["district", "cases", "warnings", "hotspots"], "tms": ["WebMercatorQuad"]}


def _check_operation(operation, base_url: str, headers: dict[str, str], path_values: dict) -> None:
    """The operation's documented examples and a few generated cases (path parameters fixed to
    `path_values` where given), each called and checked."""

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(path_parameters=path_values or None))
    def conforms(case):
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    conforms()
