"""What follows a chunk's verdict inside the run's transaction: record it, let replayed rows
out of quarantine, and stop the run when a batch gate fails.

The pipeline calls `settle_batch` right after `judge`, once per chunk. Gates that need only
the landing (volume, schema) judge the first chunk, before anything of the run is loaded;
those that need every row (quarantine rate, freshness) judge the last one, and the
quarantine rate stops the run as soon as its threshold can no longer be met. A run loaded
while it is still landing (the one-pass ingest) cannot know its size yet: its chunks are
recorded without gates and `settle_run` judges them all once the landing is whole, before the
load commits. GateFailed rolls the run's transaction back: nothing is loaded, the committed
raw landing stays.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg

from connectors.spec import SourceSpec
from quality import docs, gates, records
from quality.config import quality_config
from quality.gates import GateFailed, GateResult
from quality.verdicts import Verdict
from store import quality_runs
from store.quarantine import release_loaded


def settle_batch(conn: psycopg.Connection, spec: SourceSpec, run_id: int, verdict: Verdict,
                 data_dir: Path | None = None, now: datetime | None = None,
                 judge_gates: bool = True) -> records.QualityRecord:
    """Record the chunk's validation; release replayed rows that pass; enforce the gates.

    With data_dir, the run's Data Docs page is built once its last chunk is validated. Without
    judge_gates (a run loaded while it is still landing), only the validation is recorded:
    `settle_run` judges every gate once the landing is whole.
    """
    if verdict.report is None:
        raise ValueError("settle_batch needs a verdict from quality.verdicts.judge")
    now = now or datetime.now(UTC)
    facts = quality_runs.run_facts(conn, run_id)
    record = records.add_validation(quality_runs.read_record(conn, run_id, lock=True), spec.name,
                                    run_id, verdict.report)
    quality_runs.save_record(conn, record)
    if facts.replay:
        release_loaded(conn, spec.name, run_id, verdict.passed["raw_id"].dropna())
        if record.rows_evaluated >= facts.records and data_dir is not None:
            docs.publish(record, data_dir, now)
        return record
    if not judge_gates:
        return record
    first = record.rows_evaluated == verdict.report.rows
    last = record.rows_evaluated >= facts.records
    return _judge(conn, spec, record, facts, first, last, data_dir, now)


def settle_run(conn: psycopg.Connection, spec: SourceSpec, run_id: int, data_dir: Path | None = None,
               now: datetime | None = None) -> records.QualityRecord | None:
    """Judge every gate of a run whose chunks were settled without them, its landing now whole.

    Nothing to judge (None) when the run read no records.
    """
    record = quality_runs.read_record(conn, run_id)
    if record is None:
        return None
    return _judge(conn, spec, record, quality_runs.run_facts(conn, run_id), True, True, data_dir,
                  now or datetime.now(UTC))


def _judge(conn: psycopg.Connection, spec: SourceSpec, record: records.QualityRecord,
           facts: gates.RunFacts, first: bool, last: bool, data_dir: Path | None,
           now: datetime) -> records.QualityRecord:
    """The gates due at this chunk (volume and schema at the first, the rest at the last)."""
    cfg = quality_config(spec)
    results: list[GateResult] = []
    if first:
        history = quality_runs.volume_history(conn, spec.name, record.run_id, cfg.volume.history_runs)
        results.append(gates.volume_gate(facts.records, history, cfg.volume))
        baseline = quality_runs.baseline_fields(conn, spec.name, record.run_id)
        results.append(gates.schema_gate(facts.fields, baseline, spec.source_fields,
                                         cfg.schema_gate))
    rate_limit = cfg.max_quarantine_rate * facts.records
    if last:
        results.append(gates.quarantine_rate_gate(record.rows_failed, record.rows_evaluated,
                                                  cfg.max_quarantine_rate))
        results.append(gates.freshness_gate(record.newest_reported_at, now, cfg.freshness))
    elif record.rows_failed > rate_limit:
        # Already more failures than the whole run may have: no need to validate the rest.
        results.append(gates.quarantine_rate_gate(record.rows_failed, facts.records,
                                                  cfg.max_quarantine_rate))
    if results:
        quality_runs.save_gates(conn, record.run_id, [r.as_record() for r in results])
        record.gates += [r.as_record() for r in results]
    failures = [r for r in results if not r.passed]
    if data_dir is not None and (last or failures):
        docs.publish(record, data_dir, now)
    if failures:
        raise GateFailed(spec.name, record.run_id, failures)
    return record
