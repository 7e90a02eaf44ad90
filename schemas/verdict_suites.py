"""Verdict suites: a table's expectation suite for a gate that asks Great Expectations
for its verdict alone, with each column rule that several columns share (the same
rule, the same bounds) stated once over those columns.

Great Expectations spends a few milliseconds on each expectation whatever the rows
(building its metric graph), and has no rule of several columns' nulls or bounds: the
two declared here check them in one vectorised pass. A verdict suite passes exactly
when the table's suite does (the same rules, the same treatment of nulls); a gate
whose verdict suite fails runs the table's suite in detail, which names the rule
broken column by column with its rows.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (  # noqa: E501
    multicolumn_condition_partial,
)

from schemas.suites import expectation_suite
from schemas.tables import Table

IgnoreRowIf = Literal["all_values_are_missing", "any_value_is_missing", "never"]


class MulticolumnValuesNonnull(MulticolumnMapMetricProvider):
    """Whether a row has a value in each of the columns (GX's nonnull, per column)."""

    condition_metric_name = "multicolumn_values.nonnull"

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        return column_list.notna().all(axis=1)


class ExpectMulticolumnValuesToNotBeNull(MulticolumnMapExpectation):
    """Expect a value in each of the columns listed, in every row."""

    map_metric: ClassVar[str] = "multicolumn_values.nonnull"
    # every row counts: a row whose columns are all null is the very row this rule
    # must find (GX's multicolumn rules leave such rows out by default)
    ignore_row_if: IgnoreRowIf = "never"


class MulticolumnValuesBetween(MulticolumnMapMetricProvider):
    """Whether each non-null value of the row's columns is within the bounds, bounds
    included: a null is neither within nor out, as for GX's column rule."""

    condition_metric_name = "multicolumn_values.between"
    condition_value_keys = ("min_value", "max_value")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column_list: pd.DataFrame,
        min_value: float | None = None,
        max_value: float | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        within = pd.DataFrame(True, index=column_list.index, columns=column_list.columns)
        if min_value is not None:
            within &= column_list >= min_value
        if max_value is not None:
            within &= column_list <= max_value
        return (within | column_list.isna()).all(axis=1)


class ExpectMulticolumnValuesToBeBetween(MulticolumnMapExpectation):
    """Expect each non-null value of the columns listed within the bounds."""

    map_metric: ClassVar[str] = "multicolumn_values.between"
    ignore_row_if: IgnoreRowIf = "never"  # (nulls are left out value by value)
    min_value: float | None = None
    max_value: float | None = None
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "min_value", "max_value")


# a column rule, the rule that states it over several columns, and the settings of
# the column rule it can carry (a rule set otherwise is kept column by column)
SHARED_RULES: dict[type, tuple[type, frozenset[str]]] = {
    gxe.ExpectColumnValuesToNotBeNull: (ExpectMulticolumnValuesToNotBeNull, frozenset()),
    gxe.ExpectColumnValuesToBeBetween: (
        ExpectMulticolumnValuesToBeBetween,
        frozenset({"min_value", "max_value"}),
    ),
}


def verdict_suite(table: Table, context: Any) -> gx.ExpectationSuite:
    """The rules of `table`'s suite, in its order, each shared column rule stated once
    over its columns (where the first of them had it)."""
    rules: list[Any] = []
    shared: dict[tuple, list[str]] = {}
    for expectation in expectation_suite(table, context).expectations:
        key = _shared_key(expectation)
        if key is None:
            rules.append(expectation)
            continue
        if key not in shared:
            shared[key] = []
            rules.append(key)
        shared[key].append(expectation.column)
    suite = gx.ExpectationSuite(name=f"{table.name} verdicts")
    for rule in rules:
        suite.add_expectation(_stated(rule, shared[rule]) if isinstance(rule, tuple) else rule)
    return suite


def _shared_key(expectation: Any) -> tuple | None:
    """What makes a column rule the same for other columns (its kind and settings), or
    None for a rule kept as it is."""
    shared = SHARED_RULES.get(type(expectation))
    if shared is None:
        return None
    settings = expectation.dict(exclude_defaults=True, exclude={"column", "id"})
    numbers = all(type(value) in (int, float) for value in settings.values())
    if not set(settings) <= shared[1] or not numbers:  # (bounds of dates stay per column)
        return None
    return (type(expectation), tuple(sorted(settings.items())))


def _stated(key: tuple, columns: list[str]) -> Any:
    """One rule over `columns`: a column's own, when it is the only one."""
    kind, settings = key
    if len(columns) == 1:
        return kind(column=columns[0], **dict(settings))
    return SHARED_RULES[kind][0](column_list=columns, **dict(settings))
