"""Benchmark of early warning on real series, with outbreaks injected as Noufaily et al. (2013) do.

    .venv/bin/python bench/bench_warn_real.py                  # SF 2026 and Chicago 2024
    .venv/bin/python bench/bench_warn_real.py --starts 2 --ks 5 --areas 4   # a tiny run

Panels: San Francisco's police incidents of 2026 per `Analysis Neighborhood` and day (41
neighbourhoods and the city, 106 days) and Chicago's 2024 crime sample per `Community Area`
(judged only if it holds enough consecutive days of data). Into each neighbourhood, at many
start days, k x SD extra cases are injected (SD: the area's daily counts before the start;
the size is Poisson, the cases spread over the following days by a lognormal delay), k = 1, 2,
3, 5, 10. It prints, per panel: GridHub's default (alerts.methods, as `gridhub warn run`
raises alerts) with its false alerts per 100 area-weeks on the panel as it is; then R
surveillance's farringtonFlexible and EARS C1, C2, C3 and a quasi-Poisson regression
(bench/warn_reference.R, through Rscript) at the same false-alert rate: each one's threshold is
the lowest that makes no more false alerts than GridHub on the panel as it is. For each: the
probability of detection by k (an alarm in the injected area between the start and 7 days
after the outbreak's last day) and the median delay from start to first alarm.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.baseline import area_volumes  # noqa: E402
from alerts.episodes import episodes_by_signal  # noqa: E402
from alerts.incident_panel import CHICAGO_2024, SF_2026, read_incidents  # noqa: E402
from alerts.methods import DetectorSettings, detect_signal  # noqa: E402
from alerts.panel import CountPanel  # noqa: E402

REAL = ROOT.parent / "shared" / "data" / "real"
R_SCRIPT = ROOT / "bench" / "warn_reference.R"
REFERENCES = ("farringtonFlexible", "ears_c1", "ears_c2", "ears_c3", "quasipoisson_glm")
GAP_DAYS = 7  # alarms closer than this are one episode, for every method alike
TAIL_DAYS = 7  # an alarm this long after an outbreak's last day still detects it
MIN_PANEL_DAYS = 70  # GridHub judges from day 35; a panel needs weeks of verdicts after that


@dataclass(frozen=True)
class Design:
    ks: tuple[float, ...]
    starts: int  # start days per area, spread over the judged period
    areas: int  # injected neighbourhoods (all by default)
    burn_in: int  # first days, never scored: every method still learning
    duration: int  # days an outbreak's cases are spread over
    group_size: int  # areas injected together in one GridHub run (far apart in the panel order)
    seed: int


@dataclass
class Injection:
    k: float
    start: int
    area: int  # row in the panel
    extra: np.ndarray  # (days,) injected cases


@dataclass
class Score:
    method: str
    threshold: float | None
    false_rate: float
    detected: dict[float, list[int | None]]  # k -> delay of each injection (None: missed)

    def pod(self, k: float) -> float:
        found = self.detected.get(k, [])
        return sum(d is not None for d in found) / len(found) if found else float("nan")

    def median_delay(self, ks) -> float | None:
        delays = [d for k in ks for d in self.detected.get(k, []) if d is not None]
        return float(np.median(delays)) if delays else None


def injections(panel: CountPanel, signal: str, design: Design, rng: np.random.Generator) -> list[Injection]:
    """Noufaily-style outbreaks: Poisson(k x SD) cases from the start day, lognormal delays."""
    counts = panel.counts[signal]
    n_days = len(panel.days)
    last_start = n_days - design.duration - TAIL_DAYS
    starts = np.linspace(design.burn_in, last_start, design.starts).round().astype(int)
    rows = [int(r) for r in np.flatnonzero(panel.areas.parent >= 0)][:design.areas]
    found = []
    for k in design.ks:
        for start in starts:
            for area in rows:
                sd = float(np.std(counts[area, :start], ddof=1))
                size = rng.poisson(k * sd)
                offsets = np.minimum(np.floor(rng.lognormal(0.0, 0.5, size)).astype(int), design.duration - 1)
                extra = np.zeros(n_days)
                np.add.at(extra, start + offsets, 1.0)
                found.append(Injection(k, int(start), area, extra))
    return found


def with_extra(panel: CountPanel, signal: str, extra: np.ndarray) -> CountPanel:
    """The panel with extra cases (areas x days) added to the areas and to every area above."""
    lifted = extra.copy()
    for row in np.flatnonzero(extra.any(axis=1)):
        for above in panel.areas.ancestors(int(row)):
            lifted[above] += extra[row]
    counts = dict(panel.counts)
    counts[signal] = panel.counts[signal] + lifted
    return replace(panel, counts=counts, total=panel.total + lifted)


def gridhub_cells(panel: CountPanel, signal: str, cfg: DetectorSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episodes and alert cells of the configured method over the whole panel, prospectively."""
    volumes = area_volumes(panel, cfg.baseline)
    cells = detect_signal(panel, signal, [cfg.configured], cfg, volumes=volumes)[cfg.configured]
    return episodes_by_signal(cells, panel.areas, len(panel.days), cfg.episodes)


