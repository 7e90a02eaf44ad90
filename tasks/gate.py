"""The data-quality gate every stage's output passes before it is committed.

The Arrow schema must be the declared one, the table's Great Expectations suite
(built from `schemas/`) must pass, and the stage's own batch checks must hold.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import CHECKS, QUARANTINE_REASONS, Table
from schemas.tables import EXPECTED_DROPS


@dataclass(frozen=True)
class Check:
    """One check of a gate, passed or failed."""

    table: str  # the table checked; a stage's own checks name the stage
    expectation: str
    success: bool
    column: str | None = None  # the column, or the columns joined by commas, it reads
    unexpected_count: int | None = None  # the rows that broke it, where GX counts them
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


# -- Great Expectations ----------------------------------------------------------

# GX's result formats: BASIC, the counts and a sample of the values that failed (no
# index lists); BOOLEAN_ONLY, each expectation's verdict alone, which spares GX the
# metrics of the counts and samples (about a quarter of a suite's time)
DETAILED = "BASIC"
VERDICT_ONLY = "BOOLEAN_ONLY"


class SuiteRunner:
    """One ephemeral Great Expectations context, with one dataframe asset and batch
    definition per table, made the first time that table is gated, and its suites:
    the table's own, and its verdict suite (schemas/verdict_suites.py) once asked for."""

    def __init__(self) -> None:
        # Great Expectations takes seconds to import: only once a gate runs
        from schemas.suites import new_context

        self._context = new_context()
        self._source = self._context.data_sources.add_pandas("depeche")
        self._batches: dict[str, Any] = {}
        self._suites: dict[tuple[str, bool], Any] = {}
        self._lock = threading.Lock()  # GX contexts are not safe across threads

    def _batch_definition(self, table: Table) -> Any:
        if table.name not in self._batches:
            asset = self._source.add_dataframe_asset(table.name)
            self._batches[table.name] = asset.add_batch_definition_whole_dataframe(table.name)
        return self._batches[table.name]

    def _suite(self, table: Table, verdicts: bool) -> Any:
        # (loaded with the context above)
        from schemas.suites import expectation_suite
        from schemas.verdict_suites import verdict_suite

        if (table.name, verdicts) not in self._suites:
            build = verdict_suite if verdicts else expectation_suite
            self._suites[table.name, verdicts] = self._context.suites.add(
                build(table, self._context)
            )
        return self._suites[table.name, verdicts]

    def run(self, table: Table, rows: pa.Table) -> GateResult:
        """Validate `rows` against the table's Great Expectations suite, in detail."""
        return self._validate(table, rows, verdicts=False)

    def verdict(self, table: Table, rows: pa.Table) -> GateResult:
        """Whether `rows` pass the table's suite: its verdict suite, run for verdicts
        only (a shared rule's check names its columns, and no rows)."""
        return self._validate(table, rows, verdicts=True)

    def _validate(self, table: Table, rows: pa.Table, *, verdicts: bool) -> GateResult:
        # (loaded with the context above)
        from great_expectations.validator.v1_validator import Validator

        frame = rows.to_pandas()
        with self._lock:
            # what Batch.validate does, less the batch it first makes and leaves (GX makes
            # a batch by hashing the whole frame)
            validator = Validator(
                self._batch_definition(table),
                result_format=VERDICT_ONLY if verdicts else DETAILED,
                batch_parameters={"dataframe": frame},
            )
            result = validator.validate_expectation_suite(self._suite(table, verdicts))
        checks = [_check(table, outcome) for outcome in result.results]
        return GateResult(checks, [result.to_json_dict()])


def _check(table: Table, outcome: Any) -> Check:
    """The Check of one expectation's outcome (a GX ExpectationValidationResult)."""
    config = outcome.expectation_config
    detail = outcome.result or {}
    observed = detail.get("observed_value", detail.get("partial_unexpected_list"))
    if outcome.exception_info and outcome.exception_info.get("raised_exception"):
        observed = outcome.exception_info.get("exception_message")
    return Check(
        table=table.name,
        expectation=config.type,
        column=_gx_column(config.kwargs),
        success=bool(outcome.success),
        unexpected_count=detail.get("unexpected_count"),
        observed=observed,
    )


