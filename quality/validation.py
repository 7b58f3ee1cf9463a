"""Run a suite of rules through Great Expectations (GX Core 1.x) on a pandas DataFrame.

One ephemeral GX context per process. Results use the COMPLETE result format, whose
`unexpected_index_list` names every failing row (SUMMARY would name only 20), so a verdict
covers any number of failing rows; the counts reported are GX's own statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from core.errors import GridHubError
from quality.suite import Rule

RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": 10}
PARTIAL_VALUES = 10


class SuiteError(GridHubError):
    """An expectation of the suite could not be built or evaluated."""


@dataclass
class RuleOutcome:
    """GX's statistics for one rule, and the positions (0..n-1) of the rows that failed it."""

    rule: Rule
    evaluated: int  # GX element_count
    unexpected: int  # GX unexpected_count
    missing: int  # GX missing_count: nulls the expectation does not judge
    success: bool
    failing: np.ndarray
    examples: list[str]  # a few failing values, for records and docs


def validate(frame: pd.DataFrame, rules: list[Rule], suite_name: str,
             result_format: dict | str = RESULT_FORMAT) -> list[RuleOutcome]:
    """Evaluate every rule on the frame (positions refer to the frame's row order).

    With a result format other than COMPLETE (for comparisons), `failing` stays empty.

    Rules reading the same columns are validated together on a frame of just those columns:
    GX filters its whole batch frame once per metric, so a narrow frame keeps that cheap.
    """
    absent = sorted({c for r in rules for c in r.columns} - set(frame.columns))
    if absent:
        raise SuiteError(f"suite {suite_name!r} names columns the cases do not have: {absent}")
    if frame.empty:
        return [RuleOutcome(r, 0, 0, 0, True, np.zeros(0, dtype=np.int64), []) for r in rules]
    groups: dict[tuple[str, ...], list[Rule]] = {}
    for rule in rules:
        groups.setdefault(tuple(rule.columns), []).append(rule)
    batch_definition = _batch_definition()
    outcomes: dict[str, RuleOutcome] = {}
    for columns, group in groups.items():
        data = _gx_ready(frame[list(columns)])
        batch = batch_definition.get_batch(batch_parameters={"dataframe": data})
        result = batch.validate(build_suite(group, suite_name), result_format=result_format)
        for item in result.results:
            rule = next(r for r in group if r.key == item.expectation_config.meta["gridhub_key"])
            outcomes[rule.key] = _outcome(rule, item)
    return [outcomes[rule.key] for rule in rules]


def _gx_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Row positions as the index; nullable integers as floats, which GX compares vectorised."""
    out = frame.reset_index(drop=True)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.api.extensions.ExtensionDtype) and \
                pd.api.types.is_integer_dtype(out[column].dtype):
            out[column] = out[column].astype("float64")
    return out


def build_suite(rules: list[Rule], suite_name: str):
    """A GX ExpectationSuite holding one expectation per rule (the rule's key in its meta)."""
    import great_expectations as gx
    from great_expectations.expectations.registry import get_expectation_impl

    import quality.expectations  # noqa: F401  (registers GridHub's own expectations)

    _batch_definition()  # a suite needs an active context: make ours the current one
    suite = gx.ExpectationSuite(name=suite_name)
    for rule in rules:
        try:
            expectation = get_expectation_impl(rule.expectation)(
                **rule.kwargs, meta={"gridhub_key": rule.key, "message": rule.message,
                                     "action": rule.action.value})
        except Exception as exc:  # GX raises several unrelated types for a bad configuration
            raise SuiteError(f"expectation {rule.key!r} ({rule.expectation}) cannot be built:"
                             f" {exc}") from exc
        suite.add_expectation(expectation)
    return suite


def _outcome(rule: Rule, result: Any) -> RuleOutcome:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        raise SuiteError(f"expectation {rule.key!r} ({rule.expectation}) failed to run:"
                         f" {info.get('exception_message')}")
    stats = result.result
    failing = np.asarray(stats.get("unexpected_index_list") or [], dtype=np.int64)
    unexpected = int(stats.get("unexpected_count") or 0)
    if "unexpected_index_list" in stats and len(failing) != unexpected:
        raise SuiteError(f"GX reported {unexpected} unexpected rows for {rule.key!r} but listed"
                         f" {len(failing)}")
    examples = [str(v) for v in (stats.get("partial_unexpected_list") or [])[:PARTIAL_VALUES]]
    return RuleOutcome(rule, int(stats.get("element_count") or 0), unexpected,
                       int(stats.get("missing_count") or 0), bool(result.success), failing, examples)


def _batch_definition():
    """The whole-frame batch of the process's ephemeral context, made GX's current context
    (building data docs switches GX to a file context)."""
    from great_expectations.data_context import set_context

    context, batch_definition = _ephemeral()
    set_context(context)
    return batch_definition


@cache
def _ephemeral():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX labels each pandas batch with a hash of all its values (below this size): 2-3 s per
    # million rows, more than validating them. Our results are labelled by run id instead.
    pandas_execution_engine.HASH_THRESHOLD = 0

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("gridhub").add_dataframe_asset("canonical_cases")
    return context, asset.add_batch_definition_whole_dataframe("batch")