def false_rate(episodes: pd.DataFrame, n_series: int, n_days: int, burn_in: int) -> float:
    """Episodes still running after the burn-in, per 100 series-weeks of the scored days."""
    scored = int((episodes["last_day"] >= burn_in).sum()) if len(episodes) else 0
    return 100.0 * scored / (n_series * (n_days - burn_in) / 7.0)


def delay_of(days: np.ndarray, start: int, design: Design) -> int | None:
    """Days from the start to the first alarm day in the outbreak's window, None if none."""
    window = days[(days >= start) & (days <= start + design.duration - 1 + TAIL_DAYS)]
    return int(window.min() - start) if len(window) else None


def score_gridhub(panel: CountPanel, signal: str, found: list[Injection], design: Design,
                  cfg: DetectorSettings) -> Score:
    clean, _ = gridhub_cells(panel, signal, cfg)
    rate = false_rate(clean, len(panel.areas), len(panel.days), design.burn_in)
    detected: dict[float, list[int | None]] = {}
    groups: dict[tuple[float, int], list[Injection]] = {}
    for inj in found:
        groups.setdefault((inj.k, inj.start), []).append(inj)
    for batch in groups.values():
        # Areas injected together are far apart in the panel's order, so that a batch never
        # looks like a city-wide surge (which is one city alert by design).
        n_runs = int(np.ceil(len(batch) / design.group_size))
        for run in range(n_runs):
            chosen = batch[run::n_runs]
            extra = np.zeros(panel.counts[signal].shape)
            for inj in chosen:
                extra[inj.area] += inj.extra
            _, kept = gridhub_cells(with_extra(panel, signal, extra), signal, cfg)
            for inj in chosen:
                days = kept.loc[kept["area"] == inj.area, "day"].to_numpy()
                detected.setdefault(inj.k, []).append(delay_of(days, inj.start, design))
    return Score("GridHub default (glm+cusum, budget)", None, rate, detected)


def reference_scores(panel: CountPanel, signal: str, found: list[Injection], design: Design,
                     rscript: str) -> pd.DataFrame:
    """Scores (series, t, method, score) of every reference method, from R; series 'c<row>' are
    the panel's own, 'i<n>' the injected ones (t is 0-based here)."""
    counts = panel.counts[signal]
    n_days = counts.shape[1]
    frames = []
    for row in range(len(panel.areas)):
        frames.append(pd.DataFrame({"series": f"c{row}", "t": np.arange(1, n_days + 1),
                                    "count": counts[row], "first": 15, "last": n_days}))
    for n, inj in enumerate(found):
        last = min(n_days, inj.start + design.duration + TAIL_DAYS)
        frames.append(pd.DataFrame({"series": f"i{n}", "t": np.arange(1, n_days + 1),
                                    "count": counts[inj.area] + inj.extra, "first": inj.start + 1,
                                    "last": last}))
    with tempfile.TemporaryDirectory() as folder:
        given, back = Path(folder) / "in.csv", Path(folder) / "out.csv"
        pd.concat(frames, ignore_index=True).to_csv(given, index=False)
        done = subprocess.run([rscript, str(R_SCRIPT), str(given), str(back)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"error: {R_SCRIPT.name} failed: {done.stderr.strip()[-2000:]}")
        scores = pd.read_csv(back)
    return scores.assign(t=scores["t"] - 1)


def _episodes(alarms: pd.DataFrame) -> pd.DataFrame:
    """Episodes (series, first_day, last_day) of alarm days (series, t) with GAP_DAYS."""
    alarms = alarms.sort_values(["series", "t"])
    series, t = alarms["series"].to_numpy(), alarms["t"].to_numpy()
    new = np.ones(len(alarms), dtype=bool)
    new[1:] = (series[1:] != series[:-1]) | (t[1:] - t[:-1] > GAP_DAYS)
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], len(alarms)] - 1
    return pd.DataFrame({"series": series[starts], "first_day": t[starts], "last_day": t[ends]})


