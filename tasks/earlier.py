"""The articles made before a partition: what clean checks duplicates and stories
against, kept as a running state in plan order instead of read again from every
earlier partition for every partition.

Clean's key stands for the earlier partitions through a hash chain: the link of the
nearest committed one (its input and output fingerprints) holds the link before it,
and so on back. The running state is the articles (doc_id, story, MinHash) of a
run of committed partitions in plan order, each under its link. For a partition,
the earlier partitions are walked from the nearest back until one whose link the
state holds: the state up to it, plus the articles of the partitions walked, is
what came before. Usually that is one partition; a changed earlier partition has a
new link, so the walk passes it and its new articles are read.

The state is derived, never the only record of a commit: the process keeps it, and
the lake keeps a copy (`_index/earlier.parquet`, replaced atomically), rebuilt by the
walk when it is missing, damaged or stale. Written again when the state grew by an
eighth since the copy, or at the first growth in a process (an hourly run), so a
long run writes it a logarithmic number of times.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from schemas import STORIES
from tasks.contract import chain_link
from tasks.lake.storage import Lake
from tasks.records import Status
from tasks.text import stories

STATE = "earlier"
STAGE = "clean"  # the stage whose committed articles the state holds
_LINKS = b"depeche.earlier.links"  # in the copy's metadata: [[partition, link, end], ...]


@dataclass(frozen=True)
class RunningState:
    """The articles of committed partitions in plan order, and where each one ends."""

    partitions: tuple[str, ...]
    links: tuple[str, ...]
    ends: tuple[int, ...]  # the row after each partition's last article
    rows: pa.Table  # partition, doc_id, story_id, minhash

    @staticmethod
    def empty() -> RunningState:
        return RunningState((), (), (), _SCHEMA.empty_table())

    def through(self, link: str | None) -> RunningState | None:
        """The state up to the partition of `link` (nothing for None), or None when
        it holds no such link."""
        if link is None:
            return RunningState.empty()
        try:
            at = self.links.index(link)
        except ValueError:
            return None
        end = self.ends[at]
        return RunningState(
            self.partitions[: at + 1], self.links[: at + 1], self.ends[: at + 1], self.rows[:end]
        )

    def then(self, partition: str, link: str, rows: pa.Table) -> RunningState:
        """This state followed by the articles of `partition`."""
        return RunningState(
            (*self.partitions, partition),
            (*self.links, link),
            (*self.ends, len(self.rows) + len(rows)),
            pa.concat_tables([self.rows, rows]),
        )

    def doc_ids(self) -> dict[str, str]:
        """Each earlier doc_id and where it first came in."""
        found: dict[str, str] = {}
        for doc_id, partition in zip(
            self.rows.column("doc_id").to_pylist(),
            self.rows.column("partition").to_pylist(),
            strict=True,
        ):
            found.setdefault(doc_id, f"partition {partition}")
        return found

    def stories(self) -> stories.Earlier:
        return stories.Earlier(
            self.rows.column("doc_id").to_pylist(),
            self.rows.column("story_id").to_pylist(),
            stories.from_bytes(self.rows.column("minhash").to_pylist()),
        )


_SCHEMA = pa.schema([("partition", pa.string())]).append(STORIES.schema.field("doc_id"))
_SCHEMA = _SCHEMA.append(STORIES.schema.field("story_id")).append(STORIES.schema.field("minhash"))

_KEPT: dict[Path, RunningState] = {}  # by lake root: this process's state
_SAVED: dict[Path, int] = {}  # by lake root: partitions in the copy this process wrote
_LOCK = threading.Lock()


def link(lake: Lake, partition: str) -> str | None:
    """The chain link of a committed clean partition (its input and output), or None."""
    manifest = lake.read_manifest(STAGE, partition)
    if manifest is None or manifest.status != Status.COMMITTED:
        return None
    return chain_link(manifest)


def nearest_link(lake: Lake, partition: str) -> list[str]:
    """The link of the nearest committed partition before `partition`: clean's key
    input for every earlier partition (empty for the first)."""
    for name in lake.partition_records.before(partition):
        found = link(lake, name)
        if found is not None:
            return [found]
    return []


def earlier_state(lake: Lake, partition: str) -> RunningState:
    """The articles of the committed partitions made before `partition`, in order."""
    root = lake.root.absolute()
    with _LOCK:
        known = _Known(lake, _KEPT.get(root))
    walked: list[tuple[str, str]] = []  # (partition, link), the nearest first
    base = None
    for name in lake.partition_records.before(partition):
        found = link(lake, name)
        if found is None:
            continue
        base = known.through(found)
        if base is not None:
            break
        walked.append((name, found))
    if base is None:
        base = RunningState.empty()
    for name, found in reversed(walked):
        base = base.then(name, found, _articles(lake, name))
    with _LOCK:
        _KEPT[root] = base
    if walked:
        _save(lake, root, base)
    return base


@dataclass
class _Known:
    """The states to take a prefix from: this process's, then the lake's copy (read
    at most once, when this process's does not reach)."""

    lake: Lake
    kept: RunningState | None
    copy: RunningState | None = None
    loaded: bool = False

    def through(self, found: str) -> RunningState | None:
        if self.kept is not None and (state := self.kept.through(found)) is not None:
            return state
        if not self.loaded:
            self.copy, self.loaded = _load(self.lake), True
        return self.copy.through(found) if self.copy is not None else None


def _articles(lake: Lake, partition: str) -> pa.Table:
    rows = lake.read(STORIES, partition, columns=["doc_id", "story_id", "minhash"])
    named = pa.array([partition] * len(rows), pa.string())
    return rows.add_column(0, "partition", named).cast(_SCHEMA)


def _load(lake: Lake) -> RunningState | None:
    """The lake's copy of the state; None when missing or damaged."""
    rows = lake.states.read_table(STATE)
    if rows is None:
        return None
    try:
        listed = json.loads((rows.schema.metadata or {})[_LINKS])
        partitions = tuple(str(partition) for partition, _, _ in listed)
        links = tuple(str(found) for _, found, _ in listed)
        ends = tuple(int(end) for _, _, end in listed)
        state = RunningState(partitions, links, ends, rows.cast(_SCHEMA))
    except (KeyError, ValueError, TypeError, pa.ArrowException):
        return None
    if (state.ends[-1] if state.ends else 0) != len(state.rows):
        return None
    return state


def _save(lake: Lake, root: Path, state: RunningState) -> None:
    """Keep a copy in the lake when it grew enough since this process last wrote one."""
    with _LOCK:
        saved = _SAVED.get(root)
        if saved is not None and (len(state.partitions) - saved) * 8 < len(state.partitions):
            return
        _SAVED[root] = len(state.partitions)
    listed = [list(entry) for entry in zip(state.partitions, state.links, state.ends, strict=True)]
    metadata = {_LINKS: json.dumps(listed).encode()}
    lake.states.write_table(STATE, state.rows.replace_schema_metadata(metadata))
