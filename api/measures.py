"""Turning summed rollup measures into the figures users read: rates, medians, changes."""

from __future__ import annotations

from core.case import Status
from store.rollups import HOUR_EDGES


def rate(part: int | None, whole: int | None) -> float | None:
    return part / whole if part is not None and whole else None


def median_hours(hist: list[int]) -> float | None:
    """Median hours to close from the rollup histogram, interpolated inside its bucket.

    Exact to the bucket (edges in store.rollups.HOUR_EDGES); within a bucket closes are taken
    as spread evenly. The last, open-ended bucket reports its lower edge.
    """
    total = sum(hist)
    if not total:
        return None
    half = total / 2
    running = 0
    for i, n in enumerate(hist):
        if n and running + n >= half:
            lo = 0.0 if i == 0 else float(HOUR_EDGES[i - 1])
            if i >= len(HOUR_EDGES):
                return lo
            hi = float(HOUR_EDGES[i])
            return lo + (hi - lo) * (half - running) / n
        running += n
    return None


def change(current: int, previous: int | None) -> dict | None:
    if previous is None:
        return None
    return {"previous": previous, "difference": current - previous,
            "ratio": (current - previous) / previous if previous else None}


def by_status(row: dict) -> dict[str, int]:
    return {s.value: int(row.get(f"status_{s.value}") or 0) for s in Status}
