"""The demo city's ground truth: every case that "really happened", before any agency
records it. Feed writers (demo/feeds/) render these rows into each agency's own format and
faults; the truth itself is written beside the feeds, never into them.

Counts follow households, weekly and yearly seasonality per category, plus injected
outbreaks with known areas and start days (the early-warning harness scores against them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import shapely

from core.case import AreaLevel, CaseKind, Category, Status

START_DAY = date(2024, 11, 1)
DAYS = 730
CITY_TZ = "Asia/Shanghai"

FEEDS = (
    "hotline_12345", "police_110", "court_mediation", "people_mediation", "petitions",
    "urban_management", "labour_inspection", "district_system", "grid_patrol",
)
FEED_KIND = {
    "hotline_12345": CaseKind.COMPLAINT, "police_110": CaseKind.INCIDENT,
    "court_mediation": CaseKind.DISPUTE, "people_mediation": CaseKind.DISPUTE,
    "petitions": CaseKind.PETITION, "urban_management": CaseKind.COMPLAINT,
    "labour_inspection": CaseKind.DISPUTE, "district_system": CaseKind.DISPUTE,
    "grid_patrol": CaseKind.INCIDENT,
}
MEDIATION_FEEDS = frozenset({"court_mediation", "people_mediation", "district_system"})
CATEGORIES = tuple(Category)
# Relative frequency of each category citywide (sums need not be 1).
CATEGORY_WEIGHT = np.array([12, 22, 8, 10, 6, 6, 3, 8, 7, 8, 6, 4], dtype=float)
# How likely each feed records a case of each category (rows: FEEDS, columns: CATEGORIES).
FEED_AFFINITY = np.array([
    #lab nbr fam pm  re  lc  med trf con ps  env oth
    [4,  6,  2,  5,  3,  3,  2,  3,  6,  2,  5,  4],   # hotline_12345
    [1,  3,  3,  0,  0,  0,  1,  6,  1,  8,  0,  1],   # police_110
    [3,  0,  2,  0,  3,  1,  2,  2,  2,  0,  0,  1],   # court_mediation
    [3,  6,  4,  3,  1,  2,  1,  1,  1,  0,  1,  1],   # people_mediation
    [2,  0,  0,  0,  2,  3,  0,  0,  0,  0,  1,  1],   # petitions
    [0,  1,  0,  2,  0,  3,  0,  0,  0,  0,  5,  1],   # urban_management
    [6,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0],   # labour_inspection
    [3,  4,  2,  3,  2,  2,  1,  1,  2,  1,  1,  1],   # district_system (district 01 only)
    [0,  3,  0,  2,  0,  1,  0,  1,  0,  3,  3,  1],   # grid_patrol
], dtype=float)
DISTRICT_SYSTEM_DISTRICT = "339902000000"  # the first urban district


@dataclass(frozen=True)
class Outbreak:
    outbreak_id: int
    pattern: str  # wage_arrears_cluster | property_surge | neighbourhood_rise
    category: str
    level: str  # the level at which the outbreak is defined
    area_codes: tuple[str, ...]  # grids (cluster) or the one community / street
    start_day: date
    days: int
    extra_cases: int

    def as_record(self) -> dict:
        record = asdict(self)
        record["start_day"] = self.start_day.isoformat()
        record["area_codes"] = list(self.area_codes)
        return record


@dataclass
class TruthPlan:
    """Everything needed to draw the truth in time-ordered chunks."""

    addresses: pd.DataFrame
    outbreaks: list[Outbreak]
    n_records: int
    seed: int
    start_day: date = START_DAY
    days: int = DAYS
    day_weights: np.ndarray = field(init=False)  # days x categories

    def __post_init__(self) -> None:
        self.day_weights = _day_category_weights(self.start_day, self.days)


def _day_category_weights(start: date, days: int) -> np.ndarray:
    day = pd.date_range(start, periods=days, freq="D")
    weekly = np.where(day.dayofweek < 5, 1.1, 0.75)
    doy = day.dayofyear.to_numpy()
    yearly = 1 + 0.15 * np.cos(2 * np.pi * (doy - 200) / 365.25)  # mild summer peak overall
    weights = np.outer(weekly * yearly, CATEGORY_WEIGHT)
    # Wage arrears peak in the weeks before the Spring Festival (late Jan / early Feb).
    labour = CATEGORIES.index(Category.LABOUR)
    weights[:, labour] *= 1 + 0.8 * np.exp(-(((doy - 25 + 182) % 365 - 182) ** 2) / (2 * 15.0**2))
    neighbourhood = CATEGORIES.index(Category.NEIGHBOURHOOD)
    weights[:, neighbourhood] *= 1 + 0.25 * np.cos(2 * np.pi * (doy - 205) / 365.25)
    return weights


def plan_outbreaks(areas: pd.DataFrame, rng: np.random.Generator, start: date, days: int,
                   n_records: int) -> list[Outbreak]:
    """Pick outbreak areas and start days; sizes scale with the city's daily volume."""
    per_day = n_records / days
    scale = max(per_day / 274.0, 0.25)  # 274/day is the default 200k-records-in-2-years city
    grids = areas[areas["level"] == AreaLevel.GRID].reset_index(drop=True)
    communities = areas[areas["level"] == AreaLevel.COMMUNITY]["code"].to_numpy()
    streets = areas[areas["level"] == AreaLevel.STREET]["code"].to_numpy()
    tree = shapely.STRtree(grids.geometry.to_numpy())
    starts = np.linspace(150, days - 60, 11).astype(int)
    rng.shuffle(starts)
    outbreaks: list[Outbreak] = []
    for i in range(4):
        seed_grid = int(rng.integers(len(grids)))
        touching = tree.query(grids.geometry.iloc[seed_grid], predicate="touches")
        neighbours = [int(j) for j in touching if j != seed_grid][:2]
        cells = tuple(grids["code"].iloc[[seed_grid, *neighbours]])
        outbreaks.append(Outbreak(len(outbreaks), "wage_arrears_cluster", Category.LABOUR,
                                  AreaLevel.GRID, cells, start + timedelta(int(starts[i])), 14,
                                  int(round(40 * scale))))
    surge_communities = rng.choice(communities, 4, replace=False)  # four different places
    for i in range(4, 8):
        outbreaks.append(Outbreak(len(outbreaks), "property_surge", Category.PROPERTY_MANAGEMENT,
                                  AreaLevel.COMMUNITY, (str(surge_communities[i - 4]),),
                                  start + timedelta(int(starts[i])), 10, int(round(30 * scale))))
    for i in range(8, 11):
        outbreaks.append(Outbreak(len(outbreaks), "neighbourhood_rise", Category.NEIGHBOURHOOD,
                                  AreaLevel.STREET, (str(rng.choice(streets)),),
                                  start + timedelta(int(starts[i])), 42, int(round(90 * scale))))
    return outbreaks


