"""Where each stage-partition stands (pending, committed, failed, interrupted,
damaged), read off its manifest and its recorded files: the rows of `status`."""

from __future__ import annotations

from dataclasses import dataclass

from tasks.lake.checks import FileChecks
from tasks.lake.manifests import Manifests
from tasks.lake.partitions import PartitionRecords, damaged_record
from tasks.records import Manifest, Status, StatusRow

StageState = tuple[Status, Manifest | None, str | None]  # where it stands, its problem


@dataclass(frozen=True)
class Standing:
    """The state of each stage-partition of one lake root."""

    partitions: PartitionRecords
    manifests: Manifests
    checks: FileChecks

    def state(
        self, stage: str, partition: str, *, deep: bool = False, busy: bool = False
    ) -> StageState:
        """Where a stage-partition stands, its manifest, and its problem if any. A
        committed one whose files are missing or resized (or, with `deep`, changed)
        is damaged; a running one whose run died (`busy` false) is interrupted."""
        manifest = self.manifests.read(stage, partition)
        if manifest is None:
            problem = self.manifests.problem(stage, partition)
            return (Status.DAMAGED if problem else Status.PENDING), None, problem
        if manifest.status == Status.RUNNING and not busy:
            return Status.INTERRUPTED, manifest, "its run stopped; the next run redoes it"
        if manifest.status == Status.COMMITTED:
            problems = self.checks.verify(manifest, deep=deep)
            if problems:
                return Status.DAMAGED, manifest, "damaged: " + "; ".join(problems)
        if manifest.status == Status.FAILED and (lost := self.checks.files(manifest.reports)):
            # the failure stands; its checks are what the report shows of it
            return manifest.status, manifest, f"{manifest.error}; {'; '.join(lost)}"
        if manifest.status in (Status.FAILED, Status.DAMAGED):
            return manifest.status, manifest, manifest.error
        return manifest.status, manifest, None

    def rows(self, stages: tuple[str, ...], *, deep: bool, busy: bool) -> list[StatusRow]:
        """One row per partition and stage: where it stands, its counts, its problem.
        A partition record that cannot be read is a row of its own."""
        specs, damaged = self.partitions.read()
        rows = [
            StatusRow(path.stem, "-", Status.DAMAGED, problem=str(damaged_record(path, error)))
            for path, error in damaged
        ]
        for spec in specs:
            for stage in stages:
                state = self.state(stage, spec.partition, deep=deep, busy=busy)
                rows.append(_status_row(spec.partition, stage, state))
        return rows

    def needs_rerun(self, partition: str, stages: tuple[str, ...], *, deep: bool = False) -> bool:
        """Whether a stage of the partition failed, was interrupted, is damaged (with
        `deep`, content hashes checked too), or never ran."""
        return any(
            self.state(stage, partition, deep=deep)[0] != Status.COMMITTED for stage in stages
        )


def _status_row(partition: str, stage: str, state: StageState) -> StatusRow:
    """A stage-partition's line of `status`, with its manifest's counts if it has one."""
    status, manifest, problem = state
    if manifest is None:
        return StatusRow(partition, stage, status, problem=problem)
    return StatusRow.counted(partition, stage, status, manifest, problem)
