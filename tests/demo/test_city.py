"""The synthetic demo city: counts, codes, exact tiling, gazetteer and output files."""

import json
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from demo.city import CITY_CODE, CITY_NAME, LEVELS, DemoCity, build_city, write_city

CODE_PATTERN = {
    "city": r"339900000000",
    "district": r"3399\d\d000000",
    "street": r"3399\d\d\d{3}000",
    "community": r"3399\d{8}",
    "grid": r"3399\d{11}",
}
COUNT_RANGE = {
    "city": (1, 1), "district": (8, 8), "street": (50, 70),
    "community": (500, 700), "grid": (3000, 6000),
}
PARENT_PREFIX = {"district": 4, "street": 6, "community": 9, "grid": 12}


@pytest.fixture(scope="module")
def built() -> tuple[DemoCity, float]:
    start = time.perf_counter()
    city = build_city(seed=7)
    return city, time.perf_counter() - start


@pytest.fixture(scope="module")
def city(built) -> DemoCity:
    return built[0]


def _level(city: DemoCity, level: str) -> gpd.GeoDataFrame:
    return city.areas[city.areas["level"] == level]


def test_builds_fast(built):
    assert built[1] < 10


def test_counts_per_level(city):
    counts = city.areas["level"].value_counts()
    for level, (low, high) in COUNT_RANGE.items():
        assert low <= counts[level] <= high, level
    assert 60_000 <= len(city.addresses) <= 150_000


def test_areas_frame(city):
    areas = city.areas
    assert areas.crs.to_epsg() == 4326
    assert list(areas.columns) == ["code", "parent_code", "level", "name", "geometry"]
    assert (areas.geom_type == "MultiPolygon").all()
    assert areas.is_valid.all()
    assert areas["code"].is_unique
    minlon, minlat, maxlon, maxlat = city.bbox
    assert 120.9 <= minlon < maxlon <= 121.4 and 29.7 <= minlat < maxlat <= 30.05
    assert city.bbox == pytest.approx(tuple(areas.total_bounds))


def test_codes_follow_the_national_format(city):
    for level in LEVELS:
        codes = _level(city, level)["code"]
        assert codes.str.fullmatch(CODE_PATTERN[level]).all(), level
    assert _level(city, "city")["parent_code"].isna().all()


def test_parent_codes_are_prefixes(city):
    areas = city.areas.set_index("code")
    for level, prefix in PARENT_PREFIX.items():
        children = _level(city, level)
        assert children["parent_code"].isin(areas.index).all()
        parent_level = areas.loc[children["parent_code"], "level"].to_numpy()
        assert (parent_level == LEVELS[LEVELS.index(level) - 1]).all()
        same = children["code"].str[:prefix] == children["parent_code"].str[:prefix]
        assert same.all(), level


def test_names_look_real_and_are_unique_in_their_parent(city):
    suffix = {
        "district": r"区", "street": r"(街道|镇)", "community": r"(社区|村)",
        "grid": r"(社区|村)第\d+网格",
    }
    for level, pattern in suffix.items():
        areas = _level(city, level)
        assert areas["name"].str.fullmatch(r"[\u4e00-\u9fff]+" + pattern).all(), level
        assert not areas.duplicated(["parent_code", "name"]).any(), level
    assert _level(city, "city")["name"].tolist() == [CITY_NAME]


def test_children_tile_their_parent(city):
    areas = city.areas.set_index("code")
    for level in LEVELS[1:]:
        children = _level(city, level)
        parents = areas.loc[children["parent_code"]].geometry.to_numpy()
        geoms = children.geometry.to_numpy()
        outside = shapely.area(shapely.difference(geoms, parents))
        assert (outside <= 1e-9 * shapely.area(geoms)).all(), level
        # Equal total area and an equal union mean no gaps and no overlaps.
        area = pd.Series(shapely.area(geoms), index=children.index)
        summed = area.groupby(children["parent_code"]).sum()
        parent_area = shapely.area(areas.loc[summed.index].geometry.to_numpy())
        assert np.allclose(summed, parent_area, rtol=1e-9, atol=0), level
        union = children.groupby("parent_code").geometry.apply(shapely.union_all)
        union_area = shapely.area(union.loc[summed.index].to_numpy())
        assert np.allclose(union_area, parent_area, rtol=1e-9, atol=0), level


def test_cells_are_smaller_in_the_core(city):
    grids = _level(city, "grid").to_crs(32651)
    area = grids.area / 1e6
    assert area.quantile(0.9) > 8 * area.quantile(0.1)
    assert grids["code"].str[:6].nunique() == 8