def iter_truth(plan: TruthPlan, chunk_records: int = 500_000) -> Iterator[pd.DataFrame]:
    """Yield the truth in time order, in chunks of about chunk_records rows."""
    totals = plan.day_weights.sum(axis=1)
    n_chunks = max(1, int(np.ceil(plan.n_records / chunk_records)))
    bounds = np.searchsorted(np.cumsum(totals) / totals.sum(), np.linspace(0, 1, n_chunks + 1)[1:-1])
    edges = [0, *map(int, bounds), plan.days]
    per_chunk = np.random.default_rng(plan.seed).multinomial(
        plan.n_records, [totals[a:b].sum() / totals.sum() for a, b in zip(edges, edges[1:], strict=False)]
    )
    uid = 0
    for i, (a, b) in enumerate(zip(edges, edges[1:], strict=False)):
        rng = np.random.default_rng([plan.seed, i])
        chunk = _draw_background(plan, rng, a, b, int(per_chunk[i]))
        chunk = pd.concat([chunk, _draw_outbreaks(plan, rng, a, b)], ignore_index=True)
        chunk = chunk.astype("int64")  # a chunk without outbreaks concatenates an untyped empty frame
        cases = _finish(chunk, plan, rng).sort_values("reported_at", kind="stable")
        cases.insert(0, "uid", np.arange(uid, uid + len(cases), dtype=np.int64))
        uid += len(cases)
        yield cases.reset_index(drop=True)


def _draw_background(plan: TruthPlan, rng: np.random.Generator, a: int, b: int, n: int) -> pd.DataFrame:
    weights = plan.day_weights[a:b].ravel()
    cell = rng.choice(len(weights), size=n, p=weights / weights.sum())
    day_offset = a + cell // len(CATEGORIES)
    category = cell % len(CATEGORIES)
    hh = plan.addresses["households"].to_numpy(dtype=float)
    address_row = rng.choice(len(hh), size=n, p=hh / hh.sum())
    return pd.DataFrame({"day_offset": day_offset, "category_idx": category,
                         "address_row": address_row, "outbreak_id": -1})


