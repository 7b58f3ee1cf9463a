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
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import cn2an
from pypinyin import lazy_pinyin

DOOR, BUILDING = "号", "栋"

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


@dataclass(frozen=True)
class Place:
    """The part of an address below the administrative areas."""

    name: str  # road or compound, normalised ("" when none was found)
    number: int | None
    kind: str | None  # DOOR or BUILDING


def normalise_address(text: str) -> str:
    """One spelling for the many ways of writing the same address."""
    text = unicodedata.normalize("NFKC", text).translate(_TRADITIONAL)
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
    """Road / compound name, number and kind of a normalised place ("协和南路348号")."""
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


def _to_digits(match: re.Match) -> str:
    try:
        return str(cn2an.cn2an(match.group(), "smart"))
    except (ValueError, KeyError, IndexError):  # cn2an's ways of refusing a malformed numeral
        return match.group()
