"""Making a grid layer for a city that has none: communities split into grid cells.

Three ways, each giving cells that tile their community exactly (so the hierarchy nests):
  households  cells of about N households: the community's standard addresses are split by
              recursive bisection at the household-weighted median of the longer side, and
              each group's share of the community is the union of its addresses' Voronoi cells;
  square      regular squares of a given side in metres (UTM), cut at the community edge;
  h3          H3 hexagons of a given resolution overlapping the community, cut at its edge.
Cells get the community's code plus a three-digit number, and names like 新民社区第3网格.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely

from core.case import AreaLevel

MIN_PIECE_M2 = 1.0


class GridMethod(StrEnum):
    HOUSEHOLDS = "households"
    SQUARE = "square"
    H3 = "h3"


def make_grids(communities: gpd.GeoDataFrame, method: GridMethod | str, size: float,
               addresses: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Grid cells (code, parent_code, level, name, geometry in EPSG:4326) for each community."""
    method = GridMethod(method)
    if size is None or size <= 0:
        raise ValueError(f"{method.value}: the size must be positive, not {size}")
    communities = communities.reset_index(drop=True)
    metric = gpd.GeoSeries(communities.geometry, crs="EPSG:4326").estimate_utm_crs()
    if method == GridMethod.HOUSEHOLDS:
        if addresses is None or addresses.empty:
            raise ValueError("grids by households need the standard-address gazetteer")
        pieces = _by_households(communities, addresses, int(size), metric)
    elif method == GridMethod.SQUARE:
        pieces = _by_squares(communities, float(size), metric)
    else:
        pieces = _by_h3(communities, int(size))
    return _named(communities, pieces)


def _by_households(communities, addresses, households: int, metric) -> list[list[shapely.Geometry]]:
    geoms = gpd.GeoSeries(communities.geometry, crs="EPSG:4326").to_crs(metric).to_numpy()
    points = gpd.GeoSeries(gpd.points_from_xy(addresses["lon"], addresses["lat"]), crs="EPSG:4326")
    xy = shapely.get_coordinates(points.to_crs(metric).to_numpy())
    weight = addresses["households"].fillna(1).clip(lower=1).to_numpy(dtype=float)
    point_idx, owner = shapely.STRtree(geoms).query(shapely.points(xy), predicate="within")
    cells = []
    for i, community in enumerate(geoms):
        mine = point_idx[owner == i]
        k = max(1, round(weight[mine].sum() / households)) if len(mine) else 1
        if k == 1:
            cells.append([community])
            continue
        group = _bisect(xy[mine], weight[mine], k)
        cells.append(_voronoi_groups(community, xy[mine], group, k))
    return [gpd.GeoSeries(c, crs=metric).to_crs("EPSG:4326").tolist() for c in cells]


def _bisect(xy: np.ndarray, weight: np.ndarray, k: int) -> np.ndarray:
    """Label points 0..k-1 so that each label holds about 1/k of the weight."""
    labels = np.zeros(len(xy), dtype=np.int64)
    todo = [(np.arange(len(xy)), k, 0)]
    while todo:
        rows, parts, first = todo.pop()
        if parts == 1 or len(rows) <= 1:
            labels[rows] = first
            continue
        left_parts = parts // 2
        spread = xy[rows].max(axis=0) - xy[rows].min(axis=0)
        axis = int(spread.argmax())
        order = rows[np.argsort(xy[rows, axis], kind="stable")]
        share = np.cumsum(weight[order]) / weight[order].sum()
        cut = int(np.searchsorted(share, left_parts / parts)) + 1
        cut = min(max(cut, 1), len(order) - 1)
        todo.append((order[:cut], left_parts, first))
        todo.append((order[cut:], parts - left_parts, first + left_parts))
    return labels


def _voronoi_groups(community, xy, group, k) -> list[shapely.Geometry]:
    unique, first = np.unique(np.round(xy, 2), axis=0, return_index=True)
    regions = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(unique),
                                                         extend_to=community, ordered=True))
    label = group[first]
    cells = []
    for g in range(k):
        if (label == g).any():
            cells.append(shapely.intersection(shapely.union_all(regions[label == g]), community))
    return [c for c in cells if shapely.area(c) > MIN_PIECE_M2]


def _by_squares(communities, side: float, metric) -> list[list[shapely.Geometry]]:
    geoms = gpd.GeoSeries(communities.geometry, crs="EPSG:4326").to_crs(metric).to_numpy()
    cells = []
    for community in geoms:
        x0, y0, x1, y1 = community.bounds
        xs = np.arange(np.floor(x0 / side) * side, x1, side)
        ys = np.arange(np.floor(y0 / side) * side, y1, side)
        gx, gy = np.meshgrid(xs, ys)
        boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + side, gy.ravel() + side)
        pieces = shapely.intersection(boxes, community)
        pieces = pieces[shapely.area(pieces) > MIN_PIECE_M2]
        cells.append(gpd.GeoSeries(pieces, crs=metric).to_crs("EPSG:4326").tolist())
    return cells


def _by_h3(communities, resolution: int) -> list[list[shapely.Geometry]]:
    if not 0 <= resolution <= 15:
        raise ValueError(f"H3 resolution must be 0-15, not {resolution}")
    cells = []
    for community in communities.geometry:
        shape = h3.geo_to_h3shape(community)
        ids = h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap")
        hexes = np.array([shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)])
                          for c in sorted(ids)], dtype=object)
        pieces = shapely.intersection(hexes, community)
        area = shapely.area(pieces) * 111_320.0 ** 2  # rough m², only to drop slivers
        cells.append(list(pieces[area > MIN_PIECE_M2]))
    return cells


def _named(communities: gpd.GeoDataFrame, pieces: list[list[shapely.Geometry]]) -> gpd.GeoDataFrame:
    rows = []
    for community, cells in zip(communities.itertuples(index=False), pieces, strict=True):
        if len(cells) > 999:
            raise ValueError(f"community {community.code} would get {len(cells)} cells: more than"
                             " three-digit grid numbers allow; choose larger cells")
        for number, cell in enumerate(_reading_order(cells), start=1):
            rows.append({"code": f"{community.code}{number:03d}", "parent_code": community.code,
                         "level": AreaLevel.GRID.value, "name": f"{community.name}第{number}网格",
                         "geometry": _multipolygon(cell)})
    return gpd.GeoDataFrame(rows, columns=["code", "parent_code", "level", "name", "geometry"],
                            geometry="geometry", crs="EPSG:4326")


def _reading_order(cells: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """North to south, then west to east, so numbers read like a map."""
    centre = shapely.get_coordinates(shapely.point_on_surface(np.array(cells, dtype=object)))
    order = np.lexsort((centre[:, 0], -np.round(centre[:, 1], 3)))
    return [cells[i] for i in order]


def _multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    polygons = [p for p in shapely.get_parts(shapely.make_valid(geom)) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(polygons)


def write_datav(areas: gpd.GeoDataFrame, path: Path) -> Path:
    """Write areas as a DataV GeoAtlas style FeatureCollection (adcode, name, parent.adcode)."""
    features = [{"type": "Feature",
                 "properties": {"adcode": code, "name": name, "level": level,
                                "parent": {"adcode": parent}},
                 "geometry": json.loads(shapely.to_geojson(geom))}
                for code, name, level, parent, geom in zip(
                    areas["code"], areas["name"], areas["level"], areas["parent_code"], areas.geometry,
                    strict=True)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    return path
