"""Local files as a source: wire stories (.txt), web pages (.html) and JSON lines
exports (.jsonl), found in files, folders or globs, and read into items (a file, or a
line of a .jsonl file), each decoded or refused with its reason."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas import Rejected
from tasks.errors import SourceNotFound
from tasks.lake.files import sha256_file
from tasks.records import WEB_ITEM, ItemKey, PartitionSpec
from tasks.sources import NewItem
from tasks.sources.rows import FetchResult, Item, fetch_rows, sort_key
from tasks.text.charsets import decode, repair_mojibake

FORMAT_BY_SUFFIX = {".txt": "wire", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}


def discover(sources: Iterable[str], *, exclude: str | Path | None = None) -> list[Path]:
    """Files named by each source: a file, a folder (searched recursively, but for its
    hidden files and folders) or a glob; none under `exclude` (the lake's own folder,
    when it is inside a source).

    Each file is named by its absolute, resolved path: what it is, not how a source
    named it, so runs from any working folder (`data/sample`, `./data/sample`, its
    absolute path, a cron job's) find the same items."""
    skip = None if exclude is None else Path(exclude).resolve()
    found: set[Path] = set()
    for source in sources:
        path = Path(source)
        if path.is_file():
            resolved: Iterable[Path] = [path.resolve()]
        elif path.is_dir():
            resolved = _folder_files(path.resolve(), skip)
        else:
            files = [m for m in map(Path, glob.glob(source, recursive=True)) if m.is_file()]
            if not files:
                raise SourceNotFound(f"source not found: {source}")
            resolved = [file.resolve() for file in files]
        found.update(f for f in resolved if skip is None or not f.is_relative_to(skip))
    return sorted(found)


def _folder_files(folder: Path, skip: Path | None) -> Iterator[Path]:
    """The files under the resolved `folder`, by resolved path, but for hidden files and
    folders and the folder `skip` (not walked into at all: a lake inside a source can
    be large). A link to a file is the file it names; a link to a folder is not
    followed; a folder that cannot be listed is passed over, as `os.walk` does. Only
    links are resolved one by one: an hourly run lists every file of its sources."""
    pending = [folder]
    while pending:
        here = pending.pop()
        try:
            listing = os.scandir(here)
        except OSError:
            continue
        with listing as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = here / entry.name
                if entry.is_dir(follow_symlinks=False):
                    if path != skip:
                        pending.append(path)
                elif entry.is_file():  # through a link too
                    yield path.resolve() if entry.is_symlink() else path


def _jsonl_lines(text: str) -> Iterable[tuple[int, str]]:
    """(line number, line) of a JSON lines file: lines end at `\n` (or `\r\n`) only,
    as JSON Lines says; U+2028, U+2029, U+0085, form feeds and the like, which
    `str.splitlines` also breaks on, are characters of a string (JSON written with
    `ensure_ascii=False` holds them as they are)."""
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")


def _jsonl_items(text: str) -> Iterable[tuple[int, str, Rejected | None]]:
    """(line number, line, problem) for every non-blank line of a JSON lines file."""
    for number, line in _jsonl_lines(text):
        if not line.strip():
            continue
        try:
            # not strict: a control character left raw in a string is read, not refused
            record = json.loads(line, strict=False)
        except json.JSONDecodeError as error:
            yield number, line, Rejected("malformed_json", f"line {number}: {error.msg}")
            continue
        if not isinstance(record, dict):
            kind = type(record).__name__
            yield (
                number,
                line,
                Rejected("malformed_json", f"line {number}: a {kind}, not an object"),
            )
        elif not isinstance(record.get("text"), str) or not record["text"].strip():
            yield number, line, Rejected("missing_text", f"line {number}: no non-empty `text`")
        else:
            yield number, line, None


def read_items(file: Path, max_bytes: int) -> list[Item]:
    """The items of one file: the file itself, or each non-blank line of a .jsonl file."""
    path = file.as_posix()
    fmt = FORMAT_BY_SUFFIX.get(file.suffix.lower())
    try:
        if fmt is None:
            problem = Rejected("unsupported_format", f"unsupported file type {file.suffix!r}")
            return [Item(path, None, None, sha256_file(file), rejected=problem)]
        size = file.stat().st_size
        if size > max_bytes:
            problem = Rejected("too_large", f"{size} bytes, over the cap of {max_bytes}")
            return [Item(path, None, fmt, sha256_file(file), rejected=problem)]
        data = file.read_bytes()
    except OSError as error:
        problem = Rejected("unreadable", str(error))
        return [Item(path, None, fmt, f"unreadable:{error.errno}", rejected=problem)]
    digest = hashlib.sha256(data).hexdigest()
    try:
        decoded = decode(data, fmt, repair=fmt != "jsonl")
    except Rejected as problem:
        return [Item(path, None, fmt, digest, data=data, rejected=problem)]
    if fmt != "jsonl":
        return [
            Item(path, None, fmt, digest, data, decoded.text, decoded.encoding, decoded.repairs)
        ]
    items = []
    # a line's repairs are its own (the file's text is read unrepaired)
    for number, line, problem in _jsonl_items(decoded.text):
        data = line.encode("utf-8")
        sha = hashlib.sha256(data).hexdigest()
        text, repairs = repair_mojibake(line)
        items.append(Item(path, number, fmt, sha, data, text, decoded.encoding, repairs, problem))
    return items


def fetch_files(files: Iterable[Path], *, max_bytes: int, fetched_at: datetime) -> FetchResult:
    """Every item of every file, read into raw or quarantine rows."""
    return fetch_rows(
        (item for file in files for item in read_items(file, max_bytes)), fetched_at=fetched_at
    )


_VANISHED = Rejected("vanished", "the item is no longer at its source, or has changed")


class FileSource:
    """The local files of a run's sources (but for those under `exclude`)."""

    def __init__(self, max_bytes: int, files: Iterable[Path] = ()) -> None:
        self.max_bytes = max_bytes
        self.files = list(files)  # the files to list; a partition names its own
        self.found = 0

    def new_items(self, known: set[ItemKey]) -> Iterator[NewItem]:
        """A file at a time: of the items read, only the new ones go on."""
        for file in self.files:
            for item in read_items(file, self.max_bytes):
                self.found += 1
                if item.key not in known:
                    yield NewItem(item.key, item=item)

    def read(self, spec: PartitionSpec, details: dict[str, Any]) -> Iterator[Item]:
        """The partition's file items, a file at a time, in the order of their keys; a
        planned item no longer in its file (or changed) as `vanished`."""
        wanted: dict[str, set[ItemKey]] = {}
        for key in spec.items:
            if key[2] != WEB_ITEM:
                wanted.setdefault(key[0], set()).add(key)
        for path, keys in sorted(wanted.items()):
            items = [item for item in read_items(Path(path), self.max_bytes) if item.key in keys]
            missing = keys - {item.key for item in items}
            items += [Item(p, line, None, sha, rejected=_VANISHED) for p, line, sha in missing]
            yield from sorted(items, key=lambda item: sort_key(item.key))
