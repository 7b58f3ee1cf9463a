"""Seconds to link records of one dispute across agencies: a whole set, and new records into it.

The records are the demo's (demo/disputes.py: every case as its feed wrote it, plus the later
agencies' records of the disputes that travelled), drawn for --records + --new records and
split by report time: the first --records are linked at once, the next --new are then linked
into them, the block index of the first kept in memory from their linking; the time to rebuild
that index (what a run starting from stored groups adds) is printed apart. Baselines, measured
in the same run: comparing every pair of records that share an area and category family (no
time window, no cells), timed on a sample of blocks and scaled to all of them; and linking
everything again from scratch instead of only the new records.

    .venv/bin/python bench/bench_link.py [--records 1000000] [--new 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from demo.city import build_city
from demo.disputes import dispute_records
from demo.truth import TruthPlan, iter_truth, plan_outbreaks
from linking.accuracy import pair_accuracy
from linking.blocking import build_index
from linking.categories import family_members
from linking.linker import LinkSettings, link_all, link_new
from linking.records import link_frame, prepare, reference_latitude
from linking.scoring import person_weights, score_pairs
from pipeline.linking import link_frame_of

TARGET_ALL_S = 60.0
TARGET_NEW_S = 2.0
SHARE_TRAVELLING_GROWTH = 1.2  # records per truth case, follow-ups included, rounded down


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline-blocks", type=int, default=200, help="blocks timed for the baseline")
    args = parser.parse_args()

    started = time.perf_counter()
    frame, truth = _records(args.records + args.new, args.seed)
    print(f"{len(frame):,} demo records drawn and prepared in {time.perf_counter() - started:.1f} s "
          f"({truth.nunique():,} true disputes)")
    old, new = frame.iloc[:args.records], frame.iloc[args.records:]
    settings = LinkSettings()

    started = time.perf_counter()
    first = link_all(old, settings)
    all_s = time.perf_counter() - started
    started = time.perf_counter()
    later = link_new(first.state, new, settings)
    new_s = time.perf_counter() - started

    started = time.perf_counter()  # what a run that starts from stored groups adds first
    build_index(first.state.records, settings.blocking)
    build_index(first.state.records, settings.blocking, by_area=True)
    rebuild_s = time.perf_counter() - started

    found = pd.Series(later.state.groups, index=later.state.records.ids)  # every record's group now
    score = pair_accuracy(pd.Series(found.reindex(frame["record_id"]).to_numpy()), truth.reset_index(drop=True))
    naive_s, naive_pairs, sampled = _all_pairs_baseline(old, args.baseline_blocks)

    print(f"{'step':<58}{'records':>11}{'seconds':>10}")
    print(f"{'link all at once (GridHub)':<58}{len(old):>11,}{all_s:>10.2f}")
    print(f"{'baseline: all pairs in area x category family, scaled':<58}{len(old):>11,}{naive_s:>10.1f}")
    print(f"{'link new into the linked (GridHub)':<58}{len(new):>11,}{new_s:>10.2f}")
    print(f"{'  index of the linked, rebuilt (a run read from storage)':<58}{len(old):>11,}{rebuild_s:>10.2f}")
    print(f"{'baseline: link all again from scratch (scaled from above)':<58}"
          f"{len(frame):>11,}{all_s * len(frame) / max(len(old), 1):>10.2f}")
    print(f"baseline pairs: {naive_pairs:,} in all blocks, timed on {sampled:,} of them")
    print(f"links: {len(first.links) + len(later.links):,}; pairwise precision {score.precision:.4f},"
          f" recall {score.recall:.4f}, F1 {score.f1:.4f} against the true disputes")
    print(f"link {len(old):,} records in {all_s:.2f} s (target <= {TARGET_ALL_S:.0f} s at 1,000,000):"
          f" {_verdict(all_s <= TARGET_ALL_S)}")
    print(f"link {len(new):,} new into {len(old):,} in {new_s:.2f} s (target <= {TARGET_NEW_S:.0f} s at"
          f" 10,000 into 1,000,000): {_verdict(new_s <= TARGET_NEW_S)}")


def _records(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """n demo records in report order, as the linker reads them, and each one's true dispute."""
    city = build_city(seed)
    rng = np.random.default_rng([seed, 99])
    cases = int(n / SHARE_TRAVELLING_GROWTH) + 1000
    plan = TruthPlan(city.addresses, plan_outbreaks(city.areas, rng, TruthPlan.start_day, TruthPlan.days, cases),
                     cases, seed)
    parts = []
    for part, chunk in enumerate(iter_truth(plan, 500_000)):
        chunk["source_record_id"] = chunk["feed"] + "-" + chunk["uid"].astype(str)
        parts.append(dispute_records(chunk, np.random.default_rng([seed, 28, part])))
    records = pd.concat(parts, ignore_index=True).sort_values("reported_at", kind="stable").head(n)
    records = records.reset_index(drop=True)
    assert len(records) == n, f"drew {len(records):,} records for {n:,}"
    frame = link_frame_of(records.assign(record_id=np.arange(len(records)), area=records["community_code"]))
    return link_frame(frame), records["dispute_id"]


def _all_pairs_baseline(frame: pd.DataFrame, blocks: int) -> tuple[float, int, int]:
    """Seconds to score every pair sharing an area and category family, from a timed sample."""
    p = prepare(frame, reference_latitude(frame))
    weight = person_weights(p.person, pd.Series(p.person[p.person >= 0]).value_counts(), len(p.ids))
    members = []
    for rows in family_members(p.family):
        for _, group in pd.Series(rows).groupby(p.area[rows]):
            members.append(group.to_numpy())
    sizes = np.array([len(m) for m in members], dtype=np.int64)
    total_pairs = int((sizes * (sizes - 1) // 2).sum())
    sample = np.random.default_rng(1).choice(len(members), min(blocks, len(members)), replace=False)
    timed_pairs, started = 0, time.perf_counter()
    for k in sample:
        rows = members[k]
        i, j = np.triu_indices(len(rows), 1)
        score_pairs(p, rows[i], p, rows[j], weight, LinkSettings().scoring)
        timed_pairs += len(i)
    seconds = time.perf_counter() - started
    return seconds * total_pairs / max(timed_pairs, 1), total_pairs, len(sample)


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
