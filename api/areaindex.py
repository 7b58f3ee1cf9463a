"""The current area hierarchy held in memory by each worker, for scope checks and lineage."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from core.case import AreaLevel


@dataclass(frozen=True)
class AreaInfo:
    code: str
    level: AreaLevel
    parent_code: str | None
    name: str


class AreaIndex:
    """code -> AreaInfo, with parent and child links (a few thousand areas per city)."""

    def __init__(self, areas: list[AreaInfo]):
        self.by_code = {a.code: a for a in areas}
        self.children: dict[str, list[str]] = {}
        for a in areas:
            if a.parent_code in self.by_code:
                self.children.setdefault(a.parent_code, []).append(a.code)
        for kids in self.children.values():
            kids.sort()

    @classmethod
    async def load(cls, conn: AsyncConnection) -> AreaIndex:
        cur = await conn.execute(
            "SELECT code, level, parent_code, name FROM areas WHERE valid_to IS NULL")
        rows = await cur.fetchall()
        return cls([AreaInfo(r["code"], AreaLevel(r["level"]), r["parent_code"], r["name"])
                    for r in rows])

    def get(self, code: str) -> AreaInfo | None:
        return self.by_code.get(code)

    def lineage(self, code: str) -> list[AreaInfo]:
        """The area and its ancestors, nearest first."""
        out, seen = [], set()
        area = self.by_code.get(code)
        while area is not None and area.code not in seen:
            out.append(area)
            seen.add(area.code)
            area = self.by_code.get(area.parent_code) if area.parent_code else None
        return out

    def within(self, code: str, scope_code: str) -> bool:
        """Whether `code` is `scope_code` or lies below it."""
        return any(a.code == scope_code for a in self.lineage(code))

    def descendants(self, code: str, level: AreaLevel | None = None) -> list[str]:
        """Codes below `code` (at `level` only, when given), in code order."""
        out, stack = [], list(reversed(self.children.get(code, [])))
        while stack:
            current = stack.pop()
            info = self.by_code[current]
            if level is None or info.level == level:
                out.append(current)
            if level is None or info.level.depth < level.depth:
                stack.extend(reversed(self.children.get(current, [])))
        return sorted(out)
