"""The `depeche` command line."""

from __future__ import annotations

import contextlib
import errno
import functools
import gc
import inspect
import logging
import os
import re
import signal
import sys
import typing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from schemas import DOCUMENTS, QUARANTINE, STAGES
from tasks.errors import EXIT_FAILED, EXIT_USAGE, DepecheError
from tasks.execution.processes import STOP_SIGNALS, redeliver_lost_stops
from tasks.settings import Settings, SettingsGiven, describe_problems, help_of, setting_bounds

# the rest is imported inside the command that needs it: `depeche --help` and a usage
# error answer at once, without loading Prefect, spaCy or Great Expectations

if TYPE_CHECKING:
    from flows.pipeline import RunSummary
    from flows.serving import PrefectServer
    from tasks.compaction import Compaction
    from tasks.planning import PlanCounts
    from tasks.progress import ProgressSink
    from tasks.records import StageReport, StatusRow

DEFAULT_SOURCE = "data/sample"

app = typer.Typer(
    name="depeche",
    help="French news articles into validated, annotated Parquet tables.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console(width=None if sys.stdout.isatty() else 120, highlight=False)
err = Console(stderr=True, highlight=False)

LakePath = Annotated[Path, typer.Option(help="Root folder of the lake.")]


def _setting_option(name: str) -> Any:
    """The CLI option of one setting, from its declaration in tasks/settings.py."""
    field = Settings.model_fields[name]
    bounds = setting_bounds(name)
    return Annotated[
        field.annotation | None,
        typer.Option(
            help=f"{help_of(name)} Left out: the lake's last run's value, "
            f"else {field.get_default(call_default_factory=True)}.",
            show_default=False,
            min=bounds.get("ge"),
            max=bounds.get("le"),
        ),
    ]


def with_settings(command: Any) -> Any:
    """Give a command that runs the flow an option per setting (`--batch-size`…) and
    the run's own options (`--wait`, `--verify`, `--verbose`); it receives them as one
    `settings: SettingsGiven` and one `options: RunOptions`."""
    hints = typing.get_type_hints(command, include_extras=True)
    own = [
        parameter.replace(annotation=hints[parameter.name])
        for parameter in inspect.signature(command).parameters.values()
        if parameter.name not in ("settings", "options")
    ]
    keyword = inspect.Parameter.KEYWORD_ONLY
    run_options = [
        inspect.Parameter(name, keyword, default=default, annotation=annotation)
        for name, (annotation, default) in RUN_OPTIONS.items()
    ]
    setting_options = [
        inspect.Parameter(name, keyword, default=None, annotation=_setting_option(name))
        for name in Settings.model_fields
    ]

    @functools.wraps(command)
    def with_options(**given: Any) -> Any:
        options = RunOptions(**{name: given.pop(name) for name in RUN_OPTIONS})
        values = {name: given.pop(name) for name in Settings.model_fields}
        try:
            settings = SettingsGiven(**values)
        except ValidationError as error:  # what typer's own checks let through (a pattern)
            raise CommandError(describe_problems(error)) from None
        return command(**given, settings=settings, options=options)

    parameters = own + run_options + setting_options
    with_options.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in parameters}
    return with_options


Wait = Annotated[
    float,
    typer.Option(min=0.0, help="Seconds to wait for another run to release the lake."),
]
Verbose = Annotated[bool, typer.Option(help="Show Prefect's own log lines.")]


class CommandError(DepecheError):
    """A mistake in the command line, reported as one line, exit code 2."""


class RunStopped(DepecheError):
    """An unexpected error that escaped the flow: one line, exit code 1."""

    exit_code = EXIT_FAILED


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM received: raised where the command is, so that it
    unwinds as after a kill, releasing the lake and stopping its server."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: list[int] = []  # the signals that interrupted the command


def _interrupt(signum: int, _frame: Any) -> NoReturn:
    _received.append(signum)
    raise Interrupted(signum)


