"""A real city's address points loaded as its gazetteer: English addresses normalised, records
then placed by address alone, grids drawn by households."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from cli.main import app
from geo.address import normalise_address, split_place
from geo.address_points import address_points
from geo.geocode import geocode
from geo.geocoder import Geocoder
from store.areas import replace_current_areas
from tests.geo.real_data import city_areas, points_of, real_file
from tests.pipeline.helpers import scalar

SF_AREAS = "sf/sf_analysis_neighborhoods.geojson"
SF_2018 = "sf/sf_police_incidents_2018-12_fullcols.csv"


def test_english_spellings_of_one_door_or_crossing_agree():
    door = {"1450 Mission Street, Apt 3", "1450 MISSION ST #4", "1450 mission st. unit 5", "1450 Mission St"}
    assert {normalise_address(t) for t in door} == {"1450 MISSION ST"}
    assert normalise_address("425 EAST 24 STREET") == normalise_address("425 E. 24th St") == "425 E 24 ST"
    assert normalise_address("82-01 BEACH CHANNEL DRIVE") == "8201 BEACH CHANNEL DR"
    assert normalise_address("OFARRELL ST \\ 20TH AVE") == normalise_address("20th Avenue & O'Farrell Street")
    assert split_place("8201 BEACH CHANNEL DR").number == 8201
    assert split_place(normalise_address("MISSION ST \\ 16TH ST")).kind == "&"
    # Chinese addresses keep their own normalisation.
    assert normalise_address("协和南路三百四十八号附近") == "协和南路348号"


def test_sf_incidents_are_placed_by_their_intersection_alone():
    records = points_of(SF_2018).dropna(subset=["Intersection", "lon"]).reset_index(drop=True)
    areas = city_areas(SF_AREAS, "SF")
    half = len(records) // 2
    known = records.iloc[:half]
    made = address_points(pd.DataFrame({"text": known["Intersection"], "lon": known["lon"], "lat": known["lat"],
                                        "households": 1, "address_id": None}), areas)
    geocoder = Geocoder.from_frames(areas, made.rows)
    later = records.iloc[half:]
    later = later[later["Intersection"].isin(set(known["Intersection"]))].reset_index(drop=True)
    # Written the other way round and in lower case, as another agency would.
    swapped = [" & ".join(reversed(t.split(" \\ "))).lower() for t in later["Intersection"]]
    out = geocode(pd.DataFrame({"address": swapped}), geocoder)
    grids = geocoder.current.grids
    own = grids.codes[grids.locate(later["lon"].to_numpy(), later["lat"].to_numpy())]
    placed = out["geocode_method"].eq("address").to_numpy()
    agree = (out["grid_code"].astype(object).fillna("").to_numpy() == own).mean()
    print(f"SF 2018-12: gazetteer {len(made.rows):,} crossings; {len(later):,} later records,"
          f" {placed.mean():.2%} placed by address, {agree:.2%} in their own point's neighbourhood")
    assert len(made.rows) > 1_000 and len(later) > 3_000
    assert placed.all() and agree >= 0.99


def test_nyc_311_addresses_are_found_written_otherwise_and_near_doors_on_their_street():
    frames = []
    for name in ("nyc311_2018-09-02_all_agencies.csv", "nyc311_2022-05-01_all_agencies.csv",
                 "nyc311_sample1000_2014-2019.csv"):
        records = points_of(f"nyc311/{name}")
        frames.append(records[["Incident Address", "lon", "lat"]].dropna())
    rows = pd.concat(frames, ignore_index=True).rename(columns={"Incident Address": "text"})
    areas = city_areas("nyc311/nyc_community_districts.geojson", "NYC")
    texts = np.array(sorted(rows["text"].unique()), dtype=object)
    np.random.default_rng(0).shuffle(texts)
    known = rows[rows["text"].isin(set(texts[: len(texts) // 2]))]
    made = address_points(known.assign(households=1, address_id=None), areas)
    geocoder = Geocoder.from_frames(areas, made.rows)
    grids = geocoder.current.grids

    doors = known.drop_duplicates("text").reset_index(drop=True)
    written = [t.title().replace(" Street", " St.").replace(" Avenue", " Ave") + ", Apt 3" for t in doors["text"]]
    out = geocode(pd.DataFrame({"address": written}), geocoder)
    own = grids.codes[grids.locate(doors["lon"].to_numpy(), doors["lat"].to_numpy())]
    same = (out["grid_code"].astype(object).fillna("").to_numpy() == own).mean()

    unseen = rows[~rows["text"].isin(set(known["text"]))].reset_index(drop=True)
    near = geocode(pd.DataFrame({"address": unseen["text"]}), geocoder)
    placed = near["geocode_method"].eq("address").to_numpy()
    own = grids.codes[grids.locate(unseen["lon"].to_numpy(), unseen["lat"].to_numpy())]
    near_agree = (near["grid_code"].astype(object).fillna("").to_numpy()[placed] == own[placed]).mean()
    print(f"NYC 311: gazetteer {len(made.rows):,} doors; rewritten known doors {same:.2%} in their own"
          f" community district; unseen doors {placed.mean():.2%} placed by a door within a block,"
          f" {near_agree:.2%} of those in their own district (no borough given)")
    assert same >= 0.998
    assert near_agree >= 0.7


@pytest.mark.slow  # an end-to-end ingest, cluster or client run
def test_gazetteer_load_command_then_grids_by_households(tmp_path, empty_db, settings):
    env = {"DATABASE_URL": empty_db, "GRIDHUB_DATA_DIR": str(settings.data_dir)}
    records = points_of(SF_2018)
    csv = tmp_path / "sf_crossings.csv"
    records[["Intersection", "Latitude", "Longitude"]].to_csv(csv, index=False)
    runner = CliRunner()
    before = runner.invoke(app, ["gazetteer", "load", str(csv), "--address-field", "Intersection"], env=env)
    assert before.exit_code == 1 and "load the city's areas first" in before.output

    shapes = gpd.read_file(real_file(SF_AREAS)).to_crs(4326)
    areas = city_areas(SF_AREAS, "SF", level="community")
    with psycopg.connect(empty_db) as conn:
        replace_current_areas(conn, gpd.GeoDataFrame(areas.drop(columns="geometry"),
                                                     geometry=areas["geometry"].to_numpy(), crs=4326))
    wrong = runner.invoke(app, ["gazetteer", "load", str(csv)], env=env)
    assert wrong.exit_code == 1 and "--address-field" in wrong.output and "Traceback" not in wrong.output

    done = runner.invoke(app, ["gazetteer", "load", str(csv), "--address-field", "Intersection"], env=env)
    assert done.exit_code == 0, done.output
    assert "11,884 rows read, 2,968 addresses loaded" in done.output
    assert "608 no text or no point" in done.output and "1 outside every loaded area" in done.output
    assert scalar(empty_db, "SELECT count(DISTINCT community_code) FROM gazetteer") == len(shapes)
    again = runner.invoke(app, ["gazetteer", "load", str(csv), "--address-field", "Intersection"], env=env)
    assert "(0 new or changed), gazetteer now 2,968 addresses" in again.output

    out = tmp_path / "grids.geojson"
    grids = runner.invoke(app, ["areas", "make-grids", "--households", "20", "--out", str(out)], env=env)
    assert grids.exit_code == 0, grids.output
    cells = json.loads(out.read_text(encoding="utf-8"))["features"]
    print(grids.output.strip())
    assert len(cells) > 100  # about 2,968 / 20 cells, at least one per neighbourhood
