"""From alarm days to episodes: one alert per (area, signal) episode, none duplicated upwards.

Alarm days of one area and signal that are at most `gap_days` apart form one episode. Areas
are taken from the finest level up: while an episode is running in an area, alarms of the same
signal in the areas enclosing it are the same event seen from higher up, so they are linked to
it rather than opened as alerts of their own.

One exception, taken first, from the top down: when an area alarms while most of its children
alarm too (a storm over the city, a surge over a street), the event is the area's. Its episode
takes in every episode inside it that overlaps it, so that a city-wide surge is one city alert,
not one per area; the cells it takes in stay in the kept cells, under its episode id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alerts.panel import AreaHierarchy
from core.case import AreaLevel

# Columns of an alarm-cell frame: one row per (area, day) where a method alarmed.
# false_rate: false alerts per 100 area-weeks expected at the threshold that raised the alarm.
CELL_COLUMNS = ("area", "day", "statistic", "p_value", "observed", "expected", "method", "false_rate")
# Columns of an episode frame.
EPISODE_COLUMNS = ("episode", "area", "first_day", "last_day", "peak_day", "alarm_days", "method",
                   "statistic", "p_value", "observed", "expected", "false_rate", "linked_days")


@dataclass(frozen=True)
class EpisodeSettings:
    gap_days: int = 7  # alarms closer than this belong to one episode
    surge_share: float = 0.5  # children alarming with their parent that make it the parent's event
    surge_min_children: int = 3  # an area with fewer children never takes theirs in


def alarm_cells(alarms: np.ndarray, scores, method: str, false_rate: np.ndarray | None = None) -> pd.DataFrame:
    """The alarm cells of one method as a frame with CELL_COLUMNS (false_rate: areas x days)."""
    rows, days = np.nonzero(alarms)
    observed, expected, p_value = scores.at(rows, days)
    return pd.DataFrame({
        "area": rows, "day": days, "statistic": scores.statistic[rows, days], "p_value": p_value,
        "observed": observed, "expected": expected, "method": method,
        "false_rate": np.nan if false_rate is None else false_rate[rows, days],
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
    in that episode's `linked_days`; cells a surge takes in stay, under the surge's episode,
    and count in its `linked_days` too.
    """
    cells = (cells.astype({"area": "int64", "day": "int64"})
             .sort_values(["area", "day"], kind="stable").reset_index(drop=True))
    surge_own, surge = _surges(cells, areas, cfg)
    taken_in = cells[surge >= 0].assign(surge=surge[surge >= 0])
    cells = cells[surge < 0].assign(surge_own=surge_own[surge < 0]).reset_index(drop=True)
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
        explained_by[mine["surge_own"].to_numpy() >= 0] = -1  # a surge is its own area's event
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
        return empty, cells.iloc[0:0].drop(columns="surge_own").assign(episode=[])
    result = pd.concat(episodes, ignore_index=True)
    result["linked_days"] = result["episode"].map(linked_days).fillna(0).astype(int)
    kept = pd.concat(kept, ignore_index=True)
    if len(taken_in):
        result, kept = _take_in(result, kept, taken_in)
    return result[list(EPISODE_COLUMNS)], kept.drop(columns="surge_own")


def _surges(cells: pd.DataFrame, areas: AreaHierarchy,
            cfg: EpisodeSettings) -> tuple[np.ndarray, np.ndarray]:
    """For each cell: the surge it belongs to as the surge area's own (-1: none), and the surge
    that takes it in (-1: none)."""
    own = np.full(len(cells), -1, dtype=np.int64)
    taken_by = np.full(len(cells), -1, dtype=np.int64)
    if cells.empty:
        return own, taken_by
    raw, grouped = _group(cells, cfg.gap_days, 0)
    children = np.bincount(areas.parent[areas.parent >= 0], minlength=len(areas))
    area = raw["area"].to_numpy()
    candidates = np.flatnonzero(children[area] >= cfg.surge_min_children)
    if not len(candidates):
        return own, taken_by
    ancestors = areas.ancestor_matrix()[area]
    parent = areas.parent[area]
    first, last = raw["first_day"].to_numpy(), raw["last_day"].to_numpy()
    surge_of = np.full(len(raw), -1, dtype=np.int64)  # raw episode -> surge taking it in
    own_of = np.full(len(raw), -1, dtype=np.int64)
    depth = np.array([AreaLevel(v).depth for v in areas.levels[area[candidates]]])
    surges = 0
    of_parent = pd.Series(np.arange(len(raw))).groupby(parent).indices  # parent -> its children's
    for i in candidates[np.argsort(depth, kind="stable")]:  # the city first
        kids = of_parent.get(area[i])
        need = cfg.surge_share * children[area[i]]
        if surge_of[i] >= 0 or kids is None or len(kids) < need:
            continue
        kids = kids[(first[kids] <= last[i]) & (last[kids] >= first[i] - cfg.gap_days) & (surge_of[kids] < 0)]
        if len(np.unique(area[kids])) < need:
            continue
        overlap = (first <= last[i]) & (last >= first[i] - cfg.gap_days) & (surge_of < 0)
        surge_of[overlap & (ancestors == area[i]).any(axis=1)] = surges
        own_of[i] = surges
        surges += 1
    episode = grouped["episode"].to_numpy()
    return own_of[episode], surge_of[episode]


def _take_in(episodes: pd.DataFrame, kept: pd.DataFrame, taken_in: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give each surge's taken-in cells to the episode holding the surge area's own cells."""
    target = kept[kept["surge_own"] >= 0].drop_duplicates("surge_own").set_index("surge_own")["episode"]
    taken_in = taken_in.assign(episode=taken_in["surge"].map(target).to_numpy())
    rows = episodes.set_index("episode")
    extra = taken_in.groupby("episode").agg(first=("day", "min"), n=("day", "size"))
    rows.loc[extra.index, "first_day"] = np.minimum(rows.loc[extra.index, "first_day"], extra["first"])
    rows.loc[extra.index, "linked_days"] += extra["n"]
    return rows.reset_index(), pd.concat([kept, taken_in.drop(columns="surge")], ignore_index=True)


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
        "false_rate": cells["false_rate"].to_numpy(dtype=float)[peak],
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
