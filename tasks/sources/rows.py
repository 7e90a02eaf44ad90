"""An item of a source, and the row it becomes: a raw row (with a web page's columns)
or a quarantine row with its reason and its bytes, never nothing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from schemas import QUARANTINE, RAW, Rejected, quarantine_row
from tasks.records import WEB_ITEM, ItemKey
from tasks.text.charsets import decode

if TYPE_CHECKING:  # a type only: the page comes from the web source's download
    from tasks.sources.web import Page

_KEEP_BYTES = frozenset({"empty", "binary", "undecodable"})


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


@dataclass(frozen=True)
class Item:
    """One item of a source, read: the text of an article to be, or why not."""

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


def sort_key(key: ItemKey) -> tuple[str, int, str]:
    """The order of items: by path, then line (a whole file first), then content."""
    return (key[0], -1 if key[1] is None else key[1], key[2])


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
    ordered = [row for _, row in sorted(rejects, key=lambda pair: sort_key(pair[0]))]
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
    ordered = sorted(items, key=lambda i: sort_key(i.key))
    tables = list(raw_tables(ordered, fetched_at=fetched_at, rejects=rejects))
    raw = pa.concat_tables(tables) if tables else RAW.schema.empty_table()
    return FetchResult(raw, quarantine_table(rejects), rows_in=raw.num_rows + len(rejects))


# -- a web page as an item ------------------------------------------------------------


def page_item(page: Page, hints: dict[str, Any], note: str | None = None) -> Item:
    """A web page as an item: its decoded text and its columns of the raw table, or why
    not (with `note`, what a passing failure means for the URL's next runs)."""
    if page.rejected is not None:
        rejected = page.rejected
        if page.transient and note is not None:
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
        web=web_columns(page.url, answer, hints),
    )


def web_columns(url: str, answer: dict[str, Any], hints: dict[str, Any]) -> dict[str, Any]:
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
