"""The reproducible synthetic demo city 江岸市: governance areas and an address gazetteer.

Areas are nested Voronoi tessellations, each clipped to its parent so that children tile
the parent exactly. Cells are denser where more people live (an urban core and two satellite
towns). The gazetteer holds numbered addresses along named roads and numbered buildings in
residential compounds. Geometry is built in a local kilometre plane and moved to WGS84 at
the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from math import cos, radians
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from demo import names

Rng = np.random.Generator

CITY_CODE = "339900000000"
CITY_NAME = names.CITY_NAME
LEVELS = ("city", "district", "street", "community", "grid")
# County digits as real prefectures use them: 0x for urban districts, 1x for merged counties.
DISTRICT_DIGITS = ("02", "03", "04", "05", "06", "11", "12", "13")
N_DISTRICTS, N_CORE_DISTRICTS = len(DISTRICT_DIGITS), 4
N_STREETS, N_COMMUNITIES, N_GRIDS = 60, 600, 4500
COUNTRY_ADCODE, PROVINCE_ADCODE = 100000, 330000

ORIGIN = (121.15, 29.875)  # lon, lat of the kilometre plane's origin
KM_PER_DEG = (111.320 * cos(radians(ORIGIN[1])), 110.574)
HALF_SIZE_KM = (23.5, 18.8)  # keeps the city inside lon 120.9-121.4, lat 29.7-30.05

# Relative population density: Gaussian bumps (x km, y km, sigma km, peak) over a rural floor.
DENSITY_BUMPS = ((-3.0, 1.5, 5.0, 1.0), (11.0, -7.0, 2.5, 0.35), (-12.0, 8.0, 2.0, 0.25))
DENSITY_FLOOR = 0.03
URBAN_STREET, URBAN_COMMUNITY = 0.3, 0.25  # mean density above which 街道 / 社区, else 镇 / 村

ADDRESS_COLUMNS = (
    "address_id", "district_code", "street_code", "community_code", "grid_code", "road",
    "number", "compound", "building", "text", "households", "lon", "lat",
)


@dataclass(frozen=True)
class DemoCity:
    """The demo city: areas of every level, the standard addresses, and the named roads.

    `roads` (one row per road and district: road_id, district_code, name, MultiLineString in
    WGS84) is there for geocoders that interpolate house numbers along a road.
    """

    areas: gpd.GeoDataFrame
    addresses: pd.DataFrame
    roads: gpd.GeoDataFrame
    bbox: tuple[float, float, float, float]


def build_city(seed: int = 7) -> DemoCity:
    """Build the demo city; the same seed always gives the same city."""
    rng = np.random.default_rng(seed)
    outline = _outline(rng)
    areas = _areas(rng, outline)
    lines, road_names = _roads(rng, outline, areas)
    roads = _road_pieces(lines, road_names, areas)
    addresses = _addresses(rng, areas, lines, roads)
    areas_ll = gpd.GeoDataFrame(
        areas[["code", "parent_code", "level", "name"]],
        geometry=shapely.orient_polygons(_to_lonlat(areas["geometry"].to_numpy())),
        crs="EPSG:4326",
    )
    roads = gpd.GeoDataFrame(roads[["road_id", "district_code", "name"]], crs="EPSG:4326",
                             geometry=_to_lonlat(roads["geometry"].to_numpy()))
    city = areas_ll.geometry.iloc[0]
    return DemoCity(areas_ll, _verified(addresses, areas_ll), roads, tuple(city.bounds))


def write_city(city: DemoCity, out_dir: str | Path) -> dict[str, Path]:
    """Write areas_<level>.geojson (DataV GeoAtlas style), roads.geojson and gazetteer.csv."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for level in LEVELS:
        paths[level] = out / f"areas_{level}.geojson"
        paths[level].write_text(_datav_collection(city.areas, level), encoding="utf-8")
    paths["roads"] = out / "roads.geojson"
    city.roads.to_file(paths["roads"], driver="GeoJSON")
    paths["gazetteer"] = out / "gazetteer.csv"
    city.addresses.to_csv(paths["gazetteer"], index=False, encoding="utf-8")
    return paths


