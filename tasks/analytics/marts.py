"""The marts, the DuckDB catalog, and the step of the flow that keeps them current.

`build_marts` runs the marts' DuckDB SQL (tasks/analytics/mart_sql.py) over the
published files it is handed (documents, entities and quotes of the partitions validate
committed, every committed quarantine file, every gate's checks) and returns one Arrow
table per mart of schemas/marts.py.
`refresh_marts` is the step: skipped when nothing published changed since the marts
were made (their manifest is keyed by the validate manifests' output fingerprints
and every stage-partition's status), else recomputed, gated and committed like a
stage (staging, rename, manifest last; the gate asks Great Expectations for verdicts,
and for the details of a mart that fails). `write_catalog` gives DuckDB users a view
per table and mart over the lake's absolute path, rewritten by every refresh so a
moved lake is right again after its next run or `depeche report`; `connect_catalog`
reads a moved lake before that.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

import schemas.marts
import schemas.tables
from schemas import (
    ALL_TABLES,
    CHECKS,
    DOCUMENTS,
    ENTITIES,
    QUARANTINE,
    QUOTES,
    STAGES,
    Table,
)
from schemas.marts import MART_STAGE, MARTS
from tasks.analytics import mart_rows, mart_sql
from tasks.analytics.report import ReportData, render_report, report_data
from tasks.code_version import code_version
from tasks.errors import DepecheError, LakeNotWritable
from tasks.execution.resources import current
from tasks.gate import SuiteRunner, gate
from tasks.lake.layout import relative_file
from tasks.lake.published import ALL, PUBLISHER, published_partitions
from tasks.lake.storage import Lake
from tasks.records import Manifest, StageKey, StageReport, Status

GATE_DAYS = pa.schema([("stage", pa.string()), ("batch", pa.string()), ("day", pa.date32())])


@dataclass(frozen=True)
class MartInputs:
    """The published files the marts are made from, and when each gate ran."""

    documents: list[str | Path]
    entities: list[str | Path]
    quarantine: list[str | Path]
    checks: list[str | Path]
    quotes: list[str | Path] = field(default_factory=list)
    # stage, batch, day: the UTC day each stage-partition's gate last ran
    gate_days: pa.Table = field(default_factory=lambda: GATE_DAYS.empty_table())
    # what the marts read of those files, by input, when carried over (mart_rows)
    rows: dict[str, pa.Table] | None = None

    def files(self) -> dict[str, list[str | Path]]:
        """The files of each input, by the name of its view."""
        return {name: getattr(self, name) for name in mart_rows.INPUTS}


def build_marts(inputs: MartInputs) -> dict[Table, pa.Table]:
    """Every mart, computed by DuckDB from the published files in `inputs` (or what
    they give the marts, when carried over)."""
    con = duckdb.connect()
    try:
        _read_inputs(con, inputs)
        for sql in mart_sql.WORKING_TABLES:
            con.execute(sql)
        return {
            mart: con.sql(mart_sql.MART_QUERIES[mart.name]).to_arrow_table().cast(mart.schema)
            for mart in MARTS
        }
    finally:
        con.close()


def _read_inputs(con: duckdb.DuckDBPyConnection, inputs: MartInputs) -> None:
    """A view of what the marts read of each input's files, and the gates' days."""
    rows = inputs.rows
    if rows is None:
        rows = {n: mart_rows.projected(con, n, files) for n, files in inputs.files().items()}
    for name, table in rows.items():
        con.register(name, table)
    con.register("gate_days", inputs.gate_days)


# -- the step ----------------------------------------------------------------------


def marts_key(lake: Lake) -> StageKey:
    """What the marts depend on: the lake's stage-partitions, this code, no setting."""
    return StageKey(
        marts_fingerprint(lake), code_version(sys.modules[__name__], schemas.marts.MARTS), {}
    )


