"""What every demo feed writer shares: streaming to one file, and the truth's labels."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.case import Category, Status
from demo.feeds.address_noise import AddressReadings


@dataclass(frozen=True)
class FeedContext:
    """What every writer is given: where to write, the city's clock, its area names and what
    a written address can be read as (for writers that vary addresses)."""

    feeds_dir: Path
    tz: str
    area_names: dict[str, str]  # area code -> name, every level
    readings: AddressReadings | None = None


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

    def write(self, frame: pd.DataFrame, sep: str = ",") -> None:
        frame.to_csv(self.path, mode="a" if self.started else "w", header=not self.started,
                     index=False, sep=sep,
                     encoding=self.encoding if not self.started else _no_bom(self.encoding))
        self.started = True


def _no_bom(encoding: str) -> str:
    # Only the first write may carry a byte-order mark.
    return "utf-8" if encoding == "utf-8-sig" else encoding


def id_series(prefix: str, truth: pd.DataFrame, width: int = 9) -> pd.Series:
    """Record ids of a feed: a prefix and the case's zero-padded number in the truth."""
    return prefix + truth["uid"].astype(str).str.zfill(width)


def chinese_time(times: pd.Series, tz: str) -> pd.Series:
    """Times as Chinese clerks write them: 2026年3月5日 14时22分 ('' when missing)."""
    local = times.dt.tz_convert(tz)
    text = (local.dt.year.astype("Int64").astype(str) + "年" + local.dt.month.astype("Int64").astype(str)
            + "月" + local.dt.day.astype("Int64").astype(str) + "日 " + local.dt.strftime("%H时%M分"))
    return text.where(times.notna(), "")


def excel_serial(times: pd.Series, tz: str) -> pd.Series:
    """Times as Excel serial day numbers of the local clock (NaN when missing)."""
    local = times.dt.tz_convert(tz).dt.tz_localize(None)
    return ((local - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)).round(6)


def epoch_ms(times: pd.Series) -> pd.Series:
    """Times as Unix epoch milliseconds (nullable integers)."""
    values = times.astype("datetime64[ms, UTC]").astype("int64") // 1
    return pd.Series(values, index=times.index).astype("Int64").where(times.notna(), pd.NA)


def iso_offset(times: pd.Series, tz: str) -> pd.Series:
    """Times in ISO 8601 with the local offset: 2026-03-05T14:22:00+08:00 (None when missing)."""
    local = times.dt.tz_convert(tz)
    text = local.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d{2})(\d{2})$", r"\1:\2", regex=True)
    return text.astype(object).where(times.notna(), None)


def json_value(value):
    """A rendered cell as a JSON value: NaN and pd.NA become null, numpy scalars plain."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


class JsonArrayWriter:
    """Streams records into one JSON document {"exported_at": ..., "records": [...]}."""

    def __init__(self, path: Path, exported_at: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "w", encoding="utf-8")
        self.handle.write(f'{{"exported_at": {json.dumps(exported_at)}, "records": [\n')
        self.first = True

    def write(self, records: list[dict]) -> None:
        for record in records:
            self.handle.write(("" if self.first else ",\n") + json.dumps(record, ensure_ascii=False))
            self.first = False

    def close(self) -> None:
        self.handle.write("\n]}\n")
        self.handle.close()


def frame_records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with JSON-ready values; dotted column names become nested objects."""
    columns = list(frame.columns)
    records = []
    for row in frame.itertuples(index=False, name=None):
        record: dict = {}
        for name, value in zip(columns, row, strict=True):
            node = record
            *parents, leaf = name.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = json_value(value)
        records.append(record)
    return records