def density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Relative population density at plane coordinates (km)."""
    rho = np.full(np.shape(x), DENSITY_FLOOR)
    for bx, by, sigma, peak in DENSITY_BUMPS:
        rho += peak * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * sigma**2))
    return rho


# ---- areas ---------------------------------------------------------------------------------


def _outline(rng: Rng) -> shapely.Polygon:
    """An irregular, star-shaped city boundary filling the target box."""
    theta = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    k = np.arange(2, 40)
    amplitude = rng.normal(0, 0.12, k.size) / k**1.5  # smooth bays, a little ragged
    phase = rng.uniform(0, 2 * np.pi, k.size)
    r = 1 + (amplitude[:, None] * np.cos(k[:, None] * theta + phase[:, None])).sum(axis=0)
    x, y = r * np.cos(theta), r * np.sin(theta)
    x *= HALF_SIZE_KM[0] / np.abs(x).max()
    y *= HALF_SIZE_KM[1] / np.abs(y).max()
    return shapely.Polygon(np.column_stack([x, y]))


def _areas(rng: Rng, outline: shapely.Polygon) -> pd.DataFrame:
    """All areas in the plane, parents before children: code, parent_code, level, name, …"""
    rho = _mean_density(np.array([outline]), rng)
    city = pd.DataFrame({
        "code": [CITY_CODE], "parent_code": [None], "level": ["city"], "name": [CITY_NAME],
        "geometry": _multipolygons(np.array([outline])), "rho": rho, "urban": [True],
    })
    districts = _name_districts(rng, _split(city, np.array([N_DISTRICTS]), rng, power=1.0))
    streets = _name_streets(rng, _split(districts, _allocate(districts, N_STREETS, 4), rng))
    communities = _name_communities(
        rng, _split(streets, _allocate(streets, N_COMMUNITIES, 3), rng)
    )
    grids = _split(communities, _allocate(communities, N_GRIDS, 2), rng)
    grids = _name_grids(grids, communities)
    return pd.concat([city, districts, streets, communities, grids], ignore_index=True)


def _allocate(parents: pd.DataFrame, total: int, minimum: int) -> np.ndarray:
    """Children per parent: `minimum` each, the rest in proportion to population."""
    mass = parents["rho"].to_numpy() * shapely.area(parents["geometry"].to_numpy())
    share = mass / mass.sum() * (total - minimum * len(mass))
    counts = np.floor(share).astype(int)
    left_over = round(share.sum() - counts.sum())
    counts[np.argsort(counts - share, kind="stable")[:left_over]] += 1  # largest remainders
    return counts + minimum


def _split(parents: pd.DataFrame, counts: np.ndarray, rng: Rng,
           power: float = 2.0) -> pd.DataFrame:
    """Tessellate each parent into counts[i] Voronoi cells clipped to it.

    Seeds come from density-weighted k-means on random points in the parent; weighting by
    density squared makes cell area fall roughly as 1/density, so cells hold similar
    populations.
    """
    geoms = parents["geometry"].to_numpy()
    xy, owner = _points_in(geoms, 30 * counts + 150, rng)
    rho = density(xy[:, 0], xy[:, 1])
    starts = np.searchsorted(owner, np.arange(len(geoms) + 1))
    cells, mean_rho, parent_codes = [], [], []
    for i, k in enumerate(counts):
        part = slice(starts[i], starts[i + 1])
        seeds = _seeds(geoms[i], xy[part], rho[part] ** power, k, rng)
        label = _nearest(xy[part], seeds)
        n = np.bincount(label, minlength=k)
        mean = np.bincount(label, rho[part], minlength=k) / np.maximum(n, 1)
        cells.append(_voronoi_cells(geoms[i], seeds))
        mean_rho.append(np.where(n > 0, mean, density(seeds[:, 0], seeds[:, 1])))
        parent_codes += [parents["code"].iat[i]] * k
    children = pd.DataFrame({
        "parent_code": parent_codes,
        "geometry": _multipolygons(np.concatenate(cells)),
        "rho": np.concatenate(mean_rho),
    })
    # Codes run from the city centre outwards, as old urban areas were numbered first.
    centre = shapely.get_coordinates(shapely.point_on_surface(children["geometry"].to_numpy()))
    children["distance"] = np.hypot(*(centre - DENSITY_BUMPS[0][:2]).T)
    return children


def _seeds(parent: shapely.Geometry, xy: np.ndarray, weight: np.ndarray, k: int, rng: Rng,
           rounds: int = 10) -> np.ndarray:
    """k Voronoi seeds inside the parent: weighted k-means centres of its sample points."""
    seeds = xy[rng.choice(len(xy), k, replace=False, p=weight / weight.sum())]
    for _ in range(rounds):
        label = _nearest(xy, seeds)
        total = np.bincount(label, weight, minlength=k)
        moved = np.column_stack([np.bincount(label, weight * c, minlength=k) for c in xy.T])
        seeds = np.where(total[:, None] > 0, moved / np.maximum(total, 1e-300)[:, None], seeds)
    # A centre outside a non-convex parent would get no cell: move it to its nearest sample.
    outside = ~shapely.contains_xy(parent, seeds[:, 0], seeds[:, 1])
    seeds[outside] = xy[_nearest(seeds[outside], xy)]
    return seeds


def _nearest(xy: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre for every point."""
    return ((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)


def _voronoi_cells(parent: shapely.Geometry, seeds: np.ndarray) -> np.ndarray:
    """Voronoi cells of the seeds, in seed order, clipped to the parent."""
    if len(seeds) == 1:
        return np.array([parent])
    diagram = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=parent, ordered=True)
    cells = shapely.get_parts(diagram)
    if len(cells) != len(seeds):
        raise ValueError("duplicate Voronoi seeds")
    return shapely.intersection(cells, parent)


