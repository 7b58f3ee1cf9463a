"""The figures users read of one area over one period, from its summed rollup row: counts,
rates, hours to close, open cases and the change against the previous period.

/areas/{code}/summary and /stats both build them here, so the two always agree; each lays
them out its own way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from api.suppression import is_small, suppress
from core.case import Status
from store.rollups import HOUR_EDGES

COUNTS = ("reported", "resolved", "in_mediation", "settled", "not_settled", "closed",
          "open_at_end", "previous_reported", "difference")
# Figures computed from the total: a viewer who may not see a small total sees none of them.
BUILT_ON_TOTAL = ("resolution_rate", "mediation_success_rate", "mean_hours_to_close",
                  "median_hours_to_close", "change_ratio")


@dataclass(frozen=True, slots=True)
class Figures:
    """One area over one period; None where a figure is undefined or suppressed."""

    reported: int | None
    resolved: int | None
    resolution_rate: float | None
    in_mediation: int | None
    settled: int | None
    not_settled: int | None
    mediation_success_rate: float | None
    closed: int | None
    mean_hours_to_close: float | None
    median_hours_to_close: float | None
    by_status: dict[str, int | None]
    open_at_end: int | None
    previous_reported: int | None  # None also when there is no previous period
    difference: int | None
    change_ratio: float | None

    @property
    def withheld(self) -> bool:
        """Whether the total is suppressed (and with it everything built on it)."""
        return self.reported is None

    def suppressed(self, k: int) -> Figures:
        """These figures as a caller held to threshold k (api.suppression) may see them."""
        if not k:
            return self
        hidden: dict = {name: suppress(getattr(self, name), k) for name in COUNTS}
        hidden["by_status"] = {status: suppress(n, k) for status, n in self.by_status.items()}
        if is_small(self.reported, k):
            hidden |= dict.fromkeys(BUILT_ON_TOTAL)
        return replace(self, **hidden)


def figures(row: dict | None, open_at_end: int, previous_reported: int | None) -> Figures:
    """The figures of one summed rollup row (an empty period gives zeros)."""
    row = row or {}
    reported, resolved = int(row.get("reported") or 0), int(row.get("resolved") or 0)
    settled, not_settled = int(row.get("settled") or 0), int(row.get("not_settled") or 0)
    closed = int(row.get("closed") or 0)
    return Figures(
        reported=reported, resolved=resolved, resolution_rate=rate(resolved, reported),
        in_mediation=int(row.get("in_mediation") or 0), settled=settled, not_settled=not_settled,
        mediation_success_rate=rate(settled, settled + not_settled), closed=closed,
        mean_hours_to_close=(row.get("close_hours_sum") or 0) / closed if closed else None,
        median_hours_to_close=median_hours(list(row.get("hist") or [])),
        by_status={s.value: int(row.get(f"status_{s.value}") or 0) for s in Status},
        open_at_end=open_at_end, previous_reported=previous_reported,
        difference=None if previous_reported is None else reported - previous_reported,
        change_ratio=(reported - previous_reported) / previous_reported if previous_reported else None,
    )


def rate(part: int | None, whole: int | None) -> float | None:
    """part / whole, or None without a whole."""
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
