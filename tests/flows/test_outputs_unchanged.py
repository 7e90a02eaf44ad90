"""Regression: the pipeline's outputs are the ones recorded in
tests/fixtures/expected_outputs.json, row for row, for data/sample and for the
reference corpus (../shared/corpus).

The real flow runs once per corpus into a temporary lake; every published table is
then reduced to a canonical digest (`digest_lake`) and compared with the recorded one.
A refactor must leave every digest unchanged. When an output change is intended,
regenerate the expectations with tests/fixtures/make_expected_outputs.py (it uses
`digest_lake` from this module) and say so in the commit.

Canonical digest of a table: every `batch=*` partition file read with pyarrow and
concatenated; the columns in DROPPED left out (they vary between runs); every value
made independent of where the project and the corpus are (`Locations`: in every
string, the project's and the corpus's folders become `<project>` and `<corpus>`, an
item id hashed from a source path becomes the id of the placeholder path, a
partition name `<batch>`), then made JSON-able (dates in ISO format, bytes in
base64, lists and structs as a JSON string); the rows sorted by all their columns
(taken in name order, nulls first); each row written as one JSON object with sorted
keys; the sha256 of those lines. The column names and types are recorded too (before
the drop), with one sha256 per column over its sorted values alone and a few counts,
so a failure says what changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

PROJECT = Path(__file__).resolve().parents[2]
CORPUS = (PROJECT.parent / "shared" / "corpus").resolve()
EXPECTED = PROJECT / "tests" / "fixtures" / "expected_outputs.json"

TABLES = (
    "raw",
    "clean",
    "stories",
    "annotated/documents",
    "annotated/sentences",
    "annotated/entities",
    "annotated/quotes",
    "quarantine/fetch",
    "quarantine/clean",
    "quarantine/annotate",
    "quarantine/validate",
)
"""The published tables compared, as paths under the lake's root."""

DROPPED = ("fetched_at", "date_bound", "batch")
"""Columns left out of the digests: when the item was read (and the latest date it may
have, the day after), and the Hive partition key."""

COUNTED = {
    "raw": "format",
    "clean": "format",
    "annotated/documents": "date_precision",
    "annotated/entities": "label",
    "annotated/quotes": "kind",
    **{table: "reason" for table in TABLES if table.startswith("quarantine/")},
}
"""Per table, the column whose value counts are kept as human-readable facts."""

REFERENCE_PARTS = ("wire", "html", "more-html")
"""The reference corpus's sources, folders under ../shared/corpus."""


# -- the digest (shared with tests/fixtures/make_expected_outputs.py) ----------------

_ID = re.compile(r"\b[0-9a-f]{16}\b")


def _path_id(source_path: str, line: int | None) -> str:
    """An item id as fetch hashes it from the item's source path and line."""
    key = f"{source_path}\0{line or ''}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(key).hexdigest()[:16]


