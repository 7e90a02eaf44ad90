"""Fetch: local files (wire .txt, .html, .jsonl) into the raw table.

Every file found becomes raw items or quarantine rows, never nothing: a file that
cannot be read, decoded or parsed is quarantined with its reason and its bytes.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas import QUARANTINE, RAW
from tasks.contract import StageOutput, StageReport, code_version, run_stage
from tasks.storage import Lake

FORMAT_BY_SUFFIX = {".txt": "wire", ".html": "html", ".htm": "html", ".jsonl": "jsonl"}
DEFAULT_MAX_BYTES = 5_000_000

# Checked longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_CONTROL_SHARE_MAX = 0.01


class SourceNotFound(FileNotFoundError):
    """A source given on the command line matches no file."""


class Rejected(Exception):
    """An input that cannot become a raw item, with its quarantine reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Batch:
    """The files of one fetch: what becomes one partition."""

    partition: str
    files: tuple[Path, ...]
    fingerprint: str


def discover(sources: Iterable[str]) -> list[Path]:
    """Files named by each source: a file, a folder (searched recursively) or a glob."""
    found: set[Path] = set()
    for source in sources:
        path = Path(source)
        if path.is_file():
            found.add(path)
        elif path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            matches = [Path(m) for m in glob.glob(source, recursive=True)]
            files = [m for m in matches if m.is_file()]
            if not files:
                raise SourceNotFound(f"source not found: {source}")
            found.update(files)
    return sorted(found)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plan_batch(sources: list[str]) -> Batch:
    """The files of `sources` and a partition id derived from their names and contents.

    The same files give the same partition, so a rerun finds its own manifests.
    """
    files = discover(sources)
    digest = hashlib.sha256()
    for path in files:
        try:
            content = _sha256(path)
        except OSError as error:  # quarantined by fetch; still part of the batch
            content = f"unreadable:{error.errno}"
        digest.update(f"{path.as_posix()}\0{content}\n".encode())
    fingerprint = digest.hexdigest()
    first = Path(sources[0]) if sources else Path("batch")
    stem = re.sub(r"[^a-z0-9]+", "-", (first.stem or first.name or "batch").lower())[:40].strip("-")
    return Batch(f"{stem or 'batch'}-{fingerprint[:10]}", tuple(files), fingerprint)


def item_id(source_path: str, line: int | None) -> str:
    return hashlib.sha256(f"{source_path}\0{line or ''}".encode()).hexdigest()[:16]


def decode(data: bytes, fmt: str) -> tuple[str, str]:
    """Text and encoding of `data`: a byte-order mark, else UTF-8, else the page's
    declared charset (HTML), else Windows-1252, the usual encoding of older French text."""
    if not data.strip():
        raise Rejected("empty", "the file is empty or only whitespace")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as error:
                raise Rejected(
                    "undecodable", f"starts with a {encoding} mark but: {error}"
                ) from None
            return _checked_text(text), encoding
    if b"\x00" in data:
        raise Rejected("binary", "NUL bytes and no byte-order mark: not a text file")
    candidates = ["utf-8"]
    if fmt == "html" and (match := _META_CHARSET.search(data[:4096])):
        candidates.append(match.group(1).decode("ascii").lower())
    candidates += ["cp1252", "latin-1"]
    for encoding in candidates:
        try:
            return _checked_text(data.decode(encoding)), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    raise Rejected("undecodable", "no encoding decodes these bytes")  # pragma: no cover


def _checked_text(text: str) -> str:
    if not text.strip():
        raise Rejected("empty", "the decoded text is only whitespace")
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
    if controls > _CONTROL_SHARE_MAX * len(text):
        raise Rejected("binary", f"{controls} control characters in {len(text)}: not text")
    return text


def _jsonl_items(text: str) -> Iterable[tuple[int, str, Rejected | None]]:
    """(line number, line, problem) for every non-blank line of a JSON lines file."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
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


def _quarantine_row(
    path: str, line: int | None, error: Rejected, record: str | None, payload: bytes | None
) -> dict[str, Any]:
    return {
        "stage": "fetch",
        "record_id": item_id(path, line),
        "reason": error.reason,
        "detail": error.detail,
        "source_path": path,
        "line": line,
        "record": record,
        "payload": payload,
    }


@dataclass
class FetchResult:
    raw: pa.Table
    quarantine: pa.Table
    rows_in: int


def fetch_files(files: Iterable[Path], *, max_bytes: int, fetched_at: datetime) -> FetchResult:
    """Read every file into raw items (one per file, or per line of .jsonl)."""
    items: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []

    def add_item(path: str, line: int | None, fmt: str, encoding: str, payload: str, data: bytes):
        items.append(
            {
                "item_id": item_id(path, line),
                "source_path": path,
                "line": line,
                "format": fmt,
                "encoding": encoding,
                "payload": payload,
                "content_sha256": hashlib.sha256(data).hexdigest(),
                "byte_size": len(data),
                "fetched_at": fetched_at,
            }
        )

    for file in files:
        path = file.as_posix()
        fmt = FORMAT_BY_SUFFIX.get(file.suffix.lower())
        try:
            if fmt is None:
                raise Rejected("unsupported_format", f"unsupported file type {file.suffix!r}")
            size = file.stat().st_size
            if size > max_bytes:
                raise Rejected("too_large", f"{size} bytes, over the cap of {max_bytes}")
            data = file.read_bytes()
        except Rejected as error:
            rejects.append(_quarantine_row(path, None, error, None, None))
            continue
        except OSError as error:
            rejects.append(
                _quarantine_row(path, None, Rejected("unreadable", str(error)), None, None)
            )
            continue
        try:
            text, encoding = decode(data, fmt)
        except Rejected as error:
            rejects.append(_quarantine_row(path, None, error, None, data))
            continue
        if fmt != "jsonl":
            add_item(path, None, fmt, encoding, text, data)
            continue
        for number, line, problem in _jsonl_items(text):
            if problem is None:
                add_item(path, number, fmt, encoding, line, line.encode("utf-8"))
            else:
                rejects.append(_quarantine_row(path, number, problem, line, None))

    raw = pa.Table.from_pylist(items, schema=RAW.schema)
    quarantine = pa.Table.from_pylist(rejects, schema=QUARANTINE.schema)
    return FetchResult(raw, quarantine, rows_in=len(items) + len(rejects))


@task(name="fetch", cache_policy=NO_CACHE, retries=0)
def fetch_task(lake_root: str, batch: Batch, max_bytes: int) -> StageReport:
    """Fetch one batch of local files into the raw table of its partition."""

    def produce() -> StageOutput:
        result = fetch_files(batch.files, max_bytes=max_bytes, fetched_at=datetime.now(UTC))
        return StageOutput(
            outputs={RAW: result.raw},
            quarantine=result.quarantine,
            rows_in=result.rows_in,
            rows_out=result.raw.num_rows,
        )

    return run_stage(
        Lake(lake_root),
        "fetch",
        batch.partition,
        input_fingerprint=batch.fingerprint,
        version=code_version(sys.modules[__name__]),
        parameters={"max_bytes": max_bytes},
        produce=produce,
    )
