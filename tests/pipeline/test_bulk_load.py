"""A bulk load (cases indexes built after loading, rollups recounted in one pass) ends like an
incremental one: same cases, every index back, rollups equal to a rebuild from cases."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from connectors.spec import load_specs
from pipeline.ingest import ingest
from store import rollups
from tests.pipeline.helpers import rollup_rows


def _indexes(conn) -> set[tuple[str, str]]:
    """The indexes of cases, and of every month of cases (each must have its own, and valid)."""
    invalid = conn.execute("SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid"
                           " WHERE h.inhparent = 'cases'::regclass AND NOT i.indisvalid"
                           " OR i.indrelid = 'cases'::regclass AND NOT i.indisvalid").fetchone()[0]
    assert invalid == 0
    per_month = conn.execute("SELECT DISTINCT count(*) FROM pg_inherits h JOIN pg_index i ON i.indrelid = h.inhrelid"
                             " WHERE h.inhparent = 'cases'::regclass GROUP BY h.inhrelid").fetchall()
    parent = set(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases'").fetchall())
    assert per_month in ([], [(len(parent),)]), per_month
    return parent


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_bulk_load_keeps_indexes_and_rollups_equal_a_rebuild(settings, db_url):
    spec = load_specs(settings.resolved_sources_dir)["hotline_12345"]
    bulk = settings.model_copy(update={"bulk_load_min_records": 1})
    with psycopg.connect(db_url) as conn:
        before = _indexes(conn)
    assert len(before) >= 7  # the natural key, day and area indexes, the GiST index

    first = ingest(spec, bulk, db_url).counts
    assert first.records_read == first.inserted + first.updated + first.quarantined + first.duplicates
    assert first.inserted > 5000
    with psycopg.connect(db_url) as conn:
        assert _indexes(conn) == before
        assert conn.execute("SELECT count(*) FROM cases").fetchone()[0] == first.inserted
        city = conn.execute("SELECT sum(reported) FROM rollup_daily WHERE level = 'city'").fetchone()[0]
        assert city == first.inserted
        loaded = rollup_rows(conn)
        rollups.rebuild(conn, settings.timezone)
        assert rollup_rows(conn) == loaded
        conn.rollback()

    # A second bulk-sized run of the same file changes nothing and leaves the indexes in place.
    second = ingest(spec, bulk, db_url).counts
    assert (second.inserted, second.updated, second.quarantined) == (0, 0, 0)
    with psycopg.connect(db_url) as conn:
        assert _indexes(conn) == before
        assert rollup_rows(conn) == loaded


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_small_loads_into_a_large_table_keep_indexes_in_place(settings, db_url):
    from store.loading import is_bulk_load

    with psycopg.connect(db_url) as conn:
        assert is_bulk_load(conn, "cases", 10, min_records=1)  # empty table: any load is bulk
        assert not is_bulk_load(conn, "cases", 10, min_records=100)
    ingest(load_specs(settings.resolved_sources_dir)["hotline_12345"], settings, db_url)
    with psycopg.connect(db_url) as conn:
        conn.execute("ANALYZE cases")
        stored = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        assert is_bulk_load(conn, "cases", stored, min_records=1)
        assert not is_bulk_load(conn, "cases", stored // 10, min_records=1)


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_cases_located_above_grid_level_count_at_their_levels(settings, db_url):
    """Petitions are located to a district only: they count in their district's and the
    city's rows, after a bulk load and after an incremental one alike."""
    specs = load_specs(settings.resolved_sources_dir)
    bulk = settings.model_copy(update={"bulk_load_min_records": 1})
    ingest(specs["petitions"], bulk, db_url)  # into an empty table: a bulk load
    ingest(specs["hotline_12345"], settings, db_url)
    ingest(specs["petitions"], settings, db_url)  # nothing new: touches nothing
    with psycopg.connect(db_url) as conn:
        district_only = conn.execute("SELECT count(*) FROM cases WHERE district_code IS NOT NULL"
                                     " AND street_code IS NULL").fetchone()[0]
        assert district_only > 100
        for level, column in (("district", "district_code"), ("city", "city_code"),
                              ("street", "street_code")):
            recount = dict(conn.execute(sql.SQL(
                "SELECT {col}, count(*) FROM cases WHERE {col} IS NOT NULL GROUP BY 1").format(
                col=sql.Identifier(column))).fetchall())
            rolled = dict(conn.execute("SELECT area_code, sum(reported)::bigint FROM rollup_daily"
                                       " WHERE level = %s GROUP BY 1", (level,)).fetchall())
            assert rolled == recount, level
        loaded = rollup_rows(conn)
        rollups.rebuild(conn, settings.timezone)
        assert rollup_rows(conn) == loaded
