"""The rows the marts read of each published file, carried from one refresh to the next.

What a file gives the marts depends on that file alone (mart_sql.PROJECTIONS): an
article's period, outlet and words, a mention's name, a quote's speaker, a file's
quarantined rows counted by reason, whether a gate passed. So a refresh reads only
the files that are new or changed since the last one, and takes the others' rows
from `_index/marts-<input>.parquet`: a state derived from the published files, kept
with the identity of each file it was read from (the content hash its manifest
recorded, its size and modification time). A state that is missing, damaged, or made
by other SQL is made again from the files; it is never the only record of anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from schemas import CHECKS, DOCUMENTS, ENTITIES, QUARANTINE, QUOTES
from tasks.analytics import mart_sql
from tasks.lake.storage import Lake

INPUTS = {
    "documents": DOCUMENTS,
    "entities": ENTITIES,
    "quotes": QUOTES,
    "quarantine": QUARANTINE,
    "checks": CHECKS,
}
"""The published tables the marts read, by the name of their view."""

FILES_KEY = b"depeche.files"  # in a state's schema metadata: each file's identity
SQL_KEY = b"depeche.sql"  # the projection it was made by


def source(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: Sequence[str | Path],
    root: Path | None = None,
) -> None:
    """A temporary view `name` over `files` (each row with its `batch`, and its `file`:
    relative to `root` when given), or an empty one."""
    if files:
        listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        start = len(str(root)) + 2 if root is not None else 1  # after "<root>/"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT *, "
            "regexp_extract(filename, 'batch=([^/]+)/', 1) AS batch, "
            f"substr(filename, {start}) AS file "
            f"FROM read_parquet([{listed}], union_by_name = true, filename = true)"
        )
        return
    empty = INPUTS[name].schema.empty_table()
    for column in ("batch", "file"):
        empty = empty.append_column(column, pa.array([], pa.string()))
    con.register(f"{name}_empty", empty)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS FROM {name}_empty")


def projected(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: Sequence[str | Path],
    root: Path | None = None,
) -> pa.Table:
    """What the marts read of `files`, published files of the input `name`."""
    source(con, name, files, root)
    present = {row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()}
    placeholders = {
        placeholder: newer.expression if newer.column in present else newer.fallback
        for placeholder, newer in mart_sql.NEWER_COLUMNS.items()
        if newer.view == name
    }
    rows = con.sql(mart_sql.PROJECTIONS[name].format(**placeholders)).to_arrow_table()
    con.execute(f"DROP VIEW {name}")  # the name is the projected rows' from here on
    return rows


def carried(
    con: duckdb.DuckDBPyConnection, lake: Lake, name: str, files: dict[str, str]
) -> pa.Table:
    """What the marts read of `files` (published files of the input `name`, relative to
    the root, with the content hash each manifest recorded): the rows of the files
    unchanged since the last refresh from its state, the others read."""
    identities = _identities(lake, files)
    sql = hashlib.sha256(mart_sql.PROJECTIONS[name].encode()).hexdigest()[:16]
    state = lake.states.read_table(f"marts-{name}")
    known = _known(state, sql)
    unchanged = {
        file for file, identity in identities.items() if (known or {}).get(file) == identity
    }
    if state is not None and known is not None and len(unchanged) == len(known) == len(identities):
        return state.replace_schema_metadata(None)  # nothing new, changed or gone
    fresh = [lake.root / file for file in identities if file not in unchanged]
    rows = projected(con, name, fresh, lake.root)
    if state is not None and unchanged:
        kept = state.filter(pc.is_in(state["file"], pa.array(sorted(unchanged), pa.string())))
        rows = pa.concat_tables([kept.cast(rows.schema), rows])
    metadata = {FILES_KEY: json.dumps(identities).encode(), SQL_KEY: sql.encode()}
    lake.states.write_table(f"marts-{name}", rows.replace_schema_metadata(metadata))
    return rows


def _known(state: pa.Table | None, sql: str) -> dict[str, str] | None:
    """Each file a state was read from, with its identity then; None when the state
    is missing, damaged or made by other SQL."""
    metadata = (state.schema.metadata or {}) if state is not None else {}
    if metadata.get(SQL_KEY) != sql.encode():
        return None
    try:
        known = json.loads(metadata[FILES_KEY])
    except (KeyError, ValueError):
        return None
    return known if isinstance(known, dict) else None


def _identities(lake: Lake, files: dict[str, str]) -> dict[str, str]:
    """Each file with its identity: the content hash its manifest recorded, and its
    size and modification time (a file changed in place, damaged, is read again)."""
    found = {}
    for file, content in files.items():
        info = os.stat(f"{lake.root}/{file}")
        found[file] = f"{content}:{info.st_size}:{info.st_mtime_ns}"
    return found
