"""One dispute across agencies: the linked group of a case, its members and the evidence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from psycopg import sql

from api.auth import AnalystPrincipal
from api.hub import hub_of
from api.params import object_id
from api.rendering import JSON, dumps
from api.schemas import KEY_SCHEMES, KEYED_ERRORS, CaseGroup, errors
from core.errors import NotFoundError
from core.masking import mask_address

router = APIRouter(tags=["cases"], dependencies=KEY_SCHEMES, responses=KEYED_ERRORS)
MEMBER_COLUMNS = ["case_id", "source", "source_record_id", "kind", "category", "raw_category", "status",
                  "outcome", "reported_at", "closed_at", "grid_code", "community_code", "street_code",
                  "district_code", "address"]


@router.get("/cases/{case_id}/links", summary="The dispute a case belongs to, across agencies (analysts)",
            response_model=CaseGroup, responses=errors(404))
async def case_links(request: Request, principal: AnalystPrincipal,
                     case_id: Annotated[int, object_id("a case_id from /cases")]) -> Response:
    """The case's group: members in the key's scope in report order, and each link's evidence."""
    hub = hub_of(request)
    scope = sql.SQL("{} = %(scope)s").format(sql.Identifier(principal.scope_column))
    params = {"case": case_id, "scope": principal.scope_code}
    async with hub.pool.connection() as conn:
        found = await (await conn.execute(sql.SQL(
            "SELECT g.group_id FROM cases c LEFT JOIN case_groups g USING (case_id)"
            " WHERE c.case_id = %(case)s AND {scope}").format(scope=scope), params)).fetchone()
        if found is None:  # absent and out of scope answer alike: a key learns nothing beyond it
            raise NotFoundError(f"no case {case_id} in this key's scope")
        params["group"] = found["group_id"]
        members = await (await conn.execute(sql.SQL(
            "SELECT {cols}, (c.{scope_col} = %(scope)s) AS in_scope FROM case_groups g JOIN cases c USING (case_id)"
            " WHERE g.group_id = %(group)s ORDER BY c.reported_at, c.case_id").format(
                cols=sql.SQL(", ").join(sql.Identifier("c", col) for col in MEMBER_COLUMNS),
                scope_col=sql.Identifier(principal.scope_column)), params)).fetchall()
        links = await (await conn.execute(
            "SELECT l.case_a, l.case_b, l.score, l.evidence FROM case_links l"
            " JOIN case_groups a ON a.case_id = l.case_a WHERE a.group_id = %(group)s"
            " ORDER BY l.case_a, l.case_b", params)).fetchall()
    shown = [m for m in members if m.pop("in_scope")]
    visible = {m["case_id"] for m in shown}
    for m in shown:
        m["address"] = mask_address(m["address"])
    body = {
        "case_id": case_id,
        "group_id": params["group"],
        "members": shown,
        "members_outside_scope": len(members) - len(shown),
        "sources": sorted({m["source"] for m in shown}),
        "links": [link for link in links if link["case_a"] in visible and link["case_b"] in visible],
    }
    return Response(dumps(body), media_type=JSON, headers={"Cache-Control": "private, no-store"})
