"""`gridhub link run` over stored cases: groups and links written, re-running changes nothing,
later cases are linked to the earlier ones on their own run."""

from __future__ import annotations

import psycopg
import pytest

from connectors.spec import load_specs
from core.settings import GridHubSettings
from pipeline.ingest import ingest
from pipeline.linking import link_cases


def _counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM case_groups), (SELECT count(*) FROM case_links),"
                            " (SELECT count(DISTINCT group_id) FROM case_groups)").fetchone()


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_link_run_links_every_case_once_and_again_changes_nothing(hotline_db, demo_dir) -> None:
    with psycopg.connect(hotline_db) as conn:
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
    first = link_cases(hotline_db)
    assert first.new_records == cases > 0
    groups, links, distinct = _counts(hotline_db)
    assert groups == cases and links == first.links and distinct <= cases
    with psycopg.connect(hotline_db) as conn:
        evidence = conn.execute("SELECT evidence FROM case_links ORDER BY score DESC LIMIT 1").fetchone()
        bad = conn.execute("SELECT count(*) FROM case_links l JOIN case_groups a ON a.case_id = l.case_a"
                           " JOIN case_groups b ON b.case_id = l.case_b WHERE a.group_id <> b.group_id").fetchone()[0]
    if evidence:
        assert {"gap_hours", "category", "person"} <= set(evidence[0])
    assert bad == 0  # two linked cases are always in one group

    again = link_cases(hotline_db)
    assert (again.new_records, again.links, again.regrouped) == (0, 0, 0)
    assert _counts(hotline_db) == (groups, links, distinct)

    # Another agency's cases arrive later: only they are new, and the hotline's keep their ids
    # unless a merge renamed them to a smaller one.
    cfg = GridHubSettings(data_dir=demo_dir, database_url=hotline_db)
    ingest(load_specs(cfg.resolved_sources_dir)["labour_inspection"], cfg, hotline_db)
    with psycopg.connect(hotline_db) as conn:
        later_cases = conn.execute("SELECT count(*) FROM cases WHERE source = 'labour_inspection'").fetchone()[0]
    later = link_cases(hotline_db)
    assert later.new_records == later_cases > 0
    assert _counts(hotline_db)[0] == cases + later_cases
