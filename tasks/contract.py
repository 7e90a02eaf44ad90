"""The stage contract, once for every stage.

A stage is declared as data (`Stage`): its name, the tables it reads and writes,
the settings its output depends on, and the pure function that produces its
output. From that alone this module decides whether a stage-partition must run
(`decide`, the one skip decision), and runs it: mark running → produce → stage
the output → gate it → commit, or record the failure → manifest.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from schemas import CHECKS, QUARANTINE, Table
from tasks.code_version import code_version
from tasks.errors import GateFailed, PartitionNotCommitted
from tasks.execution.processes import give_back_memory, process_exiting
from tasks.faults import fault_point
from tasks.gate import Check, GateResult, gate, stage_checks
from tasks.lake.storage import Lake
from tasks.progress import ProgressFn
from tasks.records import Manifest, StageKey, StageReport, Status, Validation
from tasks.settings import Settings

if TYPE_CHECKING:  # a type only: the resources load what the stages need, stages included
    from tasks.execution.resources import Resources
    from tasks.gate import SuiteRunner
    from tasks.lake.commit import Staging


@dataclass(frozen=True)
class StageContext:
    """What a stage's function is handed for one partition."""

    lake: Lake
    partition: str
    settings: Settings
    resources: Resources
    progress: ProgressFn

    def read(
        self, table: Table, *, stage: str | None = None, columns: list[str] | None = None
    ) -> pa.Table:
        """This partition's committed `table` (as `stage` wrote it, for per-stage tables)."""
        return self.lake.read(table, self.partition, stage, columns)


