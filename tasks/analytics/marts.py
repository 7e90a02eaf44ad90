"""The marts, the DuckDB catalog, and the step of the flow that keeps them current.

`build_marts` runs the marts' DuckDB SQL (tasks/analytics/mart_sql.py) over the
published files it is handed (documents, entities and quotes of the partitions validate
committed, every committed quarantine file, every gate's checks) and returns one Arrow
table per mart of schemas/marts.py.
`refresh_marts` is the step: skipped when nothing published changed since the marts
were made (their manifest is keyed by the validate manifests' output fingerprints
and every stage-partition's status), else made again from their state
(tasks/analytics/mart_state.py: only the files changed are read, only the months
they touch made again), gated and committed like a stage (staging, rename, manifest
last; the gate asks Great Expectations for verdicts, and for the details of a mart
that fails). `write_catalog` gives DuckDB users a view
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
import pyarrow.compute as pc
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
from tasks.analytics import mart_sql, mart_state
from tasks.analytics.report import ReportData, render_report, report_data
from tasks.code_version import code_version
from tasks.errors import DepecheError, LakeNotWritable
from tasks.execution.resources import current
from tasks.faults import fault_point
from tasks.gate import SuiteRunner, gate
from tasks.lake.files import PART_FILE
from tasks.lake.published import (
    ALL,
    PUBLISHER,
    mart_files,
    published_partitions,
    sql_string,
    sql_strings,
)
from tasks.lake.storage import Lake
from tasks.records import Manifest, OutputFile, StageKey, StageReport, Status

GATE_DAYS = pa.schema([("stage", pa.string()), ("batch", pa.string()), ("day", pa.date32())])
DAILY = [mart for mart in MARTS if mart.name in mart_sql.DAILY_QUERIES]
"""The marts by day: a file per segment (the month of their periods), each made again
only when a refresh touched its segment."""


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

    def files(self) -> dict[str, list[str | Path]]:
        """The files of each input, by the name of its view."""
        return {name: getattr(self, name) for name in mart_state.INPUTS}


def build_marts(inputs: MartInputs) -> dict[Table, pa.Table]:
    """Every mart, computed whole by DuckDB from the published files in `inputs`."""
    con = mart_state.open_state(None)
    try:
        for name, files in inputs.files().items():
            mart_state.load(con, name, files)
        mart_state.settle(con)
        made = mart_state.recompute(con, mart_state.every_segment(con), inputs.gate_days)
        return {mart: _as_mart(mart, made[mart.name]) for mart in MARTS}
    finally:
        con.close()


def _as_mart(mart: Table, rows: pa.Table) -> pa.Table:
    """Rows of `mart` without their segment, with its schema."""
    if "segment" in rows.column_names:
        rows = rows.drop_columns(["segment"])
    return rows.cast(mart.schema)


# -- the step ----------------------------------------------------------------------


def marts_key(lake: Lake) -> StageKey:
    """What the marts depend on: the lake's stage-partitions, this code, no setting."""
    return StageKey(
        marts_fingerprint(lake), code_version(sys.modules[__name__], schemas.marts.MARTS), {}
    )


def _made_from(
    lake: Lake, manifest: Manifest | None, key: StageKey, *, verify: bool = False
) -> bool:
    """Whether `manifest` committed the marts from `key`, and their files are intact."""
    return manifest is not None and manifest.made_from(key) and _intact(lake, manifest, verify)


