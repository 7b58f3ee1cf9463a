"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from api.database import ConnDep

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(conn: ConnDep) -> dict:
    """200 when the database answers."""
    row = await (await conn.execute("SELECT postgis_lib_version() AS postgis")).fetchone()
    return {"status": "ok", "postgis": row["postgis"]}
