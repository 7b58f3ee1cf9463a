"""Quality records: one row per validation run in `quality_runs`, accumulated over its chunks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

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


def add_validation(conn: psycopg.Connection, source: str, run_id: int,
                   report: ValidationReport) -> QualityRecord:
    """Add one chunk's validation to the run's record (created by the first chunk)."""
    record = read_record(conn, run_id, lock=True) or QualityRecord(run_id, source, report.suite)
    record.rows_evaluated += report.rows
    record.rows_passed += report.passed
    record.rows_failed += report.failed
    record.mapping_failed += report.mapping_failed
    record.oldest_reported_at = _extreme(min, record.oldest_reported_at, report.oldest_reported_at)
    record.newest_reported_at = _extreme(max, record.newest_reported_at, report.newest_reported_at)
    record.expectations = merge_entries(record.expectations, expectation_entries(report))
    record.success = all(e["success"] for e in record.expectations if e["action"] == "quarantine")
    record.chunks += 1
    _save(conn, record)
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


def save_gates(conn: psycopg.Connection, run_id: int, gates: list[dict]) -> None:
    """Append gate outcomes to the run's record."""
    conn.execute("UPDATE quality_runs SET gates = gates || %s WHERE run_id = %s",
                 (Jsonb(gates), run_id))


def read_record(conn: psycopg.Connection, run_id: int, lock: bool = False) -> QualityRecord | None:
    """The run's quality record, if it has one."""
    query = ("SELECT run_id, source, suite, rows_evaluated, rows_passed, rows_failed, mapping_failed,"
             " oldest_reported_at, newest_reported_at, expectations, gates, success"
             " FROM quality_runs WHERE run_id = %s")
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query + (" FOR UPDATE" if lock else ""), (run_id,)).fetchone()
    return QualityRecord(**row) if row else None


def _save(conn: psycopg.Connection, r: QualityRecord) -> None:
    conn.execute(
        "INSERT INTO quality_runs (run_id, source, suite, validated_at, rows_evaluated, rows_passed,"
        " rows_failed, mapping_failed, oldest_reported_at, newest_reported_at, expectations, success)"
        " VALUES (%(run_id)s, %(source)s, %(suite)s, now(), %(rows_evaluated)s, %(rows_passed)s,"
        " %(rows_failed)s, %(mapping_failed)s, %(oldest)s, %(newest)s, %(expectations)s, %(success)s)"
        " ON CONFLICT (run_id) DO UPDATE SET validated_at = now(),"
        " rows_evaluated = EXCLUDED.rows_evaluated, rows_passed = EXCLUDED.rows_passed,"
        " rows_failed = EXCLUDED.rows_failed, mapping_failed = EXCLUDED.mapping_failed,"
        " oldest_reported_at = EXCLUDED.oldest_reported_at,"
        " newest_reported_at = EXCLUDED.newest_reported_at,"
        " expectations = EXCLUDED.expectations, success = EXCLUDED.success",
        {"run_id": r.run_id, "source": r.source, "suite": r.suite,
         "rows_evaluated": r.rows_evaluated, "rows_passed": r.rows_passed,
         "rows_failed": r.rows_failed, "mapping_failed": r.mapping_failed,
         "oldest": r.oldest_reported_at, "newest": r.newest_reported_at,
         "expectations": Jsonb(r.expectations), "success": r.success})


def _extreme(pick, a, b):
    values = [v for v in (a, b) if v is not None]
    return pick(values) if values else None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot record {type(value).__name__} in a quality record")


def recent_records(conn: psycopg.Connection, source: str | None = None,
                   limit: int = 20) -> list[tuple[QualityRecord, dict]]:
    """Latest quality records (newest run first), each with its run's status and error."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT q.run_id, q.source, q.suite, q.rows_evaluated, q.rows_passed, q.rows_failed,"
            " q.mapping_failed, q.oldest_reported_at, q.newest_reported_at, q.expectations, q.gates,"
            " q.success, r.status, r.error, r.started_at, r.finished_at"
            " FROM quality_runs q JOIN ingest_runs r USING (run_id)"
            " WHERE (%(source)s::text IS NULL OR q.source = %(source)s)"
            " ORDER BY q.run_id DESC LIMIT %(limit)s", {"source": source, "limit": limit}).fetchall()
    run_keys = ("status", "error", "started_at", "finished_at")
    return [(QualityRecord(**{k: v for k, v in row.items() if k not in run_keys}),
             {k: row[k] for k in run_keys}) for row in rows]