def _intact(lake: Lake, manifest: Manifest | None, verify: bool) -> bool:
    """Whether `manifest` committed marts whose files are intact: their content hashes
    too, as every reader of the lake reads them; a file hashed before and unchanged
    since is not read again, unless `verify`."""
    return (
        manifest is not None
        and manifest.status == Status.COMMITTED
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


def published_inputs(lake: Lake, partitions: list[str]) -> dict[str, dict[str, str]]:
    """The published files the marts read, by input: those of `partitions` for the
    articles, every partition's for the rejects and the gates (relative to the root,
    with the content hash each manifest recorded)."""
    every = [spec.partition for spec in lake.partitions()]
    return {
        "documents": lake.published(DOCUMENTS, partitions, PUBLISHER),
        "entities": lake.published(ENTITIES, partitions, PUBLISHER),
        "quotes": lake.published(QUOTES, partitions, PUBLISHER),
        "quarantine": lake.published(QUARANTINE, every),
        "checks": lake.published(CHECKS, every),
    }


def gate_days(lake: Lake) -> pa.Table:
    """The UTC day each stage-partition's gate last ran."""
    days = []
    for manifest in lake.manifests():
        if manifest.stage in STAGES and manifest.finished_at:
            day = datetime.fromisoformat(manifest.finished_at).astimezone(UTC).date()
            days.append({"stage": manifest.stage, "batch": manifest.partition, "day": day})
    return pa.Table.from_pylist(days, schema=GATE_DAYS)


@dataclass
class MartFiles:
    """What a refresh makes of the marts: the rows of each file it writes, and the
    files of the last commit it keeps as they are, by mart and file name."""

    written: dict[Table, dict[str, pa.Table]]
    kept: dict[Table, dict[str, OutputFile]]

    def rows(self) -> dict[Table, pa.Table]:
        """The rows written, by mart: what the gate checks (those kept passed it)."""
        return {
            mart: pa.concat_tables([mart.schema.empty_table(), *files.values()])
            for mart, files in self.written.items()
        }


def make_marts(
    lake: Lake, state: duckdb.DuckDBPyConnection, partitions: list[str], last: Manifest | None
) -> MartFiles:
    """Bring `state` to the lake's published files and make the marts' files again: of
    the marts by day, only the segments whose rows changed or a settlement moved, the
    others' files kept from `last` (the marts' last commit, made by this state, intact);
    every segment without it."""
    touched = mart_state.update(state, lake.root, published_inputs(lake, partitions))
    touched |= mart_state.settle(state)
    kept = _files_by_mart(last) if last is not None else {}
    if last is None:
        touched |= mart_state.every_segment(state)
    made = mart_state.recompute(state, touched, gate_days(lake))
    written: dict[Table, dict[str, pa.Table]] = {}
    for mart in MARTS:
        rows = made[mart.name]
        if mart not in DAILY:
            written[mart] = {PART_FILE: _as_mart(mart, rows)}
            kept.pop(mart, None)
            continue
        written[mart] = {}
        for segment in sorted(touched):
            part = rows.filter(pc.equal(rows["segment"], segment))
            if part.num_rows:
                written[mart][f"{segment}.parquet"] = _as_mart(mart, part)
        kept[mart] = {
            name: output
            for name, output in kept.get(mart, {}).items()
            if name.removesuffix(".parquet") not in touched
        }
    return MartFiles(written, kept)


def _files_by_mart(manifest: Manifest) -> dict[Table, dict[str, OutputFile]]:
    """The files `manifest` committed, by mart and file name."""
    by_path = {f"{mart.path}/": mart for mart in MARTS}
    found: dict[Table, dict[str, OutputFile]] = {}
    for output in manifest.outputs:
        folder, _, name = output.path.rpartition("/")
        if f"{folder}/" in by_path:
            found.setdefault(by_path[f"{folder}/"], {})[name] = output
    return found


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
    """Make, gate and commit the marts again unless the published partitions are as
    they were when the marts were last made; then refresh the catalog either way.
    Only what changed is read and made again (mart_state), unless `force`.
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
    options = {"force": force, "verify": verify, "clock": clock}
    path = lake.index_file(mart_state.STATE_FILE)
    try:
        _make_and_commit(lake, suites, mart_state.open_state(path), manifest, previous, **options)
    except duckdb.Error:  # the state damaged beyond what opening it shows: made anew
        _make_and_commit(lake, suites, mart_state.fresh_state(path), manifest, previous, **options)
    write_catalog(lake)
    report = StageReport.from_manifest(manifest)
    report.ran, report.gated = True, True
    return report


def _make_and_commit(
    lake: Lake,
    suites: SuiteRunner,
    state: duckdb.DuckDBPyConnection,
    manifest: Manifest,
    previous: Manifest | None,
    *,
    force: bool,
    verify: bool,
    clock: float,
) -> None:
    """Make the marts from `state`, gate and commit them, then commit the state's
    update; a state that did not make the marts `previous` committed (or `force`) has
    every month made again, and what stops here leaves the state as it was."""
    try:
        state.begin()
        carry = (
            not force
            and previous is not None
            and mart_state.made_for(state) == previous.output_fingerprint
            and _intact(lake, previous, verify)
        )
        last = previous if carry else None
        files = make_marts(lake, state, manifest.details["partitions"], last)
        manifest.rows_in = sum(
            lake.read_manifest(PUBLISHER, p).rows_out for p in manifest.details["partitions"]
        )
        _gate_and_commit(lake, suites, files, manifest, previous, clock)
        if manifest.status == Status.COMMITTED:
            fault_point("marts:made")
            mart_state.mark_made(state, manifest.output_fingerprint or "")
            state.commit()
    finally:
        state.close()  # what was not committed is rolled back


def _gate_and_commit(
    lake: Lake,
    suites: SuiteRunner,
    files: MartFiles,
    manifest: Manifest,
    previous: Manifest | None,
    clock: float,
) -> None:
    """Stage the marts' files (those kept, linked), gate the rows written, then commit
    them with `manifest`, or record it failed with the rules the marts broke."""
    counted = (previous.details.get("file_rows", {}) if previous is not None else {}) or {}
    file_rows: dict[str, int] = {}
    with lake.staging(MART_STAGE, ALL) as staging:
        for mart in MARTS:
            for name, rows in files.written[mart].items():
                staging.write(mart, rows, name=name)
                file_rows[f"{mart.path}/{name}"] = rows.num_rows
            for name, output in files.kept.get(mart, {}).items():
                staging.link(mart, lake.root / output.path, name=name, described=output)
                file_rows[output.path] = counted.get(output.path, 0)
            if not files.written[mart] and not files.kept.get(mart):
                staging.clear(mart)  # no rows: no file, and none of the last commit left
        # the marts' passing checks are kept in the GX report only: their verdict will do
        result = gate(files.rows(), [], suites, verdict_first=True)
        lake.gx.write(MART_STAGE, ALL, result.gx_results)
        manifest.rows_out = sum(file_rows.values())
        rows_by_mart = {
            mart.name: sum(n for path, n in file_rows.items() if path.startswith(f"{mart.path}/"))
            for mart in MARTS
        }
        manifest.details |= {"rows": rows_by_mart, "file_rows": file_rows}
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
    return (
        f"CREATE OR REPLACE {'TEMP ' if temporary else ''}MACRO lake_root() AS {sql_string(root)}"
    )


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
        else:  # a mart: its files, once made
            files = dict.fromkeys(mart_files(lake, table))
        if not files:  # none yet (a lake that quarantined nothing, no marts): no rows
            views[table.name] = _no_rows(table)
            continue
        # the files listed, not a glob of the folder
        options = ""
        if table.partitioned:
            options = ", hive_partitioning = true"
            if not _one_schema(lake, table, files, learned):
                options += ", union_by_name = true"
        views[table.name] = f"FROM read_parquet(lake_files_in([{sql_strings(files)}]){options})"
    if learned != known:
        lake.states.write_record(FILE_SCHEMAS, learned)
    return views


def _no_rows(table: Table) -> str:
    """The SQL of a view of no rows with the columns (and a partitioned table's `batch`)
    the table's files would give, typed as DuckDB reads them."""
    con = duckdb.connect()
    try:
        con.register("no_rows", table.schema.empty_table())
        columns = con.execute("DESCRIBE no_rows").fetchall()
    finally:
        con.close()
    typed = [f'NULL::{kind} AS "{name}"' for name, kind, *_ in columns]
    if table.partitioned:
        typed.append("NULL::VARCHAR AS batch")
    return f"SELECT {', '.join(typed)} LIMIT 0"


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
