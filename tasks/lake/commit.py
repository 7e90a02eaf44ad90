"""The commit protocol: a stage-partition writes into a private staging folder,
then each of its partition folders moves into place with one rename and the
manifest, written last, marks the commit. What a killed run leaves is cleared."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from schemas import STAGES, Table
from tasks.faults import fault_point
from tasks.lake.files import (
    PART_FILE,
    describe_file,
    empty_file_sha256,
    fingerprint_outputs,
    write_parquet,
)
from tasks.lake.gx_results import GxResults
from tasks.lake.layout import PARTITION_PREFIX, LakeLayout
from tasks.lake.manifests import Manifests
from tasks.records import Manifest, OutputFile

NO_FILE_WHEN_EMPTY = frozenset({"quarantine"})
"""Tables whose partition with no rows is no file: a stage's rejects, empty in most
stage-partitions (four empty files of a partition's twenty-five otherwise). A stage
commits without one and its manifest records none; a reader takes that as no rows."""


@dataclass
class Staging:
    """A private folder where one stage-partition writes before it commits."""

    layout: LakeLayout
    root: Path
    stage: str
    partition: str
    # what was staged: each table's partition folder, relative to the staging root
    staged: dict[Table, Path] = field(default_factory=dict)
    # each file staged (relative), with its table and, for a file linked from the last
    # commit, how that commit described it (so that it is not hashed again)
    files: dict[Path, tuple[Table, OutputFile | None]] = field(default_factory=dict)
    # partition folders of tables with no rows this time: no file, and no older one
    # left in place by the commit
    cleared: dict[Table, Path] = field(default_factory=dict)

    def _file(self, table: Table, name: str, described: OutputFile | None = None) -> Path:
        relative = self.layout.relative_dir(table, self.partition, self.stage)
        self.staged[table] = relative
        self.files[relative / name] = (table, described)
        folder = self.root / relative
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def write(
        self, table: Table, rows: pa.Table | Iterable[pa.Table], name: str = PART_FILE
    ) -> Path | None:
        """Write `rows` as the partition of `table` (as its file `name`): a table, or a
        stream of tables written as they come (each a row group, so that a reader can
        take them one at a time); the schema must match exactly. None: a table of
        NO_FILE_WHEN_EMPTY without rows, written as no file."""
        if table.name in NO_FILE_WHEN_EMPTY and isinstance(rows, pa.Table) and not rows.num_rows:
            self.clear(table)
            return None
        path = self._file(table, name)
        write_parquet(path, table.schema, rows, fault=f"write:{table.name}")
        return path

    def link(
        self,
        table: Table,
        source: Path,
        name: str = PART_FILE,
        described: OutputFile | None = None,
    ) -> Path:
        """Place an already written file as this stage's partition of `table` (as its
        file `name`); `described`: how a manifest recorded it, unchanged since."""
        target = self._file(table, name, described)
        try:
            os.link(source, target)
        except OSError:  # no hard links on this file system: copy instead
            shutil.copyfile(source, target)
        return target

    def clear(self, table: Table) -> None:
        """`table` has no file this time, and the commit leaves none of an older one."""
        self.cleared[table] = self.layout.relative_dir(table, self.partition, self.stage)

    def folders(self, *, reports_only: bool = False) -> list[Path]:
        """Staged partition folders, relative to the staging root (and to the lake)."""
        return sorted(
            relative for table, relative in self.staged.items() if table.report or not reports_only
        )


class Commits:
    """Staging, commits and removals of partition folders in one lake root."""

    def __init__(self, layout: LakeLayout, manifests: Manifests, gx: GxResults) -> None:
        self.layout = layout
        self.root = layout.root
        self.manifests = manifests
        self.gx = gx

    @contextlib.contextmanager
    def staging(self, stage: str, partition: str) -> Iterator[Staging]:
        """A fresh staging folder; removed on exit whether or not it was committed."""
        root = self.root / "_staging" / f"{stage}-{partition}-{uuid.uuid4().hex[:8]}"
        root.mkdir(parents=True)
        try:
            yield Staging(self.layout, root, stage, partition)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def commit(self, staging: Staging, manifest: Manifest) -> None:
        """Move every staged partition folder into place, then write the manifest.

        Each folder moves with one rename. A replaced folder is renamed aside first
        and deleted after; the manifest, written last, is what marks the commit.
        """
        cleared = staging.cleared
        trash = self.place(
            staging.root, staging.folders(), f"commit:{staging.stage}", cleared.values()
        )
        outputs = {
            relative: described or describe_file(self.root, relative)
            for relative, (table, described) in staging.files.items()
            if not table.report
        }
        manifest.outputs = [outputs[relative] for relative in sorted(outputs)]
        # a table written as no file counts as the empty file it stands for
        for table, relative in cleared.items():
            if table.name in NO_FILE_WHEN_EMPTY:
                empty = empty_file_sha256(table.schema)
                outputs[relative / PART_FILE] = OutputFile(
                    (relative / PART_FILE).as_posix(), 0, empty
                )
        manifest.output_fingerprint = fingerprint_outputs([outputs[r] for r in sorted(outputs)])
        manifest.reports = self._describe_reports(staging)
        self.manifests.write(manifest)
        shutil.rmtree(trash, ignore_errors=True)

    def place(
        self, staged_root: Path, folders: list[Path], fault: str, cleared: Iterable[Path] = ()
    ) -> Path:
        """Move each staged partition folder (relative) into place with one rename; a
        folder it replaces, and one of `cleared` (a table with no rows now), is renamed
        aside into the returned trash folder, which the caller deletes once its commit
        is recorded."""
        trash = self.root / "_trash" / uuid.uuid4().hex
        for relative in folders:
            (self.root / relative).parent.mkdir(parents=True, exist_ok=True)
            self._aside(relative, trash)
            os.replace(staged_root / relative, self.root / relative)
            fault_point(fault)
        for relative in cleared:
            self._aside(relative, trash)
        return trash

    def _aside(self, relative: Path, trash: Path) -> None:
        """Rename the folder `relative`, if there is one, into `trash`."""
        final = self.root / relative
        if final.exists():
            aside = trash / relative
            aside.parent.mkdir(parents=True, exist_ok=True)
            os.replace(final, aside)

    def record_failure(self, staging: Staging, manifest: Manifest) -> None:
        """Keep a failed gate's checks and report, not its tables, and mark it failed."""
        for relative in staging.folders(reports_only=True):
            final = self.root / relative
            if final.exists():
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging.root / relative, final)
        manifest.reports = self._describe_reports(staging)
        self.manifests.write(manifest)

    def _describe_reports(self, staging: Staging) -> list[OutputFile]:
        """The gate's records of a stage-partition, now in place: its checks and its
        Great Expectations results."""
        checks = [relative for relative, (table, _) in staging.files.items() if table.report]
        described = [
            describe_file(self.root, relative)
            for relative in sorted(checks)
            if (self.root / relative).exists()
        ]
        entry = self.gx.describe_entry(staging.stage, staging.partition)
        return described if entry is None else [*described, entry]

    def forget(self, partition: str, fault: str = "") -> None:
        """Remove every file of `partition`: its folders (each renamed aside whole, so
        no reader sees half of one), its Great Expectations results, its manifests,
        and its record last: a process killed on the way leaves it to forget again."""
        trash = self.root / "_trash" / uuid.uuid4().hex
        for relative in self.layout.partition_folders(partition):
            folder = self.root / relative
            if folder.exists():
                aside = trash / relative
                aside.parent.mkdir(parents=True, exist_ok=True)
                os.replace(folder, aside)
                if fault:
                    fault_point(fault)
        self.layout.gx_report_path(partition).unlink(missing_ok=True)
        for stage in STAGES:
            self.layout.manifest_path(stage, partition).unlink(missing_ok=True)
        self.layout.partition_record_path(partition).unlink(missing_ok=True)
        shutil.rmtree(trash, ignore_errors=True)

    def clear_leftovers(self) -> list[Path]:
        """Remove what a killed or failed run left behind: staging and trash folders,
        and the hidden temporary files of atomic writes that did not finish."""
        removed = []
        for name in ("_staging", "_trash"):
            folder = self.root / name
            if folder.exists():
                removed.extend(sorted(folder.iterdir()))
                shutil.rmtree(folder, ignore_errors=True)
        for folder, subfolders, files in os.walk(self.root):
            # a partition folder is written in staging and moved in whole: no atomic
            # write leaves its temporary file in one, so the walk skips the lake's
            # thousands of them and costs the records' folders alone
            subfolders[:] = [name for name in subfolders if not name.startswith(PARTITION_PREFIX)]
            for name in sorted(files):
                if name.startswith(".") and name.endswith(".tmp"):
                    leftover = Path(folder) / name
                    leftover.unlink(missing_ok=True)
                    removed.append(leftover)
        return removed
