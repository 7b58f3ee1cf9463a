"""Letters and visits (petitions): CSV in UTF-8 with a BOM, located only by district name."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demo import people
from demo.feeds.base import CsvAppender, FeedContext, id_series, local_text
from demo.feeds.codes import category_labels, status_labels
from demo.feeds.faults import Roles, inject

NAME = "petitions"
DATE_FORMAT = "%Y-%m-%d"
ROLES = Roles(record_id="信访件编号", reported_at="登记日期", closed_at="办结日期",
              category="问题类别", date_format=DATE_FORMAT)
SUMMARIES = ("反映{cat}问题，要求尽快处理。", "来访人称：\n{cat}问题多次反映未果，\"希望\"给予答复。",
             "关于{cat}的诉求，已转相关部门。")


class PetitionsWriter:
    name = NAME

    def __init__(self, ctx: FeedContext):
        self.out = CsvAppender(ctx.feeds_dir / f"{NAME}.csv", encoding="utf-8", bom=True)
        self.ctx = ctx

    def record_ids(self, truth: pd.DataFrame) -> pd.Series:
        return id_series("XF", truth, 9)

    def write(self, truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        person = truth["person_id"].to_numpy()
        labels = category_labels(NAME, truth["category"])
        template = rng.integers(0, len(SUMMARIES), len(truth))
        frame = pd.DataFrame({
            "信访件编号": self.record_ids(truth),
            "登记日期": local_text(truth["reported_at"], self.ctx.tz, DATE_FORMAT),
            "问题类别": labels,
            "办理状态": status_labels(NAME, truth["status"]),
            "办结日期": local_text(truth["closed_at"], self.ctx.tz, DATE_FORMAT),
            "所属区县": [self.ctx.area_names[c] for c in truth["district_code"]],
            "信访人": people.names(person),
            "身份证号": people.id_numbers(person),
            "诉求摘要": [SUMMARIES[t].format(cat=c) for t, c in zip(template, labels, strict=True)],
        })
        frame, defects = inject(frame, ROLES, NAME, rng, tz=self.ctx.tz)
        self.out.write(frame)
        return defects

    def close(self) -> None:
        pass