def score_reference(method: str, scores: pd.DataFrame, found: list[Injection], design: Design,
                    n_series: int, n_days: int, target_rate: float) -> Score:
    """The method at the lowest threshold making no more false alerts than target_rate."""
    mine = scores[scores["method"] == method]
    clean = mine[mine["series"].str.startswith("c")]
    chosen, rate = np.inf, 0.0
    for threshold in np.unique(clean.loc[clean["score"] > 0, "score"]):
        rate = false_rate(_episodes(clean[clean["score"] >= threshold]), n_series, n_days, design.burn_in)
        if rate <= target_rate:
            chosen = float(threshold)
            break
    else:
        rate = 0.0  # no threshold low enough: only cases above every clean score alarm
        chosen = float(np.nextafter(clean["score"].max(), np.inf)) if len(clean) else np.inf
    chosen = max(chosen, 1e-9)  # a score of 0 never alarms
    alarming = mine[mine["series"].str.startswith("i") & (mine["score"] >= chosen)]
    by_series = alarming.groupby("series")["t"].apply(np.asarray).to_dict()
    detected: dict[float, list[int | None]] = {}
    for n, inj in enumerate(found):
        days = by_series.get(f"i{n}", np.array([], dtype=int))
        detected.setdefault(inj.k, []).append(delay_of(days, inj.start, design))
    return Score(method, chosen, rate, detected)


def print_panel(name: str, results: list[Score], design: Design) -> None:
    ks = design.ks
    print(f"{'method':38s} {'threshold':>9s} {'false/100aw':>11s} "
          + " ".join(f"{'POD k=' + format(k, 'g'):>8s}" for k in ks)
          + f" {'median delay':>12s} {'delay k>=5':>10s}")
    for s in results:
        threshold = "budget" if s.threshold is None else f"{s.threshold:.2f}"
        delay = s.median_delay(ks)
        high = s.median_delay([k for k in ks if k >= 5])
        print(f"{s.method:38s} {threshold:>9s} {s.false_rate:11.2f} "
              + " ".join(f"{s.pod(k):8.2f}" for k in ks)
              + f" {'-' if delay is None else format(delay, 'g'):>12s} {'-' if high is None else format(high, 'g'):>10s}")
    ours, refs = results[0], results[1:]
    mean_pod = float(np.nanmean([ours.pod(k) for k in ks]))
    best = max(refs, key=lambda s: np.nanmean([s.pod(k) for k in ks])) if refs else None
    best_pod = float(np.nanmean([best.pod(k) for k in ks])) if best else float("nan")
    print(f"{name}: GridHub default {ours.false_rate:.2f} false alerts per 100 area-weeks "
          f"(target <= 1): {'met' if ours.false_rate <= 1.0 else 'NOT met'}")
    if best is not None:
        print(f"{name}: mean POD over k at matched false-alert rate: GridHub {mean_pod:.2f}, best reference "
              f"{best_pod:.2f} ({best.method}): {'met' if mean_pod >= best_pod else 'NOT met'}")
    high = ours.median_delay([k for k in ks if k >= 5])
    if high is not None:
        print(f"{name}: GridHub median delay for k >= 5: {high:g} days (target <= 3): "
              f"{'met' if high <= 3 else 'NOT met'}")


