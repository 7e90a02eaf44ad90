"""The lake's record folders (partition records, each stage's manifests): read a
file at a time, or, for a command that reads the state of the whole lake, once
through the state index and kept with what the command writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas import STAGES
from tasks.lake.index import Record, read_folder
from tasks.lake.layout import PARTITIONS_DIR, manifests_dir

Records = dict[str, dict[str, Record]]  # by folder, by file stem (partition)


class RecordFolders:
    """The records of one lake root, from their files or from one reading of them."""

    def __init__(self, root: Path, records: Records | None = None) -> None:
        self.root = root
        # when indexed: the partition records and manifests, read once
        self._records = records

    @property
    def indexed(self) -> bool:
        return self._records is not None

    @classmethod
    def read_once(cls, root: Path) -> Records:
        """Every record folder of the lake, read through the state index."""
        folders = (PARTITIONS_DIR, *(manifests_dir(stage) for stage in STAGES))
        return {folder: read_folder(root, folder) for folder in folders}

    def copy(self) -> Records:
        """The records as read once (read now when they were not), each folder a new
        mapping: what is recorded in the copy does not change them."""
        records = self._records if self._records is not None else self.read_once(self.root)
        return {folder: dict(found) for folder, found in records.items()}

    def record(self, folder: str, name: str) -> Record | None:
        """The record `name` of `folder`: from the index when indexed, else its file."""
        if self._records is not None:
            return self._records[folder].get(name)
        path = self.root / folder / f"{name}.json"
        try:
            return Record(name, data=json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as error:
            return Record(name, error=f"{type(error).__name__}: {error}")

    def folder(self, folder: str) -> dict[str, Record]:
        if self._records is not None:
            return self._records[folder]
        # every clean key asks for the partitions' order: their mapping is kept while
        # the folder is unchanged; a manifest folder is listed again at each reading
        return read_folder(self.root, folder, remember=folder == PARTITIONS_DIR)

    def recorded(self, folder: str, name: str, data: dict[str, Any]) -> None:
        """What this lake object wrote, for its own later reads when indexed."""
        if self._records is None:
            return
        if folder == PARTITIONS_DIR:  # a new mapping: the plan order worked out is old
            self._records[folder] = dict(self._records[folder])
        self._records[folder][name] = Record(name, data=data)
