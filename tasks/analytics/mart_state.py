"""What the marts read of every published file, kept from one refresh to the next, so
that a refresh costs what changed, not the lake's history.

The state is a DuckDB database, `_index/marts.duckdb`: the rows the marts read of each
published file (mart_sql.PROJECTIONS; an article with its month, its "segment"), the
identity of each file they were read from (the content hash its manifest recorded, its
size and modification time), the lake-wide settlements of the last refresh (the name
a host's pages state, a person's one gender) and the all-time marts' partial sums by
segment. A refresh reads only the files that are new or changed, and names the
segments to recompute: those of the rows read and dropped, and those a settlement
moved. The marts by day are written a file per segment, so the others are carried.

The state is derived: missing, damaged or made by other code, it is made again from
the files. Its updates are one transaction, committed by the caller once the marts it
gave are committed; a kill before that leaves the state as it was.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from schemas import CHECKS, DOCUMENTS, ENTITIES, QUARANTINE, QUOTES
from tasks.analytics import mart_sql
from tasks.lake.published import sql_strings

INPUTS = {
    "documents": DOCUMENTS,
    "entities": ENTITIES,
    "quotes": QUOTES,
    "quarantine": QUARANTINE,
    "checks": CHECKS,
}
"""The published tables the marts read, by the name of their view."""

STATE_FILE = "marts.duckdb"
# the state is made again whenever the code that makes it changes
VERSION = hashlib.sha256(
    Path(mart_sql.__file__).read_bytes() + Path(__file__).read_bytes()
).hexdigest()[:16]


def open_state(path: Path | None) -> duckdb.DuckDBPyConnection:
    """The marts' state at `path` (in memory when None, or when the lake cannot be
    written); one missing, damaged or made by other code is made anew, empty."""
    if path is None:
        return _made(duckdb.connect())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path))
    except (duckdb.Error, OSError):  # damaged
        return fresh_state(path)
    try:
        version = con.execute("SELECT value FROM meta WHERE name = 'version'").fetchall()
    except duckdb.Error:  # no such table: not a state of the marts
        version = []
    if version == [(VERSION,)]:
        return con
    con.close()
    return fresh_state(path)


def fresh_state(path: Path) -> duckdb.DuckDBPyConnection:
    """A new, empty state at `path` in place of whatever is there; in memory when
    the lake cannot be written."""
    try:
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        return _made(duckdb.connect(str(path)))
    except (duckdb.Error, OSError):
        return _made(duckdb.connect())


def _made(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """An empty state: a table of projected rows per input, the files they came from,
    the settlements and the partial sums, none with a row."""
    con.execute("CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("CREATE TABLE files (input VARCHAR, file VARCHAR, identity VARCHAR)")
    for name in INPUTS:
        rows = projected(con, name, [])
        con.register("projected_rows", rows)
        con.execute(f"CREATE TABLE {name} AS FROM projected_rows")
        con.unregister("projected_rows")
    for table, columns in mart_sql.STATE_TABLES.items():
        con.execute(f"CREATE TABLE {table} ({columns})")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", [VERSION])
    return con


def source(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: Sequence[str | Path],
    root: Path | None = None,
) -> None:
    """A temporary view `name` over `files` (each row with its `batch`, and its `file`:
    relative to `root` when given), or an empty one."""
    if files:
        start = len(str(root)) + 2 if root is not None else 1  # after "<root>/"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name}_files AS SELECT *, "
            "regexp_extract(filename, 'batch=([^/]+)/', 1) AS batch, "
            f"substr(filename, {start}) AS file "
            f"FROM read_parquet([{sql_strings(files)}], union_by_name = true, filename = true)"
        )
        return
    empty = INPUTS[name].schema.empty_table()
    for column in ("batch", "file"):
        empty = empty.append_column(column, pa.array([], pa.string()))
    con.register(f"{name}_empty", empty)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_files AS FROM {name}_empty")


def projected(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: Sequence[str | Path],
    root: Path | None = None,
) -> pa.Table:
    """What the marts read of `files`, published files of the input `name`."""
    source(con, name, files, root)
    present = {row[0] for row in con.execute(f"DESCRIBE {name}_files").fetchall()}
    placeholders = {
        placeholder: newer.expression if newer.column in present else newer.fallback
        for placeholder, newer in mart_sql.NEWER_COLUMNS.items()
        if newer.view == name
    }
    placeholders["view"] = f"{name}_files"
    rows = con.sql(mart_sql.PROJECTIONS[name].format(**placeholders)).to_arrow_table()
    con.execute(f"DROP VIEW {name}_files")
    return rows


def update(
    con: duckdb.DuckDBPyConnection, root: Path, published: dict[str, dict[str, str]]
) -> set[str]:
    """Bring the state to the published files of each input (relative to `root`, with
    the content hash each manifest recorded): the rows of files gone or changed are
    dropped, those of files new or changed read. The segments of those rows."""
    identities = {name: _identities(root, files) for name, files in published.items()}
    known: dict[str, dict[str, str]] = {name: {} for name in INPUTS}
    for name, file, identity in con.execute("SELECT input, file, identity FROM files").fetchall():
        known.setdefault(name, {})[file] = identity
    stale = {
        name: [f for f, identity in known[name].items() if identities[name].get(f) != identity]
        for name in INPUTS
    }
    fresh = {
        name: [f for f, identity in identities[name].items() if known[name].get(f) != identity]
        for name in INPUTS
    }
    touched = _segments(con, stale)
    for name, files in stale.items():
        if files:
            _listed(con, files)
            con.execute(f"DELETE FROM {name} WHERE file IN (SELECT file FROM listed)")
            con.execute("DELETE FROM files WHERE input = ? AND file IN (FROM listed)", [name])
    for name, files in fresh.items():
        if files:
            load(con, name, [root / f for f in files], root)
            con.executemany(
                "INSERT INTO files VALUES (?, ?, ?)",
                [(name, f, identities[name][f]) for f in files],
            )
    return touched | _segments(con, fresh)


def load(
    con: duckdb.DuckDBPyConnection,
    name: str,
    files: Sequence[str | Path],
    root: Path | None = None,
) -> None:
    """Add what the marts read of `files` (of the input `name`) to the state."""
    if files:
        con.register("projected_rows", projected(con, name, files, root))
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM projected_rows")
        con.unregister("projected_rows")


def _listed(con: duckdb.DuckDBPyConnection, files: Iterable[str]) -> None:
    """A view `listed` of these files."""
    con.register("listed", pa.table({"file": pa.array(sorted(files), pa.string())}))


def _segments(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]]) -> set[str]:
    """The segments of the articles the rows of these files are of."""
    found: set[str] = set()
    for name, sql in mart_sql.SEGMENTS_OF_FILES.items():
        if files.get(name):
            _listed(con, files[name])
            found |= {segment for (segment,) in con.execute(sql).fetchall()}
    return found


def _identities(root: Path, files: dict[str, str]) -> dict[str, str]:
    """Each file with its identity: the content hash its manifest recorded, and its
    size and modification time (a file changed in place, damaged, is read again)."""
    found = {}
    for file, content in files.items():
        info = os.stat(f"{root}/{file}")
        found[file] = f"{content}:{info.st_size}:{info.st_mtime_ns}"
    return found


def settle(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Settle the lake-wide names and genders again (mart_sql.SETTLEMENTS); the
    segments of the articles whose counts a changed settlement moves."""
    moved: set[str] = set()
    for table, settlement in mart_sql.SETTLEMENTS.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE settling AS {settlement.sql}")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE changed AS SELECT {settlement.key} FROM "
            f"((FROM {table} EXCEPT FROM settling) UNION (FROM settling EXCEPT FROM {table}))"
        )
        moved |= {segment for (segment,) in con.execute(settlement.moves).fetchall()}
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} FROM settling")
    con.execute("DROP TABLE settling")
    con.execute("DROP TABLE changed")
    return moved


