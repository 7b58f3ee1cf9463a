"""The standard-address gazetteer and matching address text against it (step c).

A text is normalised (geo.address), its administrative prefix read against the city's area
names (geo.area_names), and its place looked up: exactly on (district, name, number, kind),
then by a fuzzy match of the road or compound name within the district (rapidfuzz), taking
the nearest door number on that road when the exact one is not listed. Among the fuzzy
candidates, a name that reads aloud as the text does (geo.address.spoken) comes first: it is
what a pinyin input method's homophone typo makes (星河花庭 for 星河华庭), while two names
that merely share as many characters with the text are as far from it as each other. A text that names no
district is looked up citywide; matches that stay ambiguous are all returned, and the caller
keeps only the area they share.

An English address ("1450 Mission Street, Apt 3", an intersection "MISSION ST \\ 16TH ST") has
no administrative prefix to read (its city and state come last, and a neighbourhood named
Mission must not eat Mission Street): it is looked up in the district the source gives, else
citywide. Its fuzzy candidates must carry the same numbers (E 23 ST is not E 24 ST).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from core.case import AreaLevel
from geo.address import BUILDING, DOOR, Place, is_english, normalise_address, split_place, spoken
from geo.area_names import AdminMatch, AreaNames

GAZETTEER_COLUMNS = (
    "address_id", "district_code", "street_code", "community_code", "grid_code", "road",
    "number", "compound", "building", "text", "households", "lon", "lat",
)
FUZZY_SCORE = 60.0  # rapidfuzz ratio (0-100) below which two names are different names
ENGLISH_DOOR_SPAN = 100  # nearest door of an English street taken at most this many numbers off
_DIGITS = re.compile(r"\d+")
_CJK_CHAR = r"[\u3400-\u9fff]"
_CANDIDATES = 8


class MatchHow(StrEnum):
    EXACT = "exact"
    FUZZY = "fuzzy"
    NEAREST_NUMBER = "nearest_number"
    AREA_ONLY = "area_only"  # the text named areas but no place the gazetteer holds
    NONE = "none"


@dataclass(frozen=True)
class AddressMatch:
    """Gazetteer rows an address text may mean (usually one), or the areas it names."""

    rows: tuple[int, ...]
    how: MatchHow
    areas: tuple[str, ...] = ()  # area codes named in the text, when no row was found


class Gazetteer:
    """Standard addresses indexed for exact and fuzzy lookup."""

    def __init__(self, addresses: pd.DataFrame, names: AreaNames):
        self.frame = addresses.reset_index(drop=True)
        self.names = names
        self.lon = self.frame["lon"].to_numpy(dtype="float64")
        self.lat = self.frame["lat"].to_numpy(dtype="float64")
        places = [split_place(normalise_address(p)) for p in _standard_places(self.frame)]
        districts = self.frame["district_code"].astype(str).to_numpy()
        self.exact: dict[tuple, list[int]] = {}
        self.citywide: dict[tuple, list[int]] = {}
        self.numbers: dict[tuple, dict[int, list[int]]] = {}  # (district, name, kind) -> number -> rows
        self.place_names: dict[tuple, list[str]] = {}  # (district, kind) -> names
        for row, (district, place) in enumerate(zip(districts, places, strict=True)):
            self.exact.setdefault((district, place.name, place.number, place.kind), []).append(row)
            self.citywide.setdefault((place.name, place.number, place.kind), []).append(row)
            self.numbers.setdefault((district, place.name, place.kind), {}).setdefault(
                place.number, []).append(row)
        for district, name, kind in self.numbers:
            self.place_names.setdefault((district, kind), []).append(name)
            self.place_names.setdefault((None, kind), []).append(name)
        self.place_names = {k: sorted(set(v)) for k, v in self.place_names.items()}
        self.homophones: dict[tuple, dict[tuple[str, ...], list[str]]] = {}  # (district, kind) -> reading -> names
        for key, names in self.place_names.items():
            for name in names:
                self.homophones.setdefault(key, {}).setdefault(spoken(name), []).append(name)
        self.districts = sorted(set(districts))

    def __len__(self) -> int:
        return len(self.frame)

    def match(self, text: str, within: str | None = None) -> AddressMatch:
        """What one address text refers to; within: a district code given by the source."""
        normalised = normalise_address(text)
        if is_english(normalised):
            admin = AdminMatch(codes=(within,) if within else (), rest=normalised)
        else:
            admin = self.names.read_prefix(normalised, within)
        place = split_place(admin.rest)
        districts = self._districts(admin.codes)
        if not place.name or (place.kind is None and not is_english(place.name)):
            return AddressMatch((), MatchHow.AREA_ONLY if admin.codes else MatchHow.NONE, admin.codes)
        if place.kind is None:  # an English name with no door (JFK AIRPORT): as written, or not at all
            rows = self._keep_within(self._exact(place, districts), admin.codes)
            if not rows:
                return AddressMatch((), MatchHow.AREA_ONLY if admin.codes else MatchHow.NONE, admin.codes)
            return AddressMatch(tuple(rows), MatchHow.EXACT)
        rows = self._exact(place, districts)
        how = MatchHow.EXACT
        if not rows:
            rows, how = self._fuzzy(place, districts)
        rows = self._keep_within(rows, admin.codes)
        if not rows:
            return AddressMatch((), MatchHow.AREA_ONLY if admin.codes else MatchHow.NONE, admin.codes)
        return AddressMatch(tuple(rows), how)

    def _districts(self, codes: tuple[str, ...]) -> list[str | None]:
        found = {self.names.ancestors(c).get(AreaLevel.DISTRICT.code_column) for c in codes}
        found.discard(None)
        return sorted(found) if found else [None]

    def _exact(self, place: Place, districts: list[str | None]) -> list[int]:
        rows: list[int] = []
        for kind in (place.kind, BUILDING if place.kind == DOOR else DOOR):
            for district in districts:
                if district is None:
                    rows += self.citywide.get((place.name, place.number, kind), [])
                else:
                    rows += self.exact.get((district, place.name, place.number, kind), [])
            if rows:
                return rows
        return rows

    def _fuzzy(self, place: Place, districts: list[str | None]) -> tuple[list[int], MatchHow]:
        reading = spoken(place.name)
        scored: list[tuple[float, bool, str | None, str]] = []  # (score, reads the same, district, name)
        for district in districts:
            choices = self.place_names.get((district, place.kind), [])
            found = {name: score for name, score, _ in process.extract(
                place.name, choices, scorer=fuzz.ratio, limit=_CANDIDATES, score_cutoff=FUZZY_SCORE)}
            # Names that read as the text does are candidates whatever their characters score.
            alike = self.homophones.get((district, place.kind), {}).get(reading, [])
            for name in alike:
                found.setdefault(name, fuzz.ratio(place.name, name))
            if is_english(place.name):
                digits = _DIGITS.findall(place.name)
                found = {n: v for n, v in found.items() if _DIGITS.findall(n) == digits}
            scored += [(score, name in alike, district, name) for name, score in found.items()]
        if not scored:
            return [], MatchHow.NONE
        # Prefer names on which the number exists (else the nearest number); among them the
        # best-scoring names, and of names scoring the same, those read as the text is read.
        with_number = [s for s in scored if self._rows_at(s[2], s[3], place, exact=True)]
        pool, how = (with_number, MatchHow.FUZZY) if with_number else (scored, MatchHow.NEAREST_NUMBER)
        best = max(s[:2] for s in pool)
        rows: list[int] = []
        for score, reads_same, district, name in pool:
            if (score, reads_same) == best:
                rows += self._rows_at(district, name, place, exact=how == MatchHow.FUZZY)
        return rows, how

    def _rows_at(self, district: str | None, name: str, place: Place, exact: bool) -> list[int]:
        districts = [district] if district is not None else self.districts
        rows: list[int] = []
        for d in districts:
            numbers = self.numbers.get((d, name, place.kind))
            if not numbers:
                continue
            if place.number in numbers:
                rows += numbers[place.number]
            elif not exact:
                nearest = _nearest_number(numbers, place.number, place.kind)
                if (nearest is not None and place.number is not None and is_english(name)
                        and abs(nearest - place.number) > ENGLISH_DOOR_SPAN):
                    continue  # US numbering: a hundred numbers is a block; farther is elsewhere
                rows += numbers[nearest]
        return rows

    def _keep_within(self, rows: list[int], codes: tuple[str, ...]) -> list[int]:
        """Rows inside the areas the text named (a street or community narrows a district)."""
        deeper = [c for c in codes if self.names.level.get(c) in (AreaLevel.STREET, AreaLevel.COMMUNITY)]
        if not deeper or not rows:
            return sorted(set(rows))
        column = {AreaLevel.STREET: "street_code", AreaLevel.COMMUNITY: "community_code"}
        keep = [r for r in set(rows) if any(
            self.frame.at[r, column[AreaLevel(self.names.level[c])]] == c for c in deeper)]
        return sorted(keep) or sorted(set(rows))


def _standard_places(frame: pd.DataFrame) -> list[str]:
    """Each address's place as written in the standard form: 协和南路348号, 铂悦花园2栋,
    1450 MISSION ST, or a crossing of English streets."""
    road = frame["road"].fillna("").astype(str)
    on_road = road != ""
    number = frame["number"]
    door = road + number.fillna(0).astype(int).astype(str) + DOOR
    building = frame["compound"].fillna("").astype(str) + frame["building"].fillna(0).astype(int).astype(str) + BUILDING
    places = np.where(on_road, door, building)
    english = on_road & ~road.str.contains(_CJK_CHAR, regex=True)
    for i in np.flatnonzero(english.to_numpy()):
        places[i] = road.iat[i] if pd.isna(number.iat[i]) else f"{int(number.iat[i])} {road.iat[i]}"
    return places.tolist()


def _nearest_number(numbers: dict[int, list[int]], number: int | None, kind: str | None) -> int:
    """The listed number closest to the one asked for; doors keep their side of the road."""
    listed = np.array(sorted(n for n in numbers if n is not None))
    if number is None or len(listed) == 0:
        return int(listed[0]) if len(listed) else None
    if kind == DOOR and ((listed % 2) == (number % 2)).any():
        listed = listed[(listed % 2) == (number % 2)]
    return int(listed[np.argmin(np.abs(listed - number))])


def read_gazetteer_csv(path) -> pd.DataFrame:
    """A standard-address file (GAZETTEER_COLUMNS, as the demo city writes it), checked."""
    codes = {c: "string" for c in ("district_code", "street_code", "community_code", "grid_code")}
    frame = pd.read_csv(path, dtype={**codes, "road": "string", "compound": "string", "text": "string"},
                        encoding="utf-8")
    missing = [c for c in GAZETTEER_COLUMNS if c not in frame]
    if missing:
        raise ValueError(f"{path}: gazetteer lacks columns {missing}")
    bad = frame["lon"].isna() | frame["lat"].isna() | frame["text"].isna() | frame["district_code"].isna()
    if bad.any():
        raise ValueError(f"{path}: {int(bad.sum())} addresses lack text, district or point "
                         f"(first address_id {frame.loc[bad, 'address_id'].iloc[0]})")
    return frame[list(GAZETTEER_COLUMNS)]
