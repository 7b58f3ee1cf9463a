"""From alarm days to episodes: one alert per (area, signal) episode, none duplicated upwards.

Alarm days of one area and signal that are at most `gap_days` apart form one episode. Areas
are taken from the finest level up: while an episode is running in an area, alarms of the same
signal in the areas enclosing it are the same event seen from higher up, so they are linked to
it rather than opened as alerts of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alerts.panel import AreaHierarchy
from core.case import AreaLevel

# Columns of an alarm-cell frame: one row per (area, day) where a method alarmed.
CELL_COLUMNS = ("area", "day", "statistic", "p_value", "observed", "expected", "method")
# Columns of an episode frame.
EPISODE_COLUMNS = ("episode", "area", "first_day", "last_day", "peak_day", "alarm_days", "method",
                   "statistic", "p_value", "observed", "expected", "linked_days")


@dataclass(frozen=True)
class EpisodeSettings:
    gap_days: int = 7  # alarms closer than this belong to one episode


def alarm_cells(alarms: np.ndarray, scores, method: str) -> pd.DataFrame:
    """The alarm cells of one method as a frame with CELL_COLUMNS."""
    rows, days = np.nonzero(alarms)
    observed, expected, p_value = scores.at(rows, days)
    return pd.DataFrame({
        "area": rows, "day": days, "statistic": scores.statistic[rows, days], "p_value": p_value,
        "observed": observed, "expected": expected, "method": method,
    })


def combine(cells: list[pd.DataFrame]) -> pd.DataFrame:
    """Union of several methods' alarm cells; where two alarm on one cell, the smaller p wins."""
    frames = [c for c in cells if len(c)]
    if not frames:
        return pd.DataFrame({c: [] for c in CELL_COLUMNS})
    merged = pd.concat(frames, ignore_index=True)
    merged = merged.sort_values(["area", "day", "p_value"], na_position="last", kind="stable")
    return merged.drop_duplicates(["area", "day"]).reset_index(drop=True)


def find_episodes(cells: pd.DataFrame, areas: AreaHierarchy, n_days: int,
                  cfg: EpisodeSettings = EpisodeSettings()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episodes (EPISODE_COLUMNS) and the cells kept, each with its episode id.

    Cells explained by an episode in an enclosed area are dropped from the result and counted
    in that episode's `linked_days`.
    """
    cells = (cells.astype({"area": "int64", "day": "int64"})
             .sort_values(["area", "day"], kind="stable").reset_index(drop=True))
    level = areas.levels[cells["area"].to_numpy()] if len(cells) else np.array([], dtype=object)
    ancestors = areas.ancestor_matrix()
    # owner[a, d] = 1 + id of an episode running on day d in an area inside a (0: none).
    owner = np.zeros((len(areas), n_days), dtype=np.int64)
    kept, episodes = [], []
    linked_days: dict[int, int] = {}
    next_id = 0
    for lv in reversed(list(AreaLevel)):  # grid first
        mine = cells[level == lv.value]
        if mine.empty:
            continue
        explained_by = owner[mine["area"].to_numpy(), mine["day"].to_numpy()] - 1
        for episode_id, n in pd.Series(explained_by[explained_by >= 0]).value_counts().items():
            linked_days[int(episode_id)] = linked_days.get(int(episode_id), 0) + int(n)
        mine = mine[explained_by < 0]
        if mine.empty:
            continue
        found, mine = _group(mine, cfg.gap_days, next_id)
        next_id += len(found)
        _mark(owner, found, ancestors, cfg.gap_days)
        episodes.append(found)
        kept.append(mine)
    if not episodes:
        empty = pd.DataFrame({c: [] for c in EPISODE_COLUMNS})
        return empty, cells.iloc[0:0].assign(episode=[])
    result = pd.concat(episodes, ignore_index=True)
    result["linked_days"] = result["episode"].map(linked_days).fillna(0).astype(int)
    return result[list(EPISODE_COLUMNS)], pd.concat(kept, ignore_index=True)


def _group(cells: pd.DataFrame, gap_days: int, first_id: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one level's cells (sorted by area, day) into episodes."""
    area = cells["area"].to_numpy()
    day = cells["day"].to_numpy()
    new = np.ones(len(cells), dtype=bool)
    new[1:] = (area[1:] != area[:-1]) | (day[1:] - day[:-1] > gap_days)
    local = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(cells)] - 1
    statistic = np.nan_to_num(cells["statistic"].to_numpy(dtype=float), nan=-np.inf)
    # The peak: within each episode, the cell with the largest statistic (first on ties).
    order = np.lexsort((-statistic, local))
    peak = order[np.r_[0, np.flatnonzero(np.diff(local[order])) + 1]]
    p_value = cells["p_value"].to_numpy(dtype=float)
    episodes = pd.DataFrame({
        "episode": first_id + np.arange(len(starts)),
        "area": area[starts], "first_day": day[starts], "last_day": day[ends],
        "peak_day": day[peak], "alarm_days": ends - starts + 1,
        "method": cells["method"].to_numpy()[starts],
        "statistic": cells["statistic"].to_numpy(dtype=float)[peak],
        "p_value": np.fmin.reduceat(p_value, starts),
        "observed": cells["observed"].to_numpy(dtype=float)[peak],
        "expected": cells["expected"].to_numpy(dtype=float)[peak],
    })
    return episodes, cells.assign(episode=first_id + local)


def _mark(owner: np.ndarray, episodes: pd.DataFrame, ancestors: np.ndarray, gap_days: int) -> None:
    """Record each episode's span, and the gap it may still grow into, on its enclosing areas."""
    for row in episodes.itertuples(index=False):
        chain = [a for a in ancestors[row.area] if a >= 0]
        span = slice(row.first_day, row.last_day + gap_days + 1)
        block = owner[chain, span]
        owner[chain, span] = np.where(block == 0, row.episode + 1, block)


def episodes_by_signal(cells: pd.DataFrame, areas: AreaHierarchy, n_days: int,
                       cfg: EpisodeSettings = EpisodeSettings()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """find_episodes for cells of several signals (a `signal` column); ids stay unique."""
    episode_frames, cell_frames = [], []
    offset = 0
    for signal, group in cells.groupby("signal", sort=True):
        found, kept = find_episodes(group.drop(columns="signal"), areas, n_days, cfg)
        episode_frames.append(found.assign(signal=signal, episode=found["episode"] + offset))
        cell_frames.append(kept.assign(signal=signal, episode=kept["episode"] + offset))
        offset += len(found)
    if not episode_frames:
        return (pd.DataFrame({c: [] for c in (*EPISODE_COLUMNS, "signal")}),
                pd.DataFrame({c: [] for c in (*CELL_COLUMNS, "signal", "episode")}))
    return pd.concat(episode_frames, ignore_index=True), pd.concat(cell_frames, ignore_index=True)
