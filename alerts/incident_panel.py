"""A count panel straight from an agency's incident table: one area column, one date column.

Real cities publish incident extracts that name the agency's own area of each record (San
Francisco's `Analysis Neighborhood`, Chicago's `Community Area`). Counting them per area and
day gives a two-level panel (the city and its areas) that the detectors, the lifecycle and the
benchmark judge like rollups from the store, without ingesting the extract first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alerts.panel import CountPanel, build_panel
from alerts.signals import kind_signal
from core.case import AreaLevel, CaseKind, Category
from core.errors import ConfigError
from store.warning_inputs import ROLLUP_COLUMNS


@dataclass(frozen=True)
class IncidentTable:
    """Where a city's extract keeps each record's area and day."""

    area_column: str
    day_column: str
    day_format: str  # strptime format of day_column (only its date part is used)
    city_code: str
    area_level: AreaLevel = AreaLevel.DISTRICT  # the level the agency's areas stand at
    kind: CaseKind = CaseKind.INCIDENT
    category: Category = Category.PUBLIC_SECURITY


SF_2026 = IncidentTable("Analysis Neighborhood", "Incident Date", "%Y/%m/%d", "SF")
CHICAGO_2024 = IncidentTable("Community Area", "Date", "%m/%d/%Y %I:%M:%S %p", "CHI")


@dataclass(frozen=True)
class IncidentCounts:
    """Rollup rows (ROLLUP_COLUMNS) and the area table (code, level, parent_code) of an extract."""

    rollups: pd.DataFrame
    areas: pd.DataFrame
    unplaced: int  # records without an area or a readable day: counted, never silently dropped

    def panel(self, end=None) -> CountPanel:
        """The panel of the extract's one signal, up to `end` (default: its last day)."""
        return build_panel(self.rollups, self.areas, end=end, signals=[kind_signal(self.kinds[0])])

    @property
    def kinds(self) -> list[str]:
        return sorted(self.rollups["kind"].unique())


def read_incidents(path: Path, table: IncidentTable) -> IncidentCounts:
    """Count the extract's records per area and day, at the area level and for the city."""
    try:
        frame = pd.read_csv(path, usecols=[table.area_column, table.day_column],
                            dtype={table.area_column: str}, encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError(f"no incident extract at {path}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: lacks column {table.area_column!r} or {table.day_column!r}") from exc
    return count_incidents(frame, table)


def count_incidents(frame: pd.DataFrame, table: IncidentTable) -> IncidentCounts:
    """IncidentCounts of a frame holding table.area_column and table.day_column."""
    day = pd.to_datetime(frame[table.day_column], format=table.day_format, errors="coerce").dt.normalize()
    area = frame[table.area_column].astype("string").str.strip()
    placed = day.notna() & area.notna() & (area != "")
    counted = pd.DataFrame({"area_code": area[placed].astype(str), "day": day[placed]})
    per_area = counted.groupby(["area_code", "day"]).size().rename("reported").reset_index()
    per_city = per_area.groupby("day", as_index=False)["reported"].sum().assign(area_code=table.city_code)
    rollups = pd.concat([per_area.assign(level=table.area_level.value),
                         per_city.assign(level=AreaLevel.CITY.value)], ignore_index=True)
    rollups = rollups.assign(kind=table.kind.value, category=table.category.value, settled=0,
                             not_settled=0)[list(ROLLUP_COLUMNS)]
    codes = sorted(per_area["area_code"].unique())
    areas = pd.DataFrame({"code": [table.city_code, *codes],
                          "level": [AreaLevel.CITY.value] + [table.area_level.value] * len(codes),
                          "parent_code": [None] + [table.city_code] * len(codes)})
    return IncidentCounts(rollups=rollups, areas=areas, unplaced=int((~placed).sum()))
