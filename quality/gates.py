"""Batch gates: whole-run checks that stop a run before it loads.

volume      the run's record count against the median of the source's recent runs
schema      the source's columns against those of its last successful run
quarantine  the share of the run's rows that failed validation
freshness   how old the newest record delivered is

Each gate is a plain function of numbers and lists, so tests can read it as a table; the
history it compares against comes from `ingest_runs` (store.quality_runs).
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.readers.base import READER_COLUMNS
from core.errors import GridHubError
from quality.config import FreshnessGate, SchemaGate, VolumeGate


@dataclass(frozen=True)
class GateResult:
    gate: str  # volume | schema | quarantine_rate | freshness
    passed: bool
    message: str
    observed: Any = None
    limit: Any = None

    def as_record(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}


class GateFailed(GridHubError):
    """A batch gate stopped the run: nothing is loaded, the raw landing stays for replay."""

    run_status = "stopped"  # what the pipeline records for the run

    def __init__(self, source: str, run_id: int, failures: list[GateResult]):
        self.source, self.run_id, self.failures = source, run_id, failures
        reasons = "; ".join(f"{f.gate}: {f.message}" for f in failures)
        super().__init__(f"run {run_id} of {source} stopped by quality gates: {reasons}")


def volume_gate(records: int, history: list[int], cfg: VolumeGate) -> GateResult:
    """A drop below, or a spike above, the median of recent runs stops the run."""
    if not cfg.enabled or len(history) < cfg.min_history:
        return GateResult("volume", True, f"{records:,} records; too little history to compare"
                          f" ({len(history)} of {cfg.min_history} runs)", records)
    median = statistics.median(history)
    low, high = median * cfg.min_ratio, median * cfg.max_ratio
    share = records / median if median else float("inf")
    usual = f"the usual {median:,.0f} (median of the last {len(history)} successful runs)"
    if records < low:
        return GateResult("volume", False, f"{records:,} records is {share:.0%} of {usual};"
                          f" a drop below {cfg.min_ratio:.0%}", records, low)
    if records > high:
        return GateResult("volume", False, f"{records:,} records is {share:.0%} of {usual};"
                          f" a spike above {cfg.max_ratio:.0%}", records, high)
    return GateResult("volume", True, f"{records:,} records is {share:.0%} of {usual}", records)


def schema_gate(columns: list[str], baseline: list[str] | None, mapped: list[str],
                cfg: SchemaGate) -> GateResult:
    """New or missing source columns; a column the mapping reads is never allowed to go missing.

    The columns a reader adds for records it could not read are no source columns.
    """
    columns = [c for c in columns if c not in READER_COLUMNS]
    expected = cfg.columns if cfg.columns is not None else baseline
    if expected is not None:
        expected = [c for c in expected if c not in READER_COLUMNS]
    have = set(columns)
    missing_mapped = [c for c in mapped if c not in have]
    if expected is None:
        new, missing = [], missing_mapped
    else:
        new = [c for c in columns if c not in set(expected)]
        missing = [c for c in expected if c not in have]
    problems, stop = [], bool(missing_mapped)
    if missing:
        problems.append(f"missing columns {missing}")
        stop = stop or cfg.on_missing == "stop"
    if new:
        problems.append(f"new columns {new}")
        stop = stop or cfg.on_new == "stop"
    if not problems:
        return GateResult("schema", True, f"{len(columns)} columns as expected", len(columns))
    what = "; ".join(problems)
    if missing_mapped:
        what += f" (the mapping reads {missing_mapped})"
    return GateResult("schema", not stop, what, columns, expected)


def quarantine_rate_gate(failed: int, rows: int, max_rate: float) -> GateResult:
    """More failing rows than the source's threshold stops the run."""
    rate = failed / rows if rows else 0.0
    words = f"{failed:,} of {rows:,} rows failed validation ({rate:.1%}; threshold {max_rate:.1%})"
    return GateResult("quarantine_rate", rate <= max_rate, words, rate, max_rate)


def freshness_gate(newest: datetime | None, now: datetime, cfg: FreshnessGate) -> GateResult:
    """The newest record delivered must be younger than max_age_hours (when set)."""
    if cfg.max_age_hours is None:
        return GateResult("freshness", True, "no freshness limit set", newest)
    limit = now - timedelta(hours=cfg.max_age_hours)
    if newest is None:
        return GateResult("freshness", False, "no valid reported_at in the run", None, limit)
    age = (now - newest).total_seconds() / 3600
    words = f"newest record reported {age:,.1f} h ago (limit {cfg.max_age_hours:g} h)"
    return GateResult("freshness", newest >= limit, words, newest, limit)


@dataclass(frozen=True)
class RunFacts:
    """What the landing recorded about a run."""

    records: int
    fields: list[str]
    replay: bool
