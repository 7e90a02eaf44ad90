"""Fetch: local files (wire .txt, .html, .jsonl) into the raw table.

Planning splits the files of the sources into items (a file, or a line of a .jsonl
file), keeps those no partition of the lake holds yet, and makes them a new
partition (or one per publication month, for a backfill). Fetch then reads the
items of a partition: each becomes a raw row or a quarantine row with its reason
and its bytes, never nothing.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from schemas import QUARANTINE, RAW, Rejected, quarantine_row
from tasks.charsets import decode, repair_mojibake
from tasks.clean import published_period
from tasks.contract import Stage, StageContext, StageOutput
from tasks.dates import DateWindow, latest_date, plausible
from tasks.errors import SourceNotFound
from tasks.records import WEB_ITEM, ItemKey, PartitionSpec
from tasks.settings import Settings
from tasks.storage import Lake, sha256_file
from tasks.web.ingest import (
    Page,
    WebPlan,
    attempt_note,
    by_host,
    fetch_pages,
    outcome_of,
    plan_web,
    web_history,
)
from tasks.web.listing import SourceProblem, is_url

FORMAT_BY_SUFFIX = {".txt": "wire", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}


def discover(sources: Iterable[str], *, exclude: str | Path | None = None) -> list[Path]:
    """Files named by each source: a file, a folder (searched recursively, but for its
    hidden files and folders) or a glob; none under `exclude` (the lake's own folder,
    when it is inside a source).

    Each file is named by its absolute, resolved path: what it is, not how a source
    named it, so runs from any working folder (`data/sample`, `./data/sample`, its
    absolute path, a cron job's) find the same items."""
    skip = None if exclude is None else Path(exclude).resolve()

    def kept(files: Iterable[Path]) -> set[Path]:
        resolved = {file.resolve() for file in files}
        return {f for f in resolved if skip is None or not f.is_relative_to(skip)}

    found: set[Path] = set()
    for source in sources:
        path = Path(source)
        if path.is_file():
            found.update(kept([path]))
        elif path.is_dir():
            for folder, folders, names in os.walk(path):
                here = Path(folder)
                folders[:] = [
                    name
                    for name in folders
                    if not name.startswith(".")
                    and (skip is None or (here / name).resolve() != skip)
                ]
                found.update(
                    kept(
                        here / name
                        for name in names
                        if not name.startswith(".") and (here / name).is_file()
                    )
                )
        else:
            files = [m for m in map(Path, glob.glob(source, recursive=True)) if m.is_file()]
            if not files:
                raise SourceNotFound(f"source not found: {source}")
            found.update(kept(files))
    return sorted(found)


def item_id(source_path: str, line: int | None) -> str:
    """An item's id: hashed from its path's bytes (a file name need not be UTF-8) and
    its line."""
    key = os.fsencode(source_path) + f"\0{line or ''}".encode()
    return hashlib.sha256(key).hexdigest()[:16]


def stored_path(source_path: str) -> str:
    """The path as the tables store it: a file name that is not UTF-8 has its odd bytes
    escaped (`caf\\xe9.txt`), since Parquet strings are UTF-8; the partition's record
    keeps the real name, for fetch to read the file."""
    return os.fsencode(source_path).decode("utf-8", "backslashreplace")


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


_KEEP_BYTES = frozenset({"empty", "binary", "undecodable"})


@dataclass(frozen=True)
class Item:
    """One item of a source file, read: the text of an article to be, or why not."""

    source_path: str
    line: int | None
    format: str | None
    sha256: str
    data: bytes | None = None  # the item's bytes (of a .jsonl line: its UTF-8)
    text: str | None = None
    encoding: str | None = None
    repairs: int = 0  # double-encoded sequences repaired in `text`
    rejected: Rejected | None = None
    web: dict[str, Any] | None = None  # a web page's columns of the raw table

    @property
    def key(self) -> ItemKey:
        """Identity of the item in the lake: where it is and what it holds."""
        return (self.source_path, self.line, self.sha256)


def _sort_key(key: ItemKey) -> tuple[str, int, str]:
    return (key[0], -1 if key[1] is None else key[1], key[2])


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


@dataclass
class FetchResult:
    raw: pa.Table
    quarantine: pa.Table
    rows_in: int


RAW_CHUNK_BYTES = 16 * 2**20
"""Item bytes a stream of raw rows holds before it hands them on as one table (a row
group of the raw file): a partition's pages are never all in memory."""


def raw_tables(
    items: Iterable[Item], *, fetched_at: datetime, rejects: list[tuple[ItemKey, dict[str, Any]]]
) -> Iterator[pa.Table]:
    """Raw rows for the items that are text, in tables of about RAW_CHUNK_BYTES and
    in the items' order; a quarantine row (with the item's key) appended to `rejects`
    for each of the others."""
    rows: list[dict[str, Any]] = []
    size = 0
    for item in items:
        if item.rejected is not None:
            rejects.append((item.key, _quarantine_row(item)))
            continue
        rows.append(_raw_row(item, fetched_at))
        size += len(item.data or b"")
        if size >= RAW_CHUNK_BYTES:
            yield pa.Table.from_pylist(rows, schema=RAW.schema)
            rows, size = [], 0
    if rows:
        yield pa.Table.from_pylist(rows, schema=RAW.schema)


def quarantine_table(rejects: list[tuple[ItemKey, dict[str, Any]]]) -> pa.Table:
    """The quarantine rows of `raw_tables`, in the order of their items' keys."""
    ordered = [row for _, row in sorted(rejects, key=lambda pair: _sort_key(pair[0]))]
    return pa.Table.from_pylist(ordered, schema=QUARANTINE.schema)


def _quarantine_row(item: Item) -> dict[str, Any]:
    assert item.rejected is not None
    return quarantine_row(
        "fetch",
        item.rejected,
        record_id=item_id(item.source_path, item.line),
        source_path=stored_path(item.source_path),
        line=item.line,
        record=item.text if item.line is not None else None,
        payload=item.data if item.rejected.reason in _KEEP_BYTES else None,
    )


def _raw_row(item: Item, fetched_at: datetime) -> dict[str, Any]:
    return {
        "item_id": item_id(item.source_path, item.line),
        "source_path": stored_path(item.source_path),
        "line": item.line,
        "format": item.format,
        "encoding": item.encoding,
        "payload": item.text,
        "content_sha256": item.sha256,
        "repairs": item.repairs,
        "byte_size": len(item.data or b""),
        "fetched_at": fetched_at,
        **(item.web or {}),
    }


def fetch_rows(items: Iterable[Item], *, fetched_at: datetime) -> FetchResult:
    """Raw rows for the items that are text, quarantine rows for the others, all in
    memory (the stage streams them instead: `raw_tables`)."""
    rejects: list[tuple[ItemKey, dict[str, Any]]] = []
    ordered = sorted(items, key=lambda i: _sort_key(i.key))
    tables = list(raw_tables(ordered, fetched_at=fetched_at, rejects=rejects))
    raw = pa.concat_tables(tables) if tables else RAW.schema.empty_table()
    return FetchResult(raw, quarantine_table(rejects), rows_in=raw.num_rows + len(rejects))


def fetch_files(files: Iterable[Path], *, max_bytes: int, fetched_at: datetime) -> FetchResult:
    """Every item of every file, read into raw or quarantine rows."""
    return fetch_rows(
        (item for file in files for item in read_items(file, max_bytes)), fetched_at=fetched_at
    )


# -- planning ----------------------------------------------------------------------


@dataclass
class PlanCounts:
    """What planning found in the sources."""

    found: int = 0
    new: int = 0
    outside_range: int = 0  # dated outside a backfill's window: left for later runs
    undated: int = 0  # no publication date, in a backfill: left for later runs
    retried: int = 0  # web pages that failed for a passing reason, tried again
    not_modified: int = 0  # web sources that answered 304: nothing new there


@dataclass
class Plan:
    """New partitions for the items of the sources that the lake does not hold yet."""

    partitions: list[PartitionSpec]
    counts: PlanCounts = field(default_factory=PlanCounts)
    problems: list[SourceProblem] = field(default_factory=list)  # web sources unread
    web_state: dict[str, dict[str, Any]] | None = None  # to record with the partitions
    not_modified: dict[str, int] = field(default_factory=dict)  # 304s per host


def _stem(sources: list[str]) -> str:
    first = sources[0] if sources else "batch"
    if is_url(first):
        first = urlsplit(first).hostname or "web"
    path = Path(first)
    stem = re.sub(r"[^a-z0-9]+", "-", (path.stem or path.name or "batch").lower())
    return stem[:40].strip("-") or "batch"


@dataclass(frozen=True)
class _Planned:
    """An item that planning found: its key, and when it was published (read for a
    backfill only: it costs the page's extraction)."""

    key: ItemKey
    period: tuple[date, str] | None


def plan_partitions(
    sources: list[str],
    *,
    known: set[ItemKey],
    max_bytes: int,
    first_seq: int,
    since: str | None = None,
    until: str | None = None,
    exclude: str | Path | None = None,
    web: WebPlan | None = None,
    partition_size: int | None = None,
    now: datetime | None = None,
) -> Plan:
    """The new items of `sources` (but for those under `exclude`), and the web pages
    of `web`, as new partitions: one, or one per publication month when a date range
    is given (items outside the range, or undated, are left for later runs); each
    split, in the items' order, into partitions of at most `partition_size` items.
    Dates are read as clean reads them of items fetched `now` (a placeholder date is
    no date: such an item is undated, never outside the range)."""
    paths = [source for source in sources if not is_url(source)]
    files = [f for f in discover(paths, exclude=exclude) if f.suffix.lower() != ".urls"]
    dated = since is not None or until is not None
    found, new = 0, []
    for file in files:  # a file at a time: only the new items' keys are kept
        for item in read_items(file, max_bytes):
            found += 1
            if item.key not in known:
                new.append(_Planned(item.key, _item_period(item, now) if dated else None))
    web = web or WebPlan()
    for url in sorted(web.hints):
        new.append(_Planned((url, None, WEB_ITEM), _listed_period(web.published.get(url), now)))
    counts = PlanCounts(
        found=found + web.found,
        new=len(new) - len(web.attempts),
        retried=len(web.attempts),
        not_modified=sum(web.not_modified.values()),
    )
    plan = Plan(
        [],
        counts,
        problems=web.problems,
        web_state=web.state or None,
        not_modified=dict(web.not_modified),
    )
    groups: dict[str, list[ItemKey]] = {}
    if since is None and until is None:
        if new:
            groups[""] = [planned.key for planned in new]
    else:
        window = DateWindow.parse(since, until)
        for planned in new:
            period = planned.period
            if period is None:
                plan.counts.undated += 1
            elif not window.overlaps(*period):
                plan.counts.outside_range += 1
            else:
                month = period[0].isoformat()[:7] if period[1] != "year" else str(period[0].year)
                groups.setdefault(month, []).append(planned.key)
    stem = _stem(sources)
    chunks = [
        (month, chunk)
        for month, members in sorted(groups.items())
        for chunk in _chunks(sorted(members, key=_sort_key), partition_size)
    ]
    for offset, (month, keys) in enumerate(chunks):
        digest = hashlib.sha256(json.dumps(keys).encode()).hexdigest()
        name = f"{stem}-{month}-{digest[:10]}" if month else f"{stem}-{digest[:10]}"
        urls = [key[0] for key in keys if key[2] == WEB_ITEM]
        plan.partitions.append(
            PartitionSpec(
                partition=name,
                seq=first_seq + offset,
                items=keys,
                fingerprint=digest,
                sources=list(sources),
                since=since,
                until=until,
                month=month or None,
                hints={url: web.hints[url] for url in urls},
                attempts={url: web.attempts[url] for url in urls if url in web.attempts},
            )
        )
    return plan


def _chunks(keys: list[ItemKey], size: int | None) -> list[list[ItemKey]]:
    """`keys` in runs of at most `size`, in order: the same items, the same chunks."""
    size = size or len(keys) or 1
    return [keys[start : start + size] for start in range(0, len(keys), size)]


def _item_period(item: Item, now: datetime | None) -> tuple[date, str] | None:
    """When a file item was published, read as clean will read it of an item fetched
    `now` (for a backfill: it reads dates as clean will)."""
    if item.rejected is not None:
        return None
    return published_period(item.format, item.text, now)


def _listed_period(published: datetime | None, now: datetime | None) -> tuple[date, str] | None:
    latest = latest_date(now) if now is not None else None
    if published is None or not plausible(published.date(), latest):
        return None
    return published.date(), "day"


def _split_sources(sources: list[str], lake: Lake) -> tuple[list[str], list[str], list[Path]]:
    """The paths, the web sources, and the `.urls` files among the paths' files."""
    paths = [source for source in sources if not is_url(source)]
    urls = [source for source in sources if is_url(source)]
    lists = [f for f in discover(paths, exclude=lake.root) if f.suffix.lower() == ".urls"]
    return paths, urls, lists


def plan_for_lake(
    lake: Lake,
    sources: list[str],
    settings: Settings,
    since: str | None,
    until: str | None,
    *,
    log: Callable[[str], None] | None = None,
) -> Plan:
    """The partitions a run on `sources` would add to the lake (nothing is written but
    web requests are made: feeds and sitemaps are asked what they list); the lake's
    own files are no source, even when it is inside one."""
    _, urls, lists = _split_sources(sources, lake)
    web = None
    if urls or lists or lake.exists():
        start = DateWindow.parse(since, None).start if since else None
        web = plan_web(
            lake,
            urls,
            lists,
            settings,
            since=None if start is None else datetime.combine(start, time(), UTC),
            log=log,
        )
    return plan_partitions(
        sources,
        known=lake.known_items(),
        max_bytes=settings.max_bytes,
        first_seq=lake.next_seq(),
        since=since,
        until=until,
        exclude=lake.root,
        web=web,
        partition_size=settings.partition_size,
        now=datetime.now(UTC),
    )


def count_if_nothing_new(lake: Lake, sources: list[str], settings: Settings) -> PlanCounts | None:
    """What planning would find when the lake holds every item of the sources; None as
    soon as one is new, or when a web source must be asked (or a web page retried)."""
    paths, urls, lists = _split_sources(sources, lake)
    if urls or lists or web_history(lake).waiting(settings.fetch_attempts):
        return None
    known = lake.known_items()
    found = 0
    for file in discover(paths, exclude=lake.root):
        for item in read_items(file, settings.max_bytes):
            if item.key not in known:
                return None
            found += 1
    return PlanCounts(found=found)


def record_plan(lake: Lake, plan: Plan) -> None:
    """Record the planned partitions in the lake, then the web sources' validators: a
    run that dies between the two asks the sources again, and finds their pages
    planned already."""
    for spec in plan.partitions:
        lake.write_partition(spec)
    if plan.web_state is not None:
        lake.web.write_sources(plan.web_state)


# -- the stage -----------------------------------------------------------------------


def fetch_partition(context: StageContext) -> StageOutput:
    """Read the items of one partition into its raw table: files from disk, web pages
    from the lake when fetched before, else from the web. The rows stream to the
    raw file one item at a time, in the items' order (files, then web pages)."""
    spec = context.lake.partition(context.partition)
    output = StageOutput(
        outputs={},
        quarantine=QUARANTINE.schema.empty_table(),
        rows_in=len(spec.items),
        rows_out=0,
    )
    output.outputs[RAW] = _raw_stream(context, spec, output)
    return output


def _raw_stream(
    context: StageContext, spec: PartitionSpec, output: StageOutput
) -> Iterator[pa.Table]:
    """The partition's raw tables; once written, the output's books."""
    rejects: list[tuple[ItemKey, dict[str, Any]]] = []
    items = itertools.chain(
        _file_items(spec, context.settings.max_bytes),
        web_items(context.lake, spec, context.settings, output.details) if spec.urls else (),
    )
    for table in raw_tables(items, fetched_at=datetime.now(UTC), rejects=rejects):
        output.rows_out += table.num_rows
        yield table
    output.quarantine = quarantine_table(rejects)


def _file_items(spec: PartitionSpec, max_bytes: int) -> Iterator[Item]:
    """The partition's file items, a file at a time, in the order of their keys; a
    planned item no longer in its file (or changed) as `vanished`."""
    wanted: dict[str, set[ItemKey]] = {}
    for key in spec.items:
        if key[2] != WEB_ITEM:
            wanted.setdefault(key[0], set()).add(key)
    gone = Rejected("vanished", "the item is no longer at its source, or has changed")
    for path, keys in sorted(wanted.items()):
        items = [item for item in read_items(Path(path), max_bytes) if item.key in keys]
        missing = keys - {item.key for item in items}
        items += [Item(p, line, None, sha, rejected=gone) for p, line, sha in missing]
        yield from sorted(items, key=lambda item: _sort_key(item.key))


def web_items(
    lake: Lake, spec: PartitionSpec, settings: Settings, details: dict[str, Any]
) -> Iterator[Item]:
    """The web pages of a partition as items, one at a time; once they are all read,
    the books of the fetch in `details["web"]`: each URL's outcome (`waiting`: a
    later run tries it again), and their counts per host."""
    outcomes: dict[str, str] = {}
    for page in fetch_pages(lake, spec.partition, spec.urls, settings):
        failures = spec.attempts.get(page.url, 0)
        outcomes[page.url] = outcome_of(page, failures, settings.fetch_attempts)
        yield _web_item(page, failures, settings, spec.hints.get(page.url, {}))
    details["web"] = {"outcomes": outcomes, "hosts": by_host(outcomes)}


def _web_item(page: Page, failures: int, settings: Settings, hints: dict[str, Any]) -> Item:
    if page.rejected is not None:
        rejected = page.rejected
        if page.transient:
            note = attempt_note(failures, settings.fetch_attempts)
            rejected = Rejected(rejected.reason, f"{rejected.detail} ({note})")
        return Item(page.url, None, "html", WEB_ITEM, rejected=rejected)
    assert page.answer is not None and page.body is not None
    answer, sha = page.answer, page.answer["sha256"]
    try:
        decoded = decode(page.body, "html", answer.get("charset"))
    except Rejected as problem:
        return Item(page.url, None, "html", sha, data=page.body, rejected=problem)
    return Item(
        page.url,
        None,
        "html",
        sha,
        page.body,
        decoded.text,
        decoded.encoding,
        decoded.repairs,
        web=_web_columns(page.url, answer, hints),
    )


def _web_columns(url: str, answer: dict[str, Any], hints: dict[str, Any]) -> dict[str, Any]:
    """A web page's columns of the raw table: its answer, and what listed it."""
    listed_date = hints.get("listed_date")
    return {
        "url": url,
        "final_url": answer["final_url"],
        "redirects": answer["redirects"],
        "http_status": answer["http_status"],
        "content_type": answer["content_type"] or None,
        "etag": answer.get("etag"),
        "last_modified": answer.get("last_modified"),
        "fetched_at": datetime.fromisoformat(answer["fetched_at"]),
        "listed_by": hints.get("listed_by"),
        "listed_in": hints.get("listed_in"),
        "listed_title": hints.get("listed_title"),
        "listed_date": datetime.fromisoformat(listed_date) if listed_date else None,
        "listed_author": hints.get("listed_author"),
        "listed_site": hints.get("listed_site"),
    }


STAGE = Stage(
    name="fetch",
    produce=fetch_partition,
    writes=(RAW,),
    settings=("max_bytes",),
    extra_inputs=lambda lake, partition: [lake.partition(partition).fingerprint],
    ordered=True,  # one fetch at a time: the hosts' delays hold across workers
)
