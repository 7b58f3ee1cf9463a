"""Each reader streams its format in chunks of text fields, numbered across the whole input."""

from __future__ import annotations

import json

import geopandas as gpd
import openpyxl
import pandas as pd
import psycopg
import pytest
import shapely
from psycopg import sql

from connectors.readers import POSITION, ReadContext, read_chunks
from connectors.spec import SourceSpec
from core.errors import SourceError
from demo.feeds.police_api import PoliceApi
from demo.feeds.services import sqlalchemy_url


def _spec(fmt: str, location: str, **extra) -> SourceSpec:
    return SourceSpec.model_validate({
        "name": "fixture", "agency": "test", "kind": "dispute", "format": fmt, "location": location,
        "primary_key": "id", "fields": {"source_record_id": {"from": "id"},
                                        "reported_at": {"from": "t", "parse": "datetime"}},
        **extra})


def _read(spec: SourceSpec, tmp_path, **context) -> list[pd.DataFrame]:
    return list(read_chunks(spec, ReadContext(tmp_path, **context)))


def test_csv_gbk_with_quoted_newlines_and_delimiter_in_chunks(tmp_path):
    frame = pd.DataFrame({"id": [f"A{i}" for i in range(7)], "t": ["2025-01-01"] * 7,
                          "备注": ["多行\n内容;含分号", "", "普通", "x", "y", "z", "末行"]})
    frame.to_csv(tmp_path / "a.csv", sep=";", index=False, encoding="gbk")
    chunks = _read(_spec("csv", "{data_dir}/a.csv", encoding="gbk", delimiter=";", chunk_rows=3), tmp_path)
    assert [len(c) for c in chunks] == [3, 3, 1]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole[POSITION].tolist() == list(range(7))
    assert whole.loc[0, "备注"] == "多行\n内容;含分号" and whole.loc[1, "备注"] == ""


def test_csv_bom_glob_of_files_and_clear_errors(tmp_path):
    for day in (1, 2):
        pd.DataFrame({"id": [f"{day}-a", f"{day}-b"], "t": ["x", "y"]}).to_csv(
            tmp_path / f"export_{day}.csv", index=False, encoding="utf-8-sig")
    chunks = _read(_spec("csv", "{data_dir}/export_*.csv"), tmp_path)
    whole = pd.concat(chunks, ignore_index=True)
    assert list(whole.columns[:2]) == ["id", "t"]  # no BOM glued to the first header
    assert whole["id"].tolist() == ["1-a", "1-b", "2-a", "2-b"]
    assert whole[POSITION].tolist() == [0, 1, 2, 3]
    with pytest.raises(SourceError, match="file not found"):
        _read(_spec("csv", "{data_dir}/missing.csv"), tmp_path)
    (tmp_path / "bad.csv").write_bytes("id,t\n\xff\xfe,1\n".encode("latin-1"))
    with pytest.raises(SourceError, match="cannot parse .*bad.csv as utf-8 CSV"):
        _read(_spec("csv", "{data_dir}/bad.csv"), tmp_path)


def test_json_document_and_json_lines_flatten_nested_objects(tmp_path):
    records = [{"id": 1, "t": "2025-01-01", "gps": {"lng": 121.5, "lat": 29.9}, "ok": True},
               {"id": 2, "t": None, "gps": {"lng": 121.25, "lat": 30.0}, "extra": [1, 2]}]
    (tmp_path / "a.json").write_text(json.dumps({"meta": {}, "data": {"rows": records}}))
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    doc = pd.concat(_read(_spec("json", "{data_dir}/a.json", options={"records_path": "data.rows"},
                                chunk_rows=1), tmp_path))
    lines = pd.concat(_read(_spec("jsonl", "{data_dir}/a.jsonl"), tmp_path))
    for frame in (doc, lines):
        assert frame["gps.lng"].tolist() == ["121.5", "121.25"]
        assert frame["id"].tolist() == ["1", "2"] and frame["t"].tolist() == ["2025-01-01", None]
        assert frame["ok"].tolist()[0] == "true"
    with pytest.raises(SourceError, match="no 'rows' on the records_path"):
        _read(_spec("json", "{data_dir}/a.json", options={"records_path": "rows"}), tmp_path)


