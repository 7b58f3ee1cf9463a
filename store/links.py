"""Cross-agency links in the database: cases read for the linker, groups and links written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from core.case import AreaLevel
from store import locks
from store.copy import copy_frame

_READ = sql.SQL("""
    SELECT c.case_id AS record_id, c.source, c.reported_at, c.occurred_at, c.category,
           ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.{area} AS area, c.person_key, c.address,
           c.amount::float8 AS amount, g.group_id
    FROM cases c LEFT JOIN case_groups g USING (case_id)
    ORDER BY c.case_id""")
_EVIDENCE = ["distance_m", "gap_hours", "same_occurrence", "category", "person", "same_amount",
             "address_similarity", "text_similarity"]


def read_link_cases(conn: psycopg.Connection, area_level: AreaLevel) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cases already linked, with group_id; cases not yet linked), locked against another run."""
    locks.hold_for_transaction(conn, locks.LINKS)
    with conn.cursor() as cur:
        cur.execute(_READ.format(area=sql.Identifier(area_level.code_column)))
        names = [d.name for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    seen = frame["group_id"].notna()
    return frame[seen].reset_index(drop=True), frame[~seen].drop(columns="group_id").reset_index(drop=True)


def write_links(conn: psycopg.Connection, links: pd.DataFrame, groups: pd.DataFrame) -> None:
    """Store new links and the group of every new or regrouped case (in the caller's transaction)."""
    conn.execute("CREATE TEMP TABLE link_groups_in (case_id bigint, group_id bigint) ON COMMIT DROP")
    copy_frame(conn, "link_groups_in", groups.rename(columns={"record_id": "case_id"}))
    conn.execute("""
        INSERT INTO case_groups (case_id, group_id)
        SELECT case_id, group_id FROM link_groups_in
        ON CONFLICT (case_id) DO UPDATE SET group_id = EXCLUDED.group_id, linked_at = now()
        WHERE case_groups.group_id IS DISTINCT FROM EXCLUDED.group_id""")
    conn.execute("CREATE TEMP TABLE case_links_in (case_a bigint, case_b bigint, score real, evidence jsonb)"
                 " ON COMMIT DROP")
    copy_frame(conn, "case_links_in", pd.DataFrame({
        "case_a": links["record_a"].to_numpy(dtype=np.int64),
        "case_b": links["record_b"].to_numpy(dtype=np.int64),
        "score": links["score"].to_numpy(dtype=float),
        "evidence": _evidence(links),
    }))
    conn.execute("""
        INSERT INTO case_links (case_a, case_b, score, evidence)
        SELECT case_a, case_b, score, evidence FROM case_links_in
        ON CONFLICT (case_a, case_b) DO NOTHING""")


def _evidence(links: pd.DataFrame) -> list[dict]:
    """Each link's evidence as a JSON object (missing measures left out)."""
    columns = {name: links[name].astype(object).where(links[name].notna(), None).tolist() for name in _EVIDENCE}
    rows = []
    for i in range(len(links)):
        row = {}
        for name in _EVIDENCE:
            value = columns[name][i]
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            row[name] = value.item() if isinstance(value, np.generic) else value
        rows.append(row)
    return rows
