"""The Data Docs site: failing examples masked as case rows are, whoever reads the pages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.case import empty_cases
from quality.docs import docs_dir, publish
from quality.records import add_validation
from quality.verdicts import judge

NOW = pd.Timestamp("2026-06-01 12:00", tz="UTC")
# An address with its building, unit and room numbers, garbled by a wrong encoding so that
# the address_readable expectation fails on it and names it as an example.
ADDRESS = "解放路86137号47291栋3506室"
GARBLED = ADDRESS.encode("utf-8").decode("latin-1")
NEGATIVE_AMOUNT = -37.25  # an example of a column in the clear (a number says nothing of anyone)


def _run_with_failing_addresses() -> pd.DataFrame:
    cases = empty_cases(6)
    cases["source"] = "fixture"
    cases["source_record_id"] = [f"R{i}" for i in range(6)]
    cases["record_hash"] = [f"h{i}" for i in range(6)]
    cases["kind"] = "dispute"
    cases["category"] = "labour"
    cases["status"] = "resolved"
    cases["reported_at"] = (NOW - pd.Timedelta(days=3)).as_unit("us")
    cases["address"] = "江岸市中山路幸福小区"
    cases["amount"] = 100.0
    cases.loc[[1, 2], "address"] = GARBLED
    cases.loc[4, "amount"] = NEGATIVE_AMOUNT
    return cases


def _site_text(data_dir: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in docs_dir(data_dir).rglob("*.html"))


def test_data_docs_mask_failing_addresses_and_keep_clear_columns(tmp_path):
    cases = _run_with_failing_addresses()
    problems = pd.Series([[] for _ in range(len(cases))], index=cases.index, dtype=object)
    report = judge(cases, problems, now=NOW).report
    record = add_validation(None, "fixture", 41, report)
    readable = next(e for e in record.expectations if e["key"] == "address_readable")
    assert readable["unexpected"] == 2 and GARBLED in readable["examples"]  # the run kept it

    publish(record, tmp_path, NOW.to_pydatetime())

    pages = _site_text(tmp_path)
    assert "run-41" in pages and "Sampled Unexpected Values" in pages  # the run's page, examples shown
    for number in ("86137", "47291", "3506"):
        assert number not in pages, f"the address's {number} is in the Data Docs"
    assert GARBLED.translate(str.maketrans("0123456789", "*" * 10)) in pages  # shown, numbers masked
    assert str(NEGATIVE_AMOUNT) in pages  # a number column's example stays as it is
    # Nor does the result stored beside the site (it is rendered again by `gridhub quality docs`).
    stored = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                       for p in (tmp_path / "quality").rglob("*.json"))
    assert stored and "86137" not in stored
