"""Each step of the cascade on the demo city, with the inputs agencies really send."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from connectors.mapping import map_chunk
from connectors.spec import SourceSpec
from demo.feeds.address_noise import AddressReadings, vary_written
from geo.address import spoken
from geo.crs import from_wgs84
from geo.geocode import geocode
from tests.geo.conftest import cases_frame


def test_coordinates_in_any_crs_land_in_the_address_grid(geocoder, addresses):
    sample = addresses.sample(300, random_state=1)
    frames = []
    for crs in ("EPSG:4326", "GCJ-02", "BD-09", "EPSG:4490", "EPSG:4549"):
        x, y = from_wgs84(sample["lon"].to_numpy(), sample["lat"].to_numpy(), crs)
        frames.append(pd.DataFrame({"src_x": x, "src_y": y, "src_crs": crs}))
    out = geocode(pd.concat(frames, ignore_index=True), geocoder)
    expected = np.tile(sample["grid_code"].to_numpy(), 5)
    assert (out["grid_code"].to_numpy() == expected).all()
    assert (out["geocode_method"] == "coordinates").all()
    assert (out["geocode_precision"] == "grid").all()
    assert out["community_code"].str[:12].eq(out["grid_code"].str[:12]).all()


def test_swapped_zero_and_edge_coordinates_are_repaired_or_explained(geocoder, addresses):
    row = addresses.iloc[0]
    city = geocoder.current.grids
    # A point 5 m east of the city's easternmost edge.
    bounds = np.array([g.bounds for g in city.geoms])
    east = city.geoms[bounds[:, 2].argmax()]
    x_east, y_east = east.bounds[2], [p for p in east.exterior.coords if p[0] == east.bounds[2]][0][1] \
        if east.geom_type == "Polygon" else _east_point(east)
    cases = cases_frame(
        src_x=[row.lat, 0.0, x_east + 5 / 96_500, 125.0, np.nan],
        src_y=[row.lon, 0.0, y_east, 31.0, np.nan],
        src_crs=["EPSG:4326"],
        address=[None, row.text, None, None, None],
    )
    out = geocode(cases, geocoder)
    assert out.at[0, "grid_code"] == row.grid_code
    assert out.at[0, "attributes"] == {"repaired": "swapped_coordinates"}
    # (0, 0) is rejected and the address places the case instead.
    assert out.at[1, "geocode_method"] == "address" and out.at[1, "grid_code"] == row.grid_code
    assert out.at[1, "attributes"]["coordinates_rejected"] == "zero"
    assert out.at[2, "geocode_method"] == "coordinates"
    assert out.at[2, "attributes"]["repaired"] == "snapped_to_grid"
    assert 0 < out.at[2, "attributes"]["snapped_metres"] <= 6
    assert out.at[3, "geocode_method"] == "none"
    assert "outside every grid" in out.at[3, "unlocated_reason"]
    assert out.at[4, "unlocated_reason"] == "no coordinates, grid code, address or area name"


def _east_point(geom):
    coords = np.concatenate([np.asarray(p.exterior.coords) for p in geom.geoms])
    return coords[coords[:, 0].argmax(), 1]


def test_grid_codes_are_used_and_checked_against_coordinates(geocoder, addresses):
    a, b = addresses.iloc[0], addresses.iloc[-1]
    cases = cases_frame(
        src_x=[np.nan, a.lon, np.nan], src_y=[np.nan, a.lat, np.nan], src_crs=["EPSG:4326"],
        source_grid_code=[f" {b.grid_code} ", b.grid_code, "339999999999999"],
    )
    out = geocode(cases, geocoder)
    assert out.at[0, "geocode_method"] == "grid_code" and out.at[0, "grid_code"] == b.grid_code
    assert np.isnan(out.at[0, "lon"])
    # Both given and they disagree: the coordinates win and the doubt is recorded.
    assert out.at[1, "grid_code"] == a.grid_code
    assert out.at[1, "attributes"] == {"source_grid_code_disagrees": b.grid_code}
    assert out.at[2, "unlocated_reason"] == "unknown grid code '339999999999999'"


def test_written_variants_of_standard_addresses_find_their_door(geocoder, addresses):
    rng = np.random.default_rng(11)
    sample = addresses.sample(2000, random_state=3).reset_index(drop=True)
    written, places = vary_written(sample["text"].to_numpy(), rng)
    out = geocode(pd.DataFrame({"address": written}), geocoder)
    # A text without its district may name places in several districts: unlocated, and why;
    # and only such a text, one whose variant truly leaves its community open.
    assert (out["geocode_method"] == "address").mean() > 0.97
    unlocated = out[out["geocode_method"] == "none"]
    assert unlocated["unlocated_reason"].str.contains("places in different districts").all()
    ambiguous = AddressReadings(addresses).ambiguous(places, sample["community_code"])
    assert ambiguous[unlocated.index].all()
    assert (out["community_code"] == sample["community_code"])[~ambiguous].mean() >= 0.995
    assert (out["community_code"] == sample["community_code"]).mean() >= 0.95
    assert (out["grid_code"] == sample["grid_code"]).mean() >= 0.85
    exact = out["grid_code"] == sample["grid_code"]
    assert np.allclose(out.loc[exact, "lon"], sample.loc[exact, "lon"], atol=0.01)
    # Fuzzy or ambiguous matches say so.
    doubtful = out["attributes"].map(lambda a: isinstance(a, dict) and "address_match" in a)
    assert doubtful.any()


def test_a_source_district_disambiguates_a_compound_name(geocoder, addresses):
    compounds = addresses[addresses["compound"].notna() & (addresses["compound"] != "")]
    place = compounds["compound"] + compounds["building"].astype(str) + "栋"
    shared = compounds[place.map(place.value_counts()) > 1].iloc[0]
    text = f"{shared.compound}{shared.building}栋"
    out = geocode(cases_frame(address=[text, text], district_code=[None, shared.district_code]), geocoder)
    assert out.at[0, "grid_code"] is pd.NA or pd.isna(out.at[0, "grid_code"])
    assert out.at[1, "grid_code"] == shared.grid_code


def _shared_compound(addresses: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """A compound building whose name several districts hold, and its addresses."""
    compounds = addresses[addresses["compound"].notna() & (addresses["compound"] != "")]
    place = compounds["compound"] + compounds["building"].astype(str) + "栋"
    shared = place[place.map(place.value_counts()) > 2].iloc[0]
    return shared, compounds[place == shared]


def test_the_area_name_a_record_gives_settles_an_address_shared_by_districts(geocoder, addresses):
    text, places = _shared_compound(addresses)
    one = places.iloc[1]
    areas = geocoder.current.areas.set_index("code")
    community, district = areas.loc[one.community_code, "name"], areas.loc[one.district_code, "name"]
    out = geocode(cases_frame(address=[text, text, text, text],
                              area_name=[None, community, district, "某某某不存在的地方"]), geocoder)
    assert out.at[0, "geocode_method"] == "none"
    assert out.at[1, "grid_code"] == out.at[2, "grid_code"] == one.grid_code
    assert out.at[1, "attributes"] == {"address_settled_by": "area_name"}
    assert out.at[1, "lon"] == one.lon and out.at[1, "lat"] == one.lat
    # An area name that means nothing leaves the address as open as it was.
    assert out.at[3, "geocode_method"] == "none"


def test_a_feed_of_one_district_reads_its_addresses_there(geocoder, addresses):
    text, places = _shared_compound(addresses)
    one = places.iloc[-1]
    spec = SourceSpec.model_validate({
        "name": "district_hotline", "agency": "a", "district_scope": one.district_code, "kind": "complaint",
        "format": "csv", "location": "x", "primary_key": "id",
        "fields": {"source_record_id": {"from": "id"}, "address": {"from": "addr"},
                   "reported_at": {"from": "d", "parse": "datetime", "formats": ["%Y-%m-%d"]}}})
    raw = pd.DataFrame({"id": ["1"], "addr": [text], "d": ["2025-03-01"]}, dtype=object)
    out = geocode(map_chunk(spec, raw, b"k", "Asia/Shanghai", "339900000000").cases, geocoder)
    assert out.at[0, "grid_code"] == one.grid_code and out.at[0, "geocode_method"] == "address"


def test_area_names_alone_place_a_case_at_their_level(geocoder):
    areas = geocoder.current.areas.set_index("code")
    community = areas[areas["level"] == "community"].iloc[5]
    street = areas.loc[community.parent_code]
    district = areas.loc[street.parent_code]
    cases = cases_frame(area_name=[
        district["name"] + street["name"] + community["name"], street["name"], "某某某不存在的地方"])
    out = geocode(cases, geocoder)
    assert out.at[0, "community_code"] == community.name and out.at[0, "geocode_precision"] == "community"
    assert pd.isna(out.at[0, "grid_code"])
    assert out.at[1, "street_code"] == street.name and out.at[1, "geocode_precision"] == "street"
    assert out.at[1, "geocode_method"] == "area_name"
    assert out.at[2, "geocode_method"] == "none" and "unknown area name" in out.at[2, "unlocated_reason"]


# Characters a pinyin input method offers for each other: same syllable, tones aside.
_SAME_SOUND = {"城": "成", "华": "花", "林": "琳", "河": "和", "湖": "胡", "景": "井", "江": "将"}


def _names_one_character_apart(addresses: pd.DataFrame) -> tuple[pd.Series, pd.Series, int]:
    """Two compounds of one district, each with a building of the same number, whose names
    differ in one character only, the first's having a homophone (新城华庭 and 新都华庭)."""
    compounds = addresses[addresses["compound"].notna() & (addresses["compound"] != "")]
    for _, group in compounds.groupby(["district_code", "building"]):
        rows = list(group.drop_duplicates("compound").itertuples())
        for one in rows:
            for other in rows:
                apart = [i for i, (a, b) in enumerate(zip(one.compound, other.compound, strict=False)) if a != b]
                if len(one.compound) == len(other.compound) and len(apart) == 1 \
                        and one.compound[apart[0]] in _SAME_SOUND:
                    return pd.Series(one._asdict()), pd.Series(other._asdict()), apart[0]
    raise AssertionError("the demo city has no two such compound names")