def _made_from(
    lake: Lake, manifest: Manifest | None, key: StageKey, *, verify: bool = False
) -> bool:
    """Whether `manifest` committed the marts from `key`, and their files are intact:
    their content hashes too, as every reader of the lake reads them; a file hashed
    before and unchanged since is not read again, unless `verify`."""
    return (
        manifest is not None
        and manifest.status == Status.COMMITTED
        and manifest.made_from(key)
        and not lake.verify(manifest, deep=True, remembered=not verify)
    )


def marts_fingerprint(lake: Lake) -> str:
    """What the marts depend on: each published partition's output fingerprint, and
    where every stage-partition stands (quality_daily counts failed gates too)."""
    digest = hashlib.sha256()
    for manifest in lake.manifests():
        digest.update(
            "\0".join(
                (
                    manifest.stage,
                    manifest.partition,
                    str(manifest.status),
                    manifest.output_fingerprint or "",
                    manifest.finished_at or "",
                )
            ).encode()
        )
    return digest.hexdigest()


def mart_inputs(lake: Lake, partitions: list[str]) -> MartInputs:
    """The published files of the lake for the marts, through the storage module, and
    what they give the marts: read from the files changed since the last refresh only."""
    every = [spec.partition for spec in lake.partitions()]
    days = []
    for manifest in lake.manifests():
        if manifest.stage in STAGES and manifest.finished_at:
            day = datetime.fromisoformat(manifest.finished_at).astimezone(UTC).date()
            days.append({"stage": manifest.stage, "batch": manifest.partition, "day": day})
    published = {
        "documents": lake.published(DOCUMENTS, partitions, PUBLISHER),
        "entities": lake.published(ENTITIES, partitions, PUBLISHER),
        "quotes": lake.published(QUOTES, partitions, PUBLISHER),
        "quarantine": lake.published(QUARANTINE, every),
        "checks": lake.published(CHECKS, every),
    }
    con = duckdb.connect()
    try:
        rows = {n: mart_rows.carried(con, lake, n, files) for n, files in published.items()}
    finally:
        con.close()
    root = str(lake.root)
    return MartInputs(
        **{name: [f"{root}/{file}" for file in files] for name, files in published.items()},
        gate_days=pa.Table.from_pylist(days, schema=GATE_DAYS),
        rows=rows,
    )


def marts_are_current(lake: Lake) -> bool:
    """Whether the marts were committed from the lake as it is now (and are intact),
    and the catalog and the report are there for them (the catalog where the lake is)."""
    lake = lake.indexed()
    return (
        _made_from(lake, lake.read_marts_manifest(), marts_key(lake))
        and catalog_is_current(lake)
        and lake.report_path.exists()
        and not lake.derived.problems(deep=True, remembered=True)
    )


def refresh_marts(
    lake: Lake, suites: SuiteRunner, *, force: bool = False, verify: bool = False
) -> StageReport:
    """Recompute, gate and commit the marts unless the published partitions are as
    they were when the marts were last made; then refresh the catalog either way.
    `verify`: hash every mart, not only those changed since last hashed."""
    clock = time.perf_counter()
    lake = lake.indexed()  # the stage-partitions' state, read once
    included, left_out = published_partitions(lake)
    previous = lake.read_marts_manifest()
    key = marts_key(lake)
    if not force and _made_from(lake, previous, key, verify=verify):
        write_catalog(lake)
        report = StageReport.from_manifest(previous, Status.SKIPPED)
        report.seconds = round(time.perf_counter() - clock, 3)
        return report
    manifest = Manifest(
        stage=MART_STAGE,
        partition=ALL,
        status=Status.RUNNING,
        input_fingerprint=key.input_fingerprint,
        code_version=key.version,
        parameters={},
        started_at=datetime.now(UTC).isoformat(),
        details={"partitions": included, "left_out": left_out},
    )
    marts = build_marts(mart_inputs(lake, included))
    manifest.rows_in = sum(lake.read_manifest(PUBLISHER, p).rows_out for p in included)
    _gate_and_commit(lake, suites, marts, manifest, clock)
    write_catalog(lake)
    report = StageReport.from_manifest(manifest)
    report.ran, report.gated = True, True
    return report


