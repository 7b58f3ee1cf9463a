"""One district's own case system: a table in another database (loaded by demo services).

The generator writes the table's rows as a plain CSV export; `demo.feeds.services` copies it into
a second database on the same PostgreSQL server. Like many legacy systems it keeps times as
text (yyyymmddHHMMSS) and codes as small integers; updated_at is a real timestamptz.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo import people
from demo.feeds.base import CsvAppender, FeedContext, id_series, local_text
from demo.feeds.codes import category_labels, status_labels
from demo.feeds.faults import Roles, inject

NAME = "district_system"
TABLE = "dispute_cases"
DATE_FORMAT = "%Y%m%d%H%M%S"
ROLES = Roles(record_id="case_no", reported_at="report_time", closed_at="close_time",
              category="category_code", text="address", x="lon", y="lat", date_format=DATE_FORMAT,
              bad_date="20251345256100")
# The table as the district system defines it (columns in export order).
COLUMNS = {
    "case_no": "text", "report_time": "varchar(14)", "close_time": "varchar(14)",
    "category_code": "text", "status_code": "text", "mediation_result": "text",
    "grid_code": "text", "address": "text", "lon": "double precision", "lat": "double precision",
    "amount": "numeric(14, 2)", "party_count": "integer", "reporter_phone": "text",
    "updated_at": "timestamptz",
}


class DistrictWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        self.out = CsvAppender(ctx.feeds_dir / f"{NAME}.csv", encoding="utf-8")
        self.tz = ctx.tz

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return id_series("D02-", truth, 9)

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        updated = truth["closed_at"].fillna(truth["reported_at"]).dt.tz_convert(self.tz)
        frame = pd.DataFrame({
            "case_no": self.record_ids(truth),
            "report_time": local_text(truth["reported_at"], self.tz, DATE_FORMAT),
            "close_time": local_text(truth["closed_at"], self.tz, DATE_FORMAT),
            "category_code": category_labels(NAME, truth["category"]),
            "status_code": status_labels(NAME, truth["status"]),
            "mediation_result": truth["outcome"].map({"settled": "1", "not_settled": "2"}),
            "grid_code": truth["grid_code"].to_numpy(),
            "address": truth["address_text"].to_numpy(),
            "lon": np.round(truth["lon"].to_numpy(), 6).astype(str),
            "lat": np.round(truth["lat"].to_numpy(), 6).astype(str),
            "amount": truth["amount"].round(2),
            "party_count": truth["parties"].astype(int),
            "reporter_phone": people.phones(truth["person_id"].to_numpy()),
            "updated_at": updated.dt.strftime("%Y-%m-%d %H:%M:%S%z"),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, tz=self.tz)
        self.out.write(frame)
        return defects

    def close(self) -> None:
        pass
