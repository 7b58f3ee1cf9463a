"""Chinese address text brought to one standard spelling, and split into its parts.

normalise_address() makes the spellings people use for one door agree: full-width digits
(NFKC), Chinese numerals before 号 / 栋 / 单元 / 室 (cn2an), 幢 / 座 / 号楼 / 栋楼 for 栋, 弄 for
巷, 大街 for 街, and drops what does not identify the door (spaces and punctuation, the unit
and room, "附近" and the like). split_place() then reads the road or compound name, the
number and whether it is a door (号) or a building (栋). The administrative prefix (province,
city, district, street, community) is read against the city's own area names by
geo.area_names: national parsers such as cpca and jionlp only know the national division
table, and read a local hierarchy they do not hold as some other city's district.
spoken() gives how a name reads aloud (pypinyin), for telling a homophone typo from a
different name.

Text with no Chinese character is read as an English street address: upper case, no
punctuation, the usual suffixes and directions in their USPS abbreviations (STREET and ST.
both ST, AVENUE AVE, NORTH N, ...), ordinals as plain numbers (24TH and 24 both 24), units
dropped (APT 3, #4, UNIT 5, FL 2), a Queens-style house number 82-01 read as 8201, and an
intersection written any way (A \\ B, A & B, A AND B, B / A) as its streets in order joined by
" & ". split_place() reads "1450 MISSION ST" as door 1450 of MISSION ST and an intersection
as a place of its own kind (CROSSING).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import cn2an
from pypinyin import lazy_pinyin

DOOR, BUILDING = "号", "栋"
CROSSING = "&"  # the kind of an intersection of streets (English addresses)

_TRADITIONAL = str.maketrans({"號": "号", "棟": "栋", "樓": "楼", "區": "区"})
_PUNCTUATION = re.compile(r"[\s,，。.、;；:：()（）\[\]【】<>《》\"'“”‘’#＃\-—_/\\|·]+")
_CHINESE_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千]+(?=号|栋|幢|座|单元|室|层|楼)")
_BUILDING_WORD = re.compile(r"(\d+)(?:号楼|栋楼|幢|座|栋)")
_LANE = re.compile(r"弄(?=\d)")
_BIG_STREET = re.compile(r"大街(?=\d)")
_NEARBY = re.compile(r"(?:附近|门口|对面|旁边|周边|一带|边上|楼下|处)+$")
_UNIT_ROOM = re.compile(r"(?:\d+单元)?(?:\d+层|\d+楼)?(?:\d+室)?$")
_YARD = re.compile(r"号院$")
_PLACE = re.compile(r"^(?P<name>.*?)(?P<number>\d+)(?P<kind>号|栋)")
_PROVINCE = re.compile(r"^[\u4e00-\u9fff]{2,7}?(?:省|自治区|特别行政区)")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# English street addresses (upper case by then).
_EN_QUOTE = re.compile(r"['’`.]")
_EN_CROSSING = re.compile(r"\s*(?:\\|&|@|\bAND\b|(?<!\d)/(?!\d))\s*")
_EN_UNIT = re.compile(r"(?:\b(?:APT|APARTMENT|UNIT|STE|SUITE|FL|FLOOR|RM|ROOM|BLDG|LOT|SPC)\b\.?\s*#?|#)"
                      r"\s*[A-Z0-9-]+\b")
_EN_PUNCTUATION = re.compile(r"[^A-Z0-9\s-]+|(?<![0-9])-|-(?![0-9])")
_EN_QUEENS = re.compile(r"^(\d+)-(\d+)\b")  # 82-01 BEACH CHANNEL DR: one door number, 8201
_EN_ORDINAL = re.compile(r"\b(\d+)(?:ST|ND|RD|TH)\b")
_EN_HAS_STREET = re.compile(r"[A-Z]{2}")
_EN_PLACE = re.compile(r"^(?P<number>\d+)[A-Z]?(?:\s+\d+/\d+)?\s+(?P<name>.*\D.*)$")
_EN_WORDS = {
    "STREET": "ST", "STR": "ST", "AVENUE": "AVE", "AV": "AVE", "AVN": "AVE", "BOULEVARD": "BLVD",
    "ROAD": "RD", "DRIVE": "DR", "PLACE": "PL", "COURT": "CT", "LANE": "LN", "TERRACE": "TER",
    "PARKWAY": "PKWY", "HIGHWAY": "HWY", "EXPRESSWAY": "EXPY", "ALLEY": "ALY", "SQUARE": "SQ",
    "CIRCLE": "CIR", "PLAZA": "PLZ", "TURNPIKE": "TPKE", "CRESCENT": "CRES", "FREEWAY": "FWY",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "NORTHEAST": "NE", "NORTHWEST": "NW", "SOUTHEAST": "SE", "SOUTHWEST": "SW",
}


@dataclass(frozen=True)
class Place:
    """The part of an address below the administrative areas."""

    name: str  # road or compound, normalised ("" when none was found)
    number: int | None
    kind: str | None  # DOOR or BUILDING


def normalise_address(text: str) -> str:
    """One spelling for the many ways of writing the same address."""
    text = unicodedata.normalize("NFKC", text)
    if not _CJK.search(text):
        return _normalise_english(text)
    text = text.translate(_TRADITIONAL)
    text = _PUNCTUATION.sub("", text)
    text = _CHINESE_NUMBER.sub(_to_digits, text)
    text = _BUILDING_WORD.sub(r"\1栋", text)
    text = _LANE.sub("巷", text)
    text = _BIG_STREET.sub("街", text)
    text = _NEARBY.sub("", text)
    text = _UNIT_ROOM.sub("", text, count=1)
    return _YARD.sub("号", text)


def strip_province(text: str) -> str:
    """The text without a leading province (浙江省, 广西壮族自治区, ...)."""
    return _PROVINCE.sub("", text, count=1)


def split_place(text: str) -> Place:
    """Road / compound name, number and kind of a normalised place ("协和南路348号",
    "1450 MISSION ST", "16 ST & MISSION ST")."""
    if not _CJK.search(text):
        if CROSSING in text:
            return Place(name=text, number=None, kind=CROSSING)
        found = _EN_PLACE.match(text)
        if found is None:
            return Place(name=text, number=None, kind=None)
        return Place(name=found["name"], number=int(found["number"]), kind=DOOR)
    found = _PLACE.match(text)
    if found is None:
        return Place(name=text, number=None, kind=None)
    return Place(name=found["name"], number=int(found["number"]), kind=found["kind"])


@lru_cache(maxsize=100_000)  # a city's place names, read once each
def spoken(name: str) -> tuple[str, ...]:
    """How a name reads aloud: one toneless pinyin syllable per character (星河华庭: xing he hua ting).

    Pinyin input methods ignore tones and offer homophones first, so 星河花庭 is typed for
    星河华庭: both read the same. Each character is read on its own, without pypinyin's phrase
    context, so that a name and its typo read the same wherever their characters sound alike.
    """
    return tuple(lazy_pinyin(list(name)))


def is_english(text: str) -> bool:
    """Whether a text holds no Chinese character (and is read as an English address)."""
    return not _CJK.search(text)


def _normalise_english(text: str) -> str:
    text = text.upper()
    text = _EN_QUOTE.sub("", text)
    streets = [_normalise_street(part) for part in _EN_CROSSING.split(text)]
    streets = [s for s in streets if s]
    if len(streets) > 1:
        # A crossing is the same crossing whichever street is written first.
        return f" {CROSSING} ".join(sorted(set(streets)))
    return streets[0] if streets else ""


def _normalise_street(text: str) -> str:
    text = text.split(",")[0] if _EN_HAS_STREET.search(text.split(",")[0]) else text
    text = _EN_UNIT.sub(" ", text)
    text = _EN_PUNCTUATION.sub(" ", text)
    text = _EN_QUEENS.sub(r"\1\2", text)
    text = _EN_ORDINAL.sub(r"\1", text)
    words = [_EN_WORDS.get(w, w) for w in text.split()]
    return " ".join(words)


def _to_digits(match: re.Match) -> str:
    try:
        return str(cn2an.cn2an(match.group(), "smart"))
    except (ValueError, KeyError, IndexError):  # cn2an's ways of refusing a malformed numeral
        return match.group()
