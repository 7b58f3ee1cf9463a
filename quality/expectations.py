"""GridHub's own GX expectations, for checks no built-in expectation makes.

Defining the classes registers their metrics and expectations with GX, so this module is
imported (lazily, GX is slow to import) wherever a suite is built or rendered.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from quality.text import garbled_mask


class ColumnValuesReadableText(ColumnMapMetricProvider):
    condition_metric_name = "column_values.gridhub_readable_text"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs) -> pd.Series:
        return pd.Series(~garbled_mask(column), index=column.index)


class ExpectColumnValuesToBeReadableText(ColumnMapExpectation):
    """Expect text values not to be garbled by a wrong character encoding (mojibake)."""

    map_metric = "column_values.gridhub_readable_text"
    success_keys = ("mostly",)
    args_keys = ("column",)
    library_metadata: ClassVar[dict] = {"maturity": "experimental", "tags": ["gridhub"],
                                        "contributors": ["gridhub"]}


class ColumnPairSingleVersion(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.gridhub_single_version"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition",
                             "condition_parser", "ignore_row_if")
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs) -> pd.Series:
        ok = np.ones(len(column_A), dtype=bool)
        repeated = column_A.duplicated(keep=False).to_numpy()  # most keys occur once: cheap
        if repeated.any():
            keys, values = column_A[repeated], column_B[repeated]
            versions = values.groupby(keys.to_numpy(), sort=False).transform("nunique")
            ok[repeated] = versions.to_numpy() <= 1
        return pd.Series(ok, index=column_A.index)


class ExpectColumnPairValuesAToHaveOneValueOfB(ColumnPairMapExpectation):
    """Expect every value of column A to come with a single value of column B in the batch.

    With A the record id and B the content hash: a record may be repeated verbatim (a
    duplicate, skipped at load) but not sent twice with different contents.
    """

    map_metric = "column_pair_values.gridhub_single_version"
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B")
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing")
    library_metadata: ClassVar[dict] = {"maturity": "experimental", "tags": ["gridhub"],
                                        "contributors": ["gridhub"]}