def _signal_of(error: BaseException | None) -> int | None:
    """The signal an exception stands for: ours, a bare KeyboardInterrupt, or
    Prefect's TerminationSignal (its SIGTERM handler during a flow run)."""
    if isinstance(error, Interrupted):
        return error.signum
    if isinstance(error, KeyboardInterrupt):
        return signal.SIGINT
    prefect_exceptions = sys.modules.get("prefect.exceptions")
    if prefect_exceptions is not None and isinstance(error, prefect_exceptions.TerminationSignal):
        return int(error.signal)
    return None


def _report_interruption(signum: int) -> int:
    """One line for an interrupted command; its exit code (128 + the signal)."""
    for caught in STOP_SIGNALS:  # the line and the exit, uncut
        signal.signal(caught, signal.SIG_IGN)
    name = signal.Signals(signum).name
    what = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "command"
    err.print(
        f"depeche: {what} interrupted ({name}); the stage-partitions that were running "
        "are redone by the next run",
        markup=False,
        soft_wrap=True,
    )
    return 128 + signum


def _report_disk_full(error: OSError) -> int:
    where = f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    err.print(
        f"depeche: the disk is full ({where}); free space, then run again "
        "— stages that did not commit are redone",
        markup=False,
        soft_wrap=True,
    )
    return EXIT_FAILED


