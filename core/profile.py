"""The city profile: one YAML file saying what differs from city to city (README, "Onboarding
your city").

It holds the city's code and name, its clock, the default CRS of its files, its area levels
(2 to 5, top first, each with a name, a label and a code pattern) and its taxonomy. The CLI,
the DAGs and the API read it through GridHubSettings.profile.

Levels are stored in fixed slots, the columns of `cases` and the `level` of `areas`
(core.case.AreaLevel): the top level is always the `city` slot, the finest always the `grid`
slot, and the levels between take `district`, `street`, `community` in order. A city of three
levels leaves `street` and `community` empty; every step skips empty slots.

The clock rule: the profile's timezone (or GRIDHUB_TIMEZONE, when set) decides which local
day a case falls on; a source spec's own `timezone` only says how to read its times that
carry no offset.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.case import AreaLevel, CaseKind, Category, Status
from core.crs import CrsName
from core.errors import ConfigError
from core.timezones import TimeZoneName
from core.yaml_files import load_model

# Slots the intermediate levels take, top first.
_MIDDLE_SLOTS = (AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)
MAX_LEVELS = 2 + len(_MIDDLE_SLOTS)
OWN_CATEGORIES = "source"  # taxonomy.categories: the sources' own values are the categories


class ProfileError(ConfigError):
    """A city profile is malformed, or a level or code does not fit it."""


class LevelSpec(BaseModel):
    """One level of the city's hierarchy."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="used in commands: --level NAME")
    label: str = Field(description="shown to people, in the city's language")
    code_pattern: str = Field(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,31}$",
                              description="regular expression every code of this level matches")

    @field_validator("code_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

    def matches(self, code: str) -> bool:
        return re.fullmatch(self.code_pattern.removeprefix("^").removesuffix("$"), code) is not None


class Taxonomy(BaseModel):
    """Kinds and categories of cases, and what a value no map covers becomes."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[str] = Field(default_factory=lambda: [k.value for k in CaseKind])
    categories: list[str] | str = Field(
        default_factory=lambda: [c.value for c in Category],
        description=f"category codes, or {OWN_CATEGORIES!r}: the sources' own values are used")
    default_category: str = Field(Category.OTHER.value,
                                  description="what a category value no map covers becomes")
    unmapped_category: Literal["default", "quarantine"] = Field(
        "default", description="a category value no spec map covers: default_category, counted"
        " per value in the run's quality record; or quarantine the row (the demo city)")
    statuses: list[str] = Field(default_factory=lambda: [s.value for s in Status],
                                description="canonical statuses the city's sources use")

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        if isinstance(self.categories, str):
            if self.categories != OWN_CATEGORIES:
                raise ValueError(f"categories: a list of codes or {OWN_CATEGORIES!r}")
        elif self.default_category not in self.categories:
            raise ValueError(f"default_category {self.default_category!r} is not one of the categories")
        unknown = sorted(set(self.statuses) - {s.value for s in Status})
        if unknown:
            raise ValueError(f"statuses {unknown} are not canonical statuses"
                             f" ({', '.join(s.value for s in Status)})")
        return self

    @property
    def own_categories(self) -> bool:
        return self.categories == OWN_CATEGORIES

    @property
    def category_codes(self) -> list[str] | None:
        """The allowed category codes; None when the sources' own values are the categories."""
        return None if self.own_categories else list(self.categories)

    def default_for(self, field: str) -> str | None:
        """What an unmapped value of a case field becomes; None: it is a problem (quarantine)."""
        if field == "category" and self.unmapped_category == "default":
            return self.default_category
        return None


class CityProfile(BaseModel):
    """What GridHub needs to know about the city it serves."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="code of the whole city (its top-level area)")
    name: str
    timezone: TimeZoneName = Field(description="the city's clock: decides what a day is")
    crs: CrsName = Field("WGS84", description="CRS of boundary files that do not declare one")
    languages: list[str] = Field(default_factory=lambda: ["en"])
    levels: list[LevelSpec] = Field(min_length=2)
    taxonomy: Taxonomy = Field(default_factory=Taxonomy)

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[LevelSpec]) -> list[LevelSpec]:
        if len(value) > MAX_LEVELS:
            raise ValueError(f"{len(value)} levels given; GridHub stores at most {MAX_LEVELS}"
                             " (merge two levels, or load the finest as attributes)")
        names = [level.name for level in value]
        if len(set(names)) != len(names):
            raise ValueError(f"level names repeat: {names}")
        return value

    @model_validator(mode="after")
    def _city_code_fits(self) -> CityProfile:
        if not self.levels[0].matches(self.code):
            raise ValueError(f"city code {self.code!r} does not match the top level's pattern"
                             f" {self.levels[0].code_pattern}")
        return self

    # -- levels and their slots ------------------------------------------------------------

    @property
    def slots(self) -> list[AreaLevel]:
        """The slot of each level, top first."""
        middle = list(_MIDDLE_SLOTS[:len(self.levels) - 2])
        return [AreaLevel.CITY, *middle, AreaLevel.GRID]

    @property
    def slot_names(self) -> dict[AreaLevel, str]:
        """The profile's name of each used slot."""
        return {slot: level.name for slot, level in zip(self.slots, self.levels, strict=True)}

    def spec_of(self, slot: AreaLevel | str) -> LevelSpec | None:
        """The level stored in this slot, or None when the slot is empty."""
        by_slot = dict(zip(self.slots, self.levels, strict=True))
        return by_slot.get(AreaLevel(slot))

    def slot_of(self, level: str) -> AreaLevel:
        """The slot of a level given by the profile's name (or by its slot's name)."""
        for slot, spec in zip(self.slots, self.levels, strict=True):
            if level in (spec.name, slot.value):
                return slot
        names = ", ".join(spec.name for spec in self.levels)
        raise ProfileError(f"level {level!r} is not one of this city's levels ({names});"
                           " add it to the profile's `levels` or pick one of these")

    def parent_slot(self, slot: AreaLevel | str) -> AreaLevel | None:
        """The slot one level up, skipping empty slots; None for the top."""
        slots = self.slots
        position = slots.index(AreaLevel(slot))
        return slots[position - 1] if position else None

    def child_slot(self, slot: AreaLevel | str) -> AreaLevel | None:
        """The slot one level down, skipping empty slots; None for the finest."""
        slots = self.slots
        position = slots.index(AreaLevel(slot))
        return slots[position + 1] if position + 1 < len(slots) else None

    def used_slot_at_or_below(self, slot: AreaLevel | str) -> AreaLevel:
        """The first used slot at this depth or finer (tiles pick a level by zoom)."""
        depth = AreaLevel(slot).depth
        return next(s for s in self.slots if s.depth >= depth)

    def code_fits(self, code: str) -> bool:
        """Whether a code matches the pattern of some level."""
        return any(level.matches(code) for level in self.levels)

    @property
    def code_patterns(self) -> str:
        """The levels' patterns in words, for an error message."""
        return "; ".join(f"{level.name}: {level.code_pattern}" for level in self.levels)


def load_profile(path: Path) -> CityProfile:
    """Read and validate a profile file; a problem is one line naming the file and the field."""
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ProfileError(f"city profile {path} cannot be read: {exc.strerror}"
                           " (set GRIDHUB_CITY_PROFILE to a city.yaml)") from exc
    return _load(path.resolve(), stamp)


@lru_cache(maxsize=16)
def _load(path: Path, stamp: int) -> CityProfile:  # stamp: a changed file is read again
    return load_model(path, CityProfile, ProfileError, "profile")
