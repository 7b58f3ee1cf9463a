"""Labour inspection: GB18030 CSV, semicolon-separated, amounts in dispute as clerks type them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo import people
from demo.feeds.address_noise import vary_written
from demo.feeds.base import CsvAppender, FeedContext, id_series, local_text
from demo.feeds.codes import LABOUR_CAUSES, status_labels
from demo.feeds.faults import Roles, inject

NAME = "labour_inspection"
DATE_FORMAT = "%Y/%m/%d %H:%M"
ROLES = Roles(record_id="案件编号", reported_at="立案时间", closed_at="结案时间", category="案由",
              text="用人单位地址", date_format=DATE_FORMAT)
_FULL_WIDTH = str.maketrans("0123456789.,", "０１２３４５６７８９．，")


class LabourWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        self.out = CsvAppender(ctx.feeds_dir / f"{NAME}.csv", encoding="gb18030")
        self.tz = ctx.tz
        self.readings = ctx.readings

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return id_series("LJ", truth, 9)

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        person = truth["person_id"].to_numpy()
        n = len(truth)
        cause = np.array(LABOUR_CAUSES, dtype=object)[rng.integers(0, len(LABOUR_CAUSES), n)]
        amount = amount_text(truth["amount"].to_numpy(), rng)
        written, places = vary_written(truth["address_text"].to_numpy(), rng)
        truth["address_ambiguous"] = self.readings.ambiguous(places, truth["community_code"])
        frame = pd.DataFrame({
            "案件编号": self.record_ids(truth),
            "立案时间": local_text(truth["reported_at"], self.tz, DATE_FORMAT),
            "结案时间": local_text(truth["closed_at"], self.tz, DATE_FORMAT),
            "案由": cause,
            "办理状态": status_labels(NAME, truth["status"]),
            "涉及金额": amount,
            "涉及人数": truth["parties"].astype(int).astype(str) + "人",
            "用人单位地址": written,
            "投诉人电话": people.phones(person),
            "案情摘要": np.where(rng.random(n) < 0.3, "用人单位拖欠工资；\n多次协商未果", "拖欠工资"),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, encoding="gb18030", tz=self.tz)
        self.out.write(frame, sep=";")
        return defects

    def close(self) -> None:
        pass


def amount_text(amounts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Amounts as typed: 12,500.00元, 1.25万元, full-width digits, or blank when none."""
    style = rng.integers(0, 4, len(amounts))
    out = np.empty(len(amounts), dtype=object)
    for i, (value, how) in enumerate(zip(amounts, style, strict=True)):
        if not np.isfinite(value):
            out[i] = ""
        elif how == 0:
            out[i] = f"{value:,.2f}元"
        elif how == 1 and value >= 10_000:
            out[i] = f"{value / 10_000:.6f}".rstrip("0").rstrip(".") + "万元"
        elif how == 2:
            out[i] = f"{value:.2f}".translate(_FULL_WIDTH)
        else:
            out[i] = f"{value:.2f}"
    return out
