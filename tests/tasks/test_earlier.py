"""Clean's earlier articles: a running state in plan order that always equals reading
every earlier committed partition, whatever happened to its copy or to the lake."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import STORIES
from tasks import earlier
from tasks.lake.storage import Lake
from tasks.records import Manifest, PartitionSpec, Status
from tasks.text import stories

NOW = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


def commit(lake: Lake, seq: int, texts: list[str], *, made_from: str = "") -> str:
    """Commit the stories of a partition as the clean stage does (staging, rename,
    manifest last); `made_from` stands for its input fingerprint."""
    partition = f"p{seq:03d}"
    if seq not in {spec.seq for spec in lake.partitions()}:
        lake.write_partition(PartitionSpec(partition, seq, [], partition))
    rows = {
        "doc_id": [f"{seq:03d}-{i}-{len(text)}" for i, text in enumerate(texts)],
        "story_id": [f"{seq:03d}-{i}-{len(text)}" for i, text in enumerate(texts)],
        "minhash": [stories.to_bytes(s) for s in stories.signatures(texts)],
    }
    manifest = Manifest("clean", partition, Status.COMMITTED, made_from, "v", {}, NOW, NOW)
    with lake.staging("clean", partition) as staging:
        staging.write(STORIES, pa.Table.from_pydict(rows, schema=STORIES.schema))
        lake.commit(staging, manifest)
    return partition


def read_every_earlier(lake: Lake, partition: str) -> list[str]:
    """The earlier doc_ids the plain way: every earlier committed partition's file."""
    names = [spec.partition for spec in lake.partitions()]
    found = []
    for name in names[: names.index(partition)]:
        if lake.is_committed("clean", name):
            found += pq.read_table(lake.committed_file(STORIES, name)).column("doc_id").to_pylist()
    return found


def forget() -> None:
    """A new process: nothing of the state kept in memory."""
    earlier._KEPT.clear()
    earlier._SAVED.clear()


def texts(seq: int) -> list[str]:
    if seq == 6:
        return []  # a partition whose articles were all quarantined
    return [f"article {seq} {n} " * (20 + n) for n in range(seq % 3 + 1)]


def redo_after(lake: Lake, seq: int) -> None:
    """What a run does after partition `seq` changed: the clean of every later partition
    runs again (its key, the nearest link, changed), in plan order."""
    for spec in lake.partitions():
        if spec.seq > seq:
            [link] = earlier.nearest_link(lake, spec.partition) or [""]
            commit(lake, spec.seq, texts(spec.seq), made_from=link)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    forget()
    store = Lake(tmp_path / "lake")
    for seq in range(1, 7):
        commit(store, seq, texts(seq))
    return store


def assert_state_is_every_earlier(lake: Lake) -> None:
    for spec in lake.partitions():
        state = earlier.earlier_state(lake, spec.partition)
        expected = read_every_earlier(lake, spec.partition)
        assert state.stories().doc_ids == expected
        assert state.stories().signatures.shape == (len(expected), stories.NUM_PERM)
        assert list(state.doc_ids()) == expected


def test_the_state_is_every_earlier_partition_in_plan_order(lake: Lake) -> None:
    assert_state_is_every_earlier(lake)
    last = lake.partitions()[-1].partition
    located = earlier.earlier_state(lake, last).doc_ids()
    assert located[read_every_earlier(lake, "p002")[0]] == "partition p001"
    assert (lake.root / "_index" / "earlier.parquet").exists()


def test_a_new_process_takes_the_lake_copy_and_reads_only_what_is_new(lake, monkeypatch) -> None:
    assert_state_is_every_earlier(lake)
    commit(lake, 7, ["une nouvelle dépêche " * 30])
    forget()
    read: list[str] = []
    monkeypatch.setattr(earlier, "_articles", _counting(earlier._articles, read))
    state = earlier.earlier_state(lake, "p007")
    assert state.stories().doc_ids == read_every_earlier(lake, "p007")
    assert len(read) <= 1  # the copy reaches the last partition it knew


@pytest.mark.parametrize("damage", ["delete", "truncate", "garbage"])
def test_a_lost_or_damaged_copy_is_rebuilt(lake: Lake, damage: str) -> None:
    assert_state_is_every_earlier(lake)
    copy = lake.root / "_index" / "earlier.parquet"
    if damage == "delete":
        copy.unlink()
    elif damage == "truncate":
        copy.write_bytes(copy.read_bytes()[: copy.stat().st_size // 2])
    else:
        copy.write_bytes(b"PAR1 not a parquet file")
    forget()
    assert_state_is_every_earlier(lake)


def test_a_changed_earlier_partition_reaches_the_state_in_process_and_in_the_copy(
    lake: Lake,
) -> None:
    assert_state_is_every_earlier(lake)
    commit(lake, 2, ["l'article réécrit " * 25, "et un autre " * 40], made_from="again")
    redo_after(lake, 2)
    assert_state_is_every_earlier(lake)  # this process's state
    forget()
    assert_state_is_every_earlier(lake)  # the lake's copy, written before the change


def test_a_partition_no_longer_committed_leaves_the_state(lake: Lake) -> None:
    assert_state_is_every_earlier(lake)
    manifest = lake.read_manifest("clean", "p003")
    manifest.status = Status.FAILED  # redone, and its gate failed
    lake.write_manifest(manifest)
    redo_after(lake, 3)
    assert_state_is_every_earlier(lake)
    assert "p003" not in earlier.earlier_state(lake, "p006").partitions


def _counting(read_articles, read: list[str]):
    def counted(lake: Lake, partition: str) -> pa.Table:
        read.append(partition)
        return read_articles(lake, partition)

    return counted
