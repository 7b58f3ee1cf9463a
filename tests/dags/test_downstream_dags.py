"""The DAGs downstream of the ingests: rollups and warnings, and boundary versions."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import geopandas as gpd
import psycopg
import pytest
import shapely

from connectors.spec import load_specs
from pipeline.orchestration import land_for_run, process_landed_run, refresh_rollups
from store import locks
from store.areas import read_areas

pytestmark = pytest.mark.slow  # Airflow runs the DAGs end to end


def _damage_rollups(url: str) -> int:
    """Lose the rollups of a few days, as a load that bypassed the pipeline would leave them."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "DELETE FROM rollup_daily WHERE day IN (SELECT DISTINCT day FROM rollup_daily"
            " ORDER BY day DESC LIMIT 5)").rowcount


def test_the_rollups_and_warnings_dag_after_an_ingest_dag_leaves_what_the_cli_leaves(
        gridhub_env, cli_reference, cli_reference_with_warnings, run_dag, fingerprint):
    """`gridhub ingest hotline_12345 && gridhub warn run` versus the two DAGs."""
    assert run_dag("ingest_hotline_12345").state == "success"
    assert fingerprint(gridhub_env) == cli_reference
    assert _damage_rollups(gridhub_env) > 0

    outcome = run_dag("gridhub_rollups_and_warnings")
    assert outcome.state == "success", outcome
    after = fingerprint(gridhub_env)
    assert after == cli_reference_with_warnings
    assert int(after["alerts_digest"].split(":")[0]) > 0  # the demo's outbreaks raise alerts


def test_an_asset_triggered_refresh_recounts_the_days_of_its_runs(gridhub_env, settings,
                                                                  fingerprint, ingest_runs):
    spec = load_specs(settings.resolved_sources_dir)["petitions"]
    run_id = land_for_run(spec, settings, gridhub_env, None, {})
    process_landed_run(spec, settings, gridhub_env, run_id)
    clean = fingerprint(gridhub_env)
    _damage_rollups(gridhub_env)
    assert refresh_rollups(gridhub_env, settings, [run_id]) > 0
    assert fingerprint(gridhub_env) == clean


def test_a_load_waits_while_another_task_writes_cases(gridhub_env, settings, ingest_runs):
    """Airflow runs source DAGs in parallel; loads of different sources share rollup rows (the
    city's row of each day, at least), and two refreshes of one row at once end in a unique
    violation, so scheduler tasks that write cases take turns on one advisory lock."""
    spec = load_specs(settings.resolved_sources_dir)["petitions"]
    run_id = land_for_run(spec, settings, gridhub_env, None, {})
    other_writer = psycopg.connect(gridhub_env, autocommit=True)
    other_writer.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (locks.NAMESPACE, locks.CASES_WRITER))
    waited = threading.Event()
    status_while_waiting: list[str] = []

    def finish_the_other_write_once_the_load_waits() -> None:
        deadline = time.monotonic() + 120
        with psycopg.connect(gridhub_env, autocommit=True) as watcher:
            while time.monotonic() < deadline and not waited.is_set():
                if watcher.execute(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        " AND database = (SELECT oid FROM pg_database"
                        "                 WHERE datname = current_database())").fetchone()[0]:
                    waited.set()
                time.sleep(0.05)
        status_while_waiting.append(ingest_runs(gridhub_env)[0]["status"])
        other_writer.close()

    releaser = threading.Thread(target=finish_the_other_write_once_the_load_waits)
    releaser.start()
    try:
        result = process_landed_run(spec, settings, gridhub_env, run_id)
    finally:
        releaser.join()
    assert waited.is_set() and status_while_waiting == ["running"]
    assert result.counts.adds_up() and result.counts.inserted > 0