def _configure_logging(verbose: bool) -> None:
    """Before Prefect is imported (it sets its logging up on import): no telemetry,
    and Prefect's own log lines only with --verbose or when serving; otherwise the
    summary says what happened, and the lines still reach Prefect's API."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    # INFO reaches Prefect's API (a line per stage-partition for the UI) in any case
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "0" if verbose else "CRITICAL")


def _quiet_libraries() -> None:
    # Extraction and validation libraries warn about every odd page; the quarantine
    # table records what matters.
    for name in ("trafilatura", "htmldate", "courlan", "great_expectations", "py3langid"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _check_sources(sources: list[str], lake: Path, settings: SettingsGiven) -> None:
    """Paths that name files; a word to the user when web sources go out under a user
    agent that names no contact."""
    from tasks.lake.storage import Lake
    from tasks.settings import resolve_settings
    from tasks.sources.files import discover
    from tasks.web.listing import is_url

    paths = [source for source in sources if not is_url(source)]
    if paths and not discover(paths):
        raise CommandError(f"no files found in {', '.join(paths)}")
    if len(paths) < len(sources):
        agent = resolve_settings(Lake(lake).last_settings(), settings).user_agent
        if "http" not in agent and "@" not in agent:
            err.print(
                f"depeche: the user agent {agent!r} names no contact: sites you fetch from "
                "cannot reach you; give one with --user-agent 'depeche/0.1 "
                "(+https://your.site/bot)'",
                soft_wrap=True,
            )


def _check_model(lake: Path, settings: SettingsGiven) -> str | None:
    """The model the run will use (the one given, the lake's last, or the default),
    once it is known to be installed; None when the run's stage-partitions go to a
    cluster, whose workers load their own (this process need not)."""
    from tasks.lake.storage import Lake
    from tasks.nlp.model import installed_version
    from tasks.settings import resolve_settings

    resolved = resolve_settings(Lake(lake).last_settings(), settings)
    installed_version(resolved.model)  # ModelNotInstalled
    return resolved.model if resolved.runner == "local" else None


def _check_dates(since: str | None, until: str | None) -> None:
    from tasks.text.dates import DateWindow, InvalidDate

    try:
        DateWindow.parse(since, until)
    except InvalidDate as error:
        raise CommandError(f"{error} (use YYYY, YYYY-MM or YYYY-MM-DD)") from None


def _imports_done() -> None:
    """What a command has imported (Prefect, spaCy, Great Expectations: a few hundred
    thousand objects) lives as long as the process: kept out of the cyclic collector's
    walks, which reading the state of a large lake would otherwise repeat over all of
    it (a third of the idle check's time at 1,000 partitions)."""
    gc.freeze()


def _coloured(status: str) -> str:
    colour = {"committed": "green", "skipped": "cyan", "failed": "red"}.get(status, "yellow")
    return f"[{colour}]{status}[/]"


def _print_summary(summary: RunSummary) -> None:
    if summary.plan is not None:
        out.print(_plan_line(summary.plan, summary.planned), soft_wrap=True)
    for problem in summary.problems:
        err.print(
            f"[yellow]source not read[/]: {problem.source}: {problem.reason} ({problem.detail})",
            soft_wrap=True,
            markup=True,
        )
    reports = [r for r in summary.reports if r.status != "skipped"]
    if reports:
        out.print(_reports_table(reports, cluster=bool(summary.workers)))
    if summary.workers:
        out.print(_workers_line(summary), soft_wrap=True)
    if summary.hosts:
        out.print(_hosts_table("web pages by host", summary.hosts))
    counts = summary.counts()
    out.print(
        "stage-partitions: "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none")
        + (" (skipped: unchanged since committed)" if counts.get("skipped") else "")
    )
    gated = [r for r in summary.reports if r.gated]
    if gated:
        passed = sum(r.ok for r in gated)
        out.print(f"gates: {passed} passed, {len(gated) - passed} failed")
    _print_outputs(summary)
    for failure in summary.failures:
        err.print(
            f"[red]FAILED[/] stage {failure.stage}, partition {failure.partition}: "
            f"{failure.message}",
            soft_wrap=True,
        )
    if summary.failures:
        err.print(f"fix the cause, then rerun with: {summary.rerun_command}", soft_wrap=True)


def _plan_line(plan: PlanCounts, planned: list[str]) -> str:
    """What the sources brought: items found and new, and the partitions planned."""
    line = f"sources: {plan.found} items found, {plan.new} new"
    if plan.outside_range or plan.undated:
        line += f" ({plan.outside_range} outside the dates, {plan.undated} undated)"
    if plan.retried or plan.not_modified:
        line += f"; web: {plan.retried} retried, {plan.not_modified} sources not modified"
    return f"{line}; new partitions: {', '.join(planned) or 'none'}"


def _reports_table(reports: list[StageReport], cluster: bool) -> Table:
    """A row per stage-partition that did not skip; on a cluster, the worker too."""
    table = Table(title="depeche run", title_justify="left")
    for column in ("partition", "stage", "status", "in", "out", "quarantined", "reasons"):
        table.add_column(column, justify="right" if column in ("in", "out") else "left")
    table.add_column("s", justify="right")
    if cluster:
        table.add_column("worker")
    for r in reports:
        table.add_row(
            r.partition,
            r.stage,
            _coloured(r.status),
            str(r.rows_in),
            str(r.rows_out),
            str(r.rows_quarantined),
            r.reasons,
            f"{r.seconds:.1f}",
            *([r.worker] if cluster else []),
        )
    return table


def _print_outputs(summary: RunSummary) -> None:
    """Where the run's tables, quarantine, reports, marts and catalog are."""
    from tasks.lake.storage import Lake

    lake = Lake(summary.lake)
    out.print(f"tables: {lake.table_dir(DOCUMENTS).parent}/{{documents,sentences,entities,quotes}}")
    out.print(f"quarantine: {lake.table_dir(QUARANTINE)}   reports: {lake.reports_dir}")
    if summary.marts is None:
        return
    out.print(
        f"marts: {summary.marts.status}   report: {lake.report_path}   "
        f"catalog: {lake.catalog_path}",
        soft_wrap=True,
    )
    if not summary.marts.ok:
        err.print(f"[red]FAILED[/] marts: {summary.marts.message}", soft_wrap=True)


def _workers_line(summary: RunSummary) -> str:
    """Per Dask worker: the stage-partitions it ran and its peak memory."""
    ran: dict[str, list[float]] = {name: [] for name in summary.workers}
    for report in summary.reports:
        if report.worker:
            ran.setdefault(report.worker, []).append(report.worker_peak_mb)
    return "workers: " + "; ".join(
        f"{name} ran {len(peaks)} stage-partitions, peak {max(peaks, default=0):.0f} MB"
        for name, peaks in ran.items()
    )


def _hosts_table(title: str, hosts: dict[str, dict[str, int]]) -> Table:
    from tasks.sources.web import OUTCOMES

    table = Table(title=title, title_justify="left")
    table.add_column("host")
    for outcome in OUTCOMES:
        table.add_column(outcome.replace("_", " "), justify="right")
    for host, counts in hosts.items():
        table.add_row(host, *(str(counts.get(outcome, 0)) for outcome in OUTCOMES))
    return table


@contextlib.contextmanager
def _temporary_server() -> Iterator[PrefectServer | None]:
    """Prefect's temporary server, started at once when no API URL is in the
    environment (the command checks its input and loads its model meanwhile)."""
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    from flows.serving import PrefectServer

    server = PrefectServer()
    try:
        yield server
    finally:
        server.stop()


def _use_server(server: PrefectServer | None) -> None:
    """Point every Prefect client of this process at the temporary server, unless
    Prefect's settings (a profile, .env, prefect.toml) name an API or turn the
    temporary server off: then Prefect does as they say."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if server is None or PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return
    try:
        os.environ["PREFECT_API_URL"] = server.ready()
    except RuntimeError as error:
        raise CommandError(str(error)) from None
    refresh_global_settings_context()


def _run_flow(
    server: PrefectServer | None,
    used_model: str | None,
    parameters: dict[str, Any],
    verbose: bool,
) -> NoReturn:
    """Run the flow with `parameters`, then say what it did and exit with its code;
    `used_model`, the model it resolves to, loads meanwhile (None: the
    stage-partitions run on a cluster)."""
    if not verbose:
        _quiet_libraries()
    from flows.pipeline import depeche_pipeline, summary_of
    from tasks.execution.resources import Resources, using

    _imports_done()
    with _progress_bars() as show, using(Resources(progress=show)) as resources:
        resources.warm_up(used_model)
        _use_server(server)
        state = depeche_pipeline(**parameters, return_state=True)
    _exit_with(summary_of(state))


@contextlib.contextmanager
def _progress_bars() -> Iterator[ProgressSink]:
    """A progress bar per stage-partition on stderr (a terminal only), gone when done;
    yields the callback the stages report their progress to."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        auto_refresh=False,  # redrawn on each update: no thread competing with the work
        disable=not err.is_terminal,
    ) as progress:
        bars: dict[tuple[str, str], Any] = {}

        def show(stage: str, partition: str, done: int, total: int) -> None:
            key = (stage, partition)
            if key not in bars:
                bars[key] = progress.add_task(f"{stage} {partition}", total=total)
            progress.update(bars[key], completed=done, refresh=True)

        yield show


def _exit_with(summary: RunSummary | BaseException) -> NoReturn:
    """Say what the run did, or why it stopped, and exit with its code."""
    if isinstance(summary, OSError) and summary.errno == errno.ENOSPC:
        raise summary  # main() says the disk is full
    if isinstance(summary, BaseException):  # a bug, not the user's doing: exit 1
        raise RunStopped(f"the run stopped: {type(summary).__name__}: {summary}") from summary
    if summary.error:
        err.print(f"depeche: {summary.error}", markup=False, soft_wrap=True)
        raise typer.Exit(summary.exit_code)
    _print_summary(summary)
    raise typer.Exit(summary.exit_code)


def _flow_parameters(
    lake: Path, settings: SettingsGiven, options: RunOptions, **request: Any
) -> dict[str, Any]:
    """The flow's parameters: the lake, the settings given, how long to wait for the
    lake's lock, whether to hash every file, and what the run is asked to do."""
    return {
        "lake": str(lake),
        "settings": settings,
        "wait_seconds": options.wait,
        "verify": options.verify,
        **request,
    }


Sources = Annotated[
    list[str] | None,
    typer.Argument(
        help="Folders, files or globs of .txt (wire), .html and .jsonl articles and "
        ".urls lists of article URLs; URLs of RSS/Atom feeds, sitemaps or pages. "
        f"Default: {DEFAULT_SOURCE}.",
        show_default=False,
    ),
]
Since = Annotated[
    str | None,
    typer.Option(help="Backfill: only articles published on or after (YYYY[-MM[-DD]])."),
]
Until = Annotated[
    str | None,
    typer.Option(help="Backfill: only articles published on or before (YYYY[-MM[-DD]])."),
]


Verify = Annotated[
    bool,
    typer.Option(
        "--verify",
        help="Check every committed file's content hash too (always: that it exists "
        "and has its committed size).",
    ),
]


@dataclass(frozen=True)
class RunOptions:
    """How a command that runs the flow runs it, besides the settings."""

    wait: float  # seconds to wait for another run to release the lake
    verify: bool  # hash every committed file, not only its size
    verbose: bool  # show Prefect's own log lines


RUN_OPTIONS = {"wait": (Wait, 0.0), "verify": (Verify, False), "verbose": (Verbose, False)}


@app.command()
@with_settings
def run(
    sources: Sources = None,
    lake: LakePath = Path("data/lake"),
    since: Since = None,
    until: Until = None,
    *,
    settings: SettingsGiven,
    options: RunOptions,
) -> None:
    """Take what is new in SOURCES into the lake and bring every partition up to date.

    New items (files, lines of .jsonl files, web pages that feeds, sitemaps and URL
    lists name) make a new partition; with --since or --until, one partition per
    publication month of the articles in range.
    """
    _configure_logging(options.verbose)
    sources = sources or [DEFAULT_SOURCE]
    from tasks.lake.storage import Lake

    Lake(lake).writable()
    with _temporary_server() as server:
        _check_sources(sources, lake, settings)
        resolved_model = _check_model(lake, settings)
        _check_dates(since, until)
        from flows.pipeline import idle_run

        _imports_done()
        idle = None if options.verify else idle_run(str(lake), sources, settings, since, until)
        if idle is not None:  # nothing new, nothing to redo: Prefect is not needed
            _print_summary(idle)
            raise typer.Exit(0)
        asked = {"sources": sources, "since": since, "until": until}
        parameters = _flow_parameters(lake, settings, options, **asked)
        _run_flow(server, resolved_model, parameters, options.verbose)


Failed = Annotated[bool, typer.Option("--failed", help="Rerun the failed stage-partitions.")]
FromStage = Annotated[
    str | None,
    typer.Option("--from", help=f"Force this stage ({', '.join(STAGES)}) and the ones after it."),
]
Partitions = Annotated[
    list[str] | None,
    typer.Option(help="Only this partition (repeat for more). Default: all."),
]


@app.command()
@with_settings
def rerun(
    lake: LakePath = Path("data/lake"),
    failed: Failed = False,
    from_stage: FromStage = None,
    partition: Partitions = None,
    *,
    settings: SettingsGiven,
    options: RunOptions,
) -> None:
    """Rerun what failed (--failed), or force a stage and what follows (--from)."""
    from tasks.lake.storage import Lake

    _configure_logging(options.verbose)
    if not failed and from_stage is None:
        raise CommandError("say what to rerun: --failed, or --from STAGE")
    if from_stage is not None and from_stage not in STAGES:
        raise CommandError(f"--from takes one of {', '.join(STAGES)}, not {from_stage!r}")
    Lake(lake).require()
    with _temporary_server() as server:
        resolved_model = _check_model(lake, settings)
        asked = {"rerun_failed": failed, "from_stage": from_stage, "partitions": partition}
        parameters = _flow_parameters(lake, settings, options, **asked)
        _run_flow(server, resolved_model, parameters, options.verbose)


NEWEST_SHOWN = 12  # a year of hourly partitions is no table to read


def _shown_rows(rows: list[StatusRow], newest: int | None) -> tuple[list[StatusRow], int]:
    """The rows `status` lists: those of the `newest` partitions (all: None), of every
    partition with a stage not committed, and the lake-wide files; and how many
    partitions it leaves out."""
    from tasks.records import Status

    partitions = list(dict.fromkeys(row.partition for row in rows if row.stage in STAGES))
    if newest is None or len(partitions) <= newest:
        return rows, 0
    listed = set(partitions[-newest:])
    listed |= {row.partition for row in rows if row.status != Status.COMMITTED}
    shown = [row for row in rows if row.stage not in STAGES or row.partition in listed]
    return shown, len(set(partitions) - listed)


Newest = Annotated[
    int,
    typer.Option(
        min=1,
        help="List the newest N partitions, and every partition with a stage not "
        "committed; the older ones are counted.",
    ),
]
Every = Annotated[bool, typer.Option("--all", help="List every partition.")]


def _status_table(title: str, rows: list[StatusRow]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("partition", "stage", "status", "in", "out", "quarantined", "when"):
        table.add_column(column, justify="right" if column in ("in", "out") else "left")
    for row in rows:
        table.add_row(
            row.partition,
            row.stage,
            _coloured(row.status),
            *("" if n is None else str(n) for n in (row.rows_in, row.rows_out, row.quarantined)),
            (row.when or "")[:19],
        )
    return table


@app.command()
def status(
    lake: LakePath = Path("data/lake"),
    verify: Verify = False,
    newest: Newest = NEWEST_SHOWN,
    every: Every = False,
) -> None:
    """Where the partitions stand, stage by stage, and the web pages host by host;
    exit code 1 when a committed stage-partition is damaged (the next run, or rerun
    --failed, redoes it)."""
    from tasks.lake.storage import Lake
    from tasks.sources.web import web_status

    _imports_done()
    store = Lake(lake).require()
    rows = store.status(STAGES, deep=verify) + store.derived.status(deep=verify)
    shown, left_out = _shown_rows(rows, None if every else newest)
    out.print(_status_table(f"depeche status: {lake}", shown))
    for row in rows:
        if row.problem:
            out.print(f"{row.partition} {row.stage}: {row.problem}", soft_wrap=True)
    if left_out:
        out.print(
            f"{left_out} older partitions, every stage committed, not listed: "
            f"`depeche status --all --lake {lake}` lists them",
            soft_wrap=True,
        )
    states = Counter(str(row.status) for row in rows)
    out.print(", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "empty lake")
    hosts = web_status(Lake(lake))
    if hosts:
        out.print(_hosts_table("web pages by host (each URL's latest outcome)", hosts))
    if states.get("damaged"):
        again = "depeche rerun --failed" + (" --verify" if verify else "")
        err.print(f"damaged: redo with {again} --lake {lake}", soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)


@app.command()
def report(lake: LakePath = Path("data/lake"), wait: Wait = 0.0) -> None:
    """Write the lake's report, <lake>/reports/index.html (one self-contained file),
    bringing the marts and the catalog up to date first when the lake has changed."""
    from datetime import UTC, datetime

    from tasks.analytics.marts import refresh_lake_views
    from tasks.execution.resources import Resources
    from tasks.lake.storage import Lake
    from tasks.records import Status

    _imports_done()
    store = Lake(lake).require()
    with store.lock(wait):
        made = refresh_lake_views(
            store, Resources().suites(), datetime.now(UTC).isoformat(timespec="seconds")
        )
    if made.data is None or made.report is None:
        _views_not_made(made.marts.message)
    data, path = made.data, made.report
    totals = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in data.totals.items())
    out.print(f"marts {made.marts.status}; {totals}", soft_wrap=True)
    for partition, why in data.left_out.items():
        out.print(f"not in the marts: {partition} ({why})", soft_wrap=True)
    # what the marts could not count (a lost file: its checks, its tables), and the cure
    damaged = [row for row in data.status if row.status == Status.DAMAGED]
    for row in damaged:
        out.print(f"{row.partition} {row.stage}: {row.problem}", markup=False, soft_wrap=True)
    if damaged:
        out.print(f"damaged: redo with depeche rerun --failed --lake {lake}", soft_wrap=True)
    out.print(f"report: {path}\ncatalog: {store.catalog_path}")


Until = Annotated[
    str | None,
    typer.Option(
        help="YYYY-MM: compact the months up to this one; YYYY-MM-DD: the periods ended "
        "when this day ends (the months before it, then each day up to it); though they "
        "have not ended (default: the months, and with compact_days the days, ended an "
        "hour ago).",
    ),
]

CompactTarget = _setting_option("compact_target_mb")


@app.command()
def compact(
    lake: LakePath = Path("data/lake"),
    until: Until = None,
    wait: Wait = 0.0,
    compact_target_mb: CompactTarget = None,
) -> None:
    """Merge the partitions fetched in each month up to --until into one partition per
    month, and consecutive months into one while they stay under --compact-target-mb,
    then those fetched on each later day up to --until into one partition per day (their
    rows unchanged); bring the marts, catalog and report up to date, then remove the
    merged partitions' old files. Partitions a run must bring up to date first are left
    as they are."""
    _check_until(until)
    from datetime import UTC, datetime

    from tasks import compaction
    from tasks.analytics.marts import refresh_lake_views
    from tasks.execution.resources import Resources
    from tasks.lake.storage import Lake
    from tasks.settings import resolve_settings

    _imports_done()
    store = Lake(lake).require()
    now = datetime.now(UTC)
    with store.lock(wait):
        store.clear_leftovers()
        given = SettingsGiven(compact_target_mb=compact_target_mb)
        settings = resolve_settings(store.last_settings(), given)
        horizon = (
            compaction.Horizon.parse(until)
            if until is not None
            else compaction.ended_periods(now, days=settings.compact_days)
        )
        done = compaction.compact(store, settings, horizon)
        made = refresh_lake_views(store, Resources().suites(), now.isoformat(timespec="seconds"))
        if made.marts.ok:  # the catalog lists the merged files: the old ones may go
            compaction.collect(store)
    _print_compaction(done, str(horizon))
    if not made.marts.ok:
        _views_not_made(f"{made.marts.message}; the old files stay until they are")


def _check_until(until: str | None) -> None:
    """`--until` is a month or a day of the calendar (or not given), else CommandError."""
    from datetime import date

    if until is None or re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", until):
        return
    with contextlib.suppress(ValueError):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", until) and date.fromisoformat(until):
            return
    raise CommandError(
        f"--until {until!r} is not a month such as 2026-03 or a day such as 2026-03-14"
    )


def _print_compaction(done: Compaction, until: str) -> None:
    for merged, count in done.merged.items():
        out.print(f"compacted {count} partitions into {merged}", soft_wrap=True)
    for partition, why in done.kept.items():
        out.print(f"not compacted: {partition} ({why})", soft_wrap=True)
    if not done.merged:
        out.print(f"nothing to compact up to {until}")


def _views_not_made(why: str) -> NoReturn:
    """Say in one line why the marts, catalog and report are not up to date; exit 1."""
    err.print(
        f"depeche: the marts, catalog and report were not brought up to date: {why}",
        markup=False,
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_FAILED)


@app.command()
def serve(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the local Prefect server and UI.")
    ] = 4200,
    prefect_file: Annotated[Path, typer.Option(help="The deployments to serve.")] = Path(
        "prefect.yaml"
    ),
) -> None:
    """Serve the deployments of prefect.yaml (hourly ingest, rerun-failed, backfill)
    from this machine, with their schedules. Without PREFECT_API_URL, a local Prefect
    server starts too, and its UI shows the runs."""
    _configure_logging(verbose=True)
    if not prefect_file.is_file():
        raise CommandError(f"no {prefect_file} here; run depeche serve from the project folder")
    from flows.serving import serve as serve_deployments

    try:
        stopped_by = serve_deployments(prefect_file, port, announce=out.print)
    except RuntimeError as error:
        raise CommandError(str(error)) from None
    if stopped_by is not None:  # heard by Prefect's runner, which stopped serving
        _interrupt(stopped_by, None)


@app.command()
def dictionary(
    write: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Rewrite the generated sections of this Markdown file instead "
            "(docs/data-dictionary.md).",
        ),
    ] = None,
) -> None:
    """Print the data dictionary of every table (Markdown), generated from schemas/;
    with --write, rewrite it and the table of settings in that file."""
    from schemas.dictionary import data_dictionary, replace_section

    if write is None:
        typer.echo(data_dictionary(), nl=False)
        return
    text = write.read_text(encoding="utf-8")
    for section, body in (("data-dictionary", data_dictionary()), ("settings", _settings_doc())):
        try:
            text = replace_section(text, section, body)
        except KeyError:
            raise CommandError(f"{write} has no {section} markers") from None
    write.write_text(text, encoding="utf-8")


