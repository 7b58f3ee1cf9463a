"""Row-level verdicts: which canonical rows pass, and for the others every reason in words.

The suite (quality.suite) runs through Great Expectations once per chunk; every row that
fails a quarantining expectation, or whose mapping left a problem, fails with all of its
reasons at once, so a data engineer fixing a spec sees everything wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from connectors.mapping import UNREADABLE
from connectors.spec import SourceSpec
from quality.config import quality_config
from quality.suite import Action, CityExtent, suite_rules
from quality.text import looks_garbled
from quality.validation import RuleOutcome, validate

CANONICAL_SUITE = "canonical_case"


@dataclass
class ValidationReport:
    """What one validation found: GX's statistics per rule and the row counts of the split."""

    suite: str
    rows: int
    passed: int
    failed: int
    mapping_failed: int  # rows whose mapping already reported a problem
    outcomes: list[RuleOutcome] = field(default_factory=list)
    oldest_reported_at: pd.Timestamp | None = None  # among passing rows
    newest_reported_at: pd.Timestamp | None = None


@dataclass
class Verdict:
    """Rows that pass, and (row index -> reasons) for those that do not."""

    passed: pd.DataFrame
    failed: pd.DataFrame
    reasons: pd.Series  # aligned with failed: list[dict(check, message, ...)]
    report: ValidationReport | None = None


def judge(cases: pd.DataFrame, problems: pd.Series, *, spec: SourceSpec | None = None,
          now: pd.Timestamp | None = None, extent: CityExtent | None = None,
          categories: tuple[str, ...] | None = None) -> Verdict:
    """Check every row against the suite (the source's own rules too, given its spec);
    mapping problems count as failures. `categories`: as quality.suite.canonical_rules."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    config = quality_config(spec)
    rules = suite_rules(config, now.to_pydatetime(), spec.timezone if spec else "Asia/Shanghai",
                        extent, categories)
    suite = spec.name if spec else CANONICAL_SUITE
    outcomes = validate(_with_wgs84(cases, extent), rules, suite)

    counts = np.fromiter(map(len, problems.array), dtype=np.int64, count=len(problems))
    failing = counts > 0
    reasons: dict[int, list[dict]] = {
        int(i): [_mapping_reason(p) for p in problems.iat[i]] for i in np.flatnonzero(failing)}
    for outcome in outcomes:
        if outcome.rule.action is not Action.QUARANTINE:
            continue
        reason = {"check": outcome.rule.key, "expectation": outcome.rule.expectation,
                  "columns": outcome.rule.columns, "message": outcome.rule.message}
        for i in outcome.failing.tolist():
            reasons.setdefault(i, []).append(reason)
        failing[outcome.failing] = True

    positions = np.flatnonzero(failing)
    failed = cases.iloc[positions]
    passed = cases.iloc[np.flatnonzero(~failing)]
    reported = passed["reported_at"] if "reported_at" in passed else pd.Series(dtype="object")
    report = ValidationReport(
        suite=suite, rows=len(cases), passed=len(passed), failed=len(failed),
        mapping_failed=int((counts > 0).sum()), outcomes=outcomes,
        oldest_reported_at=_or_none(reported.min()), newest_reported_at=_or_none(reported.max()))
    reason_series = pd.Series([reasons[int(i)] for i in positions], index=failed.index, dtype=object)
    return Verdict(passed=passed, failed=failed, reasons=reason_series, report=report)


def _with_wgs84(cases: pd.DataFrame, extent: CityExtent | None) -> pd.DataFrame:
    """The cases with lon/lat filled from the source coordinates, for the extent check only
    (geo converts and locates them for real after validation)."""
    if extent is None or extent.to_wgs84 is None or "src_x" not in cases:
        return cases
    lon = cases["lon"].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    lat = cases["lat"].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    x = cases["src_x"].to_numpy(dtype="float64", na_value=np.nan)
    y = cases["src_y"].to_numpy(dtype="float64", na_value=np.nan)
    crs = cases["src_crs"].astype("string")
    todo = np.isnan(lon) & np.isfinite(x) & np.isfinite(y) & crs.notna().to_numpy()
    for name in pd.unique(crs[todo]):
        rows = todo & (crs == name).to_numpy(dtype=bool, na_value=False)
        lon[rows], lat[rows] = extent.to_wgs84(x[rows], y[rows], str(name))
    return cases.assign(lon=lon, lat=lat)


def _mapping_reason(problem: str) -> dict:
    field_name, _, rest = problem.partition(":")
    if field_name == UNREADABLE:  # the reader could not read the record at all
        return {"check": "unreadable", "message": rest.strip()}
    return {"check": "mapping", "field": field_name.strip(), "message": problem}


def _or_none(value) -> pd.Timestamp | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value)


__all__ = ["CityExtent", "ValidationReport", "Verdict", "judge", "looks_garbled"]
