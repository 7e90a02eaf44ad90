"""The lake: `Lake`, the one entry to a lake root, made of the parts in tasks/lake/
(its layout, the commit protocol, the partition records and manifests, the checks
of recorded files, the web state, the derived states); no other code knows a path
of the lake, commits, or reads a manifest's file.

A stage writes everything into its own staging folder, then `commit` moves each
partition folder into place with a rename and writes the manifest last, so a
reader that trusts manifests never sees half a stage.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import STAGES, Table
from tasks.code_version import settled
from tasks.errors import NotALake, PartitionNotCommitted
from tasks.lake.checks import FileChecks
from tasks.lake.commit import NO_FILE_WHEN_EMPTY, Commits, Staging
from tasks.lake.derived import DerivedFiles
from tasks.lake.files import atomic_write_text, read_json
from tasks.lake.gx_results import GxResults
from tasks.lake.layout import PARTITIONS_DIR, LakeLayout, relative_file
from tasks.lake.lock import WriterLock
from tasks.lake.manifests import Manifests
from tasks.lake.partitions import PartitionRecords
from tasks.lake.record_folders import RecordFolders, Records
from tasks.lake.standing import StageState, Standing
from tasks.lake.states import DerivedStates
from tasks.lake.web import WebState
from tasks.records import ItemKey, Manifest, PartitionSpec, Status, StatusRow
from tasks.settings import InvalidSettings, remembered_settings


class Lake(LakeLayout):
    """One lake root: its paths, and the one entry to its parts. What every stage and
    command asks (partitions, manifests, reading, committing, the lock) is asked here;
    the parts fewer callers need are named: `lake.web` (web sources and pages),
    `lake.gx` (Great Expectations results), `lake.states` (derived states),
    `lake.derived` (marts, catalog, report), `lake.checks` (recorded files),
    `lake.commits` (placing and forgetting folders), `lake.standing` (where each
    stage-partition stands), `lake.partition_records` and `lake.manifest_records`."""

    def __init__(self, root: str | Path, records: Records | None = None) -> None:
        super().__init__(root)
        # set by `indexed`: the partition records and manifests, read once
        self.record_folders = RecordFolders(self.root, records)
        self.partition_records = PartitionRecords(self, self.record_folders)
        self.manifest_records = Manifests(self, self.record_folders, self.partition_records)
        self.gx = GxResults(self)
        self.checks = FileChecks(self.root, self.gx)
        self.commits = Commits(self, self.manifest_records, self.gx)
        self.standing = Standing(self.partition_records, self.manifest_records, self.checks)
        self.derived = DerivedFiles(self, self.manifest_records, self.checks)
        self.states = DerivedStates(self)
        self.web = WebState(self)
        self.writer_lock = WriterLock(self.root, self.lock_path)

    def indexed(self) -> Lake:
        """This lake with its partition records and manifests read once, through the
        state index, for a command that reads the state of the whole lake (status,
        the idle check, the marts): what it writes through the returned object it
        reads back; what other processes write meanwhile it does not see."""
        if self.record_folders.indexed:
            return self
        return Lake(self.root, RecordFolders.read_once(self.root))

    def assuming(self, spec: PartitionSpec) -> Lake:
        """The lake's state, read once, as it will be once `spec` is recorded: what is
        written through the returned object goes to the lake, and is read back."""
        view = Lake(self.root, self.record_folders.copy())
        view.record_folders.recorded(PARTITIONS_DIR, spec.partition, spec.to_json())
        return view

    def exists(self) -> bool:
        """Whether a depeche run has made partitions here."""
        return self.partitions_dir.is_dir()

    def writable(self) -> Lake:
        """This lake, or NotALake when its root is a file (a new lake is fine)."""
        if self.root.exists() and not self.root.is_dir():
            raise NotALake(f"{self.root} is a file, not a lake folder")
        return self

    def require(self) -> Lake:
        """This lake, or NotALake when no depeche run has written here."""
        if not self.writable().exists():
            raise NotALake(f"no depeche lake at {self.root}")
        return self

    # -- partitions ------------------------------------------------------------

    def write_partition(self, spec: PartitionSpec) -> None:
        self.partition_records.write(spec)

    def partition(self, partition: str) -> PartitionSpec:
        return self.partition_records.spec(partition)

    def partitions(self) -> list[PartitionSpec]:
        """Every partition's record, in the order the partitions were made; DamagedLake
        when one cannot be read (nothing can be planned or run safely then)."""
        return self.partition_records.live()

    def known_items(self) -> set[ItemKey]:
        """(path, line, content hash) of every item some partition holds."""
        return self.partition_records.known_items()

    def next_seq(self) -> int:
        return self.partition_records.next_seq()

    # -- manifests -------------------------------------------------------------

    def read_manifest(self, stage: str, partition: str) -> Manifest | None:
        """The stage-partition's manifest; None when it has none, or one that cannot be
        read: either way the stage-partition is redone."""
        return self.manifest_records.read(stage, partition)

    def write_manifest(self, manifest: Manifest) -> Path:
        return self.manifest_records.write(manifest)

    def manifests(self, stage: str | None = None) -> list[Manifest]:
        """Every readable manifest (of one stage, or all), by stage, then partition; not
        those of partitions compacted into another."""
        return self.manifest_records.all(stage)

    def read_marts_manifest(self) -> Manifest | None:
        """The marts' manifest; None when they were never made (or it is unreadable)."""
        return self.manifest_records.read_marts()

    def mark_damaged(self, manifest: Manifest, problems: list[str]) -> None:
        """Record that a committed stage-partition's files are not what it committed."""
        self.manifest_records.mark_damaged(manifest, problems)

    def recorded(self, manifest: Manifest) -> dict[str, str]:
        """The files `manifest` records, relative to the root, with their hashes."""
        return self.manifest_records.recorded(manifest)

    def verify(
        self, manifest: Manifest, *, deep: bool = False, remembered: bool = False
    ) -> list[str]:
        """What is wrong with the files a stage-partition committed (see FileChecks)."""
        return self.checks.verify(manifest, deep=deep, remembered=remembered)

    # -- where each stage-partition stands -------------------------------------

    def is_committed(self, stage: str, partition: str) -> bool:
        manifest = self.read_manifest(stage, partition)
        return manifest is not None and manifest.status == Status.COMMITTED

    def state(
        self, stage: str, partition: str, *, deep: bool = False, busy: bool = False
    ) -> StageState:
        """Where a stage-partition stands, its manifest, and its problem if any."""
        return self.standing.state(stage, partition, deep=deep, busy=busy)

    def status(self, stages: tuple[str, ...], *, deep: bool = False) -> list[StatusRow]:
        """One row per partition and stage, the state of the whole lake read once."""
        busy = self.is_locked()  # asked before the records are read, as a run ends
        with settled():
            return self.indexed().standing.rows(stages, deep=deep, busy=busy)

    def needs_rerun(self, partition: str, stages: tuple[str, ...], *, deep: bool = False) -> bool:
        """Whether a stage of the partition failed, was interrupted, is damaged (with
        `deep`, content hashes checked too), or never ran."""
        return self.standing.needs_rerun(partition, stages, deep=deep)

    # -- reading -------------------------------------------------------------

    def read(
        self,
        table: Table,
        partition: str,
        stage: str | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """A committed partition of `table`; refuses anything not committed."""
        stage = stage or table.stage
        path = self._committed(table, partition, stage)
        if path is None:
            schema = table.schema
            return pa.schema([schema.field(c) for c in columns or schema.names]).empty_table()
        if columns is not None:
            return pq.read_table(path, columns=columns)
        return pq.read_table(path, schema=table.schema)

    def read_rows(self, table: Table, partition: str) -> Iterator[dict[str, Any]]:
        """The rows of a committed partition of `table`, one at a time: never more of
        the file in memory than a row group (see Staging.write)."""
        path = self._committed(table, partition, table.stage)
        if path is None:
            return
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            yield from parquet.read_row_group(group).cast(table.schema).to_pylist()

    def _committed(self, table: Table, partition: str, stage: str) -> Path | None:
        """The committed file of `table`, or PartitionNotCommitted; None for a table
        of NO_FILE_WHEN_EMPTY the stage-partition committed without a file: no rows."""
        manifest = self.read_manifest(stage, partition)
        if manifest is None or manifest.status != Status.COMMITTED:
            raise PartitionNotCommitted(f"{stage} has not committed partition {partition}")
        relative = relative_file(table, partition, stage)
        if table.name in NO_FILE_WHEN_EMPTY and relative not in self.recorded(manifest):
            return None
        return self.root / relative

    def output_fingerprint(self, stage: str, partition: str) -> str:
        manifest = self.read_manifest(stage, partition)
        if manifest is None or manifest.status != Status.COMMITTED:
            raise PartitionNotCommitted(f"{stage} has not committed partition {partition}")
        return manifest.output_fingerprint or ""

    def published(
        self, table: Table, partitions: list[str], publisher: str | None = None
    ) -> dict[str, str]:
        """The files of `table` in `partitions` as `publisher` (default: its own stage;
        every stage, for per-stage tables) committed them, a report table's whether or
        not the gate passed: each relative to the root, with the content hash its
        manifest recorded. One missing is left out: damage, which `status` and the
        report name, and the next run redoes."""
        found = {}
        stages = STAGES if table.per_stage else (publisher or table.stage,)
        for partition in partitions:
            for stage in stages:
                manifest = self.read_manifest(stage, partition)
                if manifest is None or not (table.report or manifest.status == Status.COMMITTED):
                    continue
                relative = relative_file(table, partition, stage)
                content = self.recorded(manifest).get(relative)
                if content is not None and os.path.exists(f"{self.root}/{relative}"):
                    found[relative] = content
        return found

    # -- writing -------------------------------------------------------------

    def staging(self, stage: str, partition: str) -> contextlib.AbstractContextManager[Staging]:
        """A fresh staging folder; removed on exit whether or not it was committed."""
        return self.commits.staging(stage, partition)

    def commit(self, staging: Staging, manifest: Manifest) -> None:
        """Move every staged partition folder into place, then write the manifest."""
        self.commits.commit(staging, manifest)

    def record_failure(self, staging: Staging, manifest: Manifest) -> None:
        """Keep a failed gate's checks and report, not its tables, and mark it failed."""
        self.commits.record_failure(staging, manifest)

    def clear_leftovers(self) -> list[Path]:
        """Remove what a killed or failed run left behind (see Commits)."""
        return self.commits.clear_leftovers()

    def lock(self, wait_seconds: float = 0.0) -> contextlib.AbstractContextManager[None]:
        """Hold the lake for one run (see WriterLock)."""
        return self.writer_lock.hold(wait_seconds)

    def is_locked(self) -> bool:
        """Whether some run holds the lake now."""
        return self.writer_lock.held()

    # -- the settings of the last run ------------------------------------------

    def last_settings(self) -> dict[str, Any]:
        """The settings of the lake's last run (empty for a new lake)."""
        path = self.settings_path
        settings = read_json(
            path, lambda damaged: InvalidSettings(f"{damaged}; delete it to run with the defaults")
        )
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            raise InvalidSettings(f"{path} is not a JSON object; delete it to use the defaults")
        return remembered_settings(settings, str(path))

    def write_settings(self, settings: dict[str, Any]) -> None:
        atomic_write_text(self.settings_path, json.dumps(settings, indent=1))
