"""How people really write the demo city's standard addresses: variants for the address-only feeds.

A standard address reads 江岸市 + district + place, the place being a road and door number
(协和南路348号) or a compound and building (铂悦花园2栋). Clerks and callers write the same
place in many ways: full-width or Chinese-numeral digits, with or without the province, city
or district, 幢 or 号楼 for 栋, a unit and room after the building, 弄 for 巷, a homophone typo,
a stray space or "附近". Every variant still names the same door, so a good geocoder can
find it; a variant never invents another real address on purpose.

It may still say less than the standard text: without its district, a compound name that
several districts share names a place in each of them, and a typo may turn one name into
another's. AddressReadings reads a variant back the way the variations could have made it,
so that the truth can record which written addresses single out their true community.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo.names import CITY_NAME

PROVINCE_NAME = "浙江省"  # province adcode 330000, as in the demo's DataV files

# Probability of each kind of variation, applied independently per address.
P_DROP_CITY = 0.30
P_ADD_PROVINCE = 0.10
P_DROP_DISTRICT = 0.08
P_FULL_WIDTH = 0.15
P_CHINESE_NUMERALS = 0.10
P_BUILDING_ALIAS = 0.35
P_UNIT_ROOM = 0.20
P_ROAD_ALIAS = 0.10
P_TYPO = 0.08
P_SPACE = 0.06
P_NEARBY = 0.05

_STANDARD = re.compile(r"^(?P<city>" + re.escape(CITY_NAME) + r")?(?P<district>[^区]{2,4}区)?(?P<place>.+)$")
_DOOR = re.compile(r"(?P<road>.+?)(?P<number>\d+)号$")
_BUILDING = re.compile(r"(?P<compound>.+?)(?P<number>\d+)栋$")

_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_DIGITS = "〇一二三四五六七八九"
# Characters people type for each other when the input method offers the homophone first.
_HOMOPHONES = {
    "园": "圆", "苑": "院", "湾": "弯", "桥": "乔", "华": "花", "阳": "杨", "林": "琳",
    "江": "将", "湖": "胡", "山": "珊", "城": "成", "新": "欣", "东": "冬", "南": "楠",
    "溪": "西", "塘": "堂", "庭": "亭", "景": "井", "锦": "金", "和": "河", "安": "按",
}
_BUILDING_WORDS = ("幢", "号楼", "座", "栋楼")
_NEARBY_WORDS = ("附近", "门口", "对面", "旁边")


@dataclass(frozen=True)
class WrittenPlace:
    """What a written variant still says about its door, formatting aside."""

    district: str  # the district's name as written, "" when left out
    name: str  # the road or compound as written, lane alias and typo included
    number: int
    kind: str  # "号" (a door on a road) or "栋" (a building in a compound)


def vary_addresses(texts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Realistic written variants of standard addresses (same length and order as texts)."""
    return vary_written(texts, rng)[0]


def vary_written(texts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[WrittenPlace | None]]:
    """The written variants, and what each still says (None: not a standard address)."""
    texts = np.asarray(texts, dtype=object)
    n = len(texts)
    draws = {name: rng.random(n) < p for name, p in (
        ("drop_city", P_DROP_CITY), ("province", P_ADD_PROVINCE),
        ("drop_district", P_DROP_DISTRICT), ("full_width", P_FULL_WIDTH),
        ("chinese", P_CHINESE_NUMERALS), ("building", P_BUILDING_ALIAS), ("unit", P_UNIT_ROOM),
        ("road", P_ROAD_ALIAS), ("typo", P_TYPO), ("space", P_SPACE), ("nearby", P_NEARBY))}
    # One integer stream for the choices inside a variation, so results depend on rng only.
    picks = rng.integers(0, 1 << 30, size=(n, 4))
    out = np.empty(n, dtype=object)
    places: list[WrittenPlace | None] = [None] * n
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text:
            out[i] = text
            continue
        flags = {name: bool(hit[i]) for name, hit in draws.items()}
        out[i], places[i] = _vary_one(text, flags, picks[i])
    return out, places


def _vary_one(text: str, flags: dict[str, bool], pick: np.ndarray) -> tuple[str, WrittenPlace | None]:
    parts = _STANDARD.match(text)
    if parts is None:  # not a standard address: leave it as written
        return text, None
    city = parts["city"] or ""
    district = parts["district"] or ""
    place = parts["place"]
    if flags["road"]:
        place = _road_alias(place)
    if flags["typo"]:
        place = _typo(place, pick[2])
    if flags["drop_district"] and district:
        district = ""
    written = _written_place(district, place)
    place = _number_variant(place, flags, pick)
    if flags["drop_city"]:
        city = ""
    province = PROVINCE_NAME if flags["province"] else ""
    if province and not city:
        city = CITY_NAME  # nobody writes the province and then skips the city
    gap = " " if flags["space"] else ""
    tail = _NEARBY_WORDS[pick[3] % len(_NEARBY_WORDS)] if flags["nearby"] else ""
    return province + city + district + gap + place + tail, written


def _written_place(district: str, place: str) -> WrittenPlace | None:
    building, door = _BUILDING.match(place), _DOOR.match(place)
    if building is not None:
        return WrittenPlace(district, building["compound"], int(building["number"]), "栋")
    if door is not None:
        return WrittenPlace(district, door["road"], int(door["number"]), "号")
    return None


