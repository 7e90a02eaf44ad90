"""The lake's state index: the records of a folder (partition records, one stage's
manifests) read in one go, whatever the lake's age.

The records stay the one account of what is committed; the index only saves reading
them one by one. For each record folder it keeps `_index/<folder>.json`: every
record's content, under the identity of its file (inode, size, modification time).
Reading a folder lists it, takes from the index each record whose file is unchanged
and reads only the others, then writes the index again if anything changed. Records
are written by an atomic replace, so a rewritten record is a new file with a new
identity. An index that is missing, damaged, or of another version is rebuilt from
the records; one written by a process killed on the way is the old one (it too is
replaced atomically), and an old index costs only the records read again.

A record modified in the last seconds is not trusted to its identity (a file system
stamps times coarsely: two writes may share one) and is read again next time.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.faults import fault_point

INDEX_VERSION = 1
INDEX_DIR = "_index"
RECENT_NS = 2_000_000_000  # records younger than this are read again: coarse clocks
# a folder listed this soon after it changed may change again within the same tick of
# its clock unseen: it is listed again until its last change is older than that
FOLDER_RECENT_NS = 100_000_000


@dataclass(frozen=True)
class Record:
    """One record file: its parsed JSON, or why it could not be read."""

    name: str  # the file's stem: the partition
    data: Any = None
    error: str | None = None


Entries = dict[str, tuple[list[int], Record]]  # by file name: (file identity, record)


@dataclass(frozen=True)
class _Listing:
    """A folder as this process last listed it."""

    stamp: int  # the folder's modification time then
    listed_at: int
    entries: Entries
    records: dict[str, Record]  # by file stem (the partition), in name order


_MEMO: dict[Path, _Listing] = {}
_MEMO_LOCK = threading.Lock()


def index_path(root: Path, folder: str) -> Path:
    """Where the index of the lake's record folder `folder` (relative) lives."""
    return root / INDEX_DIR / (folder.replace("/", "-") + ".json")


def read_folder(root: Path, folder: str, *, remember: bool = False) -> dict[str, Record]:
    """Every record (`*.json`) of the lake's folder `folder`, by file stem, in name
    order. The process keeps what it read: a later reading stats the folder's files and
    reads only those changed since, without parsing the index again. With `remember`,
    while the folder itself is unchanged, it returns the same mapping without listing
    the folder (not to be modified): a caller may keep what it worked out from it for
    as long as it gets it again. Without, a new mapping, after a listing that sees a
    record rewritten in place."""
    path = root / folder
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    key = path.absolute()
    with _MEMO_LOCK:
        memo = _MEMO.get(key)
    if remember and memo and memo.stamp == stamp and memo.listed_at - stamp > FOLDER_RECENT_NS:
        return memo.records
    listed_at = time.time_ns()
    entries = _scan(root, folder, memo.entries if memo else None)
    records = _records(entries)
    with _MEMO_LOCK:
        _MEMO[key] = _Listing(stamp, listed_at, entries, records)
    return records if remember else dict(records)


def _records(entries: Entries) -> dict[str, Record]:
    return {_stem(name): entries[name][1] for name in sorted(entries)}


def _stem(name: str) -> str:
    return name.removesuffix(".json")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Reading an index makes a few objects per field of every record, none of them in
    a cycle: meanwhile the cyclic collector would walk, again and again, every object
    of a process that has loaded Prefect and spaCy (three times the parse at 1,000
    partitions)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scan(root: Path, folder: str, memo: Entries | None) -> Entries:
    """The folder's records, read from the index (or `memo`) where their file is
    unchanged; the index written again when it differs."""
    indexed = memo if memo is not None else _load_index(root, folder)
    now = time.time_ns()
    found: Entries = {}
    changed = memo is None and not indexed  # written even empty: the folder is indexed
    with os.scandir(root / folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            try:
                info = entry.stat()
            except FileNotFoundError:  # replaced or removed as we listed it
                continue
            identity = [info.st_ino, info.st_size, info.st_mtime_ns]
            known = indexed.get(entry.name)
            settled = now - info.st_mtime_ns > RECENT_NS
            if known is not None and known[0] == identity and settled:
                found[entry.name] = known
                continue
            found[entry.name] = (identity, _read_record(Path(entry.path)))
            # a record too recent to trust is left out of the index: reading it again
            # changes nothing there
            changed = changed or settled
    changed = changed or set(found) != set(indexed)
    if changed:
        _write_index(root, folder, found, now)
    return found


def _read_record(path: Path) -> Record:
    try:
        return Record(path.stem, data=json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Record(path.stem, error="FileNotFoundError: removed as it was read")
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        return Record(path.stem, error=f"{type(error).__name__}: {error}")


def _load_index(root: Path, folder: str) -> Entries:
    """The folder's index as written; empty when missing, damaged or of another version."""
    try:
        with _collector_paused():
            index = json.loads(index_path(root, folder).read_text(encoding="utf-8"))
            if index.get("version") != INDEX_VERSION:
                return {}
            return {
                name: (identity, Record(_stem(name), data, error))
                for name, (identity, data, error) in index["records"].items()
            }
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


def _write_index(root: Path, folder: str, records: Entries, now: int) -> None:
    """Write the folder's index atomically, leaving out the records too recent to trust.
    A lake that cannot be written (read-only) keeps its old index: it is only a cache."""
    settled = {
        name: [identity, record.data, record.error]
        for name, (identity, record) in records.items()
        if now - identity[2] > RECENT_NS
    }
    path = index_path(root, folder)
    text = json.dumps({"version": INDEX_VERSION, "records": settled}, separators=(",", ":"))
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            fault_point("index:write")  # written, not yet in place
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
