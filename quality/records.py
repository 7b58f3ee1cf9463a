"""Quality records: the validation of one run, accumulated over its chunks (store.quality_runs
keeps them in `quality_runs`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from quality.verdicts import ValidationReport


@dataclass
class QualityRecord:
    """The validation of one run so far (every chunk validated until now)."""

    run_id: int
    source: str
    suite: str
    rows_evaluated: int = 0
    rows_passed: int = 0
    rows_failed: int = 0
    mapping_failed: int = 0
    oldest_reported_at: datetime | None = None
    newest_reported_at: datetime | None = None
    expectations: list[dict] = field(default_factory=list)
    gates: list[dict] = field(default_factory=list)
    success: bool = True
    chunks: int = 0  # chunks added by this process; 0 when read back from the database


def expectation_entries(report: ValidationReport) -> list[dict]:
    """Per rule: what it expects (GX name and arguments), the message, and GX's counts."""
    return [{
        "key": o.rule.key,
        "expectation": o.rule.expectation,
        "kwargs": json.loads(json.dumps(dict(o.rule.kwargs), default=_json_value)),
        "columns": o.rule.columns,
        "action": o.rule.action.value,
        "message": o.rule.message,
        "evaluated": o.evaluated,
        "unexpected": o.unexpected,
        "missing": o.missing,
        "success": o.success,
        "examples": o.examples,
    } for o in report.outcomes]


def add_validation(record: QualityRecord | None, source: str, run_id: int,
                   report: ValidationReport) -> QualityRecord:
    """The run's record with one more chunk's validation added (a new one for the first chunk)."""
    record = record or QualityRecord(run_id, source, report.suite)
    record.rows_evaluated += report.rows
    record.rows_passed += report.passed
    record.rows_failed += report.failed
    record.mapping_failed += report.mapping_failed
    record.oldest_reported_at = _extreme(min, record.oldest_reported_at, report.oldest_reported_at)
    record.newest_reported_at = _extreme(max, record.newest_reported_at, report.newest_reported_at)
    record.expectations = merge_entries(record.expectations, expectation_entries(report))
    record.success = all(e["success"] for e in record.expectations if e["action"] == "quarantine")
    record.chunks += 1
    return record


def merge_entries(old: list[dict], new: list[dict]) -> list[dict]:
    """Sum the counts of two chunks' entries, rule by rule (rules only in one side are kept)."""
    merged = {e["key"]: dict(e) for e in old}
    for entry in new:
        have = merged.get(entry["key"])
        if have is None:
            merged[entry["key"]] = dict(entry)
            continue
        for count in ("evaluated", "unexpected", "missing"):
            have[count] += entry[count]
        have["success"] = have["success"] and entry["success"]
        have["examples"] = (have["examples"] + entry["examples"])[:10]
    return list(merged.values())


def _extreme(pick, a, b):
    values = [v for v in (a, b) if v is not None]
    return pick(values) if values else None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot record {type(value).__name__} in a quality record")