def test_addresses_lie_in_their_grid(city):
    addresses = city.addresses
    grids = _level(city, "grid").set_index("code").geometry
    geoms = grids.loc[addresses["grid_code"]].to_numpy()
    assert shapely.contains_xy(geoms, addresses["lon"], addresses["lat"]).all()


def test_address_codes_are_the_grid_ancestors(city):
    parent = city.areas.set_index("code")["parent_code"]
    addresses = city.addresses
    community = parent.loc[addresses["grid_code"]].to_numpy()
    street = parent.loc[community].to_numpy()
    district = parent.loc[street].to_numpy()
    assert (addresses["community_code"].to_numpy() == community).all()
    assert (addresses["street_code"].to_numpy() == street).all()
    assert (addresses["district_code"].to_numpy() == district).all()


def test_address_text_is_the_standard_form(city):
    addresses = city.addresses
    district = city.areas.set_index("code")["name"].loc[addresses["district_code"]].to_numpy()
    on_road = addresses["road"] != ""
    expected = np.where(
        on_road,
        addresses["road"] + addresses["number"].astype(str) + "号",
        addresses["compound"] + addresses["building"].astype(str) + "栋",
    )
    assert (addresses["text"] == CITY_NAME + district + expected).all()
    assert addresses["text"].is_unique
    assert addresses["address_id"].is_unique
    assert (addresses.loc[on_road, "number"] > 0).all()
    assert (addresses.loc[on_road, "compound"] == "").all()
    assert (addresses.loc[~on_road, "building"] > 0).all()
    roads = addresses.loc[on_road, "road"]
    assert roads.str.fullmatch(r"[\u4e00-\u9fff]+(路|街|巷|大道)").all()
    compounds = addresses.loc[~on_road, "compound"]
    assert compounds.str.contains("小区|花园|苑|新村").mean() > 0.5


def test_roads_and_compounds_both_carry_households(city):
    addresses = city.addresses
    on_road = addresses["road"] != ""
    assert 0.2 < on_road.mean() < 0.9
    per_grid = addresses.groupby("grid_code")["households"].sum()
    assert len(per_grid) == len(_level(city, "grid"))
    assert per_grid.min() >= 50 and 200 <= per_grid.median() <= 600


def test_road_names_recur_in_other_districts(city):
    roads = city.roads
    assert 200 <= roads["road_id"].nunique() <= 1000
    roads_per_name = roads.groupby("name")["road_id"].nunique()
    assert (roads_per_name > 1).sum() >= 10
    # Within one district a name means one road.
    assert not roads.duplicated(["district_code", "name"]).any()
    road_keys = set(zip(roads["district_code"], roads["name"], strict=True))
    on_road = city.addresses[city.addresses["road"] != ""]
    address_keys = set(zip(on_road["district_code"], on_road["road"], strict=True))
    assert address_keys <= road_keys


def test_same_seed_same_city(city):
    again = build_city(seed=7)
    assert again.areas["code"].tolist() == city.areas["code"].tolist()
    assert again.areas["name"].tolist() == city.areas["name"].tolist()
    assert shapely.equals_exact(again.areas.geometry.array, city.areas.geometry.array, 0).all()
    pd.testing.assert_frame_equal(again.addresses, city.addresses)
    assert again.bbox == city.bbox


def test_other_seed_other_city(city):
    other = build_city(seed=8)
    assert other.areas["code"].iloc[0] == CITY_CODE
    assert not other.areas.geometry.iloc[0].equals(city.areas.geometry.iloc[0])


def test_write_city_round_trips(city, tmp_path):
    paths = write_city(city, tmp_path)
    assert set(paths) == {*LEVELS, "roads", "gazetteer"}
    for level in LEVELS:
        expected = _level(city, level)
        read = gpd.read_file(paths[level])
        assert read["adcode"].astype(str).tolist() == expected["code"].tolist()
        assert read["name"].tolist() == expected["name"].tolist()
        assert (read["level"] == level).all()
        assert shapely.equals_exact(read.geometry.array, expected.geometry.array, 1e-12).all()
    collection = json.loads(paths["street"].read_text(encoding="utf-8"))
    first = collection["features"][0]["properties"]
    street = _level(city, "street").iloc[0]
    assert first["parent"] == {"adcode": int(street["parent_code"])}
    assert first["acroutes"] == [100000, 330000, int(CITY_CODE), int(street["parent_code"])]
    children = (city.areas["parent_code"] == street["code"]).sum()
    assert first["childrenNum"] == children
    assert set(first) >= {"adcode", "name", "center", "centroid", "level", "subFeatureIndex"}
    gazetteer = pd.read_csv(paths["gazetteer"], encoding="utf-8", keep_default_na=False,
                            dtype={c: str for c in city.addresses.columns if c.endswith("code")})
    pd.testing.assert_frame_equal(gazetteer, city.addresses, check_dtype=False)

