"""People's mediation committees: monthly-style JSON exports with grid codes and outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo import people
from demo.feeds.base import FeedContext, JsonArrayWriter, frame_records, id_series, local_text
from demo.feeds.codes import category_labels, status_labels
from demo.feeds.faults import Roles, inject

NAME = "people_mediation"
DATE_FORMAT = "%Y/%m/%d %H:%M"
ROLES = Roles(record_id="caseNo", reported_at="acceptTime", closed_at="closeTime",
              category="disputeType", text="place", date_format=DATE_FORMAT, missing=None)
OUTCOMES = {"settled": "settled", "not_settled": "not settled"}


class MediationWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        self.folder = ctx.feeds_dir / NAME
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ctx = ctx
        self.part = 0

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return id_series("RMTJ-", truth, 9)

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        names = self.ctx.area_names
        person = truth["person_id"].to_numpy()
        frame = pd.DataFrame({
            "caseNo": self.record_ids(truth),
            "committee": [names.get(c, "") + "人民调解委员会" for c in truth["community_code"]],
            "gridCode": truth["grid_code"].to_numpy(),
            "disputeType": category_labels(NAME, truth["category"]),
            "acceptTime": local_text(truth["reported_at"], self.ctx.tz, DATE_FORMAT).replace("", None),
            "closeTime": local_text(truth["closed_at"], self.ctx.tz, DATE_FORMAT).replace("", None),
            "state": status_labels(NAME, truth["status"]),
            "outcome": truth["outcome"].map(OUTCOMES),
            "place": truth["address_text"].to_numpy(),
            "parties.count": truth["parties"].astype(int),
            "parties.applicant": people.names(person),
            "parties.idNumber": people.id_numbers(person),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, tz=self.ctx.tz)
        end = truth["reported_at"].max().tz_convert(self.ctx.tz) if len(truth) else pd.Timestamp.now()
        out = JsonArrayWriter(self.folder / f"{NAME}_{self.part:04d}.json", end.strftime("%Y-%m-%d"))
        out.write(frame_records(frame))
        out.close()
        self.part += 1
        return defects

    def close(self) -> None:
        pass
