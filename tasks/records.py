"""The records that cross module boundaries, typed, with one vocabulary.

A manifest says what one stage-partition made and from what; a partition spec,
which items a partition holds; a stage report, what a run learnt of one
stage-partition. Manifests and partition specs are stored as JSON in the lake:
`from_json` reads what earlier versions of depeche wrote too.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Where a stage-partition stands."""

    COMMITTED = "committed"  # its output passed the gate and is in place
    FAILED = "failed"  # it ran and failed (gate or error); nothing of it was committed
    RUNNING = "running"  # a run is doing it now
    INTERRUPTED = "interrupted"  # a run started it and died: the next run redoes it
    SKIPPED = "skipped"  # unchanged since committed: not run again
    BLOCKED = "blocked"  # not run: the stage before it did not commit
    PENDING = "pending"  # never run yet
    DAMAGED = "damaged"  # committed, but a file it committed is missing or changed

    @property
    def ok(self) -> bool:
        return self in (Status.COMMITTED, Status.SKIPPED)


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    names = _field_names(cls)
    return {key: value for key, value in data.items() if key in names}


@functools.cache
def _field_names(cls: type) -> frozenset[str]:
    # asked for every record read: a status of thousands of partitions reads thousands
    return frozenset(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class StageKey:
    """What a stage's output depends on: when all three are unchanged, it is skipped."""

    input_fingerprint: str
    version: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class OutputFile:
    """A file a stage committed: where, under the lake root, its size and content hash."""

    path: str
    size: int
    sha256: str


@dataclass
class Validation:
    success: bool
    checks: int
    failed: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    """One per stage-partition: the source of truth of what is committed."""

    stage: str
    partition: str
    status: Status
    input_fingerprint: str
    code_version: str
    parameters: dict[str, Any]
    started_at: str
    finished_at: str | None = None
    seconds: float = 0.0
    gate_seconds: float = 0.0
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    validation: Validation | None = None
    error: str | None = None
    traceback: str | None = None
    output_fingerprint: str | None = None
    outputs: list[OutputFile] = field(default_factory=list)
    # the gate's records (checks, Great Expectations results): checked like the outputs,
    # but not part of the output fingerprint (readers of the stage never read them)
    reports: list[OutputFile] = field(default_factory=list)
    # what the partitions after this one hold of it in their keys (see
    # contract.chain_link): set by compaction, which keeps the link of the last
    # partition it merged, so that merging changes no later key
    chain: str | None = None

    @classmethod
    def of_key(
        cls,
        stage: str,
        partition: str,
        status: Status,
        key: StageKey,
        started_at: str,
        **books: Any,
    ) -> Manifest:
        """The manifest of a stage-partition made from `key`, with its `books` (counts,
        timings, files)."""
        return cls(
            stage=stage,
            partition=partition,
            status=status,
            input_fingerprint=key.input_fingerprint,
            code_version=key.version,
            parameters=key.parameters,
            started_at=started_at,
            **books,
        )

    def made_from(self, key: StageKey) -> bool:
        return (
            self.input_fingerprint == key.input_fingerprint
            and self.code_version == key.version
            and self.parameters == key.parameters
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        known = _known_fields(cls, data)
        known["status"] = Status(known["status"])
        if isinstance(known.get("validation"), dict):
            known["validation"] = Validation(**_known_fields(Validation, known["validation"]))
        known["outputs"] = [OutputFile(**item) for item in known.get("outputs") or []]
        known["reports"] = [OutputFile(**item) for item in known.get("reports") or []]
        return cls(**known)


ItemKey = tuple[str, int | None, str]
"""An item's identity in the lake: (source path, line of a .jsonl file, content hash);
for a web page (its canonical URL, None, WEB_ITEM): its content is only known once
fetched."""

WEB_ITEM = "url"


@dataclass(frozen=True)
class PartitionSpec:
    """What one partition is: its items, in order, and where they came from."""

    partition: str
    seq: int
    items: list[ItemKey]
    fingerprint: str
    sources: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    month: str | None = None
    # web pages: what the feed or sitemap said of each (title, published, author,
    # site_name, hint_source, listed_in), and how many earlier runs failed to fetch it
    hints: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    # the partitions this one was compacted from: once its record is written, they are
    # no longer partitions of the lake (their leftovers are collected after)
    compacts: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        """The web pages of the partition, in order."""
        return [key[0] for key in self.items if key[2] == WEB_ITEM]

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "items": [list(key) for key in self.items]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartitionSpec:
        known = _known_fields(cls, data)
        known["items"] = [tuple(key) for key in known["items"]]
        return cls(**known)


@dataclass
class StageReport:
    """What the flow and the front ends learn of one stage-partition."""

    stage: str
    partition: str
    status: Status
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    ran: bool = False  # whether this run did the stage's work (not skipped, not blocked)
    gated: bool = False  # whether a gate judged its output in this run
    worker: str = ""  # the process that ran it: a Dask worker's name on a cluster
    worker_peak_mb: float = 0.0  # that process's peak resident memory so far

    @property
    def ok(self) -> bool:
        return self.status.ok

    @property
    def reasons(self) -> str:
        """The quarantine reasons and their counts: `empty=1, binary=2`."""
        return ", ".join(f"{reason}={n}" for reason, n in self.quarantine_reasons.items())

    @classmethod
    def from_manifest(cls, manifest: Manifest, status: Status | None = None) -> StageReport:
        return cls(
            stage=manifest.stage,
            partition=manifest.partition,
            status=status or manifest.status,
            rows_in=manifest.rows_in,
            rows_out=manifest.rows_out,
            rows_quarantined=manifest.rows_quarantined,
            quarantine_reasons=manifest.quarantine_reasons,
            failed_checks=manifest.validation.failed if manifest.validation else [],
            message=manifest.error or "",
            seconds=manifest.seconds,
            details=manifest.details,
        )


@dataclass(frozen=True)
class StatusRow:
    """One line of `depeche status`: a stage-partition (or a lake-wide file), where it
    stands, its problem, and the counts of its manifest when it has one."""

    partition: str
    stage: str
    status: Status
    problem: str | None = None
    # from the manifest: none for a stage-partition that has none
    rows_in: int | None = None
    rows_out: int | None = None
    quarantined: int | None = None
    when: str | None = None

    @classmethod
    def counted(
        cls, partition: str, stage: str, status: Status, manifest: Manifest, problem: str | None
    ) -> StatusRow:
        """The row of a stage-partition with a manifest: its books, when it ended (or,
        still running, began)."""
        when = manifest.finished_at or manifest.started_at
        books = (manifest.rows_in, manifest.rows_out, manifest.rows_quarantined)
        return cls(partition, stage, status, problem, *books, when)
