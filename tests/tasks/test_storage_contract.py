"""The lake and the stage contract: staging, atomic commit, manifests, skip, failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import CHECKS, QUARANTINE, RAW
from schemas.tables import Rejected, quarantine_row
from tasks.contract import Stage, StageOutput, decide, run_stage
from tasks.errors import LakeLocked, PartitionNotCommitted
from tasks.execution.resources import Resources
from tasks.lake.files import fingerprint_outputs, sha256_file, write_parquet
from tasks.lake.storage import Lake
from tasks.records import OutputFile
from tasks.settings import Settings

RESOURCES = Resources()  # loads nothing until a gate needs the GX suites


def raw_rows(n: int) -> pa.Table:
    from datetime import UTC, datetime

    return pa.Table.from_pylist(
        [
            {
                "item_id": f"{i:016x}",
                "source_path": f"f{i}.txt",
                "line": None,
                "format": "wire",
                "encoding": "utf-8",
                "payload": f"texte {i}",
                "content_sha256": "a" * 64,
                "byte_size": 7,
                "repairs": 0,
                "fetched_at": datetime(2024, 1, 1, tzinfo=UTC),
            }
            for i in range(n)
        ],
        schema=RAW.schema,
    )


def no_quarantine() -> pa.Table:
    return pa.Table.from_pylist([], schema=QUARANTINE.schema)


class Producer:
    """Counts how often the stage body ran."""

    def __init__(
        self, rows: pa.Table, rows_in: int | None = None, quarantine: pa.Table | None = None
    ) -> None:
        self.rows, self.rows_in, self.calls = rows, rows_in, 0
        self.quarantine = no_quarantine() if quarantine is None else quarantine

    def __call__(self) -> StageOutput:
        self.calls += 1
        return StageOutput(
            outputs={RAW: self.rows},
            quarantine=self.quarantine,
            rows_in=self.rows.num_rows if self.rows_in is None else self.rows_in,
            rows_out=self.rows.num_rows,
        )


def run(lake: Lake, produce, fingerprint="f1", parameters=None, force=False):
    """Decide, then run if need be, a stage named fetch that writes what `produce` gives."""
    stage = Stage(
        name="fetch",
        produce=lambda context: produce(),
        writes=(RAW,),
        extra_inputs=lambda lake, partition: [fingerprint],
        extra_parameters=lambda settings: parameters or {"max_bytes": 10},
    )
    decision = decide(lake, stage, "p1", Settings(), force=force)
    if decision.key is None:
        return decision.report
    return run_stage(lake, stage, "p1", Settings(), decision.key, RESOURCES)


def test_a_committed_stage_has_its_tables_manifest_and_checks(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    report = run(lake, Producer(raw_rows(3)))
    assert (report.status, report.rows_in, report.rows_out) == ("committed", 3, 3)
    assert lake.read(RAW, "p1").num_rows == 3
    manifest = lake.read_manifest("fetch", "p1")
    assert manifest.status == "committed"
    assert manifest.validation.success is True
    assert manifest.rows_in == manifest.rows_out + manifest.rows_quarantined
    assert len(manifest.output_fingerprint) == 64
    checks = pq.read_table(lake.committed_file(CHECKS, "p1", "fetch"))
    assert checks.num_rows == manifest.validation.checks
    assert not any((tmp_path / "_staging").iterdir())


def test_a_quarantine_without_rows_is_no_file_and_leaves_none_behind(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    rejected = Rejected("empty", "no text")
    row = quarantine_row("fetch", rejected, record_id=None, source_path="f9.txt", line=None)
    one = pa.Table.from_pylist([row], schema=QUARANTINE.schema)
    assert run(lake, Producer(raw_rows(2), rows_in=3, quarantine=one)).status == "committed"
    file = lake.committed_file(QUARANTINE, "p1", "fetch")
    assert pq.read_table(file).num_rows == 1
    # done again without rejects: no file, and the older one does not linger for readers
    assert run(lake, Producer(raw_rows(3)), fingerprint="f2").status == "committed"
    assert not list((tmp_path / "quarantine").rglob("*.parquet"))
    manifest = lake.read_manifest("fetch", "p1")
    assert manifest.rows_in == manifest.rows_out + manifest.rows_quarantined == 3
    assert not any("quarantine" in output.path for output in manifest.outputs)
    assert lake.read(QUARANTINE, "p1", "fetch", columns=["reason"]).num_rows == 0
    assert lake.read(QUARANTINE, "p1", "fetch").schema == QUARANTINE.schema
    assert lake.verify(manifest, deep=True) == []
    # its output fingerprint is the one it had when an empty file was written: a lake
    # made then redoes nothing after a stage-partition redone now
    empty = tmp_path / "empty.parquet"
    write_parquet(empty, QUARANTINE.schema, no_quarantine())
    stand_in = OutputFile(file.relative_to(tmp_path).as_posix(), 0, sha256_file(empty))
    recorded = sorted([*manifest.outputs, stand_in], key=lambda output: output.path)
    assert manifest.output_fingerprint == fingerprint_outputs(recorded)


def test_an_unchanged_stage_is_skipped_and_writes_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    produce = Producer(raw_rows(3))
    run(lake, produce)
    data = lake.committed_file(RAW, "p1")
    before = (data.stat().st_mtime_ns, data.read_bytes())
    assert run(lake, produce).status == "skipped"
    assert produce.calls == 1
    assert (data.stat().st_mtime_ns, data.read_bytes()) == before
    assert run(lake, produce, fingerprint="f2").status == "committed"
    assert run(lake, produce, fingerprint="f2", parameters={"max_bytes": 20}).status == "committed"
    assert produce.calls == 3
    assert run(lake, produce, fingerprint="f2", parameters={"max_bytes": 20}, force=True).ok
    assert produce.calls == 4


def test_a_gate_failure_commits_nothing_and_keeps_the_previous_state(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    run(lake, Producer(raw_rows(2)))
    report = run(lake, Producer(raw_rows(3), rows_in=5), fingerprint="f2")
    assert report.status == "failed"
    assert report.failed_checks == ["fetch: rows_in_equals_rows_out_plus_quarantined"]
    assert "gate failed" in report.message
    manifest = lake.read_manifest("fetch", "p1")
    assert manifest.status == "failed"
    with pytest.raises(PartitionNotCommitted):
        lake.read(RAW, "p1")
    # the earlier committed data is untouched, the failed checks are kept
    assert pq.read_table(lake.committed_file(RAW, "p1")).num_rows == 2
    checks = pq.read_table(lake.committed_file(CHECKS, "p1", "fetch"))
    assert False in checks.column("success").to_pylist()


def test_an_exception_in_a_stage_is_recorded_not_raised(tmp_path: Path) -> None:
    lake = Lake(tmp_path)

    def broken() -> StageOutput:
        raise ValueError("the source went away")

    report = run(lake, broken)
    assert report.status == "failed"
    assert report.message == "ValueError: the source went away"
    manifest = lake.read_manifest("fetch", "p1")
    assert "Traceback" in manifest.traceback


def test_a_commit_replaces_the_partition_whole(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    run(lake, Producer(raw_rows(3)))
    run(lake, Producer(raw_rows(1)), fingerprint="f2")
    folder = lake.committed_file(RAW, "p1").parent
    assert [p.name for p in folder.iterdir()] == ["part-0.parquet"]
    assert lake.read(RAW, "p1").num_rows == 1
    assert not (tmp_path / "_trash").exists() or not any((tmp_path / "_trash").iterdir())


def test_a_stage_is_marked_running_until_it_commits(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    seen = []

    def produce() -> StageOutput:
        seen.append(lake.read_manifest("fetch", "p1").status)
        return Producer(raw_rows(1))()

    run(lake, produce)
    assert seen == ["running"]
    assert lake.read_manifest("fetch", "p1").status == "committed"


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with lake.lock():
        assert lake.is_locked()
        with (
            pytest.raises(LakeLocked, match=r"in use .*pid"),
            Lake(tmp_path).lock(wait_seconds=0.3),
        ):
            pass
    assert not lake.is_locked()
    with Lake(tmp_path).lock():
        pass


def test_a_second_writer_can_wait_for_the_first(tmp_path: Path, monkeypatch) -> None:
    import fcntl
    import threading

    refused, acquired = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    real_flock = fcntl.flock

    def flock(handle, operation):
        try:
            return real_flock(handle, operation)
        except BlockingIOError:
            if threading.current_thread() is second:
                refused.set()  # the second writer found the lake held
            raise

    def wait_for_the_lake() -> None:
        try:
            with Lake(tmp_path).lock(wait_seconds=120):
                acquired.set()
        except BaseException as error:
            errors.append(error)

    monkeypatch.setattr(fcntl, "flock", flock)
    second = threading.Thread(target=wait_for_the_lake, daemon=True)
    with Lake(tmp_path).lock():
        second.start()
        assert refused.wait(60), "the second writer was never refused the lake"
        assert not acquired.is_set()  # it waits while the first holds the lake
    second.join(60)
    assert not second.is_alive(), "the second writer never got the lake"
    assert acquired.is_set() and not errors, errors


def test_leftovers_of_a_killed_run_are_cleared(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    (tmp_path / "_staging" / "fetch-p1-dead").mkdir(parents=True)
    (tmp_path / "_staging" / "fetch-p1-dead" / "x.parquet").write_bytes(b"half")
    removed = lake.clear_leftovers()
    assert [p.name for p in removed] == ["fetch-p1-dead"]
    assert not (tmp_path / "_staging").exists()


def test_temporary_files_of_atomic_writes_are_cleared_without_walking_the_partitions(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path)
    manifests = tmp_path / "_manifests" / "clean"
    manifests.mkdir(parents=True)
    (manifests / ".p1.json.0123abcd.tmp").write_text("{")
    (tmp_path / "_index").mkdir()
    (tmp_path / "_index" / "._partitions.json.0123abcd.tmp").write_text("{")
    (manifests / "p1.json").write_text("{}")
    # partition folders are moved in whole from staging: the walk does not enter them
    partition = tmp_path / "clean" / "batch=p1"
    partition.mkdir(parents=True)
    (partition / ".not-ours.tmp").write_text("")
    removed = lake.clear_leftovers()
    assert {p.name for p in removed} == {".p1.json.0123abcd.tmp", "._partitions.json.0123abcd.tmp"}
    assert (manifests / "p1.json").exists() and (partition / ".not-ours.tmp").exists()


class PipeClosed:
    """A stage body whose model host's pipe closes under it."""

    def __call__(self) -> StageOutput:
        raise OSError("handle is closed")


EXITING = """
import sys
from pathlib import Path

from tasks.execution.processes import mark_exiting
from tasks.lake.storage import Lake
from tests.tasks.test_storage_contract import PipeClosed, run

mark_exiting()  # as the process does when it lets its model hosts go
print(run(Lake(Path(sys.argv[1])), PipeClosed()).status)
"""


def test_a_stage_that_fails_as_its_process_exits_is_left_for_the_next_run(tmp_path: Path) -> None:
    """A run stopped with partitions in flight lets its model hosts go as it exits: a
    stage that fails then failed because its process is going. It stays running, which
    the next run reads as interrupted and redoes, not failed (which only `rerun
    --failed` would redo). In a process of its own: the mark is for the whole process."""
    exiting = subprocess.run(
        [sys.executable, "-c", EXITING, str(tmp_path / "exiting")],
        cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert exiting.returncode == 0, exiting.stderr
    assert exiting.stdout.split() == ["running"]
    assert Lake(tmp_path / "exiting").state("fetch", "p1")[0] == "interrupted"
    # the same error in a process that is not exiting is the stage's failure
    lake = Lake(tmp_path / "running")
    assert run(lake, PipeClosed()).status == "failed"
    assert lake.state("fetch", "p1")[0] == "failed"
