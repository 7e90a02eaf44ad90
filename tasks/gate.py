"""The data-quality gate every stage's output passes before it is committed.

The Arrow schema must be the declared one, the table's Great Expectations suite
(built from `schemas/`) must pass, and the stage's own batch checks must hold.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from schemas import CHECKS, Table


@dataclass(frozen=True)
class Check:
    """One check of a gate, passed or failed."""

    table: str
    expectation: str
    success: bool
    column: str | None = None
    unexpected_count: int | None = None
    observed: Any = None

    @property
    def label(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        found = f" ({self.unexpected_count} rows)" if self.unexpected_count else ""
        return f"{where}: {self.expectation}{found}"


@dataclass
class GateResult:
    checks: list[Check]
    gx_results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(check.success for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.label for check in self.checks if not check.success]

    def checks_table(self, stage: str) -> pa.Table:
        rows = [
            {
                "stage": stage,
                "table_name": c.table,
                "expectation": c.expectation,
                "column_name": c.column,
                "success": c.success,
                "unexpected_count": c.unexpected_count,
                "observed": None if c.observed is None else json.dumps(c.observed, default=str),
            }
            for c in self.checks
        ]
        return pa.Table.from_pylist(rows, schema=CHECKS.schema)


class GateFailed(Exception):
    """A batch did not pass its stage's gate; nothing of it was committed."""

    def __init__(self, stage: str, partition: str, failed: list[str]) -> None:
        self.stage, self.partition, self.failed = stage, partition, failed
        super().__init__(f"{stage} gate failed for partition {partition}: " + "; ".join(failed))


# -- Great Expectations ----------------------------------------------------------

_GX_LOCK = threading.Lock()
_GX_BATCHES: dict[str, Any] = {}
_GX_SUITES: dict[str, Any] = {}
_GX_STATE: dict[str, Any] = {}


def load_library() -> None:
    """Import Great Expectations. It takes seconds, so only a run that gates pays for
    it, and a run may do it early, on the side."""
    import schemas.suites  # noqa: F401


def _gx_batch_definition(table: Table) -> tuple[Any, Any]:
    """One ephemeral context per process; one asset and suite per table."""
    from schemas.suites import context, expectation_suite

    if "source" not in _GX_STATE:
        _GX_STATE["source"] = context().data_sources.add_pandas("depeche")
    if table.name not in _GX_BATCHES:
        asset = _GX_STATE["source"].add_dataframe_asset(table.name)
        _GX_BATCHES[table.name] = asset.add_batch_definition_whole_dataframe(table.name)
        _GX_SUITES[table.name] = context().suites.add(expectation_suite(table))
    return _GX_BATCHES[table.name], _GX_SUITES[table.name]


def _gx_column(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs and len(kwargs["column_list"]) <= 3:
        return ",".join(kwargs["column_list"])
    return None


def run_suite(table: Table, rows: pa.Table) -> GateResult:
    """Validate `rows` against the table's Great Expectations suite."""
    frame = rows.to_pandas()
    with _GX_LOCK:
        batch_definition, suite = _gx_batch_definition(table)
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        # BASIC: counts and a sample of the values that failed, without the index lists
        result = batch.validate(suite, result_format="BASIC")
    checks = []
    for outcome in result.results:
        config = outcome.expectation_config
        detail = outcome.result or {}
        observed = detail.get("observed_value", detail.get("partial_unexpected_list"))
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            observed = outcome.exception_info.get("exception_message")
        checks.append(
            Check(
                table=table.name,
                expectation=config.type,
                column=_gx_column(config.kwargs),
                success=bool(outcome.success),
                unexpected_count=detail.get("unexpected_count"),
                observed=observed,
            )
        )
    return GateResult(checks, [result.to_json_dict()])


def check_table(table: Table, rows: pa.Table) -> GateResult:
    """Schema drift first (exact Arrow schema), then the expectation suite."""
    schema_ok = rows.schema.equals(table.schema)
    drift = Check(
        table=table.name,
        expectation="arrow_schema_matches",
        success=schema_ok,
        observed=None if schema_ok else str(rows.schema),
    )
    suite = run_suite(table, rows)
    return GateResult([drift, *suite.checks], suite.gx_results)


def stage_checks(stage: str, rows_in: int, rows_out: int, rows_quarantined: int) -> list[Check]:
    """Batch checks every stage passes: the books balance and the input is not emptied."""
    return [
        Check(
            table=stage,
            expectation="rows_in_equals_rows_out_plus_quarantined",
            success=rows_in == rows_out + rows_quarantined,
            observed={"in": rows_in, "out": rows_out, "quarantined": rows_quarantined},
        ),
        Check(
            table=stage,
            expectation="stage_does_not_empty_its_input",
            success=rows_in == 0 or rows_out > 0,
            observed={"in": rows_in, "out": rows_out},
        ),
    ]


def gate(outputs: dict[Table, pa.Table], extra: list[Check]) -> GateResult:
    """Every check of a stage's output: per-table suites plus the stage's own checks."""
    checks: list[Check] = list(extra)
    gx_results: list[dict[str, Any]] = []
    for table, rows in outputs.items():
        result = check_table(table, rows)
        checks.extend(result.checks)
        gx_results.extend(result.gx_results)
    return GateResult(checks, gx_results)
