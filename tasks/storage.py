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
    _partitions/<p>.json                what each partition is: its items, its order
    _staging/<token>/...                work in progress, mirrored layout; never read
    _lock                               held (flock) by the one run writing the lake

A stage writes everything into its own staging folder, then `commit` moves each
partition folder into place with a rename and writes the manifest last, so a
reader that trusts manifests never sees half a stage.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import time
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
RUNNING = "running"


class PartitionNotCommitted(RuntimeError):
    """A stage asked for an input that its upstream stage has not committed."""


class LakeLocked(RuntimeError):
    """Another run holds the lake."""


def pause_point(name: str) -> None:
    """Fault injection for the crash tests: with DEPECHE_PAUSE_AT naming this point
    (`produce:<stage>`, `write:<table>`, `commit:<stage>`, `annotate:worker`), the
    process writes the point's name to DEPECHE_PAUSE_FILE and waits to be killed."""
    wanted = os.environ.get("DEPECHE_PAUSE_AT")
    if not wanted or name not in wanted.split(","):
        return
    Path(os.environ["DEPECHE_PAUSE_FILE"]).write_text(name, encoding="utf-8")
    time.sleep(float(os.environ.get("DEPECHE_PAUSE_SECONDS", "600")))


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
        with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
            writer.write_table(rows)
            pause_point(f"write:{table.name}")  # the footer is not written yet
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

    # -- partitions ------------------------------------------------------------

    def write_partition(self, spec: dict[str, Any]) -> None:
        path = self.root / "_partitions" / f"{spec['partition']}.json"
        _atomic_write_text(path, json.dumps(spec, indent=1, sort_keys=True))

    def partition(self, partition: str) -> dict[str, Any]:
        path = self.root / "_partitions" / f"{partition}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyError(f"no partition {partition!r} in {self.root}") from None

    def known_items(self) -> set[tuple[str, int | None, str]]:
        """(path, line, content hash) of every item some partition holds."""
        return {tuple(key) for spec in self.partitions() for key in spec["items"]}

    def partitions(self) -> list[dict[str, Any]]:
        """Every partition's record, in the order the partitions were made."""
        specs = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in (self.root / "_partitions").glob("*.json")
        ]
        return sorted(specs, key=lambda spec: spec["seq"])

    # -- the one writer ----------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the lake for one run. The lock is an flock, so the kernel releases it
        when its process dies, however it dies: a killed run never blocks the next."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / "_lock", "a+", encoding="utf-8")  # noqa: SIM115
        try:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        holder = handle.read().strip() or "another run"
                        raise LakeLocked(
                            f"the lake {self.root} is in use ({holder}); wait for that run "
                            "to end, or pass --wait SECONDS"
                        ) from None
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"pid {os.getpid()} on {socket.gethostname()} since "
                f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}"
            )
            handle.flush()
            yield
        finally:
            handle.close()  # closing the file releases the lock

    def is_locked(self) -> bool:
        """Whether some run holds the lake now."""
        path = self.root / "_lock"
        if not path.exists():
            return False
        with open(path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

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

    def status(self, stages: tuple[str, ...]) -> list[dict[str, Any]]:
        """One row per partition and stage: where it stands, its counts, its problem."""
        busy = self.is_locked()
        rows = []
        for spec in self.partitions():
            for stage in stages:
                manifest = self.read_manifest(stage, spec["partition"]) or {}
                state = manifest.get("status", "pending")
                if state == RUNNING and not busy:
                    state = "interrupted"  # its run died: the next run redoes it
                rows.append(
                    {
                        "partition": spec["partition"],
                        "stage": stage,
                        "status": state,
                        "rows_in": manifest.get("rows_in"),
                        "rows_out": manifest.get("rows_out"),
                        "quarantined": manifest.get("rows_quarantined"),
                        "when": manifest.get("finished_at") or manifest.get("started_at"),
                        "problem": manifest.get("error") if state == FAILED else None,
                    }
                )
        return rows

    def needs_rerun(self, partition: str, stages: tuple[str, ...]) -> bool:
        """Whether a stage of the partition failed, was interrupted, or never ran."""
        return any(not self.is_committed(stage, partition) for stage in stages)

    def last_settings(self) -> dict[str, Any]:
        """The settings of the lake's last run (empty for a new lake)."""
        try:
            return json.loads((self.root / "_settings.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def write_settings(self, settings: dict[str, Any]) -> None:
        _atomic_write_text(self.root / "_settings.json", json.dumps(settings, indent=1))

    def is_committed(self, stage: str, partition: str) -> bool:
        manifest = self.read_manifest(stage, partition)
        return manifest is not None and manifest.get("status") == COMMITTED

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
        if not self.is_committed(stage, partition):
            raise PartitionNotCommitted(f"{stage} has not committed partition {partition}")
        path = self.committed_file(table, partition, stage)
        if columns is not None:
            return pq.read_table(path, columns=columns)
        return pq.read_table(path, schema=table.schema)

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
            pause_point(f"commit:{staging.stage}")
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
