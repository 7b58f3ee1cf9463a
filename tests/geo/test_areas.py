"""Loading areas through the CLI: checks with a clear report, diffs, versions, made grids."""

from __future__ import annotations

import json

import geopandas as gpd
import psycopg
import pytest
import shapely
from typer.testing import CliRunner

from cli.main import app
from geo.grid_making import make_grids
from store.areas import prepare_version, read_areas

runner = CliRunner()


@pytest.fixture
def cli(db_url, settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("GRIDHUB_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")  # wide tables: whole codes in the output

    def run(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)
    return run


def _feature(code, parent, coords, name=None):
    return {"type": "Feature", "properties": {"adcode": code, "name": name or f"网格{code[-3:]}",
                                              "parent": {"adcode": parent}},
            "geometry": {"type": "Polygon", "coordinates": [coords]}}


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_the_demo_city_diffs_clean_against_itself(cli, demo_dir):
    result = cli("areas", "diff", str(demo_dir / "demo" / "city" / "areas_grid.geojson"), "--level", "grid")
    assert result.exit_code == 0, result.output
    assert "0 added, 0 changed, 0 closed, 4500 unchanged" in result.output
    assert "no problems found" in result.output


def test_a_bad_file_is_refused_with_every_problem_named(cli, db_url, tmp_path):
    with psycopg.connect(db_url) as conn:
        community = read_areas(conn).query("level == 'community'").iloc[0]
    x0, y0, x1, y1 = community.geometry.bounds
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    code = community.code
    bowtie = [[x0, y0], [mx, my], [x0, my], [mx, y0], [x0, y0]]  # crosses itself
    left = [[x0, y0], [mx + 0.001, y0], [mx + 0.001, y1], [x0, y1], [x0, y0]]
    right = [[mx, y0], [x1, y0], [x1, y1], [mx, y1], [mx, y0]]  # overlaps `left`
    far = [[x1 + 0.1, y1 + 0.1], [x1 + 0.2, y1 + 0.1], [x1 + 0.2, y1 + 0.2], [x1 + 0.1, y1 + 0.1]]
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        _feature(code + "801", code, left), _feature(code + "802", code, right),
        _feature(code + "802", code, right), _feature(code + "803", "339999999999", far),
        _feature(code + "804", code, bowtie)]}), encoding="utf-8")
    result = cli("areas", "load", str(path), "--level", "grid", "--effective", "2025-01-01")
    assert result.exit_code == 1
    for check in ("duplicate_code", "orphan", "invalid_geometry", "overlap", "outside_parent"):
        assert check in result.output, check
    assert "not loaded" in result.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM area_versions").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM areas WHERE code LIKE %s", (code + "8%",)).fetchone()[0] == 0


def test_a_split_loaded_from_a_file_is_a_version(cli, db_url, tmp_path):
    with psycopg.connect(db_url) as conn:
        grid = read_areas(conn).query("level == 'grid'").iloc[0]
    cell = grid.geometry.geoms[0]
    x0, y0, x1, y1 = cell.bounds
    mid = (x0 + x1) / 2
    halves = [shapely.intersection(cell, shapely.box(x0 - 1, y0 - 1, mid, y1 + 1)),
              shapely.intersection(cell, shapely.box(mid, y0 - 1, x1 + 1, y1 + 1))]
    path = tmp_path / "split.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        _feature(grid.code[:-3] + f"90{i + 1}", grid.parent_code,
                 [list(c) for c in half.exterior.coords]) for i, half in enumerate(halves)]}),
        encoding="utf-8")
    diff = cli("areas", "diff", str(path), "--level", "grid")
    assert "2 added, 0 changed, 1 closed" in diff.output and grid.code in diff.output
    loaded = cli("areas", "load", str(path), "--level", "grid", "--effective", "2025-03-01")
    assert loaded.exit_code == 0, loaded.output
    assert "version 1 from 2025-03-01: 2 added, 0 changed, 1 closed" in loaded.output
    listed = cli("areas", "versions")
    assert listed.exit_code == 0 and "2025-03-01" in listed.output and "│ grid " in listed.output


@pytest.mark.parametrize("method,size", [("households", 300), ("square", 250), ("h3", 9)])
def test_made_grids_tile_their_communities(db_url, geocoder, method, size):
    with psycopg.connect(db_url) as conn:
        areas = read_areas(conn)
        communities = areas[areas["level"] == "community"].iloc[:6]
        grids = make_grids(communities, method, size, geocoder.addresses)
        # Loaded as a partial version, the new cells supersede the old ones and check clean.
        plan, report = prepare_version(conn, grids, "grid")
    metric = grids.estimate_utm_crs()
    for community in communities.itertuples():
        mine = grids[grids["parent_code"] == community.code].to_crs(metric)
        outline = gpd.GeoSeries([community.geometry], crs="EPSG:4326").to_crs(metric).iloc[0]
        assert len(mine) >= 1
        assert mine["code"].str.startswith(community.code).all()
        assert abs(mine.union_all().area - outline.area) < 0.001 * outline.area
        assert mine.area.sum() == pytest.approx(outline.area, rel=0.001)  # no overlaps
    assert report.frame().query("check in ['overlap', 'gap', 'outside_parent', 'orphan']").empty
    # Made cells reuse the community's grid numbers: old codes change, extra ones are added,
    # and old cells left without a number are closed.
    assert len(plan.added) + len(plan.changed) == len(grids)
    old = set(areas.loc[(areas["level"] == "grid") & areas["parent_code"].isin(communities["code"]), "code"])
    assert old == (set(plan.changed["code"]) | set(plan.closed["code"])) | (old & set(plan.unchanged))
    if method == "households":
        households = geocoder.addresses.groupby("community_code")["households"].sum()
        expected = sum(max(1, round(households.get(c, 0) / size)) for c in communities["code"])
        assert len(grids) == expected
