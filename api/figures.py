"""The figures users read of one area over one period, from its summed rollup row: counts,
rates, hours to close, open cases and the change against the previous period.

/areas/{code}/summary and /stats both build them here, so the two always agree; each lays
them out its own way. What a viewer held to k may see of them is decided here too: small
counts, the counts that would give a hidden one away among the area's siblings
(`hidden_among_siblings`), and every figure worked out from a hidden count.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from api.suppression import complemented, is_small
from core.case import Status
from store.rollups import HOUR_EDGES

COUNTS = ("reported", "resolved", "in_mediation", "settled", "not_settled", "closed",
          "open_at_end", "previous_reported")
STATUS_CELLS = tuple(f"status_{s.value}" for s in Status)
# The counts of one area in the table of a period (and filters), and the relations between
# them that anyone can write (store.rollup_counts counts them so): hiding one count of a
# relation hides another of it, as among siblings (api.suppression.complemented).
PERIOD_CELLS = ("reported", "resolved", "in_mediation", "settled", "not_settled", "closed", *STATUS_CELLS)
RELATIONS = (
    ("reported", *STATUS_CELLS),                                      # one status per case
    ("resolved", f"status_{Status.RESOLVED.value}", f"status_{Status.CLOSED.value}"),
    ("in_mediation", f"status_{Status.IN_MEDIATION.value}"),
)
# Figures worked out from counts: hidden with any of them (a rate times its whole, or a ratio
# and one side, gives the other count back).
DERIVED = {
    "resolution_rate": ("resolved", "reported"),
    "mediation_success_rate": ("settled", "not_settled"),
    "mean_hours_to_close": ("closed",),
    "median_hours_to_close": ("closed",),
    "difference": ("reported", "previous_reported"),
    "change_ratio": ("reported", "previous_reported"),
}


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

    def cells(self) -> dict[str, int]:
        """The counts of the period's table (PERIOD_CELLS), by name."""
        named = {name: getattr(self, name) for name in PERIOD_CELLS if not name.startswith("status_")}
        return named | {f"status_{s}": n for s, n in self.by_status.items()}

    def suppressed(self, k: int, hidden: Collection[str] = ()) -> Figures:
        """These figures as a caller held to threshold k (api.suppression) may see them:
        small counts, the `hidden` ones (PERIOD_CELLS names, `open_at_end`,
        `previous_reported`) and every figure derived from any of them are None."""
        if not k:
            return self
        gone = set(hidden) | {name for name in COUNTS if is_small(getattr(self, name), k)}
        gone |= {f"status_{s}" for s, n in self.by_status.items() if is_small(n, k)}
        values: dict = {name: None if name in gone else getattr(self, name) for name in COUNTS}
        values["by_status"] = {s: None if f"status_{s}" in gone else n for s, n in self.by_status.items()}
        values |= {name: None for name, inputs in DERIVED.items() if gone.intersection(inputs)}
        if "reported" in gone:  # nothing built on a withheld total
            values |= dict.fromkeys(DERIVED)
        return replace(self, **values)


def hidden_among_siblings(cells: Mapping[str, Mapping[str, int]], parent_of: Mapping[str, str | None],
                          k: int, relations: Iterable[tuple[str, ...]] = RELATIONS) -> dict[str, set[str]]:
    """Per area, the names of its counts a viewer held to k may not see.

    `cells` holds every area of each parent concerned (all siblings: the parent's total is
    shown, so a column of siblings is a line, as is each relation of one area's counts).
    The answer depends only on those counts, so every endpoint showing one of them hides the
    same ones.
    """
    if not k:
        return {}
    values = {(code, name): int(n or 0) for code, named in cells.items() for name, n in named.items()}
    names = sorted({name for named in cells.values() for name in named})
    families: dict[str | None, list[str]] = {}
    for code in sorted(cells):
        families.setdefault(parent_of.get(code), []).append(code)
    lines = [[(code, name) for code in codes] for codes in families.values() for name in names]
    lines += [[(code, name) for name in relation if (code, name) in values]
              for code in cells for relation in relations]
    out: dict[str, set[str]] = {}
    for code, name in complemented(values, lines, k):
        out.setdefault(code, set()).add(name)
    return out


def breakdown_seen(counts: Mapping[str, int], k: int, total_hidden: bool) -> dict[str, int | None]:
    """A breakdown of an area's total (by kind, by category) as a caller held to k sees it.

    Its parts add up to the total, so one hidden part takes another with it. Under a hidden
    total it is left empty: which parts it lists (only those with cases) would tell a zero
    total from another, and the parts would add up to it.
    """
    if not k:
        return dict(counts)
    if total_hidden:
        return {}
    hidden = complemented(counts, [list(counts)], k)
    return {key: None if key in hidden else n for key, n in counts.items()}


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
