"""Benchmark of early-warning detection over two years of daily data, for every grid and parent.

    .venv/bin/python bench/bench_warn.py                     # the demo city, 200,000 cases
    .venv/bin/python bench/bench_warn.py --records 1000000   # a busier city
    .venv/bin/python bench/bench_warn.py --database URL      # the rollups of a real database

By default the daily counts come straight from the demo truth (demo/truth.py: every true case
with its kind, category, day and areas, as a perfect ingest would roll them up), so the
benchmark measures detection, not ingest. With --database the panel is read from rollup_daily.

It prints, in one run: the time to build the area x day panels; the configured method
(count regression + CUSUM, with the citywide GLM refits) over every day of the two years for
every area and signal, episodes included; a `gridhub warn run` style pass (the last 120 days);
Gi* hotspots of one day for every signal; and, as the baseline measured in the same run, EARS
C2 (a rolling mean and standard deviation, no model) over the same panels. Target: the full
two-year detection in <= 30 s on the demo city.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.baseline import area_baseline, area_volumes  # noqa: E402
from alerts.detectors.hotspots import GridNeighbours, gi_star_hotspots, window_counts  # noqa: E402
from alerts.episodes import episodes_by_signal  # noqa: E402
from alerts.methods import DetectorSettings, Method, detect_signal  # noqa: E402
from alerts.panel import build_panel  # noqa: E402
from alerts.run import WarnSettings, detect_day  # noqa: E402
from core.case import AreaLevel  # noqa: E402
from demo.city import build_city  # noqa: E402
from demo.truth import CITY_TZ, DAYS, START_DAY, TruthPlan, iter_truth, plan_outbreaks  # noqa: E402
from store.db import connect  # noqa: E402
from store.warning_inputs import read_grid_shapes, read_hierarchy, read_rollups  # noqa: E402

TARGET_SECONDS = 30.0


def truth_inputs(records: int, seed: int):
    """Rollup rows, the area table and grid shapes of the demo city, from its truth."""
    city = build_city(seed)
    outbreaks = plan_outbreaks(city.areas, np.random.default_rng([seed, 99]), START_DAY, DAYS, records)
    frames = []
    for chunk in iter_truth(TruthPlan(city.addresses, outbreaks, records, seed)):
        chunk = chunk.assign(
            day=chunk["reported_at"].dt.tz_convert(CITY_TZ).dt.tz_localize(None).dt.normalize(),
            city_code=city.areas["code"].iloc[0],
            settled=(chunk["outcome"] == "settled").astype(int),
            not_settled=(chunk["outcome"] == "not_settled").astype(int))
        for level in AreaLevel:
            grouped = chunk.groupby([level.code_column, "day", "kind", "category"]).agg(
                reported=("feed", "size"), settled=("settled", "sum"), not_settled=("not_settled", "sum"))
            frames.append(grouped.reset_index().rename(columns={level.code_column: "area_code"})
                          .assign(level=level.value))
    rollups = pd.concat(frames, ignore_index=True)
    rollups = rollups.groupby(["area_code", "level", "day", "kind", "category"], as_index=False).sum()
    areas = pd.DataFrame(city.areas[["code", "level", "parent_code"]])
    shapes = city.areas[city.areas["level"] == AreaLevel.GRID.value][["code", "geometry"]]
    return rollups, areas, shapes


def database_inputs(url: str):
    with connect(url) as conn:
        return read_rollups(conn, None, None), read_hierarchy(conn), read_grid_shapes(conn)


def timed(label: str, results: dict, work):
    """Run work(); record (wall, CPU) seconds: CPU time is what a busy shared machine distorts least."""
    started, cpu = time.perf_counter(), time.process_time()
    value = work()
    results[label] = (time.perf_counter() - started, time.process_time() - cpu)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="demo cases over two years")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", help="read rollup_daily from this database instead")
    args = parser.parse_args()

    seconds: dict[str, float] = {}
    rollups, areas, shapes = timed("prepare inputs", seconds,
                                   lambda: database_inputs(args.database) if args.database
                                   else truth_inputs(args.records, args.seed))
    panel = timed("build panels", seconds, lambda: build_panel(rollups, areas))
    cfg = DetectorSettings()
    method = cfg.configured

    def ears_c2():
        return sum(len(detect_signal(panel, s.name, [Method.EARS_C2], cfg)[Method.EARS_C2])
                   for s in panel.signals)

    def full_history():
        volumes = area_volumes(panel, cfg.baseline)
        cells = pd.concat([detect_signal(panel, s.name, [method], cfg, volumes=volumes)[method]
                           for s in panel.signals], ignore_index=True)
        episodes, _ = episodes_by_signal(cells, panel.areas, len(panel.days), cfg.episodes)
        return len(cells), len(episodes)

    def hotspots_of_last_day():
        neighbours = GridNeighbours.from_shapes(shapes, WarnSettings().hotspots.touch_tolerance_deg)
        rows = panel.areas.index.get_indexer(neighbours.codes)
        volumes = area_volumes(panel, cfg.baseline)
        found = 0
        for signal in panel.signals:
            baseline = area_baseline(panel, signal.name, cfg.baseline, volumes,
                                     from_day=len(panel.days) - 1)
            observed, expected = window_counts(panel.counts[signal.name][rows], baseline.expected[rows],
                                               len(panel.days) - 1, WarnSettings().hotspots.window_days)
            found += len(gi_star_hotspots(observed, expected, neighbours, WarnSettings().hotspots))
        return found

    c2_cells = timed("EARS C2, all days (baseline)", seconds, ears_c2)
    cells, episodes = timed(f"{method.value}, all days + episodes", seconds, full_history)
    _, recent, _ = timed("warn run pass (last 120 days)", seconds,
                         lambda: detect_day(panel, WarnSettings()))
    hot = timed("Gi* hotspots, one day", seconds, hotspots_of_last_day)

    n_areas, n_days = panel.shape
    levels = pd.Series(panel.areas.levels).value_counts().to_dict()
    print(f"panel: {n_areas:,} areas {levels}, {n_days} days "
          f"({panel.days[0].date()} .. {panel.days[-1].date()}), {len(panel.signals)} signals, "
          f"{n_areas * n_days * len(panel.signals):,} area-day-signal cells, "
          f"{int(panel.total[panel.areas.at_level('city')].sum()):,} cases")
    print(f"alarms: {cells:,} cells in {episodes:,} episodes ({method.value}); "
          f"EARS C2 {c2_cells:,} cells; {len(recent):,} recent episodes; {hot} hotspots on the last day")
    baseline_wall, baseline_cpu = seconds["EARS C2, all days (baseline)"]
    print(f"{'step':42s} {'wall s':>8s} {'cpu s':>8s} {'x EARS C2 (cpu)':>16s}")
    for label, (wall, cpu) in seconds.items():
        print(f"{label:42s} {wall:8.2f} {cpu:8.2f} {cpu / baseline_cpu:16.2f}")
    full_wall, full_cpu = seconds[f"{method.value}, all days + episodes"]
    wall = seconds["build panels"][0] + full_wall
    cpu = seconds["build panels"][1] + full_cpu
    verdict = "met" if wall <= TARGET_SECONDS else "NOT met"
    print(f"detection for all grids and parents over two years (panels + {method.value}): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU; target <= {TARGET_SECONDS:.0f} s: {verdict}")

if __name__ == "__main__":
    main()
