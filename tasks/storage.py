"""The lake: the only module that knows paths, atomic commits and manifests.

Layout under the lake root:

    raw/batch=<p>/                      fetch output
    clean/batch=<p>/                    clean output
    _checkpoints/annotated/<t>/batch=<p>/  annotate output, waiting for validate
    stories/batch=<p>/                  clean output: each article's MinHash and story
    annotated/<t>/batch=<p>/            published by validate (documents, sentences,
                                        entities, quotes)
    quarantine/<stage>/batch=<p>/       rejected records of each stage
    reports/checks/<stage>/batch=<p>/   every check each gate ran
    reports/gx/<p>.json                 Great Expectations results as GX writes them, by stage
    _manifests/<stage>/<p>.json         one per stage-partition: the source of truth
    _partitions/<p>.json                what each partition is: its items, its order
    _index/<folder>.json                the records of each folder above, read in one go
                                        (a cache of them: see tasks/lake_index.py)
    _index/<state>.parquet              states derived from committed partitions, such
                                        as clean's earlier articles (tasks/earlier.py)
    marts/<mart>/                       aggregates over every published partition
    _manifests/marts.json               what the marts were made from
    _manifests/derived.json             size and hash of the catalog and the report
    depeche.duckdb                      the catalog: a view per table and mart
    reports/index.html                  the report
    _staging/<token>/...                work in progress, mirrored layout; never read
    _lock                               held (flock) by the one run writing the lake

A stage writes everything into its own staging folder, then `commit` moves each
partition folder into place with a rename and writes the manifest last, so a
reader that trusts manifests never sees half a stage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import ALL_TABLES, PARTITION_KEY, STAGES, Table
from schemas.marts import MART_PARTITION, MART_STAGE
from tasks.errors import (
    DamagedLake,
    LakeLocked,
    LakeNotWritable,
    NotALake,
    PartitionNotCommitted,
    UnknownPartition,
)
from tasks.faults import fault_point
from tasks.known_hashes import KnownHashes
from tasks.lake_index import INDEX_DIR, Record, read_folder
from tasks.records import WEB_ITEM, ItemKey, Manifest, OutputFile, PartitionSpec, Status, StatusRow
from tasks.settings import InvalidSettings, remembered_settings

PART_FILE = "part-0.parquet"
_PARTITION = f"{PARTITION_KEY}="  # how a partition folder's name begins
_FORGET_WEB_STATE = "delete it, and the next run asks every web source without validators"


def _atomic_write(path: Path, data: bytes, *, pause: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if pause is not None:
        fault_point(pause)  # written, not yet in place
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, text.encode("utf-8"))


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
    # what was staged: each table's partition folder, relative to the staging root
    staged: dict[Table, Path] = field(default_factory=dict)

    def _table_dir(self, table: Table) -> Path:
        relative = self.lake.relative_dir(table, self.partition, self.stage)
        self.staged[table] = relative
        folder = self.root / relative
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write(self, table: Table, rows: pa.Table | Iterable[pa.Table]) -> Path:
        """Write `rows` as the partition of `table`: a table, or a stream of tables
        written as they come (each a row group, so that a reader can take them one
        at a time); the schema must match exactly."""
        path = self._table_dir(table) / PART_FILE
        write_parquet(path, table.schema, rows, fault=f"write:{table.name}")
        return path

    def link(self, table: Table, source: Path) -> Path:
        """Place an already written file as this stage's partition of `table`."""
        target = self._table_dir(table) / PART_FILE
        try:
            os.link(source, target)
        except OSError:  # no hard links on this file system: copy instead
            shutil.copyfile(source, target)
        return target

    def folders(self, *, reports_only: bool = False) -> list[Path]:
        """Staged partition folders, relative to the staging root (and to the lake)."""
        return sorted(
            relative for table, relative in self.staged.items() if table.report or not reports_only
        )


def write_parquet(
    path: Path, schema: pa.Schema, rows: pa.Table | Iterable[pa.Table], fault: str = ""
) -> None:
    """Write `rows` (a table, or a stream of tables, each a row group) to `path` with
    `schema`, as every file of the lake is written."""
    chunks = iter([rows] if isinstance(rows, pa.Table) else rows)
    first = next(chunks, None)
    first = schema.empty_table() if first is None else first
    # which columns keep statistics is read off the first chunk (a stream's chunks
    # are alike: the raw rows of one source)
    statistics = _columns_with_statistics(first)
    with pq.ParquetWriter(path, schema, compression="zstd", write_statistics=statistics) as writer:
        for chunk in itertools.chain([first], chunks):
            writer.write_table(chunk if chunk.schema.equals(schema) else chunk.cast(schema))
        if fault:
            fault_point(fault)  # the footer is not written yet


