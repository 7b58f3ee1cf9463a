"""Injecting realistic faults into a rendered feed, and recording each one in the truth.

A feed writer renders the truth into the agency's columns, then calls `inject` with the
column that plays each role. Every fault is written to defects.csv with the canonical field
it hits and the handling GridHub is expected to give it: quarantine, repair, or skip as a
duplicate. A row gets at most one fault, and a fault always really breaks what it says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# fault -> expected handling
FAULTS = {
    "missing_required": "quarantine",
    "unparseable_date": "quarantine",
    "unknown_code": "quarantine",
    "mojibake": "quarantine",
    "future_timestamp": "quarantine",
    "closed_before_reported": "quarantine",
    "swapped_coordinates": "repair",
    "zero_coordinates": "repair",
    "outside_city": "repair",
    "exact_duplicate": "duplicate",
    "near_duplicate": "duplicate",
}
# fault -> the canonical case field it damages
FAULT_FIELD = {
    "missing_required": "reported_at", "unparseable_date": "reported_at",
    "unknown_code": "category", "mojibake": "address", "future_timestamp": "reported_at",
    "closed_before_reported": "closed_at", "swapped_coordinates": "src_x",
    "zero_coordinates": "src_x", "outside_city": "src_x", "exact_duplicate": "source_record_id",
    "near_duplicate": "source_record_id",
}
DEFECT_COLUMNS = ["feed", "source_record_id", "fault", "field", "expected"]
FUTURE = pd.Timestamp("2031-06-01 09:30:00")
EXCEL_EPOCH = pd.Timestamp("1899-12-30")


@dataclass(frozen=True)
class Roles:
    """Which rendered column plays which part, for the faults a feed can carry.

    Time formats are strftime patterns, or "epoch_ms", "excel" (serial days), "iso_offset",
    "chinese" (2026年3月5日 14时22分).
    """

    record_id: str
    reported_at: str
    closed_at: str | None = None
    category: str | None = None
    text: str | None = None  # a free-text column holding the address, which mojibake can hit
    x: str | None = None
    y: str | None = None
    date_format: str = "%Y-%m-%d %H:%M:%S"
    closed_format: str | None = None  # when closed_at is written differently from reported_at
    missing: object = ""  # how this format writes a missing value
    outside_shift: float = 3.0  # added to x to move a point out of the city
    bad_date: str = "2025-13-45 25:61"  # a time no calendar has, as this feed would write it


def inject(frame: pd.DataFrame, roles: Roles, feed: str, rng: np.random.Generator,
           rate: float = 0.012, encoding: str = "utf-8", tz: str = "Asia/Shanghai",
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (faulty frame, defects) with about `rate` of rows given one fault each."""
    frame = frame.copy()
    possible = [f for f in FAULTS if _applies(f, roles)]
    hit = np.flatnonzero(rng.random(len(frame)) < rate)
    kinds = rng.choice(possible, size=len(hit)) if len(hit) else np.array([], dtype=object)
    closed_format = roles.closed_format or roles.date_format
    extra_rows = []
    for row, fault in zip(hit, kinds, strict=True):
        i = frame.index[row]
        if fault == "missing_required":
            frame.at[i, roles.reported_at] = roles.missing
        elif fault == "unparseable_date":
            frame.at[i, roles.reported_at] = roles.bad_date
        elif fault == "unknown_code":
            frame.at[i, roles.category] = "未知类别" + str(int(rng.integers(10, 99)))
        elif fault == "mojibake":
            frame.at[i, roles.text] = garble(str(frame.at[i, roles.text]), encoding)
        elif fault == "future_timestamp":
            frame.at[i, roles.reported_at] = render_time(FUTURE, roles.date_format, tz)
            if roles.closed_at:  # an open case, so that only the future time is wrong
                frame.at[i, roles.closed_at] = roles.missing
        elif fault == "closed_before_reported":
            reported = parse_time(frame.at[i, roles.reported_at], roles.date_format, tz)
            frame.at[i, roles.closed_at] = render_time(reported - pd.Timedelta(days=3), closed_format, tz)
        elif fault == "swapped_coordinates":
            frame.loc[i, [roles.x, roles.y]] = frame.loc[i, [roles.y, roles.x]].to_numpy(copy=True)  # copy: a view would alias x and y
        elif fault == "zero_coordinates":
            zero = "0" if isinstance(frame.at[i, roles.x], str) else 0.0
            frame.loc[i, [roles.x, roles.y]] = [zero, zero]
        elif fault == "outside_city":
            frame.at[i, roles.x] = _shift(frame.at[i, roles.x], roles.outside_shift)
        elif fault in ("exact_duplicate", "near_duplicate"):
            copy = frame.loc[[i]].copy()
            if fault == "near_duplicate":  # re-exported with cosmetic differences only
                copy[roles.record_id] = " " + copy[roles.record_id].astype(str) + " "
            extra_rows.append(copy)
    defects = pd.DataFrame({
        "feed": feed,
        "source_record_id": frame.iloc[hit][roles.record_id].astype(str).str.strip().to_numpy(),
        "fault": kinds,
        "field": [FAULT_FIELD[k] for k in kinds],
        "expected": [FAULTS[k] for k in kinds],
    })
    if extra_rows:
        frame = pd.concat([frame, *extra_rows]).sort_index(kind="stable").reset_index(drop=True)
    return frame, defects


def render_time(moment: pd.Timestamp, fmt: str, tz: str):
    """A local wall-clock time (naive) or an aware one, written in the feed's format."""
    local = moment.tz_convert(tz) if moment.tzinfo else moment.tz_localize(tz)
    if fmt == "epoch_ms":
        return int(local.timestamp() * 1000)
    if fmt == "excel":
        return round((local.tz_localize(None) - EXCEL_EPOCH) / pd.Timedelta(days=1), 6)
    if fmt == "iso_offset":
        return local.isoformat()
    if fmt == "chinese":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H}时{local:%M}分"
    return local.strftime(fmt)


def parse_time(value, fmt: str, tz: str) -> pd.Timestamp:
    """The inverse of render_time, as an aware timestamp."""
    if fmt == "epoch_ms":
        return pd.Timestamp(int(value), unit="ms", tz="UTC")
    if fmt == "excel":
        return (EXCEL_EPOCH + pd.Timedelta(days=float(value))).tz_localize(tz)
    if fmt == "iso_offset":
        return pd.Timestamp(value)
    if fmt == "chinese":
        return pd.to_datetime(value, format="%Y年%m月%d日 %H时%M分").tz_localize(tz)
    return pd.to_datetime(value, format=fmt).tz_localize(tz)


def garble(text: str, encoding: str) -> str:
    """Mojibake as it really happens: UTF-8 bytes read back in the file's legacy encoding."""
    legacy = "gbk" if encoding.lower() in ("gbk", "gb18030", "gb2312") else "latin-1"
    garbled = text.encode("utf-8").decode(legacy, errors="ignore")
    # Keep only what the file's encoding can hold, so the fault survives being written.
    return garbled.encode(encoding, errors="ignore").decode(encoding)


def _applies(fault: str, roles: Roles) -> bool:
    needs = {
        "unknown_code": roles.category, "mojibake": roles.text,
        "closed_before_reported": roles.closed_at,
        "swapped_coordinates": roles.x, "zero_coordinates": roles.x, "outside_city": roles.x,
    }
    return fault not in needs or needs[fault] is not None


def _shift(value, amount: float):
    return str(round(float(value) + amount, 6)) if isinstance(value, str) else value + amount
