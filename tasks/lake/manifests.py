"""The manifests: one per stage-partition (`_manifests/<stage>/<p>.json`), the
source of truth of what is committed, and the marts' (`_manifests/marts.json`)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from schemas import STAGES
from schemas.marts import MART_STAGE
from tasks.lake.files import atomic_write_text
from tasks.lake.index import Record
from tasks.lake.layout import LakeLayout, manifests_dir
from tasks.lake.partitions import PartitionRecords
from tasks.lake.record_folders import RecordFolders
from tasks.records import Manifest, Status


def manifest_of(record: Record | None) -> Manifest | None:
    """The manifest a record holds; None for no record; ValueError for a damaged one."""
    if record is None:
        return None
    if record.error is not None:
        raise ValueError(record.error)
    return Manifest.from_json(record.data)


class Manifests:
    """The manifests of one lake root."""

    def __init__(
        self, layout: LakeLayout, folders: RecordFolders, partitions: PartitionRecords
    ) -> None:
        self.layout = layout
        self.folders = folders
        self.partitions = partitions
        # when indexed: each manifest parsed once, kept with the record it was read from
        self._parsed: dict[tuple[str, str], tuple[Record, Manifest]] = {}
        # the files of each manifest read, by stage-partition, with the manifest
        self._recorded: dict[tuple[str, str], tuple[Manifest, dict[str, str]]] = {}

    def read(self, stage: str, partition: str) -> Manifest | None:
        """The stage-partition's manifest; None when it has none, or one that cannot be
        read (`problem` says why): either way the stage-partition is redone."""
        folder = manifests_dir(stage)
        try:
            return self._manifest(folder, partition, self.folders.record(folder, partition))
        except (ValueError, KeyError, TypeError):
            return None

    def _manifest(self, folder: str, name: str, record: Record | None) -> Manifest | None:
        """The manifest `record` holds: parsed once per record when indexed (every
        stage-partition's key and skip decision read the same manifests again)."""
        if not self.folders.indexed or record is None:
            return manifest_of(record)
        kept = self._parsed.get((folder, name))
        if kept is not None and kept[0] is record:
            return kept[1]
        manifest = manifest_of(record)
        self._parsed[folder, name] = (record, manifest)
        return manifest

    def problem(self, stage: str, partition: str) -> str | None:
        """Why the stage-partition's manifest cannot be read, if it cannot."""
        try:
            manifest_of(self.folders.record(manifests_dir(stage), partition))
        except (ValueError, KeyError, TypeError) as error:
            path = self.layout.manifest_path(stage, partition)
            return f"manifest {path} is damaged ({type(error).__name__}); the next run redoes it"
        return None

    def read_marts(self) -> Manifest | None:
        """The marts' manifest; None when they were never made (or it is unreadable)."""
        try:
            text = self.layout.marts_manifest_path.read_text(encoding="utf-8")
            return Manifest.from_json(json.loads(text))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def write(self, manifest: Manifest) -> Path:
        if manifest.stage == MART_STAGE:
            path = self.layout.marts_manifest_path
        else:
            path = self.layout.manifest_path(manifest.stage, manifest.partition)
        text = json.dumps(manifest.to_json(), indent=2, sort_keys=True, default=str)
        atomic_write_text(path, text)
        if self.folders.indexed and manifest.stage != MART_STAGE:
            folder = manifests_dir(manifest.stage)
            self.folders.recorded(folder, manifest.partition, json.loads(text))
        return path

    def mark_damaged(self, manifest: Manifest, problems: list[str]) -> None:
        """Record that a committed stage-partition's files are not what it committed:
        it is no longer committed, and the next run (or rerun --failed) redoes it."""
        manifest.status = Status.DAMAGED
        manifest.error = "damaged: " + "; ".join(problems)
        self.write(manifest)

    def all(self, stage: str | None = None) -> list[Manifest]:
        """Every readable manifest (of one stage, or all), by stage, then partition; not
        those of partitions compacted into another."""
        found = []
        # no longer partitions: their records wait for collection
        superseded = self.partitions.superseded()
        for name in sorted((stage,) if stage else STAGES):
            folder = manifests_dir(name)
            for partition, record in sorted(self.folders.folder(folder).items()):
                if partition in superseded:
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found.append(self._manifest(folder, partition, record))
        return found

    def recorded(self, manifest: Manifest) -> dict[str, str]:
        """The files `manifest` records (its tables, its gate's records), each relative
        to the root with its content hash; worked out once per manifest read."""
        kept = self._recorded.get((manifest.stage, manifest.partition))
        if kept is not None and kept[0] is manifest:
            return kept[1]
        files = {output.path: output.sha256 for output in (*manifest.outputs, *manifest.reports)}
        self._recorded[manifest.stage, manifest.partition] = (manifest, files)
        return files