def _split_grid_file(url: str, folder) -> tuple[str, list[str], str, object]:
    """A GeoJSON file splitting the busiest grid in two; returns it, the new codes, the day."""
    with psycopg.connect(url) as conn:
        grid, day = conn.execute(
            "SELECT grid_code, percentile_disc(0.5) WITHIN GROUP (ORDER BY report_day)"
            " FROM cases WHERE grid_code IS NOT NULL GROUP BY grid_code ORDER BY count(*) DESC"
            " LIMIT 1").fetchone()
        old = read_areas(conn).set_index("code").loc[grid]
    x0, y0, x1, y1 = old.geometry.bounds
    middle = old.geometry.centroid.x
    halves = [shapely.intersection(old.geometry, shapely.box(x0 - 1, y0 - 1, middle, y1 + 1)),
              shapely.intersection(old.geometry, shapely.box(middle, y0 - 1, x1 + 1, y1 + 1))]
    codes = [grid[:-3] + "901", grid[:-3] + "902"]
    frame = gpd.GeoDataFrame({"code": codes, "parent_code": old.parent_code,
                              "name": [old["name"] + "西", old["name"] + "东"]},
                             geometry=halves, crs="EPSG:4326")
    path = folder / "split.geojson"
    path.write_text(frame.to_json(), encoding="utf-8")
    return grid, codes, day.isoformat(), path


def test_the_boundary_dag_loads_a_version_and_reassigns_its_cases(gridhub_env, run_dag, tmp_path):
    assert run_dag("ingest_hotline_12345").state == "success"
    grid, codes, day, path = _split_grid_file(gridhub_env, tmp_path)
    with psycopg.connect(gridhub_env) as conn:
        later = conn.execute("SELECT count(*) FROM cases WHERE grid_code = %s AND report_day >= %s",
                             (grid, day)).fetchone()[0]

    outcome = run_dag("gridhub_area_boundaries", run_conf={
        "path": str(path), "level": "grid", "effective_from": day})
    assert outcome.state == "success", outcome
    with psycopg.connect(gridhub_env) as conn:
        version = conn.execute("SELECT cases_reassigned, report FROM area_versions").fetchone()
        moved = dict(conn.execute("SELECT grid_code, count(*) FROM cases WHERE grid_code = ANY(%s)"
                                  " GROUP BY 1", (codes,)).fetchall())
        rollup = dict(conn.execute("SELECT area_code, sum(reported) FROM rollup_daily"
                                   " WHERE area_code = ANY(%s) GROUP BY 1", (codes,)).fetchall())
    assert later > 0 and version[0] == later == sum(moved.values())
    assert rollup == moved
    assert {row["change"] for row in version[1]} == {"added", "closed"}


def test_the_boundary_dag_refuses_a_file_that_fails_the_checks(gridhub_env, run_dag, tmp_path):
    path = tmp_path / "orphans.geojson"
    frame = gpd.GeoDataFrame({"code": ["339999999901"], "parent_code": ["339999999"],
                              "name": ["nowhere"]},
                             geometry=[shapely.box(0, 0, 0.001, 0.001)], crs="EPSG:4326")
    path.write_text(frame.to_json(), encoding="utf-8")
    outcome = run_dag("gridhub_area_boundaries", run_conf={"path": str(path), "level": "grid"})
    assert outcome.state == "failed", outcome
    assert max(tries for _, tries in outcome.tasks.values()) == 1  # a bad file is not retried
    with psycopg.connect(gridhub_env) as conn:
        assert conn.execute("SELECT count(*) FROM area_versions").fetchone()[0] == 0


def test_the_data_docs_dag_rebuilds_the_site(gridhub_env, run_dag, monkeypatch, tmp_path):
    assert run_dag("ingest_petitions").state == "success"
    # A fresh data volume: the same feeds, but no docs yet.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "demo").symlink_to(Path(os.environ["GRIDHUB_DATA_DIR"]) / "demo")
    monkeypatch.setenv("GRIDHUB_DATA_DIR", str(data_dir))

    outcome = run_dag("gridhub_data_docs")
    assert outcome.state == "success", outcome
    index = data_dir / "quality" / "docs" / "index.html"
    assert index.exists() and "petitions" in index.read_text(encoding="utf-8")