def _gate_and_commit(
    lake: Lake, suites: SuiteRunner, marts: dict[Table, pa.Table], manifest: Manifest, clock: float
) -> None:
    """Stage the marts, gate what was written, then commit them with `manifest`, or
    record it failed with the rules the marts broke."""
    with lake.staging(MART_STAGE, ALL) as staging:
        written = {mart: pq.read_table(staging.write(mart, rows)) for mart, rows in marts.items()}
        # the marts' passing checks are kept in the GX report only: their verdict will do
        result = gate(written, [], suites, verdict_first=True)
        lake.gx.write(MART_STAGE, ALL, result.gx_results)
        manifest.rows_out = sum(rows.num_rows for rows in marts.values())
        manifest.details |= {"rows": {mart.name: rows.num_rows for mart, rows in marts.items()}}
        manifest.finished_at = datetime.now(UTC).isoformat()
        manifest.seconds = round(time.perf_counter() - clock, 3)
        if result.success:
            manifest.status = Status.COMMITTED
            lake.commit(staging, manifest)
        else:
            manifest.status = Status.FAILED
            manifest.error = "marts gate failed: " + "; ".join(result.failed)
            lake.write_manifest(manifest)


# -- the catalog ---------------------------------------------------------------------

# DuckDB resolves a relative path in a view against the reader's working folder (or
# its file_search_path), never against the database file, and persists no setting in
# it; a table function takes no subquery, so a view cannot look up its own file.
# So the catalog keeps the lake's absolute path in one macro, `lake_root()`, that
# every view reads its files through, and each run and `depeche report` rewrite it.
# lake_files() escapes the glob characters of the root ([, *, ?) and adds a pattern;
# lake_files_in() does it for a list: a view names its files in one call, which DuckDB
# expands once (a call per file costs a quarter of a millisecond each, at every query).
LAKE_FILES = (
    "CREATE OR REPLACE MACRO lake_files(pattern) AS "
    r"regexp_replace(lake_root(), '([\[*?])', '[\1]', 'g') || '/' || pattern",
    "CREATE OR REPLACE MACRO lake_files_in(paths) AS "
    "list_transform(paths, lambda path: lake_files(path))",
)


def _lake_root(root: Path, *, temporary: bool = False) -> str:
    """The SQL that makes `lake_root()` return `root` (for this connection only if
    `temporary`: it shadows the catalog's own)."""
    literal = "'" + str(root).replace("'", "''") + "'"
    return f"CREATE OR REPLACE {'TEMP ' if temporary else ''}MACRO lake_root() AS {literal}"


def catalog_views(lake: Lake) -> dict[str, str]:
    """The SQL of each view of the catalog, for the tables and marts that have files:
    each view lists the files committed when it was written (relative to `lake_root()`),
    never a glob, so that a reader of the catalog sees the lake as one commit left it,
    whatever is moved in or out of the table folders after (a compaction, its clean-up).
    A table whose files all have its schema is read as such: DuckDB binds it from one
    file's footer. Only one whose files differ (a lake made by an older depeche) has
    its columns matched by name, which reads every file's footer at each query."""
    lake = lake.indexed()
    partitions = [spec.partition for spec in lake.partitions()]
    views = {}
    known = lake.states.read_record(FILE_SCHEMAS)
    learned = dict(known)
    for table in ALL_TABLES:
        if table.partitioned:
            publisher = PUBLISHER if table.checkpoint else None
            files = lake.published(table, partitions, publisher)
        else:  # a mart: its one file, once made
            relative = relative_file(table, ALL, MART_STAGE)
            files = {relative: None} if (lake.root / relative).exists() else {}
        if not files:
            if table.partitioned:  # none yet (a lake that quarantined nothing): no rows
                views[table.name] = _no_rows(table)
            continue
        # the files listed, not a glob of the folder
        listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
        options = ""
        if table.partitioned:
            options = ", hive_partitioning = true"
            if not _one_schema(lake, table, files, learned):
                options += ", union_by_name = true"
        views[table.name] = f"FROM read_parquet(lake_files_in([{listed}]){options})"
    if learned != known:
        lake.states.write_record(FILE_SCHEMAS, learned)
    return views