def _multipolygons(geoms: np.ndarray) -> np.ndarray:
    """The polygonal parts of each geometry as one MultiPolygon (drops touching lines/points)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    while (nested := np.isin(shapely.get_type_id(parts), (4, 5, 6, 7))).any():
        inner, j = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], inner])
        index = np.concatenate([index[~nested], index[nested][j]])
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    order = np.argsort(index[keep], kind="stable")
    result = shapely.multipolygons(parts[keep][order], indices=index[keep][order])
    if len(result) != len(geoms) or shapely.is_empty(result).any():
        raise ValueError("an area lost all of its polygons")
    return result


def _mean_density(geoms: np.ndarray, rng: Rng) -> np.ndarray:
    """Mean density over each geometry, from random points."""
    xy, owner = _points_in(geoms, np.full(len(geoms), 2000), rng)
    rho = density(xy[:, 0], xy[:, 1])
    return np.bincount(owner, rho) / np.bincount(owner)


def _ranks(children: pd.DataFrame, urban: np.ndarray) -> pd.DataFrame:
    """Order children urban-first then outwards, numbering each kind from 1 in its parent."""
    children = children.assign(urban=urban)
    children = children.sort_values(["parent_code", "urban", "distance"],
                                    ascending=[True, False, True], kind="stable")
    children["rank"] = children.groupby(["parent_code", "urban"]).cumcount() + 1
    return children.reset_index(drop=True)


def _name_districts(rng: Rng, children: pd.DataFrame) -> pd.DataFrame:
    """Codes 3399DD000000 and names; the nearest districts to the centre are the core."""
    children = _ranks(children, np.ones(len(children), bool))
    children["code"] = ["3399" + DISTRICT_DIGITS[r - 1] + "000000" for r in children["rank"]]
    children["name"] = names.district_names(rng, N_CORE_DISTRICTS, N_DISTRICTS - N_CORE_DISTRICTS)
    return children.assign(level="district")


def _name_streets(rng: Rng, children: pd.DataFrame) -> pd.DataFrame:
    """Codes 3399DDSSS000 (街道 from 001, 镇 from 101) and names."""
    children = _ranks(children, children["rho"].to_numpy() >= URBAN_STREET)
    base = np.where(children["urban"], 0, 100) + children["rank"]
    parent = children["parent_code"]
    children["code"] = [p[:6] + f"{b:03d}000" for p, b in zip(parent, base, strict=True)]
    children["name"] = names.street_names(rng, children["urban"].tolist())
    return children.assign(level="street")


def _name_communities(rng: Rng, children: pd.DataFrame) -> pd.DataFrame:
    """Codes 3399DDSSSCCC (社区 from 001, 村 from 201) and names unique in their street."""
    children = _ranks(children, children["rho"].to_numpy() >= URBAN_COMMUNITY)
    base = np.where(children["urban"], 0, 200) + children["rank"]
    parent = children["parent_code"]
    children["code"] = [p[:9] + f"{b:03d}" for p, b in zip(parent, base, strict=True)]
    children["name"] = [
        name
        for _, group in children.groupby("parent_code", sort=False)
        for name in names.community_names(rng, group["urban"].tolist())
    ]
    return children.assign(level="community")


def _name_grids(children: pd.DataFrame, communities: pd.DataFrame) -> pd.DataFrame:
    """Codes (community code + 3 digits) and names such as 新民社区第3网格."""
    children = children.sort_values(["parent_code", "distance"], kind="stable")
    children = children.reset_index(drop=True)
    rank = children.groupby("parent_code").cumcount() + 1
    community = communities.set_index("code")["name"]
    parent = children["parent_code"]
    children["code"] = [p + f"{r:03d}" for p, r in zip(parent, rank, strict=True)]
    children["name"] = [names.grid_name(community[p], r) for p, r in zip(parent, rank, strict=True)]
    children["urban"] = children["rho"] >= URBAN_COMMUNITY
    return children.assign(level="grid")


# ---- random points -------------------------------------------------------------------------


def _points_in(geoms: np.ndarray, counts: np.ndarray, rng: Rng, centre=None, radius=None,
               rounds: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """counts[i] random points inside geoms[i] (and within radius[i] of centre[i] if given).

    Returns the points and, for each, the index of its geometry (sorted). Points that
    rejection sampling cannot place fall back to the centre or a point on the surface.
    """
    shapely.prepare(geoms)
    owner = np.repeat(np.arange(len(geoms)), counts)
    xy = np.empty((owner.size, 2))
    box = shapely.bounds(geoms)
    todo = np.arange(owner.size)
    for _ in range(rounds):
        g = owner[todo]
        if centre is None:
            candidate = box[g, :2] + rng.random((todo.size, 2)) * (box[g, 2:] - box[g, :2])
        else:
            r = radius[g] * np.sqrt(rng.random(todo.size))
            a = rng.uniform(0, 2 * np.pi, todo.size)
            candidate = centre[g] + np.column_stack([r * np.cos(a), r * np.sin(a)])
        inside = shapely.contains_xy(geoms[g], candidate[:, 0], candidate[:, 1])
        xy[todo[inside]] = candidate[inside]
        todo = todo[~inside]
        if todo.size == 0:
            break
    fallback = centre if centre is not None else shapely.get_coordinates(
        shapely.point_on_surface(geoms))
    xy[todo] = fallback[owner[todo]]
    return xy, owner


def _to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Move plane geometries (km) to WGS84 lon/lat."""
    return shapely.transform(geoms, lambda xy: xy / KM_PER_DEG + ORIGIN)