def test_xlsx_sheet_streamed_with_dates_and_numbers_as_text(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "案件"
    sheet.append(["id", "t", "serial", "when"])
    sheet.append(["C1", "2026年3月5日 14时22分", 46086.5, pd.Timestamp("2026-03-05 14:22").to_pydatetime()])
    sheet.append(["C2", None, 7, None])
    sheet.append([None, None, None, None])
    book.save(tmp_path / "a.xlsx")
    frame = pd.concat(_read(_spec("xlsx", "{data_dir}/a.xlsx", options={"sheet": "案件"}), tmp_path))
    assert frame["id"].tolist() == ["C1", "C2"]
    assert frame["serial"].tolist() == ["46086.5", "7"]
    assert frame["when"].tolist() == ["2026-03-05 14:22:00", None]
    with pytest.raises(SourceError, match="no sheet 'Sheet9'"):
        _read(_spec("xlsx", "{data_dir}/a.xlsx", options={"sheet": "Sheet9"}), tmp_path)


@pytest.mark.parametrize("driver,suffix", [("GeoJSON", "geojson"), ("GPKG", "gpkg"),
                                           ("ESRI Shapefile", "shp")])
def test_geofiles_give_attributes_and_point_coordinates(tmp_path, driver, suffix):
    frame = gpd.GeoDataFrame({"id": ["U1", "U2", "U3"], "t": ["2025-01-01 08:00:00"] * 3},
                             geometry=shapely.points([[121.1, 29.9], [121.2, 29.95], [121.3, 30.0]]),
                             crs="EPSG:4490")
    frame.to_file(tmp_path / f"a.{suffix}", driver=driver)
    chunks = _read(_spec("geofile", f"{{data_dir}}/a.{suffix}", chunk_rows=2), tmp_path)
    assert [len(c) for c in chunks] == [2, 1]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["id"].tolist() == ["U1", "U2", "U3"]
    assert whole["t"].tolist()[0].startswith("2025-01-01")
    assert [float(v) for v in whole["_x"]] == [121.1, 121.2, 121.3]
    assert [float(v) for v in whole["_y"]] == [29.9, 29.95, 30.0]


def _police_spec(api: PoliceApi, paging: str, **options) -> SourceSpec:
    return _spec("rest", "${API}/api/v1/incidents", watermark="updated_at", chunk_rows=250,
                 options={"paging": paging, "page_size": 100, "backoff_s": 0.0,
                          "headers": {"Authorization": "Bearer ${TOKEN}"}, **options})


@pytest.mark.parametrize("paging", ["page", "offset", "cursor"])
def test_rest_pages_through_everything_with_retries(demo_dir, tmp_path, paging):
    folder = demo_dir / "demo" / "feeds" / "police_110"
    with PoliceApi(folder, token="t0ken", flaky=0.2, seed=3) as api:
        spec = _police_spec(api, paging, retries=8)
        chunks = _read(spec, tmp_path, variables={"API": api.url, "TOKEN": "t0ken"})
        assert api.refused > 0  # it did answer 429 / 503 sometimes, and the reader retried
    whole = pd.concat(chunks, ignore_index=True)
    assert len(whole) == api.store.count and len(chunks[0]) == 300
    lines = (folder / "incidents.jsonl").read_text(encoding="utf-8").splitlines()
    assert whole["incident_id"].tolist() == [json.loads(line)["incident_id"] for line in lines]
    assert {"location.lng", "caller.phone", "updated_at"} <= set(whole.columns)


def test_rest_watermark_auth_and_giving_up(demo_dir, tmp_path):
    folder = demo_dir / "demo" / "feeds" / "police_110"
    with PoliceApi(folder, token="t0ken") as api:
        spec = _police_spec(api, "cursor")
        everything = pd.concat(_read(spec, tmp_path, variables={"API": api.url, "TOKEN": "t0ken"}))
        mark = everything["updated_at"].iloc[len(everything) * 2 // 3]
        later = pd.concat(_read(spec, tmp_path, variables={"API": api.url, "TOKEN": "t0ken"},
                                watermark=mark))
        since = pd.to_datetime(everything["updated_at"], format="ISO8601") >= pd.Timestamp(mark)
        assert later["incident_id"].tolist() == everything.loc[since, "incident_id"].tolist()
        with pytest.raises(SourceError, match="refused the credentials"):
            _read(spec, tmp_path, variables={"API": api.url, "TOKEN": "wrong"})
    with PoliceApi(folder, token="t0ken", flaky=1.0) as api:
        with pytest.raises(SourceError, match="failed 3 times"):
            _read(_police_spec(api, "cursor", retries=2), tmp_path,
                  variables={"API": api.url, "TOKEN": "t0ken"})


def test_sql_table_incremental_on_its_watermark_column(db_url, tmp_path):
    with psycopg.connect(db_url) as conn:
        conn.execute(sql.SQL("CREATE TABLE legacy (id text, t text, n numeric, updated timestamptz)"))
        conn.execute("INSERT INTO legacy SELECT 'L' || i, '20250101', i * 1.5,"
                     " timestamptz '2025-01-01 00:00+08' + i * interval '1 hour'"
                     " FROM generate_series(1, 25) i")
    spec = _spec("sql", "${DB}", watermark="updated", chunk_rows=10, options={"table": "legacy"})
    variables = {"DB": sqlalchemy_url(db_url)}
    chunks = _read(spec, tmp_path, variables=variables)
    assert [len(c) for c in chunks] == [10, 10, 5]
    whole = pd.concat(chunks, ignore_index=True)
    assert whole["id"].tolist() == [f"L{i}" for i in range(1, 26)]
    assert whole.loc[0, "n"] == "1.5"
    later = pd.concat(_read(spec, tmp_path, variables=variables, watermark="2025-01-01T15:00:00+00:00"))
    assert later["id"].tolist() == [f"L{i}" for i in range(23, 26)]  # >= the mark: ties re-read
    with pytest.raises(SourceError, match="no table 'missing'"):
        _read(_spec("sql", "${DB}", options={"table": "missing"}), tmp_path, variables=variables)
