"""Police dispatch (110): records behind a paged REST API, GCJ-02 coordinates, epoch times.

The writer streams the API's backing store: JSON Lines in updated_at order, plus a sparse
index (every INDEX_STEP-th record's updated_at and byte offset) so the demo server can page
from any watermark without holding the feed in memory.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from demo import people
from demo.feeds.base import FeedContext, epoch_ms, frame_records, id_series, iso_offset
from demo.feeds.codes import category_labels, status_labels
from demo.feeds.faults import Roles, inject
from geo.crs import from_wgs84

NAME = "police_110"
INDEX_STEP = 1000
ROLES = Roles(record_id="incident_id", reported_at="alarm_time", closed_at="closed_time",
              category="type_code", text="location.address", x="location.lng", y="location.lat",
              date_format="epoch_ms", closed_format="iso_offset", missing=None)


class PoliceWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        self.tz = ctx.tz
        folder = ctx.feeds_dir / NAME
        folder.mkdir(parents=True, exist_ok=True)
        self.records_path = folder / "incidents.jsonl"
        self.index_path = folder / "index.json"
        self.handle = open(self.records_path, "wb")
        self.index: list[tuple[str, int, int]] = []  # (updated_at, byte offset, record number)
        self.count = 0

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return id_series("JQ", truth, 10)

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Render, inject faults, append in updated_at order; returns the defects."""
        x, y = from_wgs84(truth["lon"].to_numpy(), truth["lat"].to_numpy(), "GCJ-02")
        person = truth["person_id"].to_numpy()
        # Updated a few minutes after the alarm; never decreasing, as the API serves it.
        updated = (truth["reported_at"] + pd.to_timedelta(rng.integers(60, 600, len(truth)), unit="s")).cummax()
        frame = pd.DataFrame({
            "incident_id": self.record_ids(truth),
            "alarm_time": epoch_ms(truth["reported_at"]).astype(object),
            "type_code": category_labels(NAME, truth["category"]),
            "status": status_labels(NAME, truth["status"]),
            "closed_time": iso_offset(truth["closed_at"], self.tz),
            "location.lng": np.round(x, 6),
            "location.lat": np.round(y, 6),
            "location.address": truth["address_text"].to_numpy(),
            "caller.name": people.names(person),
            "caller.phone": people.phones(person),
            "updated_at": iso_offset(updated, self.tz).to_numpy(),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, tz=self.tz)
        offset = self.handle.tell()
        for record in frame_records(frame):
            if self.count % INDEX_STEP == 0:
                self.index.append((record["updated_at"], offset, self.count))
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            self.handle.write(line)
            offset += len(line)
            self.count += 1
        return defects

    def close(self) -> None:
        self.handle.close()
        self.index_path.write_text(json.dumps({"count": self.count, "step": INDEX_STEP,
                                               "index": self.index}))