# ---- roads and addresses -------------------------------------------------------------------

ROAD_COUNTS = {"arterial": 26, "local": 420, "lane": 160}
ROAD_CENTRE_POWER = {"arterial": 0.5, "local": 1.0, "lane": 3.0}  # lanes crowd the old core
SLOT_KM, SETBACK_KM, MARGIN_KM = 0.02, 0.012, 0.005  # house-number pitch, setback, edge margin


def _roads(rng: Rng, outline: shapely.Polygon,
           areas: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Named road centre lines in the plane, dense where people live."""
    grid_angle = rng.uniform(-0.35, 0.35)  # the orientation of the city's street grid
    lines, kinds = [], []
    for kind, n in ROAD_COUNTS.items():
        centre = _dense_points(rng, outline, n, ROAD_CENTRE_POWER[kind])
        rho = np.minimum(density(centre[:, 0], centre[:, 1]), 1.0)
        aligned = grid_angle + rng.integers(0, 2, n) * np.pi / 2 + rng.normal(0, 0.06, n)
        # Urban roads follow the street grid; rural ones wander.
        wander = (kind == "local") & (rho < 0.15)
        angle = np.where(wander, rng.uniform(0, np.pi, n), aligned)
        lines.append(_polylines(rng, centre, angle, _road_lengths(rng, kind, rho)))
        kinds += [kind] * n
    lines = _clip_longest(np.concatenate(lines), outline)
    keep = np.flatnonzero(shapely.length(lines) > 0.15)
    lines, kinds = lines[keep], [kinds[i] for i in keep]
    districts = areas.loc[areas["level"] == "district", "geometry"].to_numpy()
    road, district = shapely.STRtree(districts).query(lines, predicate="intersects")
    touched = [district[road == i].tolist() for i in range(len(lines))]
    return lines, names.road_names(rng, kinds, touched)


def _road_lengths(rng: Rng, kind: str, rho: np.ndarray) -> np.ndarray:
    """Road lengths in km: long arterials, local roads shorter where the city is dense."""
    if kind == "arterial":
        return rng.uniform(14, 34, rho.size)
    if kind == "local":
        return (0.8 + 3.2 * (1 - rho)) * rng.uniform(0.7, 1.3, rho.size)
    return rng.uniform(0.15, 0.45, rho.size)


def _dense_points(rng: Rng, outline: shapely.Polygon, n: int, power: float) -> np.ndarray:
    """n random points in the outline, more where density**power is high."""
    xy, _ = _points_in(np.array([outline]), np.array([20 * n]), rng)
    weight = density(xy[:, 0], xy[:, 1]) ** power
    return xy[rng.choice(len(xy), n, replace=False, p=weight / weight.sum())]


def _polylines(rng: Rng, centre: np.ndarray, angle: np.ndarray, length: np.ndarray,
               vertices: int = 6) -> np.ndarray:
    """Gently wandering lines through the centres."""
    along = np.linspace(-0.5, 0.5, vertices) * length[:, None]
    wiggle = np.cumsum(rng.normal(0, 0.02, (len(centre), vertices)), axis=1)
    across = (wiggle - wiggle.mean(axis=1, keepdims=True)) * length[:, None]
    direction = np.column_stack([np.cos(angle), np.sin(angle)])[:, None, :]
    normal = np.column_stack([-np.sin(angle), np.cos(angle)])[:, None, :]
    coords = centre[:, None, :] + along[..., None] * direction + across[..., None] * normal
    return shapely.linestrings(coords)


def _clip_longest(lines: np.ndarray, outline: shapely.Polygon) -> np.ndarray:
    """Each line clipped to the outline, keeping its longest piece (None when nothing is left)."""
    parts, index = shapely.get_parts(shapely.intersection(lines, outline), return_index=True)
    lineal = shapely.get_type_id(parts) == 1
    parts, index = parts[lineal], index[lineal]
    order = np.lexsort((-shapely.length(parts), index))
    first = order[np.unique(index[order], return_index=True)[1]]
    clipped = np.full(len(lines), None, dtype=object)
    clipped[index[first]] = parts[first]
    return clipped


def _addresses(rng: Rng, areas: pd.DataFrame, lines: np.ndarray,
               roads: pd.DataFrame) -> pd.DataFrame:
    """Standard addresses in the plane: road numbers first, compound buildings for the rest."""
    grids = areas[areas["level"] == "grid"].reset_index(drop=True)
    geoms = grids["geometry"].to_numpy()
    inner = shapely.buffer(geoms, -MARGIN_KM)  # keep points off grid edges
    inner = np.where(shapely.is_empty(inner), geoms, inner)
    urban = grids["urban"].to_numpy()
    n = len(grids)
    target = np.where(urban, rng.integers(250, 550, n), rng.integers(150, 400, n))  # households
    on_roads = _road_addresses(rng, grids, inner, target, lines, roads)
    on_roads_hh = np.bincount(on_roads["grid"], on_roads["households"], minlength=n)
    in_compounds = _compound_addresses(rng, grids, inner, target - on_roads_hh)
    found = pd.concat([on_roads, in_compounds], ignore_index=True)
    found["grid_code"] = grids["code"].to_numpy()[found.pop("grid")]
    return found


def _road_addresses(rng: Rng, grids: pd.DataFrame, inner: np.ndarray, target: np.ndarray,
                    lines: np.ndarray, roads: pd.DataFrame) -> pd.DataFrame:
    """A share of every grid's households at numbered doors along the roads crossing it."""
    slots = _road_slots(lines)
    points = shapely.points(slots[["x", "y"]].to_numpy())
    slot, grid = shapely.STRtree(inner).query(points, predicate="within")
    # A door across a district border from its road would carry a name that district lacks.
    district = grids["code"].str[:6].to_numpy()[grid] + "000000"
    door = pd.MultiIndex.from_arrays([slots["road_id"].to_numpy()[slot], district])
    served = door.isin(pd.MultiIndex.from_frame(roads[["road_id", "district_code"]]))
    slots = slots.iloc[slot[served]].assign(grid=grid[served])
    grid = grid[served]
    urban = grids["urban"].to_numpy()[grid]
    # Urban grids live mostly in compounds; rural ones mostly in houses along the roads.
    share, mean_households = np.where(urban, 0.35, 0.85), np.where(urban, 14, 5)
    per_grid = np.bincount(grid, minlength=len(inner))
    chance = share * target[grid] / (per_grid[grid] * mean_households)
    households = np.where(urban, rng.integers(3, 26, len(grid)), rng.integers(2, 9, len(grid)))
    slots = slots.assign(households=households)[rng.random(len(grid)) < chance]
    road_name = roads.drop_duplicates("road_id").set_index("road_id")["name"]
    slots["road"] = road_name[slots.pop("road_id")].to_numpy()
    return slots.assign(compound="", building=0).reset_index(drop=True)


def _road_slots(lines: np.ndarray) -> pd.DataFrame:
    """Door positions every SLOT_KM on both sides of each road: odd numbers left, even right."""
    n = (shapely.length(lines) // SLOT_KM).astype(int)
    road = np.repeat(np.arange(len(lines)), n)
    k = _index_within(n)
    s = (k + 0.5) * SLOT_KM
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], s + 0.001))
    behind = shapely.get_coordinates(shapely.line_interpolate_point(lines[road], s - 0.001))
    tangent = (ahead - behind) / np.hypot(*(ahead - behind).T)[:, None]
    offset = np.column_stack([-tangent[:, 1], tangent[:, 0]]) * SETBACK_KM
    middle = (ahead + behind) / 2
    xy = np.concatenate([middle + offset, middle - offset])
    number = np.concatenate([2 * k + 1, 2 * k + 2])
    return pd.DataFrame({"road_id": np.tile(road, 2) + 1, "number": number,
                         "x": xy[:, 0], "y": xy[:, 1]})


