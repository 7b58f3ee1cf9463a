"""Injecting realistic faults into a rendered feed, and recording each one in the truth.

A feed writer renders the truth into the agency's columns, then calls `inject` with the
column that plays each role. Every fault is written to defects.csv with the handling
GridHub is expected to give it: quarantine, repair, or skip as a duplicate.
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


@dataclass(frozen=True)
class Roles:
    """Which rendered column plays which part, for the faults a feed can carry."""

    record_id: str
    reported_at: str
    closed_at: str | None = None
    category: str | None = None
    text: str | None = None  # a free-text column that mojibake can hit
    x: str | None = None
    y: str | None = None
    date_format: str = "%Y-%m-%d %H:%M:%S"


def inject(frame: pd.DataFrame, roles: Roles, feed: str, rng: np.random.Generator,
           rate: float = 0.012, encoding: str = "utf-8") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (faulty frame, defects) with about `rate` of rows given one fault each."""
    frame = frame.copy()
    possible = [f for f in FAULTS if _applies(f, roles)]
    hit = np.flatnonzero(rng.random(len(frame)) < rate)
    kinds = rng.choice(possible, size=len(hit))
    extra_rows = []
    for row, fault in zip(hit, kinds, strict=True):
        i = frame.index[row]
        if fault == "missing_required":
            frame.at[i, roles.reported_at] = ""
        elif fault == "unparseable_date":
            frame.at[i, roles.reported_at] = "2025-13-45 25:61"
        elif fault == "unknown_code":
            frame.at[i, roles.category] = "未知类别" + str(int(rng.integers(10, 99)))
        elif fault == "mojibake":
            frame.at[i, roles.text] = garble(str(frame.at[i, roles.text]), encoding)
        elif fault == "future_timestamp":
            frame.at[i, roles.reported_at] = pd.Timestamp("2031-06-01 09:30:00").strftime(roles.date_format)
        elif fault == "closed_before_reported":
            reported = pd.to_datetime(frame.at[i, roles.reported_at], format=roles.date_format)
            frame.at[i, roles.closed_at] = (reported - pd.Timedelta(days=3)).strftime(roles.date_format)
        elif fault == "swapped_coordinates":
            frame.loc[i, [roles.x, roles.y]] = frame.loc[i, [roles.y, roles.x]].to_numpy()
        elif fault == "zero_coordinates":
            zero = "0" if pd.api.types.is_string_dtype(frame[roles.x]) else 0.0
            frame.loc[i, [roles.x, roles.y]] = [zero, zero]
        elif fault == "outside_city":
            frame.at[i, roles.x] = _shift(frame.at[i, roles.x], 3.0)
        elif fault in ("exact_duplicate", "near_duplicate"):
            copy = frame.loc[[i]].copy()
            if fault == "near_duplicate":  # re-exported with cosmetic differences only
                copy[roles.record_id] = " " + copy[roles.record_id].astype(str) + " "
            extra_rows.append(copy)
    defects = pd.DataFrame({
        "feed": feed,
        "source_record_id": frame.iloc[hit][roles.record_id].astype(str).str.strip().to_numpy(),
        "fault": kinds,
        "expected": [FAULTS[k] for k in kinds],
    })
    if extra_rows:
        frame = pd.concat([frame, *extra_rows]).sort_index(kind="stable").reset_index(drop=True)
    return frame, defects


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


def _shift(value, degrees: float):
    return str(round(float(value) + degrees, 6)) if isinstance(value, str) else value + degrees