def _gx_column(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs and len(kwargs["column_list"]) <= 3:
        return ",".join(kwargs["column_list"])
    return None


def check_table(
    table: Table, rows: pa.Table, suites: SuiteRunner, *, verdict_first: bool = False
) -> GateResult:
    """Schema drift first (exact Arrow schema), then the expectation suite.
    `verdict_first`: the table's verdict suite is run for its verdict alone, and the
    suite in detail only when it fails, so a failed rule is still named by column with
    its counts and values; for tables whose passing checks are kept nowhere but the
    GX report."""
    schema_ok = rows.schema.equals(table.schema)
    drift = Check(
        table=table.name,
        expectation="arrow_schema_matches",
        success=schema_ok,
        observed=None if schema_ok else str(rows.schema),
    )
    suite = suites.verdict(table, rows) if verdict_first else suites.run(table, rows)
    if verdict_first and not suite.success:
        suite = suites.run(table, rows)
    return GateResult([drift, *suite.checks], suite.gx_results)


def stage_checks(
    stage: str,
    rows_in: int,
    rows_out: int,
    quarantined: dict[str, int],
    details: Mapping[str, str] | None = None,
) -> list[Check]:
    """Batch checks every stage passes: the books balance and the input is not emptied.
    `quarantined`: the rows quarantined, by reason; `details`: the detail of the first
    row quarantined for each reason, when known.

    An input every row of which is quarantined for reasons that are no error of the
    input (EXPECTED_DROPS: all duplicates, or all of unsupported formats) makes an
    empty batch, not a failure. Otherwise an emptied input fails, and the check's
    label says why: the reasons, and what the first error one means."""
    rows_quarantined = sum(quarantined.values())
    reasons = {reason: count for reason, count in quarantined.items() if count}
    emptied = rows_in > 0 and rows_out == 0
    expected = emptied and bool(reasons) and set(reasons) <= EXPECTED_DROPS
    not_empty = "stage_does_not_empty_its_input"
    if emptied and not expected:
        not_empty += f" ({_why_emptied(rows_in, reasons, details or {})})"
    return [
        Check(
            table=stage,
            expectation="rows_in_equals_rows_out_plus_quarantined",
            success=rows_in == rows_out + rows_quarantined,
            observed={"in": rows_in, "out": rows_out, "quarantined": rows_quarantined},
        ),
        Check(
            table=stage,
            expectation=not_empty,
            success=not emptied or expected,
            observed={"in": rows_in, "out": rows_out, "quarantined": reasons},
        ),
    ]


def _why_emptied(rows_in: int, reasons: dict[str, int], details: Mapping[str, str]) -> str:
    if not reasons:
        return f"{rows_in} rows in, none out and none quarantined"
    counts = ", ".join(f"{reason}={count}" for reason, count in sorted(reasons.items()))
    first = next(reason for reason in sorted(reasons) if reason not in EXPECTED_DROPS)
    why = QUARANTINE_REASONS.get(first, first)
    if details.get(first):
        why += f": {details[first]}"
    total = sum(reasons.values())
    share = f"all {rows_in}" if total == rows_in else f"{total} of {rows_in}"
    return f"{share} rows quarantined: {counts}; {first}: {why}"


GATED_BYTES = 16 * 2**20
"""The most of a table (uncompressed) the suite reads at once: a larger file is gated
part by part, so the gate's memory does not grow with a partition's pages."""
_ACROSS_PARTS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def check_file(table: Table, path: Path, suites: SuiteRunner) -> GateResult:
    """`check_table` on a written Parquet file, read in parts of at most GATED_BYTES
    (whole row groups): each part's checks summed, and the checks of uniqueness,
    which a part cannot tell, made over the whole file's key columns."""
    parquet = pq.ParquetFile(path)
    parts: list[list[int]] = [[]]
    size = 0
    for group in range(parquet.num_row_groups):
        group_size = parquet.metadata.row_group(group).total_byte_size
        if parts[-1] and size + group_size > GATED_BYTES:
            parts.append([])
            size = 0
        parts[-1].append(group)
        size += group_size
    if len(parts) == 1:
        return check_table(table, pq.read_table(path), suites)
    results = [check_table(table, parquet.read_row_groups(part), suites) for part in parts]
    checks = [_summed([r.checks[i] for r in results]) for i in range(len(results[0].checks))]
    checks = [
        _unique_in_file(check, path)
        if check.expectation in _ACROSS_PARTS and check.column  # the columns named
        else check
        for check in checks
    ]
    return GateResult(checks, [gx for result in results for gx in result.gx_results])


def _summed(parts: list[Check]) -> Check:
    counts = [c.unexpected_count for c in parts if c.unexpected_count is not None]
    failed = next((c for c in parts if not c.success), parts[0])
    return dataclasses.replace(
        failed,
        success=all(c.success for c in parts),
        unexpected_count=sum(counts) if counts else None,
    )


def _unique_in_file(check: Check, path: Path) -> Check:
    columns = (check.column or "").split(",")
    keys = pq.read_table(path, columns=columns)
    rows = keys.drop_null().num_rows if len(columns) == 1 else keys.num_rows
    distinct = keys.group_by(columns).aggregate([]).num_rows if rows else 0
    if len(columns) == 1 and keys.column(0).null_count:
        distinct -= 1  # the null group is no value
    duplicates = rows - distinct
    return dataclasses.replace(
        check, success=duplicates == 0, unexpected_count=duplicates, observed=None
    )


def gate(
    outputs: dict[Table, pa.Table | Path],
    extra: list[Check],
    suites: SuiteRunner,
    *,
    verdict_first: bool = False,
) -> GateResult:
    """Every check of a stage's output: per-table suites plus the stage's own checks;
    a table given as a written file is read part by part (`check_file`).
    `verdict_first`: see check_table (tables given as rows)."""
    checks: list[Check] = list(extra)
    gx_results: list[dict[str, Any]] = []
    for table, rows in outputs.items():
        if isinstance(rows, Path):
            result = check_file(table, rows, suites)
        else:
            result = check_table(table, rows, suites, verdict_first=verdict_first)
        checks.extend(result.checks)
        gx_results.extend(result.gx_results)
    return GateResult(checks, gx_results)