def _compound_addresses(rng: Rng, grids: pd.DataFrame, inner: np.ndarray,
                        remaining: np.ndarray) -> pd.DataFrame:
    """One residential compound per grid for the households not on a road."""
    has = np.flatnonzero(remaining >= 20)
    urban = grids["urban"].to_numpy()[has]
    mean_households = np.where(urban, 75, 19)
    buildings = np.maximum(1, np.round(remaining[has] / mean_households)).astype(int)
    centre, _ = _points_in(inner[has], np.ones(len(has), int), rng)
    radius = np.where(urban, 0.06, 0.1)
    xy, owner = _points_in(inner[has], buildings, rng, centre=centre, radius=radius)
    district = grids["code"].str[:6].to_numpy()[has]
    compound = np.empty(len(has), dtype=object)
    for code in np.unique(district):
        mine = district == code
        compound[mine] = names.compound_names(rng, (~urban[mine]).tolist())
    households = np.where(urban[owner], rng.integers(30, 121, len(owner)),
                          rng.integers(8, 31, len(owner)))
    return pd.DataFrame({
        "grid": has[owner], "x": xy[:, 0], "y": xy[:, 1], "households": households,
        "road": "", "number": 0, "compound": compound[owner],
        "building": _index_within(buildings) + 1,
    })