def merge_parquet(sources: list[Path], path: Path) -> None:
    """Write the rows of `sources`, one after the other, as one file at `path`: each
    source's row groups stay row groups of their own (a reader takes them one at a
    time). The schema is the first source's; a later one of an older depeche (a
    column it did not have yet) is cast to it."""
    schema = pq.read_schema(sources[0])
    path.parent.mkdir(parents=True, exist_ok=True)

    def groups() -> Iterator[pa.Table]:
        for source in sources:
            parquet = pq.ParquetFile(source)
            for group in range(parquet.num_row_groups):
                rows = parquet.read_row_group(group)
                for field_ in schema:
                    if field_.name not in rows.column_names:
                        rows = rows.append_column(field_, pa.nulls(rows.num_rows, field_.type))
                yield rows.select(schema.names)

    write_parquet(path, schema, groups())


def describe_file(root: Path, relative: Path) -> OutputFile:
    """A file of the lake as a manifest records it: its path, size and content hash."""
    path = root / relative
    return OutputFile(relative.as_posix(), path.stat().st_size, sha256_file(path))


PARTITIONS_DIR = "_partitions"


def _manifests_dir(stage: str) -> str:
    return f"_manifests/{stage}"


Records = dict[str, dict[str, Record]]  # by folder, by file stem (partition)


