"""`gridhub demo generate`: the demo city, its agency feeds and the ground truth beside them.

Layout under the output folder:
    city/      areas_<level>.geojson (DataV style) and gazetteer.csv
    feeds/     one file (or database table, or API fixture) per agency feed
    truth/     records/part-*.parquet (true grid of every record, with feed, source_record_id
               and address_ambiguous: the address the feed wrote does not single out the true
               community), defects.csv (every injected fault: feed, source_record_id, fault,
               field, expected handling), outbreaks.json, disputes/part-*.csv (the true
               dispute of each record under disputes/)
    disputes/  part-*.parquet: every case as its feed recorded it plus the later agencies'
               records of the same dispute (demo/disputes.py), for linking
    manifest.json
Streams in time-ordered chunks, so ten million records need no more memory than one chunk.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from core.errors import ConfigError
from demo.city import build_city, write_city
from demo.disputes import write_disputes
from demo.feeds.address_noise import AddressReadings
from demo.feeds.base import FeedContext
from demo.feeds.court import CourtWriter
from demo.feeds.district import DistrictWriter
from demo.feeds.faults import DEFECT_COLUMNS
from demo.feeds.hotline import HotlineWriter
from demo.feeds.labour import LabourWriter
from demo.feeds.mediation import MediationWriter
from demo.feeds.patrol import PatrolWriter
from demo.feeds.petitions import PetitionsWriter
from demo.feeds.police import PoliceWriter
from demo.feeds.urban import UrbanWriter
from demo.truth import CITY_TZ, DAYS, FEEDS, START_DAY, TruthPlan, iter_truth, plan_outbreaks

DEFAULT_SEED = 7
DEFAULT_RECORDS = 200_000
FEED_WRITERS = (HotlineWriter, PoliceWriter, CourtWriter, MediationWriter, PetitionsWriter,
                UrbanWriter, LabourWriter, DistrictWriter, PatrolWriter)
assert sorted(w.name for w in FEED_WRITERS) == sorted(FEEDS), "one writer per demo feed"


@dataclass(frozen=True)
class DemoManifest:
    seed: int
    records: int
    per_feed: dict[str, int]
    defects: int
    outbreaks: int

    @classmethod
    def read(cls, out_dir: Path) -> DemoManifest | None:
        path = out_dir / "manifest.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


def generate(out_dir: Path, seed: int = DEFAULT_SEED, records: int = DEFAULT_RECORDS,
             chunk_records: int = 500_000,
             progress: Callable[[int], None] | None = None) -> DemoManifest:
    """Write the demo city, feeds and truth; progress(n) is called after each chunk of n rows."""
    for part in ("feeds", "truth", "disputes"):
        shutil.rmtree(out_dir / part, ignore_errors=True)
    (out_dir / "truth" / "records").mkdir(parents=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)
    city = build_city(seed)
    write_city(city, out_dir / "city")
    rng = np.random.default_rng([seed, 99])
    outbreaks = plan_outbreaks(city.areas, rng, START_DAY, DAYS, records)
    plan = TruthPlan(city.addresses, outbreaks, records, seed)
    area_names = dict(zip(city.areas["code"], city.areas["name"], strict=True))
    context = FeedContext(out_dir / "feeds", CITY_TZ, area_names, AddressReadings(city.addresses))
    writers = [w(context) for w in FEED_WRITERS]
    per_feed: dict[str, int] = {}
    defects_path = out_dir / "truth" / "defects.csv"
    n_defects = 0
    pd.DataFrame(columns=DEFECT_COLUMNS).to_csv(defects_path, index=False)
    try:
        for part, truth in enumerate(iter_truth(plan, chunk_records)):
            truth["source_record_id"] = None
            truth["address_ambiguous"] = False  # the standard address, or none, is never ambiguous
            for writer in writers:
                mine = (truth["feed"] == writer.name).to_numpy()
                truth.loc[mine, "source_record_id"] = writer.record_ids(truth[mine]).to_numpy()
                rows = truth[mine].reset_index(drop=True)
                # A writer that varies addresses marks, on its rows, those its variants leave open.
                found = writer.write(rows, rng)
                truth.loc[mine, "address_ambiguous"] = rows["address_ambiguous"].to_numpy()
                found[DEFECT_COLUMNS].to_csv(defects_path, mode="a", header=False, index=False)
                n_defects += len(found)
                per_feed[writer.name] = per_feed.get(writer.name, 0) + int(mine.sum())
            truth.to_parquet(out_dir / "truth" / "records" / f"part-{part:04d}.parquet", index=False)
            write_disputes(out_dir, truth, seed, part)
            if progress:
                progress(len(truth))
    finally:
        for writer in writers:
            writer.close()
    (out_dir / "truth" / "outbreaks.json").write_text(
        json.dumps([o.as_record() for o in outbreaks], ensure_ascii=False, indent=1))
    manifest = DemoManifest(seed=seed, records=records, per_feed=per_feed,
                            defects=n_defects, outbreaks=len(outbreaks))
    (out_dir / "manifest.json").write_text(json.dumps(manifest.__dict__, indent=1))
    return manifest


def read_truth(out_dir: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The whole truth table (for accuracy reports and tests on demo-sized cities)."""
    parts = sorted((out_dir / "truth" / "records").glob("part-*.parquet"))
    missing = sorted(set(columns or ()) - set(pq.read_schema(parts[0]).names)) if parts else []
    if missing:
        raise ConfigError(f"the demo truth under {out_dir} lacks {missing}: an older GridHub wrote it;"
                          " run `gridhub demo generate` again")
    return pd.concat([pd.read_parquet(p, columns=columns) for p in parts], ignore_index=True)