def _index_within(sizes: np.ndarray) -> np.ndarray:
    """0, 1, … counted afresh in each run of the given sizes: [2, 3] gives 0 1 0 1 2."""
    return np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def _verified(found: pd.DataFrame, areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """Addresses in WGS84 with codes, text and ids, checked to lie inside their grid."""
    lonlat = (found[["x", "y"]].to_numpy() / KM_PER_DEG + ORIGIN).round(6)  # 0.1 m, as DataV
    grid = areas[areas["level"] == "grid"].set_index("code").geometry
    inside = shapely.contains_xy(grid[found["grid_code"]].to_numpy(), lonlat[:, 0], lonlat[:, 1])
    if not inside.all():
        raise ValueError(f"{(~inside).sum()} addresses fell outside their grid")
    found = found.assign(lon=lonlat[:, 0], lat=lonlat[:, 1])
    code = found["grid_code"]
    found = found.assign(district_code=code.str[:6] + "000000", street_code=code.str[:9] + "000",
                         community_code=code.str[:12])
    district_name = areas.set_index("code")["name"][found["district_code"]].to_numpy()
    place = np.where(found["road"] != "",
                     found["road"] + found["number"].astype(str) + "号",
                     found["compound"] + found["building"].astype(str) + "栋")
    found["text"] = CITY_NAME + district_name + place
    found = found.sort_values(["grid_code", "road", "number", "compound", "building"])
    found["address_id"] = np.arange(1, len(found) + 1)
    return found[list(ADDRESS_COLUMNS)].reset_index(drop=True)


def _road_pieces(lines: np.ndarray, road_names: list[str], areas: pd.DataFrame) -> pd.DataFrame:
    """The roads cut at district borders: one row per (road, district)."""
    districts = areas[areas["level"] == "district"]
    road, district = shapely.STRtree(districts["geometry"].to_numpy()).query(
        lines, predicate="intersects")
    pieces = shapely.intersection(lines[road], districts["geometry"].to_numpy()[district])
    parts, index = shapely.get_parts(pieces, return_index=True)
    lineal = shapely.get_type_id(parts) == 1
    keep = np.unique(index[lineal])
    indices = np.searchsorted(keep, index[lineal])
    geometry = shapely.multilinestrings(parts[lineal], indices=indices)
    return pd.DataFrame({
        "road_id": road[keep] + 1,
        "district_code": districts["code"].to_numpy()[district[keep]],
        "name": np.asarray(road_names, dtype=object)[road[keep]],
        "geometry": geometry,
    })


# ---- DataV GeoAtlas output -----------------------------------------------------------------


def _datav_collection(areas: gpd.GeoDataFrame, level: str) -> str:
    """One level of areas as a DataV GeoAtlas "_full" style FeatureCollection."""
    rows = areas[areas["level"] == level]
    parent_of = dict(zip(areas["code"], areas["parent_code"], strict=True))
    children = areas["parent_code"].value_counts()
    geoms = rows.geometry.to_numpy()
    centre = shapely.get_coordinates(shapely.point_on_surface(geoms)).round(6).tolist()
    centroid = shapely.get_coordinates(shapely.centroid(geoms)).round(6).tolist()
    features = []
    for i, (code, name, geojson) in enumerate(zip(rows["code"], rows["name"],
                                                 shapely.to_geojson(geoms), strict=True)):
        acroutes = [COUNTRY_ADCODE, PROVINCE_ADCODE] + [int(a) for a in _ancestors(code, parent_of)]
        properties = {
            "adcode": int(code), "name": name, "center": centre[i], "centroid": centroid[i],
            "childrenNum": int(children.get(code, 0)), "level": level,
            "parent": {"adcode": acroutes[-1]}, "subFeatureIndex": i, "acroutes": acroutes,
        }
        properties_json = json.dumps(properties, ensure_ascii=False, separators=(",", ":"))
        features.append(f'{{"type":"Feature","properties":{properties_json},"geometry":{geojson}}}')
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n"


def _ancestors(code: str, parent_of: dict[str, str | None]) -> list[str]:
    """Codes of the areas enclosing an area, the city first."""
    chain = []
    while (code := parent_of[code]) is not None:
        chain.append(code)
    return chain[::-1]