def _draw_outbreaks(plan: TruthPlan, rng: np.random.Generator, a: int, b: int) -> pd.DataFrame:
    frames = []
    addr = plan.addresses
    for ob in plan.outbreaks:
        first = (ob.start_day - plan.start_day).days
        if not (a <= first < b):
            continue
        # A slow rise grows linearly; a cluster or surge jumps on its first day (workers who
        # were not paid, residents hit by one failure, come forward together) and then fades.
        step = np.arange(ob.days, dtype=float)
        shape = step + 1 if ob.pattern == "neighbourhood_rise" else np.exp(-step / 5.0)
        per_day = rng.multinomial(ob.extra_cases, shape / shape.sum())
        column = {AreaLevel.GRID: "grid_code", AreaLevel.COMMUNITY: "community_code",
                  AreaLevel.STREET: "street_code"}[AreaLevel(ob.level)]
        candidates = np.flatnonzero(addr[column].isin(ob.area_codes).to_numpy())
        days = np.repeat(np.arange(first, first + ob.days), per_day)
        frames.append(pd.DataFrame({
            "day_offset": days, "category_idx": CATEGORIES.index(Category(ob.category)),
            "address_row": rng.choice(candidates, size=len(days)), "outbreak_id": ob.outbreak_id,
        }))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["day_offset", "category_idx", "address_row", "outbreak_id"])
    out = pd.concat(frames, ignore_index=True)
    return out[out["day_offset"] < plan.days]


def _finish(chunk: pd.DataFrame, plan: TruthPlan, rng: np.random.Generator) -> pd.DataFrame:
    """Turn (day, category, address) draws into full case rows."""
    n = len(chunk)
    addr = plan.addresses.iloc[chunk["address_row"].to_numpy()].reset_index(drop=True)
    category = np.array([c.value for c in CATEGORIES], dtype=object)[chunk["category_idx"].to_numpy()]
    feed = _choose_feed(category, addr["district_code"].to_numpy(), rng)
    end = pd.Timestamp(plan.start_day + timedelta(plan.days), tz=CITY_TZ)
    hour = np.clip(rng.normal(13.0, 3.5, n), 0, 23.99)
    local = (pd.Timestamp(plan.start_day, tz=CITY_TZ)
             + pd.to_timedelta(chunk["day_offset"].to_numpy(), unit="D")
             + pd.to_timedelta(np.round(hour * 3600), unit="s"))
    reported = pd.DatetimeIndex(local).tz_convert("UTC")
    occurred = reported - pd.to_timedelta(np.round(rng.exponential(30.0, n) * 3600), unit="s")
    close_delay = pd.to_timedelta(np.round(rng.lognormal(np.log(5 * 24), 0.9, n) * 3600), unit="s")
    closed = reported + close_delay
    is_closed = (closed < end.tz_convert("UTC")) & (rng.random(n) < 0.97)
    status = np.where(rng.random(n) < 0.85, Status.RESOLVED.value, Status.UNRESOLVED.value).astype(object)
    open_status = rng.choice([Status.ACCEPTED.value, Status.IN_MEDIATION.value, Status.REFERRED.value], n)
    mediation = np.isin(feed, list(MEDIATION_FEEDS))
    status = np.where(is_closed, status, open_status)
    outcome = np.where(mediation & is_closed,
                       np.where(status == Status.RESOLVED.value, "settled", "not_settled"), None)
    money = np.isin(category, ["labour", "real_estate", "consumer", "land_construction", "medical"])
    amount = np.where(money, np.round(rng.lognormal(np.log(20000), 1.0, n), 2), np.nan)
    n_people = max(1000, n // 3)
    person = (rng.zipf(1.6, n) % n_people).astype(np.int64)
    return pd.DataFrame({
        "feed": feed,
        "kind": np.array([FEED_KIND[f].value for f in feed], dtype=object),
        "category": category,
        "status": status,
        "outcome": outcome,
        "reported_at": reported,
        "occurred_at": occurred,
        "closed_at": pd.DatetimeIndex(closed).where(is_closed),
        "address_id": addr["address_id"].to_numpy(),
        "address_text": addr["text"].to_numpy(),
        "lon": addr["lon"].to_numpy(),
        "lat": addr["lat"].to_numpy(),
        "grid_code": addr["grid_code"].to_numpy(),
        "community_code": addr["community_code"].to_numpy(),
        "street_code": addr["street_code"].to_numpy(),
        "district_code": addr["district_code"].to_numpy(),
        "severity": rng.integers(1, 5, n),
        "parties": rng.integers(2, 6, n),
        "amount": amount,
        "person_id": person,
        "outbreak_id": chunk["outbreak_id"].to_numpy(),
    })


def _choose_feed(category: np.ndarray, district: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw the recording feed for each case given its category and district."""
    feeds = np.array(FEEDS, dtype=object)
    cat_idx = pd.Index([c.value for c in CATEGORIES]).get_indexer(category)
    probs = FEED_AFFINITY[:, cat_idx].T.copy()  # n x feeds
    probs[district != DISTRICT_SYSTEM_DISTRICT, FEEDS.index("district_system")] = 0.0
    probs /= probs.sum(axis=1, keepdims=True)
    cumulative = probs.cumsum(axis=1)
    pick = (rng.random(len(category))[:, None] > cumulative).sum(axis=1)
    return feeds[np.minimum(pick, len(FEEDS) - 1)]