class Lake:
    """Paths, staging, atomic commits and manifests of one lake root."""

    def __init__(self, root: str | Path, records: Records | None = None) -> None:
        self.root = Path(root)
        # set by `indexed`: the partition records and manifests, read once
        self._records = records
        self._known_hashes: KnownHashes | None = None  # read when first asked
        # when indexed: each manifest parsed once, kept with the record it was read from
        self._parsed: dict[tuple[str, str], tuple[Record, Manifest]] = {}
        self._output_hashes: dict[str, str] | None = None  # every recorded file's hash

    def indexed(self) -> Lake:
        """This lake with its partition records and manifests read once, through the
        state index, for a command that reads the state of the whole lake (status,
        the idle check, the marts): what it writes through the returned object it
        reads back; what other processes write meanwhile it does not see."""
        if self._records is not None:
            return self
        folders = (PARTITIONS_DIR, *(_manifests_dir(stage) for stage in STAGES))
        return Lake(self.root, {folder: dict(read_folder(self.root, folder)) for folder in folders})

    def assuming(self, spec: PartitionSpec) -> Lake:
        """The lake's state, read once, as it will be once `spec` is recorded: what is
        written through the returned object goes to the lake, and is read back."""
        records = self.indexed()._records or {}
        view = Lake(self.root, {folder: dict(found) for folder, found in records.items()})
        view._recorded(PARTITIONS_DIR, spec.partition, spec.to_json())
        return view

    def _record(self, folder: str, name: str) -> Record | None:
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

    def _folder(self, folder: str) -> dict[str, Record]:
        if self._records is not None:
            return self._records[folder]
        # every clean key asks for the partitions' order: the process keeps their
        # records; the manifests are read once per command (and would take memory)
        return read_folder(self.root, folder, remember=folder == PARTITIONS_DIR)

    def _recorded(self, folder: str, name: str, data: dict[str, Any]) -> None:
        """What this object wrote, for its own later reads when indexed."""
        if self._records is None:
            return
        if folder == PARTITIONS_DIR:  # a new mapping: the plan order worked out is old
            self._records[folder] = dict(self._records[folder])
        self._records[folder][name] = Record(name, data=data)

    # -- paths ---------------------------------------------------------------

    def relative_dir(self, table: Table, partition: str, stage: str) -> Path:
        if not table.partitioned:  # a mart: one folder over every partition
            return Path(table.path)
        part = f"{PARTITION_KEY}={partition}"
        if table.per_stage:
            return Path(table.path) / stage / part
        if table.checkpoint and stage == table.stage:
            return Path("_checkpoints") / table.path / part
        return Path(table.path) / part

    def committed_file(self, table: Table, partition: str, stage: str | None = None) -> Path:
        """Where the committed partition of `table` lives, as written by `stage`."""
        return self.root / self.relative_dir(table, partition, stage or table.stage) / PART_FILE

    def table_dir(self, table: Table) -> Path:
        """The folder of every published partition of `table` (its hive root)."""
        return self.root / table.path

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def report_path(self) -> Path:
        """The HTML report of the lake."""
        return self.reports_dir / "index.html"

    @property
    def catalog_path(self) -> Path:
        """The DuckDB catalog: a view per table and mart, paths relative to the root."""
        return self.root / "depeche.duckdb"

    def published_files(
        self, table: Table, partitions: list[str], publisher: str | None = None
    ) -> list[Path]:
        """The files of `table` in `partitions` as `publisher` (default: its own stage;
        every stage, for per-stage tables) committed them; a report table's files
        whether or not the gate passed."""
        found = []
        for partition in partitions:
            stages = STAGES if table.per_stage else (publisher or table.stage,)
            for stage in stages:
                path = self.committed_file(table, partition, stage)
                if (table.report or self.is_committed(stage, partition)) and path.exists():
                    found.append(path)
        return found

    @property
    def marts_manifest_path(self) -> Path:
        # beside the stages' manifest folders, not in one: it is not a stage-partition
        return self.root / "_manifests" / "marts.json"

    def read_marts_manifest(self) -> Manifest | None:
        """The marts' manifest; None when they were never made (or it is unreadable)."""
        return self._manifest_or_none(self.marts_manifest_path)

    @property
    def derived_record_path(self) -> Path:
        # the catalog's and the report's sizes and hashes: files every run rewrites
        # from the marts, so not part of the marts' manifest
        return self.root / "_manifests" / "derived.json"

    def record_derived(self, path: Path) -> None:
        """Record the size and hash of `path`, a file of the lake rewritten from its
        marts (the catalog, the report), for `status --verify` to check."""
        recorded = {output.path: output for output in self._derived_files() or []}
        described = self._describe(path.relative_to(self.root))
        recorded[described.path] = described
        listed = [dataclasses.asdict(recorded[name]) for name in sorted(recorded)]
        _atomic_write_text(self.derived_record_path, json.dumps(listed, indent=1))

    def _derived_files(self) -> list[OutputFile] | None:
        """The recorded derived files; None when the record cannot be read."""
        try:
            listed = json.loads(self.derived_record_path.read_text(encoding="utf-8"))
            return [OutputFile(**item) for item in listed]
        except FileNotFoundError:  # never written (a lake of an older depeche)
            return []
        except (ValueError, TypeError):
            return None

    def lake_wide_status(self, *, deep: bool = False) -> list[StatusRow]:
        """The rows of `status` for what is made over every partition: the marts (and
        their checks), the catalog and the report. A damaged one is redone by the
        next run (or `rerun --failed`)."""
        rows = []
        manifest = self.read_marts_manifest()
        if manifest is None and self.marts_manifest_path.exists():
            problem = f"{self.marts_manifest_path} is damaged; the next run redoes the marts"
            rows.append(StatusRow(MART_PARTITION, MART_STAGE, Status.DAMAGED, problem=problem))
        elif manifest is not None:
            problems = self.verify(manifest, deep=deep) if manifest.status.ok else []
            status = Status.DAMAGED if problems else manifest.status
            rows.append(
                StatusRow(
                    MART_PARTITION,
                    MART_STAGE,
                    status,
                    rows_in=manifest.rows_in,
                    rows_out=manifest.rows_out,
                    when=manifest.finished_at,
                    problem="damaged: " + "; ".join(problems) if problems else manifest.error,
                )
            )
        derived = self._derived_files()
        if derived is None:
            problem = f"{self.derived_record_path} is damaged; the next run rewrites it"
            damaged = StatusRow(MART_PARTITION, "catalog", Status.DAMAGED, problem=problem)
            return [*rows, damaged]
        for output in derived:  # a row each, named by its path
            problems = self.check_files([output], deep=deep)
            if problems:
                problem = f"damaged: {problems[0]}; the next run rewrites it"
                rows.append(StatusRow(MART_PARTITION, output.path, Status.DAMAGED, problem=problem))
            else:
                rows.append(StatusRow(MART_PARTITION, output.path, Status.COMMITTED))
        return rows

    def derived_problems(self, *, deep: bool = False, remembered: bool = False) -> list[str]:
        """What is wrong with the recorded catalog and report (and their record)."""
        derived = self._derived_files()
        if derived is None:
            return [f"{self.derived_record_path} is damaged"]
        return self.check_files(derived, deep=deep, remembered=remembered)

    def exists(self) -> bool:
        """Whether a depeche run has made partitions here."""
        return self._partitions_dir.is_dir()

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

    @property
    def _partitions_dir(self) -> Path:
        return self.root / PARTITIONS_DIR

    def manifest_path(self, stage: str, partition: str) -> Path:
        return self.root / _manifests_dir(stage) / f"{partition}.json"

    def gx_report_path(self, partition: str) -> Path:
        """The Great Expectations results of every stage of `partition`, in one file."""
        return self.reports_dir / "gx" / f"{partition}.json"

    def gx_report(self, stage: str, partition: str) -> list[dict[str, Any]] | None:
        """The results the gate of `stage` had from Great Expectations for `partition`
        (the last time it ran); None when there are none."""
        return self._gx_reports(partition).get(stage)

    def _gx_reports(self, partition: str) -> dict[str, list[dict[str, Any]]]:
        try:
            reports = json.loads(self.gx_report_path(partition).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or damaged: written again whole
            return {}
        return reports if isinstance(reports, dict) else {}

    # -- derived states --------------------------------------------------------

    def _index_file(self, name: str) -> Path:
        return self.root / INDEX_DIR / name

    def read_derived_table(self, name: str) -> pa.Table | None:
        """A state derived from the committed partitions; None when missing or damaged
        (its owner rebuilds it from them)."""
        try:
            return pq.read_table(self._index_file(f"{name}.parquet"))
        except (OSError, pa.ArrowException):
            return None

    def write_derived_table(self, name: str, rows: pa.Table) -> None:
        """Keep a derived state, replaced atomically; a lake that cannot be written
        keeps the old one (it is rebuilt when stale)."""
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink, compression="zstd")
        path = self._index_file(f"{name}.parquet")
        with contextlib.suppress(OSError):
            _atomic_write(path, sink.getvalue().to_pybytes(), pause=f"derived:{name}")

    def read_derived_record(self, name: str) -> dict[str, Any]:
        """A JSON object derived from the lake's files; empty when missing or damaged."""
        try:
            found = json.loads(self._index_file(f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def write_derived_record(self, name: str, record: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            _atomic_write_text(self._index_file(f"{name}.json"), json.dumps(record))

    def recorded_hashes(self, paths: list[Path]) -> dict[str, str | None]:
        """Each of `paths` relative to the root, with the content hash a manifest
        recorded for it (None where none does)."""
        if self._output_hashes is None:  # the manifests as this object first read them
            self._output_hashes = {
                output.path: output.sha256
                for manifest in self.manifests()
                for output in (*manifest.outputs, *manifest.reports)
            }
        relative = [path.relative_to(self.root).as_posix() for path in paths]
        return {path: self._output_hashes.get(path) for path in relative}

    # -- partitions ------------------------------------------------------------

    def write_partition(self, spec: PartitionSpec) -> None:
        path = self._partitions_dir / f"{spec.partition}.json"
        data = spec.to_json()
        _atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))
        self._recorded(PARTITIONS_DIR, spec.partition, data)

    def partition(self, partition: str) -> PartitionSpec:
        record = self._record(PARTITIONS_DIR, partition)
        if record is None:
            raise UnknownPartition(f"no partition {partition!r} in {self.root}")
        try:
            return _read_spec(record)
        except (ValueError, KeyError, TypeError) as error:
            raise _damaged_record(self._partitions_dir / f"{partition}.json", error) from None

    def before(self, partition: str) -> Iterator[str]:
        """The partitions made before `partition`, the nearest first."""
        names, position = self._plan_order()
        at = position.get(partition)
        if at is None:
            raise UnknownPartition(f"no partition {partition!r} in {self.root}")
        return (names[i] for i in range(at - 1, -1, -1))

    def _plan_order(self) -> tuple[list[str], dict[str, int]]:
        """The partitions in the order they were made, and each one's place: worked
        out once for each state of the partition records (a key asks it of every
        partition)."""
        folder = self._folder(PARTITIONS_DIR)
        cached = _PLAN_ORDER.get(self.root)
        # a new mapping once the records changed (see `_recorded` and `read_folder`)
        if cached is None or cached[0] is not folder:
            names = [spec.partition for spec in self.partitions()]
            cached = (folder, names, {name: at for at, name in enumerate(names)})
            _PLAN_ORDER[self.root] = cached
        return cached[1], cached[2]

    def known_items(self) -> set[ItemKey]:
        """(path, line, content hash) of every item some partition holds."""
        return {key for spec in self.partitions() for key in spec.items}

    def partitions(self) -> list[PartitionSpec]:
        """Every partition's record, in the order the partitions were made; DamagedLake
        when one cannot be read (nothing can be planned or run safely then)."""
        specs, damaged = self._read_partitions()
        if damaged:
            raise _damaged_record(*damaged[0])
        return specs

    def _read_partitions(self) -> tuple[list[PartitionSpec], list[tuple[Path, Exception]]]:
        """The partitions of the lake, and the records that cannot be read, parsed once
        for each state of the records (a command asks for them several times). A
        partition compacted into another is none: the record of the merged one is the
        switch."""
        specs, damaged, _ = self._parsed_partitions()
        return specs, damaged

    def _parsed_partitions(
        self,
    ) -> tuple[list[PartitionSpec], list[tuple[Path, Exception]], dict[str, str]]:
        """The live partitions, the damaged records, and the partitions compacted into
        another whose records are still there, with the one each was merged into."""
        folder = self._folder(PARTITIONS_DIR)
        cached = _SPECS.get(self.root)
        # a new mapping once the records changed (see `_recorded` and `read_folder`)
        if cached is None or cached[0] is not folder:
            specs, damaged = [], []
            for name, record in sorted(folder.items()):
                try:
                    specs.append(_read_spec(record))
                except (ValueError, KeyError, TypeError) as error:
                    damaged.append((self._partitions_dir / f"{name}.json", error))
            superseded = {
                name: spec.partition for spec in specs for name in spec.compacts if name in folder
            }
            live = [spec for spec in specs if spec.partition not in superseded]
            cached = (folder, sorted(live, key=lambda spec: spec.seq), damaged, superseded)
            _SPECS[self.root] = cached
        return list(cached[1]), list(cached[2]), dict(cached[3])

    def superseded(self) -> dict[str, str]:
        """The partitions compacted into another whose records are still there (a
        compaction not yet collected), and the partition each was merged into."""
        return self._parsed_partitions()[2]

    def next_seq(self) -> int:
        return 1 + max((spec.seq for spec in self.partitions()), default=0)

    # -- the web ---------------------------------------------------------------

    @property
    def web_state_path(self) -> Path:
        """The validators (ETag, Last-Modified) of each web source's last answer."""
        return self.root / "_web" / "sources.json"

    def web_state(self) -> dict[str, dict[str, Any]]:
        """Each web source's last answer: validators, when, status (empty at first)."""
        path = self.web_state_path
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DamagedLake(f"{path} is damaged ({error}): {_FORGET_WEB_STATE}") from None
        if not isinstance(state, dict) or not all(isinstance(v, dict) for v in state.values()):
            raise DamagedLake(f"{path} is not a JSON object of objects: {_FORGET_WEB_STATE}")
        return state

    def write_web_state(self, state: dict[str, dict[str, Any]]) -> None:
        _atomic_write_text(self.web_state_path, json.dumps(state, indent=1, sort_keys=True))

    def _landing(self, key: str) -> Path:
        return self.root / "_web" / "pages" / key[:2] / key

    def land(self, key: str, answer: dict[str, Any], body: bytes | None = None) -> None:
        """Keep what a web request gave (the answer's metadata, and the page's bytes
        when there is a page), so that fetch redone (a new version, a damaged raw
        file) reads it again from the lake instead of the web: the same rows, and
        no second request."""
        path = self._landing(key)
        if body is not None:
            _atomic_write(path.with_suffix(".body"), body)
        _atomic_write_text(path.with_suffix(".json"), json.dumps(answer, sort_keys=True))

    def landed(self, key: str) -> tuple[dict[str, Any], bytes | None] | None:
        """What `land` kept, when it is whole; else None."""
        path = self._landing(key)
        try:
            answer = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
            if not isinstance(answer, dict):
                return None
            if "sha256" not in answer:
                return answer, None
            body = path.with_suffix(".body").read_bytes()
        except (OSError, ValueError):
            return None
        if answer["sha256"] != hashlib.sha256(body).hexdigest():
            return None
        return answer, body

    # -- the one writer ----------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the lake for one run. The lock is an flock, so the kernel releases it
        when its process dies, however it dies: a killed run never blocks the next."""
        handle = self._open_lock()
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

    def _open_lock(self) -> TextIO:
        """The lock file, open for writing; LakeNotWritable when the lake cannot be
        written (a read-only mount, no permission): every writer starts here."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return open(self.root / "_lock", "a+", encoding="utf-8")
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise  # the disk is full: said as such by the front ends
            raise LakeNotWritable(
                f"the lake {self.root} cannot be written ({error.strerror}: "
                f"{error.filename}): depeche writes its marts, catalog, report and "
                "manifests there; make it writable, or copy the lake somewhere writable"
            ) from None

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

    def read_manifest(self, stage: str, partition: str) -> Manifest | None:
        """The stage-partition's manifest; None when it has none, or one that cannot be
        read (`manifest_problem` says why): either way the stage-partition is redone."""
        folder = _manifests_dir(stage)
        try:
            return self._manifest(folder, partition, self._record(folder, partition))
        except (ValueError, KeyError, TypeError):
            return None

    def _manifest(self, folder: str, name: str, record: Record | None) -> Manifest | None:
        """The manifest `record` holds: parsed once per record when indexed (every
        stage-partition's key and skip decision read the same manifests again)."""
        if self._records is None or record is None:
            return _manifest_of(record)
        kept = self._parsed.get((folder, name))
        if kept is not None and kept[0] is record:
            return kept[1]
        manifest = _manifest_of(record)
        self._parsed[folder, name] = (record, manifest)
        return manifest

    def manifest_problem(self, stage: str, partition: str) -> str | None:
        """Why the stage-partition's manifest cannot be read, if it cannot."""
        try:
            _manifest_of(self._record(_manifests_dir(stage), partition))
        except (ValueError, KeyError, TypeError) as error:
            path = self.manifest_path(stage, partition)
            return f"manifest {path} is damaged ({type(error).__name__}); the next run redoes it"
        return None

    @classmethod
    def _manifest_or_none(cls, path: Path) -> Manifest | None:
        try:
            return cls._load_manifest(path)
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _load_manifest(path: Path) -> Manifest:
        return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))

    def verify(
        self, manifest: Manifest, *, deep: bool = False, remembered: bool = False
    ) -> list[str]:
        """What is wrong with the files a stage-partition committed: missing, or of
        another size; with `deep`, also changed (content hash). Empty when intact."""
        if not manifest.outputs:  # an older depeche recorded no files
            return ["its files were not recorded (written by an older depeche)"]
        files = [*manifest.outputs, *manifest.reports]
        return self.check_files(files, deep=deep, remembered=remembered)

    def check_files(
        self, recorded: list[OutputFile], *, deep: bool = False, remembered: bool = False
    ) -> list[str]:
        """What is wrong with `recorded` files: missing, or of another size (or not a
        file); with `deep`, also changed (content hash). With `remembered` too, a file
        whose hash matched before and whose identity is unchanged since is not read
        again (see tasks/known_hashes.py). Empty when all are intact."""
        problems = []
        for output in recorded:
            if GX_ENTRY in output.path:
                problems += self._check_gx_entry(output, deep=deep)
                continue
            # one stat a file, by its path as text: a status of thousands of
            # partitions checks tens of thousands of files
            path = os.path.join(self.root, output.path)
            try:
                info = os.stat(path)
            except FileNotFoundError:
                info = None
            if info is None:
                problems.append(f"{output.path} is missing")
            elif not stat.S_ISREG(info.st_mode):
                problems.append(f"{output.path} is not a file")
            elif (size := info.st_size) != output.size:
                problems.append(
                    f"{output.path} has {size} bytes where {output.size} were committed"
                )
            elif deep and not self._has_content(output, path, remembered=remembered):
                problems.append(f"{output.path} changed since it was committed")
        if remembered and self._known_hashes is not None:
            self._known_hashes.save()
        return problems

    def _has_content(self, output: OutputFile, text: str, *, remembered: bool) -> bool:
        path = Path(text)
        if not remembered:
            return sha256_file(path) == output.sha256
        if self._known_hashes is None:
            self._known_hashes = KnownHashes(self.root)
        return self._known_hashes.matches(output.path, path, output.sha256, sha256_file)

    def _check_gx_entry(self, output: OutputFile, *, deep: bool) -> list[str]:
        """A stage's entry in a partition's Great Expectations file: the file is there
        (a plain check costs one stat, like a table's); with `deep`, the entry is
        what was committed."""
        file, stage = output.path.split(GX_ENTRY, 1)
        if not os.path.isfile(os.path.join(self.root, file)):
            return [f"{file} is missing"]
        if not deep:
            return []
        partition = Path(file).stem
        results = self.gx_report(stage, partition)
        if results is None:
            return [f"{file} has lost the results of {stage}"]
        if _sha256(_gx_entry_bytes(results)) != output.sha256:
            return [f"{file} changed (the results of {stage}) since they were committed"]
        return []

    def mark_damaged(self, manifest: Manifest, problems: list[str]) -> None:
        """Record that a committed stage-partition's files are not what it committed:
        it is no longer committed, and the next run (or rerun --failed) redoes it."""
        manifest.status = Status.DAMAGED
        manifest.error = "damaged: " + "; ".join(problems)
        self.write_manifest(manifest)

    def write_manifest(self, manifest: Manifest) -> Path:
        if manifest.stage == MART_STAGE:
            path = self.marts_manifest_path
        else:
            path = self.manifest_path(manifest.stage, manifest.partition)
        text = json.dumps(manifest.to_json(), indent=2, sort_keys=True, default=str)
        _atomic_write_text(path, text)
        if self._records is not None and manifest.stage != MART_STAGE:
            self._recorded(_manifests_dir(manifest.stage), manifest.partition, json.loads(text))
        return path

    def write_report(self, page: str) -> Path:
        """Write the HTML report, atomically, and record its hash."""
        _atomic_write_text(self.report_path, page)
        self.record_derived(self.report_path)
        return self.report_path

    def write_gx_report(self, stage: str, partition: str, results: list[dict[str, Any]]) -> Path:
        """Keep the gate's results of `stage` beside those of the partition's other
        stages: one file per partition (the stages of a partition run one at a time)."""
        path = self.gx_report_path(partition)
        reports = self._gx_reports(partition) | {stage: results}
        _atomic_write_text(path, json.dumps(reports, indent=1, sort_keys=True, default=str))
        return path

    def manifests(self, stage: str | None = None) -> list[Manifest]:
        """Every readable manifest (of one stage, or all), by stage, then partition; not
        those of partitions compacted into another."""
        found = []
        superseded = self.superseded()  # no longer partitions: their records wait for collection
        for name in sorted((stage,) if stage else STAGES):
            folder = _manifests_dir(name)
            for partition, record in sorted(self._folder(folder).items()):
                if partition in superseded:
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found.append(self._manifest(folder, partition, record))
        return found

    def state(
        self, stage: str, partition: str, *, deep: bool = False, busy: bool = False
    ) -> tuple[Status, Manifest | None, str | None]:
        """Where a stage-partition stands, its manifest, and its problem if any. A
        committed one whose files are missing or resized (or, with `deep`, changed)
        is damaged; a running one whose run died (`busy` false) is interrupted."""
        manifest = self.read_manifest(stage, partition)
        if manifest is None:
            problem = self.manifest_problem(stage, partition)
            return (Status.DAMAGED if problem else Status.PENDING), None, problem
        if manifest.status == Status.RUNNING and not busy:
            return Status.INTERRUPTED, manifest, "its run stopped; the next run redoes it"
        if manifest.status == Status.COMMITTED:
            problems = self.verify(manifest, deep=deep)
            if problems:
                return Status.DAMAGED, manifest, "damaged: " + "; ".join(problems)
        if manifest.status == Status.FAILED and (lost := self.check_files(manifest.reports)):
            # the failure stands; its checks are what the report shows of it
            return manifest.status, manifest, f"{manifest.error}; {'; '.join(lost)}"
        if manifest.status in (Status.FAILED, Status.DAMAGED):
            return manifest.status, manifest, manifest.error
        return manifest.status, manifest, None

    def status(self, stages: tuple[str, ...], *, deep: bool = False) -> list[StatusRow]:
        """One row per partition and stage: where it stands, its counts, its problem.
        A partition record that cannot be read is a row of its own."""
        busy = self.is_locked()
        lake = self.indexed()
        specs, damaged = lake._read_partitions()
        rows = [
            StatusRow(path.stem, "-", Status.DAMAGED, problem=str(_damaged_record(path, error)))
            for path, error in damaged
        ]
        for spec in specs:
            for stage in stages:
                state, manifest, problem = lake.state(stage, spec.partition, deep=deep, busy=busy)
                if manifest is None:
                    rows.append(StatusRow(spec.partition, stage, state, problem=problem))
                    continue
                rows.append(
                    StatusRow(
                        partition=spec.partition,
                        stage=stage,
                        status=state,
                        rows_in=manifest.rows_in,
                        rows_out=manifest.rows_out,
                        quarantined=manifest.rows_quarantined,
                        when=manifest.finished_at or manifest.started_at,
                        problem=problem,
                    )
                )
        return rows

    def needs_rerun(self, partition: str, stages: tuple[str, ...], *, deep: bool = False) -> bool:
        """Whether a stage of the partition failed, was interrupted, is damaged (with
        `deep`, content hashes checked too), or never ran."""
        return any(
            self.state(stage, partition, deep=deep)[0] != Status.COMMITTED for stage in stages
        )

    def last_settings(self) -> dict[str, Any]:
        """The settings of the lake's last run (empty for a new lake)."""
        path = self.root / "_settings.json"
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InvalidSettings(
                f"{path} is damaged ({error}); delete it to run with the defaults"
            ) from None
        if not isinstance(settings, dict):
            raise InvalidSettings(f"{path} is not a JSON object; delete it to use the defaults")
        return remembered_settings(settings, str(path))

    def write_settings(self, settings: dict[str, Any]) -> None:
        _atomic_write_text(self.root / "_settings.json", json.dumps(settings, indent=1))

    def is_committed(self, stage: str, partition: str) -> bool:
        manifest = self.read_manifest(stage, partition)
        return manifest is not None and manifest.status == Status.COMMITTED

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

    def read_rows(self, table: Table, partition: str) -> Iterator[dict[str, Any]]:
        """The rows of a committed partition of `table`, one at a time: never more of
        the file in memory than a row group (see Staging.write)."""
        stage = table.stage
        if not self.is_committed(stage, partition):
            raise PartitionNotCommitted(f"{stage} has not committed partition {partition}")
        parquet = pq.ParquetFile(self.committed_file(table, partition, stage))
        for group in range(parquet.num_row_groups):
            yield from parquet.read_row_group(group).cast(table.schema).to_pylist()

    def output_fingerprint(self, stage: str, partition: str) -> str:
        manifest = self.read_manifest(stage, partition)
        if manifest is None or manifest.status != Status.COMMITTED:
            raise PartitionNotCommitted(f"{stage} has not committed partition {partition}")
        return manifest.output_fingerprint or ""

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

    def commit(self, staging: Staging, manifest: Manifest) -> None:
        """Move every staged partition folder into place, then write the manifest.

        Each folder moves with one rename. A replaced folder is renamed aside first
        and deleted after; the manifest, written last, is what marks the commit.
        """
        trash = self.place(staging.root, staging.folders(), f"commit:{staging.stage}")
        manifest.outputs = [
            self._describe(relative / PART_FILE)
            for table, relative in sorted(staging.staged.items(), key=lambda kv: kv[1])
            if not table.report
        ]
        manifest.output_fingerprint = fingerprint_outputs(manifest.outputs)
        manifest.reports = self._describe_reports(staging)
        self.write_manifest(manifest)
        shutil.rmtree(trash, ignore_errors=True)

    def place(self, staged_root: Path, folders: list[Path], fault: str) -> Path:
        """Move each staged partition folder (relative) into place with one rename; a
        folder it replaces is renamed aside into the returned trash folder, which the
        caller deletes once its commit is recorded."""
        trash = self.root / "_trash" / uuid.uuid4().hex
        for relative in folders:
            final = self.root / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                aside = trash / relative
                aside.parent.mkdir(parents=True, exist_ok=True)
                os.replace(final, aside)
            os.replace(staged_root / relative, final)
            fault_point(fault)
        return trash

    def record_failure(self, staging: Staging, manifest: Manifest) -> None:
        """Keep a failed gate's checks and report, not its tables, and mark it failed."""
        for relative in staging.folders(reports_only=True):
            final = self.root / relative
            if final.exists():
                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging.root / relative, final)
        manifest.reports = self._describe_reports(staging)
        self.write_manifest(manifest)

    def _describe(self, relative: Path) -> OutputFile:
        return describe_file(self.root, relative)

    def _describe_reports(self, staging: Staging) -> list[OutputFile]:
        """The gate's records of a stage-partition, now in place: its checks and its
        Great Expectations results."""
        checks = [relative / PART_FILE for relative in staging.folders(reports_only=True)]
        described = [
            self._describe(relative) for relative in checks if (self.root / relative).exists()
        ]
        entry = self.describe_gx_entry(staging.stage, staging.partition)
        return described if entry is None else [*described, entry]

    def describe_gx_entry(self, stage: str, partition: str) -> OutputFile | None:
        """The Great Expectations results of a stage-partition as its manifest records
        them: one entry of the partition's file, which its stages share."""
        results = self.gx_report(stage, partition)
        if results is None:
            return None
        gx = self.gx_report_path(partition).relative_to(self.root).as_posix()
        entry = _gx_entry_bytes(results)
        return OutputFile(f"{gx}{GX_ENTRY}{stage}", len(entry), _sha256(entry))

    def partition_folders(self, partition: str) -> list[Path]:
        """Every folder `partition` may have in the lake (relative), whichever stage
        wrote or published it."""
        return sorted(
            {
                self.relative_dir(table, partition, stage)
                for table in ALL_TABLES
                if table.partitioned
                for stage in STAGES
            }
        )

    def forget(self, partition: str, fault: str = "") -> None:
        """Remove every file of `partition`: its folders (each renamed aside whole, so
        no reader sees half of one), its Great Expectations results, its manifests,
        and its record last: a process killed on the way leaves it to forget again."""
        trash = self.root / "_trash" / uuid.uuid4().hex
        for relative in self.partition_folders(partition):
            folder = self.root / relative
            if folder.exists():
                aside = trash / relative
                aside.parent.mkdir(parents=True, exist_ok=True)
                os.replace(folder, aside)
                if fault:
                    fault_point(fault)
        self.gx_report_path(partition).unlink(missing_ok=True)
        for stage in STAGES:
            self.manifest_path(stage, partition).unlink(missing_ok=True)
        (self._partitions_dir / f"{partition}.json").unlink(missing_ok=True)
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
            subfolders[:] = [name for name in subfolders if not name.startswith(_PARTITION)]
            for name in sorted(files):
                if name.startswith(".") and name.endswith(".tmp"):
                    leftover = Path(folder) / name
                    leftover.unlink(missing_ok=True)
                    removed.append(leftover)
        return removed


