"""Small-count suppression: a viewer sees no grid-level count from 1 to k-1.

Small counts in small areas can single out a household; analysts and admins, and every level
above the grid, see them. The rule is written here once: `threshold` says which k applies to
a caller at a level (0: none), `suppress` hides one count, and `suppressed_sql` is the same
test for counts that never leave the database (vector tiles, encoded by ST_AsMVT).
"""

from __future__ import annotations

from psycopg import sql

from api.keys import Role
from core.case import AreaLevel


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
