"""Watermarks: the highest value of a source's replication field among the records read."""

from __future__ import annotations

import pandas as pd


def highest(values: pd.Series, current: str | None = None) -> str | None:
    """The larger of current and the values' maximum; times compare as times (ISO 8601 UTC out)."""
    present = values.dropna().astype(str)
    present = present[present.str.strip() != ""]
    if present.empty:
        return current
    texts = [*present.tolist(), *([current] if current else [])]
    times = pd.to_datetime(pd.Series(texts), format="ISO8601", utc=True, errors="coerce")
    if times.notna().all():
        return times.max().isoformat()
    return max(texts)
