"""`gridhub link accuracy` on the session's demo: precision and recall over record pairs >= 0.95."""

from __future__ import annotations

import os
import re
import subprocess

from core.settings import PROJECT_ROOT
from demo.disputes import read_disputes

GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")


def test_demo_truth_groups_records_across_feeds(demo_dir) -> None:
    records, truth = read_disputes(demo_dir / "demo")
    assert len(records) == len(truth) > 20_000  # every truth case plus the later agencies' records
    sizes = truth.groupby("dispute_id").size()
    assert (sizes > 1).sum() > 1_000 and sizes.max() <= 4
    travelled = truth[truth["dispute_id"].map(sizes) > 1]
    per_dispute = records.loc[travelled.index].groupby(travelled["dispute_id"])["source"]
    assert (per_dispute.nunique() == per_dispute.size()).all()  # each agency once per dispute
    assert records["person_key"].dropna().str.fullmatch(r"[0-9a-f]{32}").all()  # hashed, never clear
    assert set(records["src_crs"].dropna()) == {"EPSG:4326", "GCJ-02", "BD-09"}
    assert records["lon"].isna().any() and records["address"].notna().all()


def test_link_accuracy_command_reaches_the_targets(demo_dir) -> None:
    env = {**os.environ, "GRIDHUB_DATA_DIR": str(demo_dir)}
    done = subprocess.run([GRIDHUB, "link", "accuracy", "--check"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = [float(x) for x in re.findall(r"\b[01]\.\d{4}\b", done.stdout)]
    precision, recall, f1 = figures[-3:]
    assert precision >= 0.95 and recall >= 0.95 and f1 >= 0.95
