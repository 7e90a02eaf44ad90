"""The Great Expectations results each gate had, one file per partition shared by
its stages (`reports/gx/<p>.json`), and how a manifest records one stage's entry."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tasks.lake.files import atomic_write_text, sha256_bytes
from tasks.lake.layout import LakeLayout
from tasks.records import OutputFile

GX_ENTRY = "#"
"""In a recorded file's path, what follows names one stage's entry of a file that a
partition's stages share (`reports/gx/<p>.json#clean`)."""


def _entry_bytes(results: list[dict[str, Any]]) -> bytes:
    """One stage's Great Expectations results, as they are hashed when recorded."""
    return json.dumps(results, sort_keys=True, default=str).encode("utf-8")


class GxResults:
    """The Great Expectations results of one lake root, by partition and stage."""

    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout

    def results(self, stage: str, partition: str) -> list[dict[str, Any]] | None:
        """The results the gate of `stage` had from Great Expectations for `partition`
        (the last time it ran); None when there are none."""
        return self._by_stage(partition).get(stage)

    def _by_stage(self, partition: str) -> dict[str, list[dict[str, Any]]]:
        try:
            path = self.layout.gx_report_path(partition)
            reports = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or damaged: written again whole
            return {}
        return reports if isinstance(reports, dict) else {}

    def write(self, stage: str, partition: str, results: list[dict[str, Any]]) -> Path:
        """Keep the gate's results of `stage` beside those of the partition's other
        stages: one file per partition (the stages of a partition run one at a time)."""
        path = self.layout.gx_report_path(partition)
        reports = self._by_stage(partition) | {stage: results}
        atomic_write_text(path, json.dumps(reports, indent=1, sort_keys=True, default=str))
        return path

    def describe_entry(self, stage: str, partition: str) -> OutputFile | None:
        """The Great Expectations results of a stage-partition as its manifest records
        them: one entry of the partition's file, which its stages share."""
        results = self.results(stage, partition)
        if results is None:
            return None
        gx = self.layout.gx_report_path(partition).relative_to(self.layout.root).as_posix()
        entry = _entry_bytes(results)
        return OutputFile(f"{gx}{GX_ENTRY}{stage}", len(entry), sha256_bytes(entry))

    def check_entry(self, output: OutputFile, *, deep: bool) -> list[str]:
        """A stage's entry in a partition's Great Expectations file: the file is there
        (a plain check costs one stat, like a table's); with `deep`, the entry is
        what was committed."""
        file, stage = output.path.split(GX_ENTRY, 1)
        if not os.path.isfile(os.path.join(self.layout.root, file)):
            return [f"{file} is missing"]
        if not deep:
            return []
        partition = Path(file).stem
        results = self.results(stage, partition)
        if results is None:
            return [f"{file} has lost the results of {stage}"]
        if sha256_bytes(_entry_bytes(results)) != output.sha256:
            return [f"{file} changed (the results of {stage}) since they were committed"]
        return []