def _settings_doc() -> str:
    from tasks.settings import settings_table
    from tasks.stages.registry import settings_affect

    return settings_table(settings_affect())


def _catch_stops() -> None:
    """Ctrl-C and SIGTERM stop the command (_interrupt), also one that lands in a
    finalizer, where Python would swallow it."""
    for caught in STOP_SIGNALS:
        signal.signal(caught, _interrupt)
    redeliver_lost_stops(_signal_of)


def main() -> None:
    """Entry point: usage and user errors as one line, never a traceback; Ctrl-C
    and SIGTERM stop the command as one line too, exit code 130 or 143."""
    _catch_stops()
    command = typer.main.get_command(app)
    try:
        if hasattr(signal, "pthread_sigmask"):  # held by flows/entry.py until here
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        code = command.main(args=sys.argv[1:], prog_name="depeche", standalone_mode=False)
        if code == 130 and _received:  # Typer's code for a KeyboardInterrupt, ours too
            code = _report_interruption(_received[0])
    except typer.Exit as done:
        code = done.exit_code
    except typer.Abort:
        err.print("depeche: aborted")
        code = 130
    except CommandError as error:
        err.print(f"depeche: error: {error}", markup=False, soft_wrap=True)
        code = EXIT_USAGE
    except DepecheError as error:
        err.print(f"depeche: {error}", markup=False, soft_wrap=True)
        code = error.exit_code
    except typer.TyperException as error:  # usage errors: bad option, bad value
        message = error.format_message()
        if message:  # empty when a bare `depeche` has printed the help
            context = getattr(error, "ctx", None)
            hint = f" (see `{context.command_path} --help`)" if context is not None else ""
            err.print(f"depeche: error: {message}{hint}", markup=False, soft_wrap=True)
        code = error.exit_code
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        code = _report_disk_full(error)
    except BaseException as error:
        stopped = _signal_of(error)
        if stopped is None:
            raise
        code = _report_interruption(stopped)
    _leave(code if isinstance(code, int) else 0)


def _leave(code: int) -> NoReturn:
    """Exit without Python's teardown of every module, a second of work once spaCy,
    Prefect and Great Expectations are loaded: Prefect's queues are sent and the
    output flushed first, the model's host let go, and the lake's lock and the server
    are already released."""
    from flows.serving import send_prefect_queues

    send_prefect_queues()
    if "tasks.execution.model_host" in sys.modules:
        from tasks.execution.model_host import stop_hosts

        stop_hosts()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
