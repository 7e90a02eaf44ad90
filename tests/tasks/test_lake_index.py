"""The lake's state index: a cache of the partition records and manifests, on real
files, that is rebuilt when it is missing or damaged and never outlives a record."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tasks.lake import index as lake_index
from tasks.lake.index import index_path, read_folder
from tasks.lake.storage import Lake
from tasks.records import Manifest, PartitionSpec, Status


def manifest(partition: str, status: Status = Status.COMMITTED) -> Manifest:
    return Manifest(
        stage="fetch",
        partition=partition,
        status=status,
        input_fingerprint=f"in-{partition}",
        code_version="v1",
        parameters={},
        started_at="2026-01-01T00:00:00+00:00",
        output_fingerprint=f"out-{partition}",
    )


def settle(*paths: Path) -> None:
    """Date the files and folders back, as records of an earlier hour are: the index
    trusts only what has not changed in the last seconds."""
    old = time.time() - 3600
    for path in paths:
        os.utime(path, (old, old))


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    store = Lake(tmp_path / "lake")
    for seq, name in enumerate(["b-first", "a-second", "c-third"], start=1):
        store.write_partition(PartitionSpec(name, seq, [(f"/in/{name}.txt", None, "h")], "f"))
        store.write_manifest(manifest(name))
    folders = [store.root / "_partitions", store.root / "_manifests" / "fetch"]
    settle(*(p for folder in folders for p in folder.iterdir()), *folders)
    lake_index._MEMO.clear()  # as a new command would find it
    return store


def state(store: Lake) -> tuple[list[str], dict[str, str]]:
    indexed = store.indexed()
    order = [spec.partition for spec in indexed.partitions()]
    return order, {m.partition: str(m.status) for m in indexed.manifests("fetch")}


EXPECTED = (
    ["b-first", "a-second", "c-third"],
    dict.fromkeys(["a-second", "b-first", "c-third"], "committed"),
)


def test_the_state_is_read_through_the_index_once_written(lake, monkeypatch):
    assert state(lake) == EXPECTED
    index = json.loads(index_path(lake.root, "_manifests/fetch").read_text())
    assert set(index["records"]) == {"a-second.json", "b-first.json", "c-third.json"}
    lake_index._MEMO.clear()
    reads = []
    real = lake_index._read_record
    monkeypatch.setattr(lake_index, "_read_record", lambda path: reads.append(path) or real(path))
    assert state(lake) == EXPECTED
    assert reads == []  # every record came from the index


@pytest.mark.parametrize("damage", ["deleted", "truncated", "not json", "another version"])
def test_a_missing_or_damaged_index_is_rebuilt(lake, damage):
    state(lake)
    for folder in ("_partitions", "_manifests/fetch"):
        path = index_path(lake.root, folder)
        if damage == "deleted":
            path.unlink()
        elif damage == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        elif damage == "not json":
            path.write_text("[1, 2")
        else:
            path.write_text(
                json.dumps({"version": 0, "records": {"x.json": [[1, 2, 3], {}, None]}})
            )
    lake_index._MEMO.clear()
    assert state(lake) == EXPECTED
    index = json.loads(index_path(lake.root, "_partitions").read_text())
    assert index["version"] == lake_index.INDEX_VERSION
    assert len(index["records"]) == 3


def test_the_records_win_over_the_index(lake):
    """A record rewritten, removed or damaged since the index was written is read as
    it is now: the index is never the only account of a commit."""
    state(lake)
    lake.write_manifest(manifest("a-second", Status.FAILED))
    (lake.root / "_manifests" / "fetch" / "c-third.json").unlink()
    (lake.root / "_manifests" / "fetch" / "b-first.json").write_text("{not json")
    lake_index._MEMO.clear()
    indexed = lake.indexed()
    assert {m.partition: str(m.status) for m in indexed.manifests("fetch")} == {
        "a-second": "failed"
    }
    assert indexed.read_manifest("fetch", "c-third") is None
    assert "is damaged" in indexed.manifest_records.problem("fetch", "b-first")


def test_a_folder_changed_by_another_process_is_listed_again(lake):
    """In one process, a folder's listing is kept while the folder is unchanged; a
    record another process adds changes the folder, and is seen."""
    first = read_folder(lake.root, "_partitions", remember=True)
    again = read_folder(lake.root, "_partitions", remember=True)
    assert again is first  # unchanged: not listed again
    other = Lake(lake.root)
    other.write_partition(PartitionSpec("d-fourth", 4, [("/in/d.txt", None, "h")], "f"))
    assert [spec.partition for spec in lake.partitions()][-1] == "d-fourth"
    assert list(lake.partition_records.before("d-fourth")) == ["c-third", "a-second", "b-first"]


def test_a_process_reads_the_index_once_and_then_only_what_changed(lake, monkeypatch):
    """The phases of one run each read the lake's state: after the first, a reading
    parses no index and no unchanged record, and still sees a record rewritten in
    place (same folder, no new file) as it is now."""
    assert state(lake) == EXPECTED
    loads, reads = [], []
    load, read = lake_index._load_index, lake_index._read_record
    monkeypatch.setattr(lake_index, "_load_index", lambda *a: loads.append(a) or load(*a))
    monkeypatch.setattr(lake_index, "_read_record", lambda path: reads.append(path) or read(path))
    assert state(lake) == EXPECTED
    assert loads == [] and reads == []
    path = lake.root / "_manifests" / "fetch" / "a-second.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "status": "failed"}))
    assert state(lake)[1]["a-second"] == "failed"
    assert loads == [] and [p.name for p in reads] == ["a-second.json"]


def test_a_record_too_recent_to_index_does_not_rewrite_the_index(lake):
    """A record written in the last seconds is read at each listing but left out of the
    index: listing it again in the same process writes nothing."""
    state(lake)
    lake.write_manifest(manifest("d-fourth"))
    assert "d-fourth" in state(lake)[1]
    index = index_path(lake.root, "_manifests/fetch")
    written = index.stat()
    assert "d-fourth.json" not in json.loads(index.read_text())["records"]
    assert "d-fourth" in state(lake)[1]
    assert index.stat().st_ino == written.st_ino  # not replaced


def test_an_index_that_cannot_be_written_is_no_error(lake):
    (lake.root / "_index").write_text("a file where the index folder would be")
    assert state(lake) == EXPECTED


def test_an_indexed_lake_sees_the_partitions_it_records(lake):
    indexed = lake.indexed()
    assert list(indexed.partition_records.before("c-third")) == ["a-second", "b-first"]
    indexed.write_partition(PartitionSpec("d-fourth", 4, [("/in/d.txt", None, "h")], "f"))
    assert list(indexed.partition_records.before("d-fourth")) == ["c-third", "a-second", "b-first"]
