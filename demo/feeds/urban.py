"""Urban management (城管): point events as GeoJSON in CGCS2000 (EPSG:4490), streamed.

The file carries the old-style GeoJSON "crs" member that GDAL honours, as exports from
Chinese GIS platforms do.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from demo.feeds.base import FeedContext, id_series, json_value, local_text
from demo.feeds.codes import category_labels, status_labels
from demo.feeds.faults import Roles, inject
from geo.crs import from_wgs84

NAME = "urban_management"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ROLES = Roles(record_id="EVENT_ID", reported_at="REPORT_TIME", closed_at="CLOSE_TIME",
              category="CATEGORY", text="ADDRESS", x="_x", y="_y", date_format=DATE_FORMAT,
              missing=None)
HEAD = ('{"type": "FeatureCollection", "name": "urban_management_events", "crs": {"type": "name",'
        ' "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}, "features": [\n')


class UrbanWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        ctx.feeds_dir.mkdir(parents=True, exist_ok=True)
        self.handle = open(ctx.feeds_dir / f"{NAME}.geojson", "w", encoding="utf-8")
        self.handle.write(HEAD)
        self.first = True
        self.tz = ctx.tz

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return id_series("CG", truth, 10)

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        x, y = from_wgs84(truth["lon"].to_numpy(), truth["lat"].to_numpy(), "EPSG:4490")
        frame = pd.DataFrame({
            "EVENT_ID": self.record_ids(truth),
            "REPORT_TIME": local_text(truth["reported_at"], self.tz, DATE_FORMAT).replace("", None),
            "CLOSE_TIME": local_text(truth["closed_at"], self.tz, DATE_FORMAT).replace("", None),
            "CATEGORY": category_labels(NAME, truth["category"]),
            "STATUS": status_labels(NAME, truth["status"]),
            "ADDRESS": truth["address_text"].to_numpy(),
            "SEVERITY": truth["severity"].astype(int),
            "_x": np.round(x, 7),
            "_y": np.round(y, 7),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, tz=self.tz)
        properties = [c for c in frame.columns if not c.startswith("_")]
        for row in frame.itertuples(index=False, name=None):
            values = dict(zip(frame.columns, row, strict=True))
            feature = {"type": "Feature",
                       "properties": {k: json_value(values[k]) for k in properties},
                       "geometry": {"type": "Point", "coordinates": [float(values["_x"]), float(values["_y"])]}}
            self.handle.write(("" if self.first else ",\n") + json.dumps(feature, ensure_ascii=False))
            self.first = False
        return defects

    def close(self) -> None:
        self.handle.write("\n]}\n")
        self.handle.close()