def _no_rows(table: Table) -> str:
    """The SQL of a view of no rows with the columns (and `batch`) the table's files
    would give, typed as DuckDB reads them."""
    con = duckdb.connect()
    try:
        con.register("no_rows", table.schema.empty_table())
        columns = con.execute("DESCRIBE no_rows").fetchall()
    finally:
        con.close()
    typed = [f'NULL::{kind} AS "{name}"' for name, kind, *_ in columns]
    return f"SELECT {', '.join(typed)}, NULL::VARCHAR AS batch LIMIT 0"


FILE_SCHEMAS = "schemas"  # by table schema and file content hash: whether they agree


def _one_schema(lake: Lake, table: Table, files: dict[str, str | None], learned: dict) -> bool:
    """Whether every file has the table's schema. A file's footer is read once: what
    it said is kept in `learned` under the table's schema and the file's content hash
    (a file no manifest records is read every time)."""
    schema = table.schema.to_string(show_field_metadata=False, show_schema_metadata=False)
    expected = hashlib.sha256(schema.encode()).hexdigest()[:16]
    for path, content in files.items():
        key = f"{expected}/{content}"
        agrees = learned.get(key) if content is not None else None
        if agrees is None:
            try:
                agrees = pq.read_schema(lake.root / path).equals(table.schema)
            except (OSError, pa.ArrowException):  # damaged: the query will say so
                return False
            if content is not None:
                learned[key] = agrees
        if not agrees:
            return False
    return True


def write_catalog(lake: Lake) -> Path:
    """Write `<lake>/depeche.duckdb`, a view per table and mart over the lake where it
    is now (its absolute path), atomically; a catalog intact and made by the same
    statements is left as it is (DuckDB binds every file a view lists, about 30 µs a
    file: half a second at 1,000 partitions)."""
    target = lake.catalog_path
    if target.is_dir():
        raise LakeNotWritable(
            f"{target} is a folder, where depeche writes its catalog: move it away, "
            f"then `depeche report --lake {lake.root}` writes the catalog"
        )
    statements = [_lake_root(lake.root.resolve()), *LAKE_FILES]
    statements += [f"CREATE OR REPLACE VIEW {n} AS {sql}" for n, sql in catalog_views(lake).items()]
    digest = hashlib.sha256("\n".join(statements).encode()).hexdigest()
    if _catalog_macro(target, "catalog_digest") == digest and lake.derived.intact(target):
        return target
    statements.append(f"CREATE OR REPLACE MACRO catalog_digest() AS '{digest}'")
    building = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(building))
        try:
            for statement in statements:
                con.execute(statement)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(building, target)
    finally:  # nothing half-built is left, whatever stopped it
        for leftover in (building, building.with_name(building.name + ".wal")):
            leftover.unlink(missing_ok=True)
    lake.derived.record(target)
    return target


def catalog_root(path: str | Path) -> Path | None:
    """The lake folder the catalog at `path` reads its files from (`lake_root()`), or
    None when there is no catalog or it cannot be read (or an older depeche wrote it)."""
    root = _catalog_macro(path, "lake_root")
    return None if root is None else Path(root)


def _catalog_macro(path: str | Path, macro: str) -> str | None:
    """What the catalog's macro `macro` gives; None without a catalog, or one that
    cannot be read or has no such macro (an older depeche wrote it)."""
    if not os.path.isfile(path):
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        return str(con.execute(f"SELECT {macro}()").fetchall()[0][0])
    except duckdb.Error:
        return None
    finally:
        con.close()