def every_segment(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The segments of every article in the state."""
    return {segment for (segment,) in con.execute(mart_sql.EVERY_SEGMENT).fetchall()}


def recompute(
    con: duckdb.DuckDBPyConnection, segments: set[str], gate_days: pa.Table
) -> dict[str, pa.Table]:
    """The rows of each mart by day in `segments` (each row with its `segment`), their
    partial sums in the state made again, and the all-time marts from every segment's."""
    con.register("segments", pa.table({"segment": pa.array(sorted(segments), pa.string())}))
    for sql in mart_sql.WORKING_TABLES:
        con.execute(sql)
    marts = {
        name: con.sql(f"SELECT *, {mart_sql.SEGMENT} AS segment FROM ({sql})").to_arrow_table()
        for name, sql in mart_sql.DAILY_QUERIES.items()
    }
    con.execute(mart_sql.TOUCHED_PAIRS.format(verb="CREATE OR REPLACE TEMP TABLE touched AS"))
    for table, sql in mart_sql.PARTIALS.items():
        con.execute(f"DELETE FROM {table} WHERE segment IN (SELECT segment FROM segments)")
        con.execute(f"INSERT INTO {table} BY NAME {sql}")
    con.execute(mart_sql.TOUCHED_PAIRS.format(verb="INSERT INTO touched"))
    for sql in mart_sql.PAIR_TOTALS:  # the all-time counts of the pairs touched
        con.execute(sql)
    con.register("gate_days", gate_days)
    marts |= {name: con.sql(sql).to_arrow_table() for name, sql in mart_sql.ALL_TIME.items()}
    con.unregister("segments")
    con.unregister("gate_days")
    return marts


def made_for(con: duckdb.DuckDBPyConnection) -> str | None:
    """The output fingerprint of the marts this state last gave (committed)."""
    found = con.execute("SELECT value FROM meta WHERE name = 'marts'").fetchall()
    return found[0][0] if found else None


def mark_made(con: duckdb.DuckDBPyConnection, fingerprint: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES ('marts', ?)", [fingerprint])
