"""Court pre-litigation mediation: Excel workbooks, addresses only, Chinese dates.

One workbook per generated chunk (an .xlsx sheet holds at most 1,048,576 rows), written in
openpyxl's streaming mode. The filing time is Chinese text; the closing date an Excel serial
number, as clerks' spreadsheets hold them.
"""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd

from demo import people
from demo.feeds.address_noise import vary_written
from demo.feeds.base import FeedContext, chinese_time, excel_serial
from demo.feeds.codes import category_labels, status_labels
from demo.feeds.faults import Roles, inject

NAME = "court_mediation"
HEADER = ("案号", "收案时间", "结案日期", "纠纷类型", "案件状态", "调解结果", "申请人",
          "联系电话", "纠纷发生地", "标的额", "当事人数")
ROLES = Roles(record_id="案号", reported_at="收案时间", closed_at="结案日期", category="纠纷类型",
              text="纠纷发生地", date_format="chinese", closed_format="excel", missing=None)
OUTCOME_LABELS = {"settled": "调解成功", "not_settled": "调解不成功"}


class CourtWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        self.folder = ctx.feeds_dir / NAME
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tz = ctx.tz
        self.readings = ctx.readings
        self.part = 0

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        year = truth["reported_at"].dt.tz_convert(self.tz).dt.year.astype(str)
        return "(" + year + ")岸诉前调" + truth["uid"].astype(str).str.zfill(8) + "号"

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        person = truth["person_id"].to_numpy()
        written, places = vary_written(truth["address_text"].to_numpy(), rng)
        truth["address_ambiguous"] = self.readings.ambiguous(places, truth["community_code"])
        amount = truth["amount"].map(lambda v: None if pd.isna(v) else f"{v:,.2f}")
        frame = pd.DataFrame({
            "案号": self.record_ids(truth),
            "收案时间": chinese_time(truth["reported_at"], self.tz).replace("", None),
            "结案日期": excel_serial(truth["closed_at"], self.tz).astype(object),
            "纠纷类型": category_labels(NAME, truth["category"]),
            "案件状态": status_labels(NAME, truth["status"]),
            "调解结果": truth["outcome"].map(OUTCOME_LABELS),
            "申请人": people.names(person),
            "联系电话": people.phones(person),
            "纠纷发生地": written,
            "标的额": amount,
            "当事人数": truth["parties"].astype(int),
        })
        frame, defects = inject(frame, ROLES, NAME, rng, tz=self.tz)
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("诉前调解案件")
        sheet.append(HEADER)
        for row in frame.itertuples(index=False, name=None):
            sheet.append([None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in row])
        book.save(self.folder / f"{NAME}_{self.part:04d}.xlsx")
        self.part += 1
        return defects

    def close(self) -> None:
        pass