def test_a_homophone_typo_is_read_as_the_name_that_sounds_the_same(geocoder, addresses):
    one, other, i = _names_one_character_apart(addresses)
    district = geocoder.current.areas.set_index("code").at[one.district_code, "name"]
    # 新成华庭 for 新城华庭: one character off both 新城华庭 and 新都华庭, but it reads as the first.
    homophone = one.compound[:i] + _SAME_SOUND[one.compound[i]] + one.compound[i + 1:]
    # 新丁华庭: one character off both as well, and it reads as neither.
    neither = one.compound[:i] + "丁" + one.compound[i + 1:]
    assert spoken(homophone) == spoken(one.compound) != spoken(other.compound) != spoken(neither)
    assert fuzz.ratio(homophone, one.compound) == fuzz.ratio(homophone, other.compound)
    texts = [f"{district}{name}{one.building}栋" for name in (homophone, neither)]
    out = geocode(cases_frame(address=texts), geocoder)
    assert out.at[0, "geocode_precision"] == "grid" and out.at[0, "grid_code"] == one.grid_code
    assert out.at[0, "attributes"] == {"address_match": "fuzzy"}
    # Without the sound to go by, the text still names both, and the case stays in their common area.
    assert out.at[1, "attributes"]["address_match"] == "ambiguous"
    assert out.at[1, "geocode_precision"] != "grid"
