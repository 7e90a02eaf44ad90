"""How every file of the lake is written and described: atomic writes, Parquet
files and their statistics, content hashes."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.faults import fault_point
from tasks.records import OutputFile

PART_FILE = "part-0.parquet"

# The longest value of a text column up to which its file keeps min/max statistics:
# a reader skips no file on the min and max of an article's text, and they were
# most of a small partition's footer (written twice: in it and in the page header)
STATISTICS_MAX_BYTES = 64


def atomic_write(path: Path, data: bytes, *, pause: str | None = None) -> None:
    """Write `path` whole or not at all: a temporary file beside it, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if pause is not None:
        fault_point(pause)  # written, not yet in place
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, text.encode("utf-8"))


def read_json(path: Path, damaged: Callable[[str], Exception]) -> Any:
    """The JSON document at `path`, None when there is no such file; a file a person
    may have edited that is no JSON raises what `damaged` makes of the reason."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise damaged(f"{path} is damaged ({error})") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_parquet(
    path: Path | io.BytesIO,
    schema: pa.Schema,
    rows: pa.Table | Iterable[pa.Table],
    fault: str = "",
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


MERGED_GROUP_BYTES = 16 * 1024 * 1024
"""A merged file's row groups: the small ones of its sources gathered (in memory) up
to about this many bytes, as fetch writes its raw rows: a reader of a compacted year
opens a few row groups, not one per hourly partition."""


def merge_parquet(sources: list[Path], path: Path) -> None:
    """Write the rows of `sources`, one after the other, as one file at `path`: their
    row groups gathered into row groups of about MERGED_GROUP_BYTES (a reader still
    takes one at a time). The schema is the first source's; a later one of an older
    depeche (a column it did not have yet) is cast to it."""
    schema = pq.read_schema(sources[0])
    path.parent.mkdir(parents=True, exist_ok=True)

    def read() -> Iterator[pa.Table]:
        for source in sources:
            parquet = pq.ParquetFile(source)
            for group in range(parquet.num_row_groups):
                rows = parquet.read_row_group(group)
                for field_ in schema:
                    if field_.name not in rows.column_names:
                        rows = rows.append_column(field_, pa.nulls(rows.num_rows, field_.type))
                yield rows.select(schema.names).cast(schema)

    def gathered() -> Iterator[pa.Table]:
        held: list[pa.Table] = []
        size = 0
        for rows in read():
            if held and size + rows.nbytes > MERGED_GROUP_BYTES:
                yield pa.concat_tables(held).combine_chunks()
                held.clear()
                size = 0
            held.append(rows)
            size += rows.nbytes
        if held:
            yield pa.concat_tables(held).combine_chunks()

    write_parquet(path, schema, gathered())


def empty_file_sha256(schema: pa.Schema) -> str:
    """The content hash of the file of no rows `write_parquet` writes with `schema`:
    what a table with no rows, written as no file, stands for in a stage's output
    fingerprint (so a stage-partition's fingerprint is what it was when an empty
    file was written, and nothing after it is redone for that)."""
    sink = io.BytesIO()
    write_parquet(sink, schema, schema.empty_table())
    return sha256_bytes(sink.getvalue())


def describe_file(root: Path, relative: Path) -> OutputFile:
    """A file of the lake as a manifest records it: its path, size and content hash."""
    path = root / relative
    return OutputFile(relative.as_posix(), path.stat().st_size, sha256_file(path))


def fingerprint_outputs(outputs: list[OutputFile]) -> str:
    """The content of a stage's committed files, as one hash."""
    digest = hashlib.sha256()
    for output in outputs:
        digest.update(str(Path(output.path).parent).encode())
        digest.update(output.sha256.encode())
    return digest.hexdigest()


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
