"""The lake: the only module that knows paths, atomic commits and manifests.

Layout under the lake root:

    raw/batch=<p>/                      fetch output
    clean/batch=<p>/                    clean output
    _checkpoints/annotated/<t>/batch=<p>/  annotate output, waiting for validate
    annotated/<t>/batch=<p>/            published by validate (documents, sentences, entities)
    quarantine/<stage>/batch=<p>/       rejected records of each stage
    reports/checks/<stage>/batch=<p>/   every check each gate ran
    reports/gx/<stage>/<p>.json         Great Expectations results as GX writes them
    _manifests/<stage>/<p>.json         one per stage-partition: the source of truth
    _staging/<token>/...                work in progress, mirrored layout; never read

A stage writes everything into its own staging folder, then `commit` moves each
partition folder into place with a rename and writes the manifest last, so a
reader that trusts manifests never sees half a stage.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import PARTITION_KEY, Table

PART_FILE = "part-0.parquet"
COMMITTED = "committed"
FAILED = "failed"


class PartitionNotCommitted(RuntimeError):
    """A stage asked for an input that its upstream stage has not committed."""


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Staging:
    """A private folder where one stage-partition writes before it commits."""

    lake: Lake
    root: Path
    stage: str
    partition: str

    def _table_dir(self, table: Table) -> Path:
        return self.root / self.lake.relative_dir(table, self.partition, self.stage)

    def write(self, table: Table, rows: pa.Table) -> Path:
        """Write `rows` as the partition of `table`; the schema must match exactly."""
        if not rows.schema.equals(table.schema):
            rows = rows.cast(table.schema)
        folder = self._table_dir(table)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PART_FILE
        pq.write_table(rows, path, compression="zstd")
        return path

    def link(self, table: Table, source: Path) -> Path:
        """Place an already written file as this stage's partition of `table`."""
        folder = self._table_dir(table)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / PART_FILE
        try:
            os.link(source, target)
        except OSError:  # no hard links on this file system: copy instead
            shutil.copyfile(source, target)
        return target

    def partition_dirs(self) -> list[Path]:
        """Staged partition folders, relative to the staging root."""
        return sorted(
            p.relative_to(self.root) for p in self.root.rglob(f"{PARTITION_KEY}=*") if p.is_dir()
        )


class Lake:
    """Paths, staging, atomic commits and manifests of one lake root."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- paths ---------------------------------------------------------------

    def relative_dir(self, table: Table, partition: str, stage: str) -> Path:
        part = f"{PARTITION_KEY}={partition}"
        if table.per_stage:
            return Path(table.path) / stage / part
        if table.stage == "annotate" and stage == "annotate":
            return Path("_checkpoints") / table.path / part
        return Path(table.path) / part

    def committed_file(self, table: Table, partition: str, stage: str | None = None) -> Path:
        """Where the committed partition of `table` lives, as written by `stage`."""
        return self.root / self.relative_dir(table, partition, stage or table.stage) / PART_FILE

    def manifest_path(self, stage: str, partition: str) -> Path:
        return self.root / "_manifests" / stage / f"{partition}.json"

    def gx_report_path(self, stage: str, partition: str) -> Path:
        return self.root / "reports" / "gx" / stage / f"{partition}.json"

    # -- manifests -------------------------------------------------------------

    def read_manifest(self, stage: str, partition: str) -> dict[str, Any] | None:
        path = self.manifest_path(stage, partition)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def write_manifest(self, manifest: dict[str, Any]) -> Path:
        path = self.manifest_path(manifest["stage"], manifest["partition"])
        _atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True, default=str))
        return path

    def write_gx_report(self, stage: str, partition: str, results: list[dict[str, Any]]) -> Path:
        path = self.gx_report_path(stage, partition)
        _atomic_write_text(path, json.dumps(results, indent=2, default=str))
        return path

    def manifests(self, stage: str | None = None) -> list[dict[str, Any]]:
        pattern = f"{stage or '*'}/*.json"
        return [
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((self.root / "_manifests").glob(pattern))
        ]

    def is_committed(self, stage: str, partition: str) -> bool:
        manifest = self.read_manifest(stage, partition)
        return manifest is not None and manifest.get("status") == COMMITTED

    # -- reading -------------------------------------------------------------

    def read(self, table: Table, partition: str, stage: str | None = None) -> pa.Table:
        """A committed partition of `table`; refuses anything not committed."""
        stage = stage or table.stage
        if not self.is_committed(stage, partition):
            raise PartitionNotCommitted(f"{stage} has not committed partition {partition}")
        return pq.read_table(self.committed_file(table, partition, stage), schema=table.schema)

    def output_fingerprint(self, stage: str, partition: str) -> str:
        manifest = self.read_manifest(stage, partition)
        if manifest is None or manifest.get("status") != COMMITTED:
            raise PartitionNotCommitted(f"{stage} has not committed partition {partition}")
        return manifest["output_fingerprint"]

    # -- writing -------------------------------------------------------------

    @contextlib.contextmanager
    def staging(self, stage: str, partition: str) -> Iterator[Staging]:
        """A fresh staging folder; removed on exit whether or not it was committed."""
        root = self.root / "_staging" / f"{stage}-{partition}-{uuid.uuid4().hex[:8]}"
        root.mkdir(parents=True)
        try:
            yield Staging(self, root, stage, partition)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def commit(self, staging: Staging, manifest: dict[str, Any]) -> None:
        """Move every staged partition folder into place, then write the manifest.

        Each folder moves with one rename. A replaced folder is renamed aside first
        and deleted after; the manifest, written last, is what marks the commit.
        """
        trash = self.root / "_trash" / uuid.uuid4().hex
        relatives = staging.partition_dirs()
        for relative in relatives:
            final = self.root / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                aside = trash / relative
                aside.parent.mkdir(parents=True, exist_ok=True)
                os.replace(final, aside)
            os.replace(staging.root / relative, final)
        manifest["output_fingerprint"] = self._fingerprint_outputs(relatives)
        self.write_manifest(manifest)
        shutil.rmtree(trash, ignore_errors=True)

    def record_failure(self, staging: Staging, manifest: dict[str, Any]) -> None:
        """Keep a failed gate's checks and report, not its tables, and mark it failed."""
        for relative in staging.partition_dirs():
            if relative.parts[0] != "reports":
                continue
            final = self.root / relative
            if final.exists():
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging.root / relative, final)
        self.write_manifest(manifest)

    def _fingerprint_outputs(self, relatives: list[Path]) -> str:
        digest = hashlib.sha256()
        for relative in relatives:
            if relative.parts[0] == "reports":
                continue
            digest.update(str(relative).encode())
            digest.update(sha256_file(self.root / relative / PART_FILE).encode())
        return digest.hexdigest()

    def clear_leftovers(self) -> list[Path]:
        """Remove staging and trash folders that a killed run left behind."""
        removed = []
        for name in ("_staging", "_trash"):
            folder = self.root / name
            if folder.exists():
                removed.extend(sorted(folder.iterdir()))
                shutil.rmtree(folder, ignore_errors=True)
        return removed
