"""The partition records (`_partitions/<p>.json`): what each partition is, the
order they were made in, and which were compacted into another."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path

from tasks.errors import DamagedLake, UnknownPartition
from tasks.lake.files import atomic_write_text
from tasks.lake.index import Record
from tasks.lake.layout import PARTITIONS_DIR, LakeLayout
from tasks.lake.record_folders import RecordFolders
from tasks.records import WEB_ITEM, ItemKey, PartitionSpec

Damaged = list[tuple[Path, Exception]]  # a record that cannot be read, and why

# worked out once for each state of a lake's partition records, by lake root
_PLAN_ORDER: dict[Path, tuple[dict[str, Record], list[str], dict[str, int]]] = {}
_SPECS: dict[Path, tuple[dict[str, Record], list[PartitionSpec], Damaged, dict[str, str]]] = {}


class PartitionRecords:
    """The partition records of one lake root."""

    def __init__(self, layout: LakeLayout, folders: RecordFolders) -> None:
        self.layout = layout
        self.folders = folders

    def write(self, spec: PartitionSpec) -> None:
        data = spec.to_json()
        path = self.layout.partition_record_path(spec.partition)
        atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))
        self.folders.recorded(PARTITIONS_DIR, spec.partition, data)

    def spec(self, partition: str) -> PartitionSpec:
        record = self.folders.record(PARTITIONS_DIR, partition)
        if record is None:
            raise UnknownPartition(f"no partition {partition!r} in {self.layout.root}")
        try:
            return _read_spec(record)
        except (ValueError, KeyError, TypeError) as error:
            path = self.layout.partition_record_path(partition)
            raise damaged_record(path, error) from None

    def before(self, partition: str) -> Iterator[str]:
        """The partitions made before `partition`, the nearest first."""
        names, position = self._plan_order()
        at = position.get(partition)
        if at is None:
            raise UnknownPartition(f"no partition {partition!r} in {self.layout.root}")
        return (names[i] for i in range(at - 1, -1, -1))

    def _plan_order(self) -> tuple[list[str], dict[str, int]]:
        """The partitions in the order they were made, and each one's place: worked
        out once for each state of the partition records (a key asks it of every
        partition)."""
        folder = self.folders.folder(PARTITIONS_DIR)
        cached = _PLAN_ORDER.get(self.layout.root)
        # a new mapping once the records changed (see `recorded` and `read_folder`)
        if cached is None or cached[0] is not folder:
            names = [spec.partition for spec in self.live()]
            cached = (folder, names, {name: at for at, name in enumerate(names)})
            _PLAN_ORDER[self.layout.root] = cached
        return cached[1], cached[2]

    def known_items(self) -> set[ItemKey]:
        """(path, line, content hash) of every item some partition holds."""
        return {key for spec in self.live() for key in spec.items}

    def live(self) -> list[PartitionSpec]:
        """Every partition's record, in the order the partitions were made; DamagedLake
        when one cannot be read (nothing can be planned or run safely then)."""
        specs, damaged = self.read()
        if damaged:
            raise damaged_record(*damaged[0])
        return specs

    def read(self) -> tuple[list[PartitionSpec], Damaged]:
        """The partitions of the lake, and the records that cannot be read, parsed once
        for each state of the records (a command asks for them several times). A
        partition compacted into another is none: the record of the merged one is the
        switch."""
        specs, damaged, _ = self._parsed()
        return specs, damaged

    def _parsed(self) -> tuple[list[PartitionSpec], Damaged, dict[str, str]]:
        """The live partitions, the damaged records, and the partitions compacted into
        another whose records are still there, with the one each was merged into."""
        folder = self.folders.folder(PARTITIONS_DIR)
        cached = _SPECS.get(self.layout.root)
        # a new mapping once the records changed (see `recorded` and `read_folder`)
        if cached is None or cached[0] is not folder:
            specs, damaged = [], []
            for name, record in sorted(folder.items()):
                try:
                    specs.append(_read_spec(record))
                except (ValueError, KeyError, TypeError) as error:
                    damaged.append((self.layout.partition_record_path(name), error))
            superseded = {
                name: spec.partition for spec in specs for name in spec.compacts if name in folder
            }
            live = [spec for spec in specs if spec.partition not in superseded]
            cached = (folder, sorted(live, key=lambda spec: spec.seq), damaged, superseded)
            _SPECS[self.layout.root] = cached
        return list(cached[1]), list(cached[2]), dict(cached[3])

    def superseded(self) -> dict[str, str]:
        """The partitions compacted into another whose records are still there (a
        compaction not yet collected), and the partition each was merged into."""
        return self._parsed()[2]

    def next_seq(self) -> int:
        return 1 + max((spec.seq for spec in self.live()), default=0)


def _read_spec(record: Record) -> PartitionSpec:
    """A partition record. Items recorded with a path relative to the working folder
    (as depeche did before it keyed items by absolute path) are made absolute."""
    if record.error is not None:
        raise ValueError(record.error)
    spec = PartitionSpec.from_json(record.data)
    if all(os.path.isabs(item[0]) or item[2] == WEB_ITEM for item in spec.items):
        return spec
    items = [
        (p if sha == WEB_ITEM else str(Path(p).resolve()), line, sha) for p, line, sha in spec.items
    ]
    return dataclasses.replace(spec, items=items)


def damaged_record(path: Path, error: Exception) -> DamagedLake:
    return DamagedLake(
        f"the partition record {path} is damaged ({type(error).__name__}: {error}): restore "
        f"it from a backup, or delete it and _manifests/*/{path.stem}.json to forget that "
        "partition (its items are then taken as new by the next run)"
    )
