"""Cross-agency links in the database: cases read for the linker, groups and links written."""

from __future__ import annotations

from dataclasses import dataclass

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
           c.amount::float8 AS amount, c.record_hash, g.group_id,
           g.linked_hash IS DISTINCT FROM c.record_hash AND g.case_id IS NOT NULL AS changed
    FROM cases c LEFT JOIN case_groups g USING (case_id)
    ORDER BY c.case_id""")
_EVIDENCE = ["distance_m", "gap_hours", "same_occurrence", "category", "person", "same_amount",
             "address_similarity", "text_similarity"]


@dataclass(frozen=True)
class LinkInput:
    linked: pd.DataFrame  # cases whose groups stand, with group_id
    new: pd.DataFrame  # cases to link: never linked, or in a group one of whose records changed
    relinked: np.ndarray  # case ids of `new` that were linked before (their links are redone)


def read_link_cases(conn: psycopg.Connection, area_level: AreaLevel) -> LinkInput:
    """The cases as the next link run sees them, locked against another run.

    A case whose record changed since it was linked may no longer belong where it is, and may
    have held its group together: every member of its group is linked again.
    """
    locks.hold_for_transaction(conn, locks.LINKS)
    with conn.cursor() as cur:
        cur.execute(_READ.format(area=sql.Identifier(area_level.code_column)))
        names = [d.name for d in cur.description]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    stale_groups = frame.loc[frame["changed"].astype(bool), "group_id"].unique()
    redo = frame["group_id"].isin(stale_groups)
    seen = frame["group_id"].notna() & ~redo
    new = frame[~seen].drop(columns=["group_id", "changed"]).reset_index(drop=True)
    return LinkInput(frame[seen].drop(columns="changed").reset_index(drop=True), new,
                     frame.loc[redo, "record_id"].to_numpy(dtype=np.int64))


def write_links(conn: psycopg.Connection, links: pd.DataFrame, groups: pd.DataFrame,
                relinked: np.ndarray | None = None) -> None:
    """Store new links and the group of every new or regrouped case (in the caller's
    transaction); the links of `relinked` cases are replaced by the new ones."""
    if relinked is not None and len(relinked):
        conn.execute("DELETE FROM case_links WHERE case_a = ANY(%(ids)s) OR case_b = ANY(%(ids)s)",
                     {"ids": relinked.tolist()})
    conn.execute("CREATE TEMP TABLE link_groups_in (case_id bigint, group_id bigint) ON COMMIT DROP")
    copy_frame(conn, "link_groups_in", groups.rename(columns={"record_id": "case_id"}))
    # Each group row keeps the record it was linked as: a later change of the record shows.
    conn.execute("""
        INSERT INTO case_groups (case_id, group_id, linked_hash)
        SELECT i.case_id, i.group_id, c.record_hash FROM link_groups_in i JOIN cases c USING (case_id)
        ON CONFLICT (case_id) DO UPDATE SET group_id = EXCLUDED.group_id, linked_at = now(),
                                            linked_hash = EXCLUDED.linked_hash
        WHERE (case_groups.group_id, case_groups.linked_hash)
              IS DISTINCT FROM (EXCLUDED.group_id, EXCLUDED.linked_hash)""")
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
