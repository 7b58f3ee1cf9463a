"""12345 citizen hotline: a GBK CSV export with Chinese headers and BD-09 coordinates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo import people
from demo.feeds.base import (
    CATEGORY_LABELS,
    STATUS_LABELS,
    CsvAppender,
    FeedContext,
    labels,
    local_text,
)
from demo.feeds.faults import Roles, inject
from geo.crs import from_wgs84

NAME = "hotline_12345"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ROLES = Roles(record_id="工单编号", reported_at="受理时间", closed_at="办结时间",
              category="诉求类别", text="事发地址", x="经度", y="纬度", date_format=DATE_FORMAT)


class HotlineWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        self.out = CsvAppender(ctx.feeds_dir / f"{NAME}.csv", encoding="gbk")
        self.tz = ctx.tz

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Render this feed's truth rows, inject faults, append; returns the defects."""
        x, y = from_wgs84(truth["lon"].to_numpy(), truth["lat"].to_numpy(), "BD-09")
        frame = pd.DataFrame({
            "工单编号": "RX" + truth["uid"].astype(str).str.zfill(9),
            "受理时间": local_text(truth["reported_at"], self.tz, DATE_FORMAT),
            "诉求类别": labels(truth["category"], CATEGORY_LABELS),
            "工单状态": labels(truth["status"], STATUS_LABELS),
            "办结时间": local_text(truth["closed_at"], self.tz, DATE_FORMAT),
            "来电人": people.names(truth["person_id"].to_numpy()),
            "来电号码": people.phones(truth["person_id"].to_numpy()),
            "事发地址": truth["address_text"].to_numpy(),
            "经度": np.round(x, 6).astype(str),
            "纬度": np.round(y, 6).astype(str),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, encoding="gbk", tz=self.tz)
        self.out.write(frame)
        return defects

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return "RX" + truth["uid"].astype(str).str.zfill(9)

    def close(self) -> None:
        pass
