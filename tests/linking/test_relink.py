"""A linked case whose record changes is linked again, with its whole group: it leaves a
dispute it no longer matches, the rest stay linked, and running again changes nothing."""

from __future__ import annotations

import psycopg

from pipeline.linking import link_cases
from tests.linking.test_links_api import MEDIATION_COPY


def _group_of(conn: psycopg.Connection, case_id: int) -> int:
    return conn.execute("SELECT group_id FROM case_groups WHERE case_id = %s", (case_id,)).fetchone()[0]


def test_a_changed_record_is_linked_again_with_its_group(hotline_db) -> None:
    with psycopg.connect(hotline_db) as conn:
        conn.execute(MEDIATION_COPY)
        pairs = conn.execute(
            "SELECT o.case_id, c.case_id FROM cases c JOIN cases o ON 'link-test-' || o.case_id = c.source_record_id"
            " ORDER BY c.case_id").fetchall()
    assert len(pairs) == 3
    first = link_cases(hotline_db)
    assert first.relinked == 0
    with psycopg.connect(hotline_db) as conn:
        assert all(_group_of(conn, original) == _group_of(conn, copy) for original, copy in pairs)
        (moved_from, moved), *kept = pairs
        # The mediation committee corrects its record: another place, another month, another
        # party. As a merge would leave it, with a new record hash.
        conn.execute("""
            UPDATE cases SET record_hash = record_hash || '-corrected',
                   geom = ST_Translate(geom, 0.05, 0.05), reported_at = reported_at + interval '60 days',
                   report_day = report_day + 60, address = '另一处地址 99号', person_key = NULL, amount = NULL
            WHERE case_id = %s""", (moved,))
        group_size = conn.execute("SELECT count(*) FROM case_groups WHERE group_id = %s",
                                  (_group_of(conn, moved),)).fetchone()[0]
    second = link_cases(hotline_db)
    assert second.new_records == 0
    assert second.relinked == group_size >= 2  # the whole group it was in
    with psycopg.connect(hotline_db) as conn:
        assert _group_of(conn, moved) != _group_of(conn, moved_from)
        assert all(_group_of(conn, original) == _group_of(conn, copy) for original, copy in kept)
        stale = conn.execute("SELECT count(*) FROM case_links WHERE %s IN (case_a, case_b)"
                             " AND %s IN (case_a, case_b)", (moved, moved_from)).fetchone()[0]
        hashes = conn.execute("SELECT count(*) FROM case_groups g JOIN cases c USING (case_id)"
                              " WHERE g.linked_hash IS DISTINCT FROM c.record_hash").fetchone()[0]
        split = conn.execute("SELECT count(*) FROM case_links l JOIN case_groups a ON a.case_id = l.case_a"
                             " JOIN case_groups b ON b.case_id = l.case_b WHERE a.group_id <> b.group_id").fetchone()[0]
    assert (stale, hashes, split) == (0, 0, 0)
    again = link_cases(hotline_db)
    assert (again.new_records, again.links, again.regrouped, again.relinked) == (0, 0, 0, 0)
