"""A verdict suite states every rule of its table's suite (a rule several columns share
once over them) and fails where that suite fails: on the marts a real flow made, with a
null or a value out of bounds put in each column in turn."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from great_expectations.util import camel_to_snake

from schemas import ALL_TABLES, Column, Table
from schemas.marts import MARTS, VOICES_DAILY
from schemas.suites import expectation_suite, new_context
from schemas.verdict_suites import SHARED_RULES, verdict_suite
from tasks.lake.published import mart_files
from tasks.lake.storage import Lake

# the expectation type of a rule over several columns: the rule of one column it states
COLUMN_RULE = {camel_to_snake(shared.__name__): rule for rule, (shared, _) in SHARED_RULES.items()}


def rules(expectations) -> list[str]:
    """Each rule of `expectations`, column by column as one column's rule states it."""
    found = []
    for expectation in expectations:
        settings = expectation.dict(exclude_defaults=True, exclude={"id"})
        rule = COLUMN_RULE.get(expectation.expectation_type)
        if rule is None:
            found.append(json.dumps([expectation.expectation_type, settings], default=str))
            continue
        for column in settings.pop("column_list"):
            stated = rule(column=column, **settings).dict(exclude_defaults=True, exclude={"id"})
            found.append(json.dumps([camel_to_snake(rule.__name__), stated], default=str))
    return sorted(found)


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_a_verdict_suite_states_each_rule_of_its_table_once(table) -> None:
    context = new_context()
    suite, verdicts = expectation_suite(table, context), verdict_suite(table, context)
    assert rules(verdicts.expectations) == rules(suite.expectations)
    assert len(verdicts.expectations) < len(suite.expectations)


def broken(table: Table, rows: pa.Table) -> dict[str, tuple[Column, pa.Table]]:
    """`rows` with one rule of one column broken in their first row, by what was done:
    a null, a value under the column's minimum, over its maximum."""
    first, *rest = rows.to_pylist()
    changes = {}
    for column in table.columns:
        changes[f"{column.name}: null"] = (column, None)
        if column.min_value is not None:
            changes[f"{column.name}: under"] = (column, column.min_value - 1)
        if column.max_value is not None:
            changes[f"{column.name}: over"] = (column, column.max_value + 1)
    return {
        change: (column, pa.Table.from_pylist([{**first, column.name: _typed(column, value)},
                                               *rest], schema=table.schema))
        for change, (column, value) in changes.items()
    }  # fmt: skip


def _typed(column: Column, value: float | None) -> float | int | None:
    if value is None or pa.types.is_floating(column.type):
        return value
    return int(value)


@pytest.mark.parametrize("table", MARTS, ids=lambda t: t.name)
def test_a_verdict_suite_fails_where_its_table_suite_fails(table, analytics_lake, suites) -> None:
    files = mart_files(Lake(analytics_lake), table)
    rows = pa.concat_tables(pq.read_table(analytics_lake / file) for file in files)
    assert rows.num_rows > 0, "the analytics lake gives each mart rows"
    assert suites.verdict(table, rows).success and suites.run(table, rows).success
    for change, (column, bad) in broken(table, rows).items():
        detailed = suites.run(table, bad)
        assert suites.verdict(table, bad).success == detailed.success, change
        if not change.endswith("null") or not column.nullable:
            assert not detailed.success, change


def test_a_row_of_nulls_breaks_the_rule_of_nulls_and_no_bound(suites) -> None:
    """A row null in every column is a row the rule of nulls finds (GX's rules over
    several columns leave it out by default); a null is no value out of bounds."""
    rows = pa.Table.from_pylist([dict.fromkeys(VOICES_DAILY.column_names)],
                                schema=VOICES_DAILY.schema)  # fmt: skip
    assert not suites.verdict(VOICES_DAILY, rows).success
    failed = {c.expectation for c in suites.run(VOICES_DAILY, rows).checks if not c.success}
    assert failed == {"expect_column_values_to_not_be_null"}
