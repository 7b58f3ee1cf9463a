"""What every demo feed writer shares: streaming to one file, and the truth's labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.case import Category, Status

CATEGORY_LABELS = {
    Category.LABOUR: "劳动保障", Category.NEIGHBOURHOOD: "邻里纠纷", Category.FAMILY: "婚姻家庭",
    Category.PROPERTY_MANAGEMENT: "物业管理", Category.REAL_ESTATE: "房产交易",
    Category.LAND_CONSTRUCTION: "征地拆迁", Category.MEDICAL: "医疗卫生",
    Category.TRAFFIC: "交通出行", Category.CONSUMER: "消费维权",
    Category.PUBLIC_SECURITY: "治安秩序", Category.ENVIRONMENT: "环境保护", Category.OTHER: "其他",
}
STATUS_LABELS = {
    Status.REPORTED: "待受理", Status.ACCEPTED: "已受理", Status.IN_MEDIATION: "调解中",
    Status.RESOLVED: "已办结", Status.UNRESOLVED: "未解决", Status.REFERRED: "已转办",
    Status.CLOSED: "已关闭",
}


def labels(values: pd.Series | np.ndarray, mapping: dict) -> np.ndarray:
    """Map canonical codes to an agency's labels (codes are StrEnum, so plain strings match)."""
    table = {str(k): v for k, v in mapping.items()}
    return np.array([table.get(v) if isinstance(v, str) else None for v in values], dtype=object)


def local_text(times: pd.Series, tz: str, fmt: str) -> pd.Series:
    """Timestamps as the agency writes them: local clock, its own format, '' when missing."""
    return times.dt.tz_convert(tz).dt.strftime(fmt).fillna("")


class CsvAppender:
    """Appends chunks to one CSV file, writing the header once."""

    def __init__(self, path: Path, encoding: str, bom: bool = False):
        self.path = path
        self.encoding = "utf-8-sig" if bom else encoding
        self.started = False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.path, mode="a" if self.started else "w", header=not self.started,
                     index=False, encoding=self.encoding if not self.started else _no_bom(self.encoding))
        self.started = True


def _no_bom(encoding: str) -> str:
    # Only the first write may carry a byte-order mark.
    return "utf-8" if encoding == "utf-8-sig" else encoding
