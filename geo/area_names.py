"""Reading the city's own area names in text: the administrative prefix of an address, or
an area name given alone (step d of the cascade).

Names are matched longest first from the start of the text, each one under the area matched
before it (临江区 then 白云街道 then 新民社区), so that a community name repeated in two streets
is told apart by the street written before it. When a name stays ambiguous, the answer is
the deepest area every candidate shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from rapidfuzz import fuzz, process

from core.case import AreaLevel
from geo.address import normalise_address, strip_province

_FUZZY_NAME_SCORE = 80.0


@dataclass(frozen=True)
class AdminMatch:
    """Areas named at the start of a text, and the text after them."""

    codes: tuple[str, ...]  # candidates for the deepest area named (one when unambiguous)
    rest: str


class AreaNames:
    """Names, levels and parents of the areas valid at one time."""

    def __init__(self, areas: pd.DataFrame):
        self.level = dict(zip(areas["code"], areas["level"], strict=True))
        self.parent = dict(zip(areas["code"], areas["parent_code"], strict=True))
        self.by_name: dict[str, list[str]] = {}
        for code, name in zip(areas["code"], areas["name"], strict=True):
            self.by_name.setdefault(normalise_address(str(name)), []).append(code)
        self.longest = max((len(n) for n in self.by_name), default=0)
        self._names = list(self.by_name)

    def ancestors(self, code: str) -> dict[str, str]:
        """Codes of the area and every area enclosing it, by code column (grid_code, ...)."""
        chain = {}
        while code is not None and code in self.level:
            chain[AreaLevel(self.level[code]).code_column] = code
            code = self.parent.get(code)
        return chain

    def within(self, code: str, ancestor: str) -> bool:
        while code is not None:
            if code == ancestor:
                return True
            code = self.parent.get(code)
        return False

    def read_prefix(self, text: str, within: str | None = None) -> AdminMatch:
        """Consume area names from the start of a normalised text (province first dropped)."""
        text = strip_province(text)
        codes: tuple[str, ...] = (within,) if within else ()
        position = 0
        while position < len(text):
            found = self._match_at(text, position, codes)
            if found is None:
                break
            length, codes = found
            position += length
        return AdminMatch(codes=codes, rest=text[position:])

    def _match_at(self, text: str, position: int, parents: tuple[str, ...]):
        for length in range(min(self.longest, len(text) - position), 1, -1):
            candidates = self.by_name.get(text[position:position + length])
            if not candidates:
                continue
            if parents:
                candidates = [c for c in candidates if any(self.within(c, p) for p in parents)]
            if candidates:
                return length, tuple(candidates)
        return None

    def resolve(self, text: str, within: str | None = None) -> tuple[str, ...]:
        """Candidate codes of the area a text names ("新民社区", "临江区白云街道"), exact or fuzzy."""
        text = normalise_address(text)
        match = self.read_prefix(text, within)
        if match.rest == "" and match.codes and match.codes != (within,):
            return match.codes
        best = process.extractOne(text, self._names, scorer=fuzz.ratio,
                                  score_cutoff=_FUZZY_NAME_SCORE)
        if best is None:
            return ()
        candidates = self.by_name[best[0]]
        if within:
            candidates = [c for c in candidates if self.within(c, within)]
        return tuple(candidates)

    def common_area(self, codes: tuple[str, ...]) -> str | None:
        """The deepest area enclosing every one of codes (the code itself when there is one)."""
        if not codes:
            return None
        shared = list(self.ancestors(codes[0]).values())  # deepest first
        for code in codes[1:]:
            mine = set(self.ancestors(code).values())
            shared = [c for c in shared if c in mine]
        return shared[0] if shared else None
