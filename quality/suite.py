"""The expectation suite as data: the canonical case's rules plus each source's own.

A rule names a GX expectation and its arguments, the words a data engineer reads when a row
fails it, and what failing does: quarantine the row, or only count it (a warning, for faults
that a later step repairs, such as coordinates outside the city).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from core.case import CaseKind, Category, Outcome, Status
from quality.config import QualityConfig

REQUIRED = ("source_record_id", "reported_at", "kind", "category", "status")
# How far past the run's clock a time may lie (the agencies' clocks drift); quality.future_horizon.
MAX_CLOCK_SKEW = timedelta(minutes=10)
# The canonical times that cannot lie in the future: each gets a `<name>_not_future` check.
NOT_FUTURE = ("reported_at", "occurred_at", "closed_at")
DEFAULT_START = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))
READABLE_TEXT = ("address", "area_name")


class Action(StrEnum):
    QUARANTINE = "quarantine"
    WARN = "warn"


# (x, y, crs) -> (lon, lat) in WGS84: geo.crs.to_wgs84, handed in by the pipeline.
ToWgs84 = Callable[[Any, Any, str], tuple[Any, Any]]


@dataclass(frozen=True)
class CityExtent:
    """The city's bounding box in WGS84 degrees, and how to bring source coordinates there."""

    west: float
    south: float
    east: float
    north: float
    to_wgs84: ToWgs84 | None = field(default=None, compare=False)

    @classmethod
    def around(cls, geometries, to_wgs84: ToWgs84 | None = None) -> CityExtent:
        """The box around shapely geometries (the city's grids)."""
        import shapely

        west, south, east, north = (float(v) for v in shapely.total_bounds(geometries))
        return cls(west, south, east, north, to_wgs84)


@dataclass(frozen=True)
class Rule:
    """One expectation of the suite."""

    key: str  # stable name, used in quarantine reasons and quality records
    expectation: str  # GX expectation, snake_case (expect_column_values_to_not_be_null)
    kwargs: Mapping[str, Any] = field(hash=False)
    message: str  # what is wrong with a failing row, in words
    action: Action = Action.QUARANTINE

    @property
    def columns(self) -> list[str]:
        """The columns the expectation reads."""
        kw = self.kwargs
        if "column" in kw:
            return [kw["column"]]
        if "column_A" in kw:
            return [kw["column_A"], kw["column_B"]]
        return list(kw.get("column_list", []))


def suite_rules(config: QualityConfig, now: datetime, tz: str = "Asia/Shanghai",
                extent: CityExtent | None = None,
                categories: tuple[str, ...] | None = None) -> list[Rule]:
    """The canonical rules for this moment and source, then the source's own."""
    start = (datetime.combine(config.start, datetime.min.time(), ZoneInfo(tz))
             if config.start else DEFAULT_START)
    rules = canonical_rules(now, start, extent, tuple(config.required), categories,
                            horizon=config.future_horizon)
    taken = {r.key for r in rules}
    for i, declared in enumerate(config.expectations):
        kwargs = declared.kwargs
        column = kwargs.get("column") or kwargs.get("column_A") or str(i)
        key = declared.key or f"{declared.expect.removeprefix('expect_')}__{column}"
        while key in taken:
            key += "_"
        taken.add(key)
        rules.append(Rule(key, declared.expect, kwargs, declared.message, Action(declared.action)))
    return rules


def canonical_rules(now: datetime, start: datetime = DEFAULT_START,
                    extent: CityExtent | None = None, required: tuple[str, ...] = (),
                    categories: tuple[str, ...] | None = None,
                    horizon: timedelta = MAX_CLOCK_SKEW) -> list[Rule]:
    """What every canonical case must satisfy, whatever its source.

    `categories`: the city profile's category codes (None: the canonical Category; empty:
    the sources' own values are the categories, so any is known). `horizon`: how far past
    `now` a reported, occurred or closed time may lie.
    """
    rules = [
        Rule(f"{column}_present", "expect_column_values_to_not_be_null", {"column": column},
             f"{column} is missing")
        for column in dict.fromkeys(REQUIRED + required)
    ]
    known = {"kind": [v.value for v in CaseKind], "status": [v.value for v in Status],
             "outcome": [v.value for v in Outcome],
             "category": [v.value for v in Category] if categories is None else list(categories)}
    for column, values in known.items():
        if not values:
            continue
        codes = sorted(values)
        rules.append(Rule(f"{column}_known", "expect_column_values_to_be_in_set",
                          {"column": column, "value_set": codes},
                          f"{column} is not one of {', '.join(codes)}"))
    latest = now + horizon
    rules += [
        Rule(f"{column.removesuffix('_at')}_not_future", "expect_column_values_to_be_between",
             {"column": column, "max_value": latest},
             f"{column} is in the future (after {latest:%Y-%m-%d %H:%M} UTC)")
        for column in NOT_FUTURE
    ]
    rules += [
        Rule("reported_after_start", "expect_column_values_to_be_between",
             {"column": "reported_at", "min_value": start},
             f"reported_at is before the source's start ({start:%Y-%m-%d})"),
        Rule("closed_after_reported", "expect_column_pair_values_a_to_be_greater_than_b",
             {"column_A": "closed_at", "column_B": "reported_at", "or_equal": True,
              "ignore_row_if": "either_value_is_missing"},
             "closed_at is before reported_at"),
        Rule("one_version_per_record", "expect_column_pair_values_a_to_have_one_value_of_b",
             {"column_A": "source_record_id", "column_B": "record_hash"},
             "source_record_id occurs more than once in this batch with different contents"),
        Rule("amount_not_negative", "expect_column_values_to_be_between",
             {"column": "amount", "min_value": 0}, "amount is negative"),
        Rule("severity_in_range", "expect_column_values_to_be_between",
             {"column": "severity", "min_value": 1, "max_value": 5},
             "severity is outside 1..5", Action.WARN),
        Rule("parties_positive", "expect_column_values_to_be_between",
             {"column": "parties", "min_value": 1}, "parties is below 1", Action.WARN),
    ]
    rules += [
        Rule(f"{column}_readable", "expect_column_values_to_be_readable_text", {"column": column},
             f"{column} text is garbled (wrong character encoding)")
        for column in READABLE_TEXT
    ]
    if extent is not None:
        # Coordinates outside the city are repaired or located otherwise by geo: count them only.
        rules += [
            Rule("lon_in_city", "expect_column_values_to_be_between",
                 {"column": "lon", "min_value": extent.west, "max_value": extent.east},
                 "longitude (WGS84) is outside the city's extent", Action.WARN),
            Rule("lat_in_city", "expect_column_values_to_be_between",
                 {"column": "lat", "min_value": extent.south, "max_value": extent.north},
                 "latitude (WGS84) is outside the city's extent", Action.WARN),
        ]
    return rules
