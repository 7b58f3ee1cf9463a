"""One dispute, many agencies: the demo's cross-feed records of the same dispute, and the truth.

A separate, seeded step after each chunk of the feeds: it reads the chunk's truth and leaves
every feed file and truth file as they were (its own random stream, its own files). Some truth cases become disputes that travel: each later agency keeps
its own record of it (its own id and clock, hours to weeks later, its own coordinate system
and precision, or only an address written its own way, the keyed-hashed phone number in some
records and not in others, the category named its own way). The records land, as ingest would
have left them, in disputes/part-*.parquet; the true dispute of every record in
truth/disputes/part-*.csv, row for row (a case that travelled nowhere is a dispute of its own).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.case import Category
from core.crs import CRS
from core.errors import ConfigError
from core.hashing import row_hashes
from demo.feeds.address_noise import vary_addresses
from demo.feeds.base import CATEGORY_LABELS
from demo.people import phones
from demo.truth import CATEGORIES, FEED_AFFINITY, FEEDS
from geo.crs import from_wgs84, to_wgs84
from linking.categories import FAMILIES

SHARE_TRAVELLING = 0.15  # of truth cases, followed by at least one more agency
MORE_AGENCIES_MEAN = 0.6  # beyond the first follow-up (Poisson), at most three in all
PERSON_SALT = "demo-person"  # stands in for the deployment's key of personal data
P_KEY = 0.7  # a record carries the hashed phone number
P_NO_POINT = 0.15  # a follow-up gives only an address
P_SAME_CATEGORY, P_KINDRED = 0.80, 0.12  # else "other"
P_AMOUNT = 0.6  # a follow-up of a money dispute states the amount
P_RESPONDENT = 0.6  # a record names the other side (a firm, a shop, a site), its own way
BRAND = list("鑫华恒盛瑞祥泰丰宏达金源兴隆永安博远天成新世纪东方明珠绿洲佳美康乐福星锦绣")
TRADE = ("物业管理", "建筑工程", "餐饮管理", "商贸", "房地产开发", "装饰工程", "劳务派遣", "医疗", "汽车服务",
         "物流", "电子科技", "家政服务")
LEGAL_FORMS = ("有限公司", "有限责任公司", "公司", "")
RECORD_COLUMNS = ["source", "source_record_id", "reported_at", "occurred_at", "category",
                  "raw_category", "lon", "lat", "src_x", "src_y", "src_crs", "address",
                  "community_code", "street_code", "district_code", "person_key", "amount", "respondent"]
TRUTH_COLUMNS = ["source", "source_record_id", "dispute_id"]


def write_disputes(out_dir: Path, truth: pd.DataFrame, seed: int, part: int) -> int:
    """Write one chunk's dispute records and their truth; returns the number of records."""
    records = dispute_records(truth, np.random.default_rng([seed, 28, part]))
    for folder in (out_dir / "disputes", out_dir / "truth" / "disputes"):
        folder.mkdir(parents=True, exist_ok=True)
    records[RECORD_COLUMNS].to_parquet(out_dir / "disputes" / f"part-{part:04d}.parquet", index=False)
    records[TRUTH_COLUMNS].to_csv(out_dir / "truth" / "disputes" / f"part-{part:04d}.csv", index=False)
    return len(records)