def catalog_is_current(lake: Lake) -> bool:
    """Whether the lake's catalog reads this lake where it is now: false after the
    lake moved, until its next run or `depeche report` rewrites the catalog."""
    return lake.catalog_path.exists() and catalog_root(lake.catalog_path) == lake.root.resolve()


def connect_catalog(path: str | Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a lake's catalog from any working folder, even after the lake moved and
    before its next run rewrote the catalog: for this connection, `lake_root()` is the
    folder the catalog is in. Nothing is written to the lake."""
    path = Path(path)
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(_lake_root(path.resolve().parent, temporary=True))
    return con


# -- the Prefect task ------------------------------------------------------------------


# what stops the marts, the catalog or the report, said in one line rather than raised
MARTS_STOPPED = (DepecheError, duckdb.Error, OSError, pa.ArrowException)


def why_marts_stopped(lake: Lake, error: BaseException) -> str:
    """The cause of a failed marts step in one line, with what to do."""
    if isinstance(error, DepecheError):
        return str(error)
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"the lake cannot be written: {error.strerror}{where}"
        return f"{error.strerror or type(error).__name__}{where}"
    # a published file the sizes do not show damaged (its footer changed)
    return (
        f"{type(error).__name__}: {str(error).splitlines()[0]}; a published file may be "
        f"damaged: `depeche status --verify --lake {lake.root}` finds it and "
        f"`depeche rerun --failed --verify --lake {lake.root}` redoes it"
    )


@dataclass
class LakeViews:
    """What the marts step made: its report, and the report page's data and path."""

    marts: StageReport
    data: ReportData | None = None  # when the report was written
    report: Path | None = None


def refresh_lake_views(
    lake: Lake, suites: SuiteRunner, generated_at: str, *, verify: bool = False
) -> LakeViews:
    """Bring the marts, the catalog and the report up to date; what stops them is a
    failed marts report with its cause, never an exception. `verify`: see refresh_marts.
    The lake's records are read once for all three (and its manifests parsed once)."""
    try:
        lake = lake.indexed()
        marts = refresh_marts(lake, suites, verify=verify)
        if not marts.ok:
            return LakeViews(marts)
        data = report_data(lake, generated_at)
        return LakeViews(marts, data, lake.derived.write_report(render_report(data)))
    except MARTS_STOPPED as error:
        message = why_marts_stopped(lake, error)
        return LakeViews(StageReport(MART_STAGE, ALL, Status.FAILED, message=message))


@task(name="marts", cache_policy=NO_CACHE)
def marts_task(lake: str, verify: bool = False) -> StageReport:
    """Bring the marts, the catalog and the report up to date, and tell the run's
    Prefect artifact the lake's totals and where the report is."""
    store = Lake(lake)
    made = refresh_lake_views(
        store, current().suites(), datetime.now(UTC).isoformat(timespec="seconds"), verify=verify
    )
    report = made.marts
    logger = get_run_logger()
    logger.info("marts %s: %s rows, %.1f s", report.status, report.rows_out, report.seconds)
    if made.data is None or made.report is None:
        logger.error("marts not made: %s", report.message)
        return report
    create_markdown_artifact(
        key="depeche-lake",
        markdown=totals_markdown(made.data.totals, made.data.left_out, made.report),
        description="The lake's totals and its report",
    )
    return report


def totals_markdown(totals: dict[str, int], left_out: dict[str, str], report: Path) -> str:
    """The lake's totals as a Markdown table, the partitions left out, the report."""
    lines = ["| total | value |", "|---|---|"]
    lines += [f"| {name.replace('_', ' ')} | {value} |" for name, value in totals.items()]
    lines += ["", f"Report: `{report}`"]
    lines += [f"- not in the marts: `{p}` ({why})" for p, why in left_out.items()]
    return "\n".join(lines) + "\n"