class Locations:
    """Makes a lake's values independent of where the project and the corpus are:
    their folders become `<project>` and `<corpus>` in every string, the item ids
    hashed from a source path (item_id, record_id, and inside a quarantined record)
    become the ids of the placeholder path, and the lake's partition names (hashed
    from the items' paths) become `<batch>`."""

    def __init__(self, lake: Path) -> None:
        roots = {str(CORPUS): "<corpus>", str(PROJECT): "<project>"}
        self.roots = sorted(roots.items(), key=lambda root: -len(root[0]))
        self.batches = sorted(
            (p.stem for p in (lake / "_partitions").glob("*.json")), key=len, reverse=True
        )
        self.ids: dict[str, str] = {}
        for table in TABLES:
            for file in sorted((lake / table).glob("batch=*/*.parquet")):
                names = pq.read_schema(file).names
                if "source_path" in names and "line" in names:
                    rows = pq.read_table(file, columns=["source_path", "line"]).to_pylist()
                    for row in rows:
                        path, line = row["source_path"], row["line"]
                        self.ids[_path_id(path, line)] = _path_id(self.path(path), line)

    def path(self, text: str) -> str:
        for root, placeholder in self.roots:
            text = text.replace(root, placeholder)
        return text

    def text(self, text: str) -> str:
        text = _ID.sub(lambda m: self.ids.get(m.group(0), m.group(0)), self.path(text))
        for batch in self.batches:
            text = text.replace(batch, "<batch>")
        return text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def _canonical(value: Any) -> Any:
    """A JSON-able value that sorts and prints the same way every run."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return "base64:" + base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta | decimal.Decimal):
        return str(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(_nested(value), sort_keys=True, ensure_ascii=False)
    raise TypeError(f"no canonical form for {type(value).__name__}: {value!r}")


def _nested(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _nested(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nested(v) for v in value]
    return _canonical(value)


def _sort_key(row: dict[str, Any], columns: list[str]) -> tuple:
    return tuple((row[c] is not None, row[c]) for c in columns)


def _sha256_lines(lines: list[str]) -> str:
    return hashlib.sha256("".join(line + "\n" for line in lines).encode("utf-8")).hexdigest()


def _facts(table: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    column = COUNTED.get(table)
    if column is not None:
        counts = Counter("null" if r[column] is None else str(r[column]) for r in rows)
        facts[f"rows_by_{column}"] = dict(sorted(counts.items()))
    if table == "annotated/documents":
        for name in ("sentence_count", "token_count", "entity_count", "quote_count"):
            if rows and name in rows[0]:
                facts[f"total_{name}"] = sum(r[name] for r in rows)
    if table in ("annotated/sentences", "annotated/entities", "annotated/quotes"):
        facts["documents"] = len({r["doc_id"] for r in rows})
    return facts


def digest_table(
    folder: Path, table: str = "", locations: Locations | None = None
) -> dict[str, Any]:
    """The canonical digest of the table in `folder` (all its `batch=*` partitions),
    its values made location-independent by `locations` when given."""
    files = sorted(folder.glob("batch=*/*.parquet"))
    if not files:
        return {"missing": True}
    data = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    schema = data.schema
    kept = data.drop_columns([c for c in DROPPED if c in schema.names])
    columns = sorted(kept.schema.names)
    rows = kept.to_pylist()
    if locations is not None:
        rows = [locations.value(row) for row in rows]
    rows = [{c: _canonical(v) for c, v in row.items()} for row in rows]
    rows.sort(key=lambda row: _sort_key(row, columns))
    lines = [
        json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")) for row in rows
    ]
    per_column = {}
    for c in columns:
        values = sorted((row[c] for row in rows), key=lambda v: (v is not None, v))
        per_column[c] = _sha256_lines([json.dumps(v, ensure_ascii=False) for v in values])
    return {
        "rows": len(rows),
        "columns": schema.names,
        "types": [str(f.type) + ("" if f.nullable else " not null") for f in schema],
        "sha256": _sha256_lines(lines),
        "column_sha256": per_column,
        "facts": _facts(table, rows),
    }


def digest_lake(lake: Path) -> dict[str, dict[str, Any]]:
    """The digest of every table in TABLES, by table, independent of where the lake,
    the project and the corpus are."""
    locations = Locations(Path(lake))
    return {table: digest_table(Path(lake) / table, table, locations) for table in TABLES}


def explain(name: str, expected: dict[str, Any] | None, actual: dict[str, Any]) -> str:
    """What differs between two digests of a table, in a line or a few."""
    if expected is None:
        return f"{name}: no expectation recorded (regenerate tests/fixtures/expected_outputs.json)"
    if expected.get("missing") or actual.get("missing"):

        def state(digest: dict[str, Any]) -> str:
            return "missing" if digest.get("missing") else f"{digest['rows']} rows"

        return f"{name}: expected {state(expected)}, got {state(actual)}"
    lines = [f"{name}: rows expected {expected['rows']}, got {actual['rows']}"]
    if expected["columns"] != actual["columns"] or expected["types"] != actual["types"]:
        old = dict(zip(expected["columns"], expected["types"], strict=True))
        new = dict(zip(actual["columns"], actual["types"], strict=True))
        lines.append(
            f"  columns expected {old}, got {new}"
            if old != new
            else f"  column order expected {expected['columns']}, got {actual['columns']}"
        )
    changed = sorted(
        c
        for c in set(expected["column_sha256"]) | set(actual["column_sha256"])
        if expected["column_sha256"].get(c) != actual["column_sha256"].get(c)
    )
    if changed:
        lines.append(f"  columns whose values changed: {', '.join(changed)}")
    for fact in sorted(set(expected["facts"]) | set(actual["facts"])):
        if expected["facts"].get(fact) != actual["facts"].get(fact):
            lines.append(
                f"  {fact}: expected {expected['facts'].get(fact)}, got {actual['facts'].get(fact)}"
            )
    if expected["sha256"] != actual["sha256"]:
        lines.append(f"  row digest expected {expected['sha256']}, got {actual['sha256']}")
    return "\n".join(lines)


def reference_sources(corpus: Path) -> list[Path]:
    return [corpus / part for part in REFERENCE_PARTS]


def relative_sources(paths: list[Path]) -> list[str]:
    """The sources as given to the recorded runs: relative to the project folder
    (`data/sample`, `../shared/corpus/wire`, ...)."""
    return [os.path.relpath(Path(p).resolve(), PROJECT) for p in paths]


# -- the test ------------------------------------------------------------------------


def _expected() -> dict[str, Any]:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


def _run(paths: list[Path], lake: Path):
    """The real flow on `paths`, given as the recorded runs gave them (relative to the
    project folder, run from it)."""
    from flows.pipeline import depeche_pipeline

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        state = depeche_pipeline(sources=relative_sources(paths), lake=str(lake), return_state=True)
    return state, digest_lake(lake)


@pytest.fixture(scope="module")
def sample_outputs(prefect_harness, sample: Path, tmp_path_factory):
    return _run([sample], tmp_path_factory.mktemp("sample-lake"))


@pytest.fixture(scope="module")
def reference_outputs(prefect_harness, corpus: Path, tmp_path_factory):
    # wherever the corpus is: the digests replace its folder with `<corpus>`
    return _run(reference_sources(corpus), tmp_path_factory.mktemp("reference-lake"))


@pytest.mark.parametrize("corpus_name", ["sample", "reference"])
def test_the_run_commits(corpus_name: str, request) -> None:
    state, _ = request.getfixturevalue(f"{corpus_name}_outputs")
    assert state.is_completed(), state.message


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("corpus_name", ["sample", "reference"])
def test_the_table_is_unchanged(corpus_name: str, table: str, request) -> None:
    _, digests = request.getfixturevalue(f"{corpus_name}_outputs")
    expected = _expected()["corpora"][corpus_name]["tables"].get(table)
    actual = digests[table]
    assert actual == expected, explain(f"{corpus_name} {table}", expected, actual)