def bench_panel(name: str, panel: CountPanel, design: Design, rscript: str) -> None:
    signal = panel.signals[0].name
    n_areas, n_days = panel.shape
    cases = int(panel.total[panel.areas.at_level("city")].sum())
    print(f"\n{name}: {n_areas - 1} areas + the city, {n_days} days "
          f"({panel.days[0].date()} .. {panel.days[-1].date()}), {cases:,} cases")
    found = injections(panel, signal, design, np.random.default_rng(design.seed))
    started = time.perf_counter()
    ours = score_gridhub(panel, signal, found, design, DetectorSettings())
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores = reference_scores(panel, signal, found, design, rscript)
    r_seconds = time.perf_counter() - started
    refs = [score_reference(m, scores, found, design, n_areas, n_days, ours.false_rate) for m in REFERENCES]
    print(f"{len(found):,} injected outbreaks ({design.starts} start days x {len(found) // max(1, design.starts * len(design.ks))}"
          f" areas x k in {list(design.ks)}), scored from day {design.burn_in}; GridHub {ours_seconds:.1f} s, "
          f"R references {r_seconds:.1f} s")
    print_panel(name, [ours, *refs], design)


def longest_run(days: pd.Series, min_cases: int) -> tuple[int, pd.Timestamp | None]:
    """The longest run of consecutive days with at least min_cases city-wide, and its start."""
    busy = days[days >= min_cases].index.sort_values()
    if busy.empty:
        return 0, None
    breaks = np.flatnonzero(np.diff(busy.to_numpy()).astype("timedelta64[D]").astype(int) != 1)
    bounds = np.r_[0, breaks + 1, len(busy)]
    i = int(np.argmax(np.diff(bounds)))
    return int(bounds[i + 1] - bounds[i]), busy[bounds[i]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ks", default="1,2,3,5,10", help="outbreak sizes in SDs")
    parser.add_argument("--starts", type=int, default=8, help="start days per area")
    parser.add_argument("--areas", type=int, default=10_000, help="injected areas per panel (all)")
    parser.add_argument("--burn-in", type=int, default=42)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--group-size", type=int, default=6)
    parser.add_argument("--seed", type=int, default=2013)
    parser.add_argument("--rscript", default=shutil.which("Rscript"))
    args = parser.parse_args()
    if not args.rscript:
        raise SystemExit("error: Rscript not found: apt-get install -y r-cran-surveillance")
    design = Design(ks=tuple(float(k) for k in args.ks.split(",")), starts=args.starts, areas=args.areas,
                    burn_in=args.burn_in, duration=args.duration, group_size=args.group_size, seed=args.seed)

    sf = read_incidents(REAL / "sf" / "sf_police_incidents_2026-01-01_to_04-16.csv", SF_2026)
    bench_panel("SF 2026 by neighbourhood", sf.panel(), design, args.rscript)

    chicago = read_incidents(REAL / "chicago" / "chicago_crimes_2024_sample10k.csv", CHICAGO_2024)
    city = chicago.rollups[chicago.rollups["level"] == "city"].set_index("day")["reported"]
    n_areas = len(chicago.areas) - 1
    run, first = longest_run(city, n_areas)  # at least a case per area and day on average
    busiest = city.groupby(city.index.to_period("M")).sum().sort_values(ascending=False)
    print(f"\nChicago 2024 by community area: {n_areas} areas, {int(city.sum()):,} cases; "
          f"{busiest.index[0]} holds {int(busiest.iloc[0]):,}, every other month <= {int(busiest.iloc[1]):,}; "
          f"longest run of days with >= 1 case per area: {run} days"
          + (f" from {first.date()}" if first is not None else ""))
    if run < MIN_PANEL_DAYS:
        print(f"Chicago 2024: not benchmarked: {run} usable days, a panel needs >= {MIN_PANEL_DAYS} "
              "(GridHub's first verdict comes after 35 days of history, Farrington's after 30)")
    else:
        start = first
        bench_panel("Chicago 2024 by community area",
                    chicago.panel(end=(start + pd.Timedelta(days=run - 1)).date()), design, args.rscript)


if __name__ == "__main__":
    main()
