"""Great Expectations suites, built in code from the table definitions."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.data_context.types.base import ProgressBarsConfig

from schemas.tables import Column, Table

# GX sets this logger to INFO itself, and it then announces a temporary folder for
# every context it creates.
logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)


def new_context() -> Any:
    """A Great Expectations context: ephemeral, nothing written to disk."""
    ephemeral = gx.get_context(mode="ephemeral")
    ephemeral.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ephemeral


def expectation_suite(table: Table, context: Any = None) -> gx.ExpectationSuite:
    """The suite that a batch of `table` must pass, derived from its column rules.
    GX builds expectations only with an active context: one is made if none is given."""
    if context is None:
        new_context()
    suite = gx.ExpectationSuite(name=table.name)
    suite.add_expectation(gxe.ExpectTableColumnsToMatchOrderedList(column_list=table.column_names))
    for column in table.columns:
        for expectation in _column_expectations(column):
            suite.add_expectation(expectation)
    for expectation in _row_expectations(table):
        suite.add_expectation(expectation)
    return suite


def _column_expectations(column: Column) -> Iterator[gx.expectations.Expectation]:
    """The expectations of one column's rules, in the order the rules are declared."""
    name = column.name
    if not column.nullable:
        yield gxe.ExpectColumnValuesToNotBeNull(column=name)
    if column.unique:
        yield gxe.ExpectColumnValuesToBeUnique(column=name)
    if column.values is not None:
        yield gxe.ExpectColumnValuesToBeInSet(column=name, value_set=list(column.values))
    if column.min_value is not None or column.max_value is not None:
        yield gxe.ExpectColumnValuesToBeBetween(
            column=name, min_value=column.min_value, max_value=column.max_value
        )
    if column.regex is not None:
        yield gxe.ExpectColumnValuesToMatchRegex(column=name, regex=column.regex)
    if column.forbidden is not None:
        yield gxe.ExpectColumnValuesToNotMatchRegex(column=name, regex=column.forbidden)


def _row_expectations(table: Table) -> Iterator[gx.expectations.Expectation]:
    """The expectations across columns: the key unique, and the pairs of columns in
    their declared order (a later one after an earlier, a value not after its bound)."""
    if len(table.key) > 1:
        yield gxe.ExpectCompoundColumnsToBeUnique(column_list=list(table.key))
    for later, earlier in table.ordered:
        yield gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=later, column_B=earlier, or_equal=False
        )
    for column, bound in table.not_after:
        yield gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=bound,
            column_B=column,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