@dataclass
class StageOutput:
    """What a stage produced for one partition, before the gate.

    A table of `outputs` may be a stream of tables, written one at a time so that a
    partition's rows (a page of several MB each) are never all held at once; the
    stream may complete the books (`rows_out`, `quarantine`, `details`) as it goes:
    they are read once every table is written."""

    outputs: dict[Table, pa.Table | Iterator[pa.Table]]
    quarantine: pa.Table
    rows_in: int
    rows_out: int
    checks: list[Check] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline, declared once.

    `reads`: the committed tables of earlier stages it reads for the same
    partition; their stages' outputs are its input. `writes`: the tables it
    commits (a checkpoint table lands where no reader looks). `publishes`: the
    checkpoint tables it publishes, as they are, once its own checks pass.
    `settings`: the settings its output depends on. `produce`: the pure work; its
    code version is derived from what it can reach (tasks/code_version.py), and
    `bump` changes it on purpose. `extra_inputs` and `extra_parameters` add what
    else its output depends on (the partition's items; earlier partitions; the
    model's version).
    """

    name: str
    produce: Callable[[StageContext], StageOutput]
    reads: tuple[Table, ...] = ()
    writes: tuple[Table, ...] = ()
    publishes: tuple[Table, ...] = ()
    settings: tuple[str, ...] = ()
    bump: str = ""
    extra_inputs: Callable[[Lake, str], list[str]] | None = None
    extra_parameters: Callable[[Settings], dict[str, Any]] | None = None
    # a run takes its partitions through it one at a time, in plan order, even when
    # partitions run side by side: its output depends on the partitions made before
    # (clean's duplicates), or two of it at once would ask the same web hosts twice
    # as often as the politeness delay allows (fetch)
    ordered: bool = False

    @property
    def upstream(self) -> tuple[str, ...]:
        """The stages whose committed output this stage reads, in the order read."""
        return tuple(dict.fromkeys(table.stage for table in (*self.reads, *self.publishes)))

    def key(self, lake: Lake, partition: str, settings: Settings) -> StageKey:
        """What this stage's output for `partition` depends on; PartitionNotCommitted
        when an upstream stage has not committed it."""
        inputs = [lake.output_fingerprint(stage, partition) for stage in self.upstream]
        if self.extra_inputs is not None:
            inputs += self.extra_inputs(lake, partition)
        parameters = {name: getattr(settings, name) for name in self.settings}
        if self.extra_parameters is not None:
            parameters |= self.extra_parameters(settings)
        return StageKey(fingerprint(*inputs), self.code_version, parameters)

    @property
    def code_version(self) -> str:
        """The version of the code, packages, data files and table structures the
        stage's output depends on."""
        tables = (*self.reads, *self.writes, *self.publishes, QUARANTINE)
        return code_version(self.produce, tables, self.bump)


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def chain_link(manifest: Manifest) -> str:
    """What the partitions made after this stage-partition hold of it in their keys:
    its input and output, so a change of either reaches them."""
    return manifest.chain or fingerprint(
        manifest.input_fingerprint, manifest.output_fingerprint or ""
    )


def quarantine_reasons(quarantine: pa.Table) -> dict[str, int]:
    return dict(sorted(Counter(quarantine.column("reason").to_pylist()).items()))


def blocked(stage: str, partition: str, reason: str) -> StageReport:
    """The report of a stage that did not run because its input was not committed."""
    return StageReport(stage, partition, Status.BLOCKED, message=f"not run: {reason}")


@dataclass(frozen=True)
class Decision:
    """Whether a stage-partition runs: with `key` when it must, else its `report`;
    `redo`: the upstream stage whose committed files turned out damaged, to redo first."""

    key: StageKey | None = None
    report: StageReport | None = None
    redo: str | None = None


def decide(
    lake: Lake,
    stage: Stage,
    partition: str,
    settings: Settings,
    *,
    force: bool = False,
    rerun_failed: bool = False,
    verify: bool = False,
    record_damage: bool = True,
    check_upstream: bool = True,
) -> Decision:
    """The one skip decision. A stage-partition is skipped when its manifest shows it
    committed from the same input, code and parameters and its files are still there
    at their size (with `verify`, their content too); one that failed on exactly those
    is not retried unless asked (`rerun_failed`); `force` runs it anyway. Before a stage
    runs, the upstream files it will read are checked against their content hashes.
    Damage found is recorded in the manifests unless `record_damage` is false (a
    caller that does not hold the lake); `check_upstream` false skips the hashing of
    the upstream files (a caller that only asks whether the stage is current)."""
    try:
        key = stage.key(lake, partition, settings)
    except PartitionNotCommitted as error:
        return Decision(report=blocked(stage.name, partition, str(error)))
    if not force:
        made = _as_made_before(
            lake, stage.name, partition, key,
            rerun_failed=rerun_failed, verify=verify, record_damage=record_damage,
        )  # fmt: skip
        if made is not None:
            return made
    if check_upstream:
        damaged = _damaged_upstream(lake, stage, partition, record_damage=record_damage)
        if damaged is not None:
            return damaged
    return Decision(key=key)


def _as_made_before(
    lake: Lake,
    stage: str,
    partition: str,
    key: StageKey,
    *,
    rerun_failed: bool,
    verify: bool,
    record_damage: bool,
) -> Decision | None:
    """What the stage-partition's manifest decides when it shows it made from `key`:
    skipped when it committed and its files are whole; not retried when it failed,
    unless `rerun_failed`. None when it must run, its upstream checked first."""
    manifest = lake.read_manifest(stage, partition)
    if manifest is None or not manifest.made_from(key):
        return None
    if manifest.status == Status.COMMITTED:
        problems = lake.verify(manifest, deep=verify)
        if not problems:
            return Decision(report=StageReport.from_manifest(manifest, Status.SKIPPED))
        if not record_damage:
            return Decision(key=key)
        lake.mark_damaged(manifest, problems)  # and it is redone
    elif manifest.status == Status.FAILED and not rerun_failed:
        report = StageReport.from_manifest(manifest)
        report.message += f" (unchanged since {(manifest.finished_at or '?')[:19]})"
        return Decision(report=report)
    return None


def _damaged_upstream(
    lake: Lake, stage: Stage, partition: str, *, record_damage: bool
) -> Decision | None:
    """The decision to redo the first upstream stage whose committed files, which this
    stage would read, fail their content hashes; None when they are whole."""
    for upstream in stage.upstream:
        committed = lake.read_manifest(upstream, partition)
        problems = lake.verify(committed, deep=True) if committed is not None else []
        if problems:
            if record_damage:
                lake.mark_damaged(committed, problems)
            reason = f"not run: {upstream}'s files are damaged ({'; '.join(problems)})"
            report = StageReport(stage.name, partition, Status.DAMAGED, message=reason)
            return Decision(report=report, redo=upstream)
    return None


def run_stage(
    lake: Lake,
    stage: Stage,
    partition: str,
    settings: Settings,
    key: StageKey,
    resources: Resources,
) -> StageReport:
    """Run one stage on one partition under the contract of DESIGN.md."""
    clock = time.perf_counter()
    manifest = Manifest.of_key(
        stage.name, partition, Status.RUNNING, key, datetime.now(UTC).isoformat()
    )
    # until the stage commits, readers see it as not committed, even after a kill
    lake.write_manifest(manifest)
    context = StageContext(
        lake, partition, settings, resources, resources.progress(stage.name, partition)
    )
    try:
        fault_point(f"produce:{stage.name}")
        # the output is not kept here: its tables are freed once committed
        _gate_and_commit(lake, stage, context, stage.produce(context), manifest, started=clock)
    except Exception as error:  # recorded and reported; the other partitions go on
        # unless its process is going (a run stopped): then it stays running, which
        # the next run reads as interrupted and redoes
        if not process_exiting():
            _record_failure(lake, manifest, error, clock)
    give_back_memory()  # what the partition's tables took, before the next one
    report = StageReport.from_manifest(manifest)
    report.ran = True
    report.gated = manifest.validation is not None
    return report


def _record_failure(lake: Lake, manifest: Manifest, error: Exception, clock: float) -> None:
    manifest.status = Status.FAILED
    manifest.error = str(error) if isinstance(error, GateFailed) else _describe(error)
    manifest.traceback = None if isinstance(error, GateFailed) else traceback.format_exc()
    manifest.finished_at = manifest.finished_at or datetime.now(UTC).isoformat()
    manifest.seconds = round(time.perf_counter() - clock, 3)
    lake.write_manifest(manifest)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _gate_and_commit(
    lake: Lake,
    stage: Stage,
    context: StageContext,
    output: StageOutput,
    manifest: Manifest,
    *,
    started: float,
) -> None:
    """Stage the output, gate what was written, then commit it, or raise GateFailed
    once the gate's own records are kept."""
    clock = time.perf_counter()
    with lake.staging(stage.name, context.partition) as staging:
        staged = _staged(lake, stage, context.partition, staging, output)
        reasons = quarantine_reasons(output.quarantine)
        result = _gate(stage.name, output, reasons, staged, context.resources.suites())
        staging.write(CHECKS, result.checks_table(stage.name))
        lake.gx.write(stage.name, context.partition, result.gx_results)
        _keep_books(manifest, output, reasons, result)
        manifest.finished_at = datetime.now(UTC).isoformat()
        manifest.gate_seconds = round(time.perf_counter() - clock, 3)
        manifest.seconds = round(time.perf_counter() - started, 3)
        if result.success:
            manifest.status = Status.COMMITTED
            lake.commit(staging, manifest)
            return
        failure = GateFailed(stage.name, result.failed)
        manifest.status, manifest.error = Status.FAILED, str(failure)
        lake.record_failure(staging, manifest)
    raise failure


def _staged(
    lake: Lake, stage: Stage, partition: str, staging: Staging, output: StageOutput
) -> dict[Table, pa.Table | Path]:
    """Write the output and its quarantine to `staging`; what the gate reads back of it
    (the files a reader would see)."""
    written = {table: staging.write(table, rows) for table, rows in output.outputs.items()}
    # published files are the very files their own stage's gate passed: not gated again
    for table in stage.publishes:
        staging.link(table, lake.committed_file(table, partition))
    staging.write(QUARANTINE, output.quarantine)
    return dict(written)


def _gate(
    stage: str,
    output: StageOutput,
    reasons: dict[str, int],
    staged: dict[Table, pa.Table | Path],
    suites: SuiteRunner,
) -> GateResult:
    """The gate on the staged tables: their suites, the stage's books (its quarantine
    counted by reason in `reasons`), its own checks."""
    first_details: dict[str, str] = {}  # the first detail of each reason, for the message
    for row in output.quarantine.select(["reason", "detail"]).to_pylist():
        first_details.setdefault(row["reason"], row["detail"])
    checks = stage_checks(stage, output.rows_in, output.rows_out, reasons, first_details)
    return gate(staged, [*checks, *output.checks], suites)


def _keep_books(
    manifest: Manifest, output: StageOutput, reasons: dict[str, int], result: GateResult
) -> None:
    """The manifest's rows in, out and quarantined (by reason), details and validation."""
    manifest.rows_in = output.rows_in
    manifest.rows_out = output.rows_out
    manifest.rows_quarantined = output.quarantine.num_rows
    manifest.quarantine_reasons = reasons
    manifest.details = output.details
    manifest.validation = Validation(result.success, len(result.checks), result.failed)
