"""bench_partitions.py at a tiny size: both layouts loaded, merged, queried and retired, every
figure printed with its ratio (its own file: the other bench smokes are in test_bench_smoke)."""

from __future__ import annotations

import re

import pytest

from tests.bench.test_bench_smoke import NUMBER, as_number, line, run_bench

LABELS = ["load (insert, then indexes)", "merge of 1,000 records (median batch)", "one month by district",
          "one grid, last 30 days", "one year's count", "a case by its id", "a case by its agency's key",
          "retire the oldest month"]


@pytest.mark.slow  # two databases migrated and loaded
def test_bench_partitions(server_url):
    out = run_bench("bench_partitions.py", "--cases", "24000", "--months", "12", "--batches", "2",
                    "--batch", "1000", "--repeat", "2", "--server", server_url)
    line(out, r"24,000 cases, 12 months; seconds \(median where repeated\)")
    for label in LABELS:
        figures = line(out, rf"{re.escape(label)}\s+({NUMBER})\s+({NUMBER})\s+({NUMBER})x$").groups()
        partitioned, one_table, ratio = (as_number(f) for f in figures)
        assert ratio > 0
        if partitioned >= 0.01:  # printed to 0.1 ms: smaller figures are too coarse to divide
            assert ratio == pytest.approx(one_table / partitioned, rel=0.05)
    for layout in ("partitioned", "one table"):
        per_case = line(out, rf"  {layout}\s+cases\s+({NUMBER})\s+case_keys\s+({NUMBER})\s+total").groups()
        assert all(as_number(n) > 50 for n in per_case)  # a case row and its keys take bytes