def _road_alias(place: str) -> str:
    """Lanes written 弄 and streets 大街, as in neighbouring cities' usage."""
    door = _DOOR.match(place)
    if door is None:
        return place
    return f"{_alias(door['road'])}{door['number']}号"


def _alias(road: str) -> str:
    if road.endswith("巷"):
        return road[:-1] + "弄"
    if road.endswith("街") and not road.endswith("大街"):
        return road[:-1] + "大街"
    return road


def _number_variant(place: str, flags: dict[str, bool], pick: np.ndarray) -> str:
    building = _BUILDING.match(place)
    door = _DOOR.match(place)
    if building is not None:
        stem, number = building["compound"], building["number"]
        word = _BUILDING_WORDS[pick[0] % len(_BUILDING_WORDS)] if flags["building"] else "栋"
        suffix = _unit_room(pick[1]) if flags["unit"] else ""
    elif door is not None:
        stem, number, word = door["road"], door["number"], "号"
        suffix = "院" if flags["unit"] and pick[1] % 3 == 0 else ""  # 348号院: the yard behind the door
    else:
        return place
    if flags["chinese"]:
        number = _chinese_number(int(number), spell=bool(pick[0] % 2))
    elif flags["full_width"]:
        number = number.translate(_FULL_WIDTH)
        suffix = suffix.translate(_FULL_WIDTH)
    return stem + number + word + suffix


def _unit_room(pick: int) -> str:
    unit = 1 + pick % 4
    room = (1 + (pick >> 3) % 18) * 100 + 1 + (pick >> 8) % 4
    return f"{unit}单元{room}室" if pick % 5 else f"{room}室"


def _chinese_number(value: int, spell: bool) -> str:
    """348 as 三百四十八 (spell) or 三四八 (digit by digit, as read out on the phone)."""
    if not spell or value >= 10_000:
        return "".join(_DIGITS[int(d)] for d in str(value))
    words = []
    for unit, size in (("千", 1000), ("百", 100), ("十", 10)):
        digit, value = divmod(value, size)
        if digit:
            words.append(("" if unit == "十" and not words and digit == 1 else _DIGITS[digit]) + unit)
        elif words and value:
            if not words[-1].endswith("零"):
                words.append("零")
    if value:
        words.append(_DIGITS[value])
    return "".join(words) or _DIGITS[0]


def _typo(place: str, pick: int) -> str:
    """One slip of the keyboard: a homophone, a dropped or a doubled character."""
    letters = _letters(place)
    if len(letters) < 3:
        return place
    i = letters[pick % len(letters)]
    kind = (pick >> 10) % 3
    if kind == 0 and place[i] in _HOMOPHONES:
        return place[:i] + _HOMOPHONES[place[i]] + place[i + 1:]
    if kind == 1:
        return place[:i] + place[i + 1:]
    return place[:i] + place[i] + place[i:]


def _letters(place: str) -> list[int]:
    """Positions a typo can hit: not the number nor the words around it."""
    return [i for i, ch in enumerate(place) if not ch.isdigit() and ch not in "号栋幢座楼单元室"]


def _slips(name: str) -> set[str]:
    """Every spelling one typo (_typo) can make of a name."""
    letters = _letters(name)
    if len(letters) < 3:
        return set()
    out = set()
    for i in letters:
        if name[i] in _HOMOPHONES:
            out.add(name[:i] + _HOMOPHONES[name[i]] + name[i + 1:])
        out.add(name[:i] + name[i + 1:])
        out.add(name[:i] + name[i] + name[i:])
    return out


class AddressReadings:
    """The standard addresses a written place can be read as, by the fewest slips that make it.

    Formatting never changes which door is meant; the district left out, the lane alias and a
    typo can. A written place is read as every standard address that some variation could have
    turned into it, and its likeliest readings are those needing the fewest typos (none before
    one): a text that exactly names a real place is read as that place.
    """

    def __init__(self, addresses: pd.DataFrame):
        self.community: dict[tuple[str, str, int, str], str] = {}  # (district, name, number, kind)
        self.spellings: dict[str, dict[tuple[str, str, str], int]] = {}  # written -> place -> typos
        for text, community in zip(addresses["text"], addresses["community_code"], strict=True):
            parts = _STANDARD.match(text)
            written = _written_place(parts["district"] or "", parts["place"]) if parts else None
            if written is None:
                continue
            self.community[(written.district, written.name, written.number, written.kind)] = community
            place = (written.district, written.name, written.kind)
            if place in self.spellings.get(written.name, {}):
                continue
            for name in {written.name, _alias(written.name)} if written.kind == "号" else {written.name}:
                for spelling, typos in [(name, 0), *((slip, 1) for slip in _slips(name))]:
                    known = self.spellings.setdefault(spelling, {})
                    known[place] = min(typos, known.get(place, typos))

    def communities(self, written: WrittenPlace) -> set[str]:
        """Communities of the likeliest readings of a written place."""
        best, found = None, set()
        for (district, name, kind), typos in self.spellings.get(written.name, {}).items():
            if kind != written.kind or (written.district and district != written.district):
                continue
            community = self.community.get((district, name, written.number, kind))
            if community is None:
                continue
            if best is None or typos < best:
                best, found = typos, {community}
            elif typos == best:
                found.add(community)
        return found

    def ambiguous(self, places: list[WrittenPlace | None], true_communities) -> np.ndarray:
        """Whether each written place fails to single out its true community."""
        return np.array([place is not None and self.communities(place) != {community}
                         for place, community in zip(places, true_communities, strict=True)], dtype=bool)