def read_disputes(out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo's cross-feed records and their true disputes (row for row)."""
    parts = sorted((out_dir / "disputes").glob("part-*.parquet"))
    if not parts:
        raise ConfigError(f"no demo dispute records under {out_dir / 'disputes'}: run `gridhub demo generate`")
    records = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    truth = pd.concat([pd.read_csv(out_dir / "truth" / "disputes" / f"{p.stem}.csv", dtype={"source_record_id": str})
                       for p in parts], ignore_index=True)
    return records, truth


def dispute_records(truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Every truth case as its feed recorded it, plus the later agencies' records of some."""
    first = pd.DataFrame({
        "source": truth["feed"].astype(str), "source_record_id": truth["source_record_id"].astype(str),
        "reported_at": truth["reported_at"], "occurred_at": truth["occurred_at"],
        "category": truth["category"].astype(str), "lon": truth["lon"], "lat": truth["lat"],
        "src_x": truth["lon"], "src_y": truth["lat"], "src_crs": str(CRS.WGS84),
        "address": truth["address_text"], "community_code": truth["community_code"],
        "street_code": truth["street_code"], "district_code": truth["district_code"],
        "person_key": _keys(truth["person_id"].to_numpy(), rng), "amount": truth["amount"],
        "dispute_id": truth["uid"].to_numpy(),
    })
    first["raw_category"] = _labels(first["category"])
    brand = rng.integers(0, len(BRAND), (len(truth), 3))
    # The other side of each dispute: a firm named by three brand characters and a trade.
    truth = truth.assign(respondent=[BRAND[a] + BRAND[b] + BRAND[c] + TRADE[t] for (a, b, c), t in
                                     zip(brand, rng.integers(0, len(TRADE), len(truth)), strict=True)])
    first["respondent"] = _written_names(truth["respondent"].to_numpy(), rng)
    return pd.concat([first, _follow_ups(truth, rng)], ignore_index=True)


def _follow_ups(truth: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    travelling = truth[rng.random(len(truth)) < SHARE_TRAVELLING].reset_index(drop=True)
    hops = np.minimum(1 + rng.poisson(MORE_AGENCIES_MEAN, len(travelling)), 3)
    base = travelling.loc[np.repeat(np.arange(len(travelling)), hops)].reset_index(drop=True)
    step = np.concatenate([np.arange(1, h + 1) for h in hops]) if len(hops) else np.array([], int)
    n = len(base)
    # Each referral takes hours to weeks; the gaps add up along the dispute's way.
    gap_hours = np.clip(rng.lognormal(np.log(18.0), 1.2, n), 0.5, 21 * 24.0)
    elapsed = pd.Series(gap_hours).groupby(np.repeat(np.arange(len(hops)), hops)).cumsum().to_numpy()
    reported = base["reported_at"] + pd.to_timedelta(np.round(elapsed * 3600), unit="s")
    lon, lat, src_x, src_y, src_crs = _written_points(base, rng)
    category = _renamed(base["category"].astype(str).to_numpy(), rng)
    amount = base["amount"].to_numpy(dtype=float)
    amount = np.where(rng.random(n) < P_AMOUNT, np.where(rng.random(n) < 0.5, np.round(amount), amount), np.nan)
    out = pd.DataFrame({
        "source": _other_feeds(base, step, rng),
        "reported_at": reported, "occurred_at": pd.Series(pd.NaT, index=base.index, dtype=truth["occurred_at"].dtype),
        "category": category,
        "lon": lon, "lat": lat, "src_x": src_x, "src_y": src_y, "src_crs": src_crs,
        "address": vary_addresses(base["address_text"].to_numpy(), rng),
        "community_code": base["community_code"], "street_code": base["street_code"],
        "district_code": base["district_code"],
        "person_key": _keys(base["person_id"].to_numpy(), rng), "amount": amount,
        "dispute_id": base["uid"].to_numpy(),
    })
    out["source_record_id"] = [f"X{u:07d}-{s}" for u, s in zip(base["uid"], step, strict=True)]
    out["raw_category"] = _labels(out["category"])
    out["respondent"] = _written_names(base["respondent"].to_numpy(), rng)
    return out


def _written_names(names: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The other side as one agency writes it: with the city, a legal form, the trade cut
    short, or left out altogether."""
    n = len(names)
    city = np.where(rng.random(n) < 0.4, "江岸市", "")
    form = np.array(LEGAL_FORMS, dtype=object)[rng.integers(0, len(LEGAL_FORMS), n)]
    short = rng.random(n) < 0.3
    written = [c + (name[:5] if cut else name) + f for c, name, cut, f in zip(city, names, short, form, strict=True)]
    return np.where(rng.random(n) < P_RESPONDENT, np.array(written, dtype=object), None)


def _keys(person_id: np.ndarray, rng: np.random.Generator) -> pd.Series:
    keys = row_hashes(pd.DataFrame({"phone": phones(person_id)}), PERSON_SALT)
    return keys.where(rng.random(len(keys)) < P_KEY)


def _labels(category: pd.Series) -> np.ndarray:
    labels = {str(k): v for k, v in CATEGORY_LABELS.items()}
    return category.map(labels).to_numpy(dtype=object)


def _other_feeds(base: pd.DataFrame, step: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The later agencies of each dispute: drawn by the category's affinity without
    replacement (Gumbel top-k), so one dispute reaches each agency once."""
    cat_idx = pd.Index([c.value for c in CATEGORIES]).get_indexer(base["category"].astype(str))
    probs = FEED_AFFINITY[:, cat_idx].T.copy() + 0.05
    probs[:, FEEDS.index("district_system")] = 0.0  # one district's own system: leave it be
    probs[np.arange(len(base)), pd.Index(FEEDS).get_indexer(base["feed"].astype(str))] = 0.0
    # Rows of one dispute share its draw: the dispute's first row draws for all of its hops.
    first_row = np.arange(len(base)) - (step - 1)
    with np.errstate(divide="ignore"):
        keys = np.log(probs[first_row]) + rng.gumbel(size=(len(base), len(FEEDS)))[first_row]
    ranked = np.argsort(-keys, axis=1)
    return np.array(FEEDS, dtype=object)[ranked[np.arange(len(base)), step - 1]]


def _renamed(category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The category as a later agency maps it: mostly the same, else a kindred one or other."""
    draw = rng.random(len(category))
    kin = {str(c): sorted(str(k) for k in family) for family in FAMILIES for c in family}
    out = category.copy()
    for i in np.flatnonzero((draw >= P_SAME_CATEGORY) & (draw < P_SAME_CATEGORY + P_KINDRED)):
        options = kin.get(category[i], [category[i]])
        out[i] = options[int(rng.integers(len(options)))]
    out[draw >= P_SAME_CATEGORY + P_KINDRED] = str(Category.OTHER)
    return out


def _written_points(base: pd.DataFrame, rng: np.random.Generator):
    """Where each agency put the dispute: its own jitter, CRS and precision, or no point."""
    n = len(base)
    metres = rng.normal(0.0, 25.0, (n, 2))
    lon = base["lon"].to_numpy(dtype=float) + metres[:, 0] / (111_320.0 * np.cos(np.radians(30.0)))
    lat = base["lat"].to_numpy(dtype=float) + metres[:, 1] / 111_320.0
    systems = np.array([str(CRS.WGS84), str(CRS.GCJ02), str(CRS.BD09)], dtype=object)
    src_crs = systems[rng.choice(3, n, p=[0.3, 0.4, 0.3])]
    src_x, src_y = np.empty(n), np.empty(n)
    back_lon, back_lat = np.empty(n), np.empty(n)
    decimals = rng.choice([3, 4, 5], n, p=[0.2, 0.4, 0.4])
    for crs in systems:
        mine = src_crs == crs
        x, y = from_wgs84(lon[mine], lat[mine], crs)
        x, y = np.round(x * 10.0 ** decimals[mine]) / 10.0 ** decimals[mine], \
            np.round(y * 10.0 ** decimals[mine]) / 10.0 ** decimals[mine]
        src_x[mine], src_y[mine] = x, y
        back_lon[mine], back_lat[mine] = to_wgs84(x, y, crs)  # what geo makes of it at ingest
    none = rng.random(n) < P_NO_POINT
    for column in (back_lon, back_lat, src_x, src_y):
        column[none] = np.nan
    return back_lon, back_lat, src_x, src_y, np.where(none, None, src_crs)