_PLAN_ORDER: dict[Path, tuple[dict[str, Record], list[str], dict[str, int]]] = {}
_SPECS: dict[
    Path,
    tuple[dict[str, Record], list[PartitionSpec], list[tuple[Path, Exception]], dict[str, str]],
] = {}


def _manifest_of(record: Record | None) -> Manifest | None:
    """The manifest a record holds; None for no record; ValueError for a damaged one."""
    if record is None:
        return None
    if record.error is not None:
        raise ValueError(record.error)
    return Manifest.from_json(record.data)


# The longest value of a text column up to which its file keeps min/max statistics:
# a reader skips no file on the min and max of an article's text, and they were
# most of a small partition's footer (written twice: in it and in the page header)
STATISTICS_MAX_BYTES = 64


GX_ENTRY = "#"
"""In a recorded file's path, what follows names one stage's entry of a file that a
partition's stages share (`reports/gx/<p>.json#clean`)."""


def _gx_entry_bytes(results: list[dict[str, Any]]) -> bytes:
    """One stage's Great Expectations results, as they are hashed when recorded."""
    return json.dumps(results, sort_keys=True, default=str).encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _columns_with_statistics(rows: pa.Table) -> list[str]:
    """The columns of `rows` whose min/max statistics are worth their bytes: all but
    the text and binary columns holding a value longer than STATISTICS_MAX_BYTES."""
    kept = []
    for field_, column in zip(rows.schema, rows.columns, strict=True):
        kind = field_.type
        textual = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        if textual or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            longest = pc.max(pc.binary_length(column)).as_py() if len(column) else 0
            if (longest or 0) > STATISTICS_MAX_BYTES:
                continue
        kept.append(field_.name)
    return kept


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


def _damaged_record(path: Path, error: Exception) -> DamagedLake:
    return DamagedLake(
        f"the partition record {path} is damaged ({type(error).__name__}: {error}): restore "
        f"it from a backup, or delete it and _manifests/*/{path.stem}.json to forget that "
        "partition (its items are then taken as new by the next run)"
    )


def fingerprint_outputs(outputs: list[OutputFile]) -> str:
    """The content of a stage's committed files, as one hash."""
    digest = hashlib.sha256()
    for output in outputs:
        digest.update(str(Path(output.path).parent).encode())
        digest.update(output.sha256.encode())
    return digest.hexdigest()
