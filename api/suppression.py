"""Small-count suppression: a viewer sees no grid-level count from 1 to k-1.

Small counts in small areas can single out a household; analysts and admins, and every level
above the grid, see them. The rule is written here once: `threshold` says which k applies to
a caller at a level (0: none), `suppress` hides one count, `complemented` hides the further
counts without which a hidden one could be worked out by arithmetic, and `suppressed_sql` is
the test for counts that never leave the database (vector tiles, encoded by ST_AsMVT).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence

from psycopg import sql

from api.keys import Role
from core.case import AreaLevel

Cell = Hashable  # one published count, e.g. (area code, figure name)


def threshold(role: Role, level: AreaLevel | str, k: int) -> int:
    """The k below which this role may not see counts of areas of this level; 0 when none."""
    return k if role is Role.VIEWER and level == AreaLevel.GRID else 0


def is_small(value: object, k: int) -> bool:
    """Whether `value` is a count that `k` hides: a whole number from 1 to k-1."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < k


def suppress(value: object, k: int) -> object:
    """None for a count from 1 to k-1, the value itself otherwise (k = 0 hides nothing)."""
    return None if is_small(value, k) else value


def suppressed_sql(count: sql.Composable, k: sql.Composable = sql.Placeholder("k")) -> sql.Composable:
    """`count` in SQL, NULL where it is from 1 to k-1 (`k`: a named parameter by default)."""
    return sql.SQL("CASE WHEN {n} > 0 AND {n} < {k} THEN NULL ELSE {n} END").format(n=count, k=k)


# Complementary suppression. Hiding the small counts alone is not enough when a reader also
# knows a sum they belong to: a community's total less its visible grids gives the one hidden
# grid, a total less its visible statuses gives the one hidden status. Such a sum is a "line"
# of cells (a relation a reader can write with one unknown per hidden cell); a line with
# exactly one hidden cell gives that cell away. So, as statistical offices do for published
# tables, a second cell of the line is hidden too, and again until no line has exactly one.
# The second cell is the line's smallest visible count, non-zero ones first: the cheapest to
# lose, and with a non-zero partner subtraction yields only a sum of two unknowns, of which
# the small one may be anything from 1 to k-1. (A zero is taken only when the line has nothing
# else: then the reader still cannot tell which hidden cell holds the count.)


def complemented(values: Mapping[Cell, int], lines: Iterable[Sequence[Cell]], k: int,
                 hidden: Iterable[Cell] = (), fixed: Collection[Cell] = ()) -> set[Cell]:
    """The cells to hide: the small counts, `hidden`, and partners until no line has exactly
    one hidden cell. `fixed` cells are shown by another answer and are never chosen."""
    out = {cell for cell, n in values.items() if is_small(n, k)} | set(hidden)
    if not k:
        return out
    lines = [tuple(line) for line in lines]
    lines_of: dict[Cell, list[int]] = {}
    for i, line in enumerate(lines):
        for cell in line:
            lines_of.setdefault(cell, []).append(i)
    pending = list(range(len(lines)))
    while pending:
        line = lines[pending.pop()]
        if sum(cell in out for cell in line) != 1:
            continue
        partner = _partner(line, out, values, fixed)
        if partner is not None:
            out.add(partner)
            pending.extend(lines_of[partner])  # its other lines may now hold one hidden cell
    return out


def _partner(line: Sequence[Cell], hidden: set[Cell], values: Mapping[Cell, int],
             fixed: Collection[Cell]) -> Cell | None:
    """The visible cell of `line` to hide with its hidden one (None when every cell is fixed)."""
    free = [c for c in line if c not in hidden and c not in fixed and c in values]
    if not free:
        return None
    return min(free, key=lambda c: (values[c] == 0, values[c], c))
