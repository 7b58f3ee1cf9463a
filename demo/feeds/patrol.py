"""Grid workers' patrol reports: JSON Lines from the patrol app, GCJ-02 GPS and grid codes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from demo.feeds.base import FeedContext, frame_records, id_series, iso_offset
from demo.feeds.codes import category_labels, status_labels
from demo.feeds.faults import Roles, inject
from geo.crs import from_wgs84

NAME = "grid_patrol"
ROLES = Roles(record_id="report_id", reported_at="reported", closed_at="closed", category="event_type",
              text="place", x="gps.lng", y="gps.lat", date_format="iso_offset", missing=None)


class PatrolWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        ctx.feeds_dir.mkdir(parents=True, exist_ok=True)
        self.handle = open(ctx.feeds_dir / f"{NAME}.jsonl", "w", encoding="utf-8")
        self.tz = ctx.tz

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return id_series("XC", truth, 10)

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        x, y = from_wgs84(truth["lon"].to_numpy(), truth["lat"].to_numpy(), "GCJ-02")
        frame = pd.DataFrame({
            "report_id": self.record_ids(truth),
            "worker_id": "GW" + truth["grid_code"].str[-7:],
            "grid_code": truth["grid_code"].to_numpy(),
            "reported": iso_offset(truth["reported_at"], self.tz),
            "closed": iso_offset(truth["closed_at"], self.tz),
            "event_type": category_labels(NAME, truth["category"]),
            "status": status_labels(NAME, truth["status"]),
            "gps.lng": np.round(x, 6),
            "gps.lat": np.round(y, 6),
            "place": truth["address_text"].to_numpy(),
            "severity": truth["severity"].astype(int),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, tz=self.tz)
        for record in frame_records(frame):
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return defects

    def close(self) -> None:
        self.handle.close()
