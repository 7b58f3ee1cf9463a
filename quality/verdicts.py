"""Row-level verdicts: which canonical rows pass, and for the others every reason in words.

The checks are vectorised over the whole chunk; a row fails with all of its reasons at once,
so a data engineer fixing a spec sees everything wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.case import CaseKind, Category, Status

REQUIRED = ("source_record_id", "reported_at", "kind", "category", "status")
MAX_CLOCK_SKEW = pd.Timedelta(minutes=10)


@dataclass
class Verdict:
    """Rows that pass, and (row index -> reasons) for those that do not."""

    passed: pd.DataFrame
    failed: pd.DataFrame
    reasons: pd.Series  # aligned with failed: list[dict(check, message)]


def judge(cases: pd.DataFrame, problems: pd.Series, now: pd.Timestamp | None = None) -> Verdict:
    """Check every row; mapping problems count as failures too."""
    now = now or pd.Timestamp.now(tz="UTC")
    reasons = [[{"check": "mapping", "message": p} for p in ps] for ps in problems]
    checks = _checks(cases, now)
    for name, (mask, message) in checks.items():
        for i in np.flatnonzero(mask):
            reasons[i].append({"check": name, "message": message})
    failed_mask = np.array([bool(r) for r in reasons], dtype=bool)
    reason_series = pd.Series(reasons, index=cases.index, dtype=object)
    return Verdict(passed=cases[~failed_mask], failed=cases[failed_mask],
                   reasons=reason_series[failed_mask])


def _checks(cases: pd.DataFrame, now: pd.Timestamp) -> dict[str, tuple[np.ndarray, str]]:
    """name -> (boolean mask of failing rows, message)."""
    out: dict[str, tuple[np.ndarray, str]] = {}
    for column in REQUIRED:
        out[f"{column}_present"] = (cases[column].isna().to_numpy(), f"{column} is missing")
    allowed = {"kind": CaseKind, "category": Category, "status": Status}
    for column, enum in allowed.items():
        bad = cases[column].notna() & ~cases[column].isin([e.value for e in enum])
        out[f"{column}_known"] = (bad.to_numpy(), f"{column} is not one of {sorted(e.value for e in enum)}")
    future = (cases["reported_at"] > now + MAX_CLOCK_SKEW).fillna(False)
    out["reported_not_future"] = (future.to_numpy(dtype=bool), "reported_at is in the future")
    reversed_ = (cases["closed_at"] < cases["reported_at"]).fillna(False)
    out["closed_after_reported"] = (reversed_.to_numpy(dtype=bool), "closed_at is before reported_at")
    garbled = cases["address"].map(looks_garbled, na_action="ignore").fillna(False).astype(bool)
    out["address_readable"] = (garbled.to_numpy(), "address text is garbled (wrong character encoding)")
    negative = (cases["amount"] < 0).fillna(False)
    out["amount_not_negative"] = (negative.to_numpy(dtype=bool), "amount is negative")
    return out


def looks_garbled(text: str) -> bool:
    """Mojibake: UTF-8 read as Latin-1 (Ã, å…) or as GBK (runs of rare characters)."""
    if any("\u0080" <= ch <= "\u00ff" for ch in text):
        return True
    cjk = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if len(cjk) < 4:
        return False
    rare = sum(1 for ch in cjk if not _in_gb2312(ch))
    return rare / len(cjk) > 0.3


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True
