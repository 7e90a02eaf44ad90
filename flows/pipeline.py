"""The depeche flow: which stage runs on which partition, in what order.

Orchestration only. New items of the sources become new partitions; then every
partition of the lake goes through the stages of the registry in order, one
Prefect task run per stage and partition. A stage-partition whose manifest shows
it already made from the same input, code and parameters costs no task run at
all; a stage whose upstream did not commit is reported as blocked.
"""

from __future__ import annotations

import contextlib
import contextvars
import ctypes
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State
from pydantic import Field

from flows.runners import Execute, Runner, Turns, check_cluster, open_runner, run_here
from schemas import STAGES
from tasks import planning
from tasks.analytics.marts import marts_are_current, marts_task
from tasks.code_version import settled
from tasks.compaction import (
    Compaction,
    Horizon,
    collect,
    compact_task,
    ended_periods,
    has_work,
    recover,
)
from tasks.contract import Decision, Stage, blocked, decide
from tasks.errors import EXIT_FAILED, DepecheError, RunFailed
from tasks.execution.resources import current
from tasks.lake.storage import Lake
from tasks.nlp.model import installed_version
from tasks.records import StageReport, Status
from tasks.settings import Settings, SettingsGiven, resolve_settings
from tasks.sources.web import by_host, web_counts
from tasks.stages.registry import REGISTRY, RERUN_DEPLOYMENT, rerun_hint
from tasks.text.dates import DateWindow
from tasks.web.listing import SourceProblem


@dataclass
class RunSummary:
    """What one run did: its plan, a report per stage-partition, or why it did not run."""

    lake: str
    settings: dict[str, Any] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    plan: planning.PlanCounts | None = None
    reports: list[StageReport] = field(default_factory=list)
    error: str | None = None
    error_code: int = 0  # the exit code `error` calls for
    marts: StageReport | None = None  # the marts, catalog and report step
    workers: list[str] = field(default_factory=list)  # the Dask workers, on a cluster
    problems: list[SourceProblem] = field(default_factory=list)  # web sources not read
    not_modified: dict[str, int] = field(default_factory=dict)  # 304s per host
    compaction: Compaction | None = None  # the periods merged after the stages

    @property
    def hosts(self) -> dict[str, dict[str, int]]:
        """Per host, what this run's web pages became, and the 304s (the web source is
        the one that reports `web` outcomes, whichever stage reads it)."""
        outcomes: dict[str, str] = {}
        for report in self.reports:
            if report.ran:
                outcomes.update((report.details.get("web") or {}).get("outcomes") or {})
        return by_host(outcomes, self.not_modified)

    @property
    def failures(self) -> list[StageReport]:
        return [r for r in self.reports if r.status in (Status.FAILED, Status.DAMAGED)]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures and (self.marts is None or self.marts.ok)

    @property
    def exit_code(self) -> int:
        """1 when a stage-partition or the marts failed, else what `error` calls for."""
        if self.failures or (self.marts is not None and not self.marts.ok):
            return EXIT_FAILED
        return self.error_code

    @property
    def rerun_command(self) -> str:
        return rerun_hint(self.lake)

    def counts(self) -> dict[str, int]:
        return dict(Counter(str(report.status) for report in self.reports))


@dataclass(frozen=True)
class RunRequest:
    """What a run is asked to do, besides its settings."""

    sources: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    rerun_failed: bool = False
    from_stage: str | None = None
    partitions: list[str] | None = None
    verify: bool = False  # check every committed file's content hash, not only its size


def run_partition(
    lake: str,
    partition: str,
    settings: Settings,
    request: RunRequest,
    execute: Execute | None = None,
    turns: Turns | None = None,
) -> list[StageReport]:
    """The stages of one partition in order; only what is not current runs as a task
    (through `execute`: in this process, or on a cluster). When a stage finds the
    committed files of a stage before it damaged, the partition goes back to that
    stage (once per stage) and redoes it from its own input. With `turns`, an ordered
    stage waits for the partitions planned before this one."""
    execute = execute or run_here
    store = Lake(lake)
    reports: list[StageReport] = []
    redone: set[str] = set()
    index = 0
    while index < len(REGISTRY):
        stage = REGISTRY[index]
        if reports and not reports[-1].ok:
            reports.append(_blocked_after(reports[-1], stage, partition))
            index += 1
            continue
        if turns is not None and stage.ordered:
            turns.wait(stage.name, partition)
        decision = _decide(store, stage, partition, settings, request)
        if decision.redo is not None and decision.redo not in redone:
            redone.add(decision.redo)
            index = STAGES.index(decision.redo)
            del reports[index:]
            continue
        if decision.key is None:
            reports.append(decision.report)
        else:
            reports.append(execute(lake, stage.name, partition, settings, decision.key))
        if turns is not None:
            turns.done(stage.name, partition)
        index += 1
    return reports


def _blocked_after(upstream: StageReport, stage: Stage, partition: str) -> StageReport:
    """The report of a stage whose upstream did not commit the partition."""
    return blocked(stage.name, partition, f"{upstream.stage} did not commit partition {partition}")


def _decide(
    store: Lake, stage: Stage, partition: str, settings: Settings, request: RunRequest
) -> Decision:
    """What to do with a stage-partition, as the request asks: a stage at or after
    `from_stage` is forced."""
    forced = request.from_stage is not None and (
        STAGES.index(stage.name) >= STAGES.index(request.from_stage)
    )
    return decide(
        store,
        stage,
        partition,
        settings,
        force=forced,
        rerun_failed=request.rerun_failed,
        verify=request.verify,
    )


def run_partitions(
    lake: str, partitions: list[str], settings: Settings, request: RunRequest, runner: Runner
) -> list[StageReport]:
    """Every partition through its stages: one after the other, or side by side (a
    thread of the flow per partition in flight; the reports in plan order). The
    partitions before the first with work are answered from the lake's state."""
    current, partitions = _current_before_work(lake, partitions, settings, request)
    return current + _through_stages(lake, partitions, settings, request, runner)


def _current_before_work(
    lake: str, partitions: list[str], settings: Settings, request: RunRequest
) -> tuple[list[StageReport], list[str]]:
    """The reports of the partitions before the first with work, read from the lake's
    state once (an hourly run's thousands of partitions), and the partitions from the
    first with work on: those after it are decided as they come, since a partition
    redone before them may change their key (clean's duplicates)."""
    if request.from_stage is not None or request.verify:
        return [], partitions
    return _current_prefix(Lake(lake).indexed(), partitions, settings)


def _current_prefix(
    store: Lake, partitions: list[str], settings: Settings
) -> tuple[list[StageReport], list[str]]:
    """The reports of the leading partitions whose every stage is committed and
    current, and the partitions from the first that is not."""
    reports: list[StageReport] = []
    for position, partition in enumerate(partitions):
        current = []
        for stage in REGISTRY:
            report = _is_current(store, stage, partition, settings)
            if report is None:
                return reports, partitions[position:]
            current.append(report)
        reports += current
    return reports, []


def _through_stages(
    lake: str, partitions: list[str], settings: Settings, request: RunRequest, runner: Runner
) -> list[StageReport]:
    if runner.parallel <= 1 or len(partitions) <= 1:
        return [
            report
            for partition in partitions
            for report in run_partition(lake, partition, settings, request, runner.execute)
        ]
    turns = Turns(partitions, [stage.name for stage in REGISTRY if stage.ordered])
    working = _Working()

    def one(partition: str) -> list[StageReport]:
        with working.on(partition):
            try:
                return run_partition(lake, partition, settings, request, runner.execute, turns)
            finally:
                turns.release(partition)

    pool = ThreadPoolExecutor(max_workers=min(len(partitions), runner.in_flight))
    interrupted = False
    try:
        # each thread gets its own copy of the flow run's context (Prefect's included)
        futures = [pool.submit(contextvars.copy_context().run, one, p) for p in partitions]
        return [report for future in futures for report in future.result()]
    except BaseException as error:
        interrupted = not isinstance(error, Exception)  # Ctrl-C, SIGTERM: all stop
        if interrupted:
            pool.shutdown(wait=False, cancel_futures=True)
            working.interrupt()
        raise
    finally:
        pool.shutdown(wait=not interrupted)


class _Working:
    """The threads taking partitions through their stages, which an interruption of
    the flow's main thread (a signal: only it hears them) must reach too."""

    JOIN_SECONDS = 5.0

    def __init__(self) -> None:
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def on(self, partition: str) -> Iterator[None]:
        thread = threading.current_thread()
        with self._lock:
            self._threads[thread.ident or 0] = thread
        try:
            yield
        finally:
            with self._lock:
                self._threads.pop(thread.ident or 0, None)

    def interrupt(self) -> None:
        """Raise KeyboardInterrupt in each thread still working (where it next runs
        Python: annotate's wait for its workers, which then kills them), and wait a
        little for them to unwind: a stage-partition they leave is redone by the next
        run, as after a kill."""
        with self._lock:
            threads = list(self._threads.values())
            for thread in threads:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread.ident or 0), ctypes.py_object(KeyboardInterrupt)
                )
        deadline = time.monotonic() + self.JOIN_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


def _is_current(
    store: Lake, stage: Stage, partition: str, settings: Settings
) -> StageReport | None:
    """The report of a stage-partition that is committed and current, else None."""
    report = decide(
        store, stage, partition, settings, record_damage=False, check_upstream=False
    ).report
    return report if report is not None and report.status == Status.SKIPPED else None


def idle_run(
    lake: str, sources: list[str], given: SettingsGiven, since: str | None, until: str | None
) -> RunSummary | None:
    """The summary of a run that would find nothing new and nothing to redo, or None.

    Answered from the sources and the manifests alone, so a front end can skip
    starting Prefect (and its temporary server) for a run that would do no work.
    """
    store = Lake(lake)
    if not store.exists() or store.is_locked():
        return None
    with settled():  # the lake's state, and the code versions, read once
        return _idle_summary(lake, store.indexed(), sources, given, (since, until))


def _idle_summary(
    lake: str, store: Lake, sources: list[str], given: SettingsGiven, window: tuple
) -> RunSummary | None:
    since, until = window
    settings = resolve_settings(store.last_settings(), given)
    if since is None and until is None:
        # one pass that stops at the first new item: the common case of a run with work
        counts = planning.count_if_nothing_new(store, sources, settings)
    else:
        plan = planning.plan_for_lake(store, sources, settings, since, until)
        counts = None if plan.partitions else plan.counts
    if counts is None or not marts_are_current(store):
        return None
    ended = _ended_periods(settings)
    if ended and has_work(store, settings, ended):
        return None
    partitions = [spec.partition for spec in store.partitions()]
    reports, with_work = _current_prefix(store, partitions, settings)
    if with_work:
        return None
    return RunSummary(lake=lake, settings=settings.model_dump(), plan=counts, reports=reports)


def _targets(store: Lake, request: RunRequest) -> list[str]:
    names = [spec.partition for spec in store.partitions()]
    if request.partitions:
        for name in request.partitions:
            store.partition(name)  # UnknownPartition for a name the lake does not have
        return [name for name in names if name in request.partitions]
    if request.rerun_failed:
        return [name for name in names if store.needs_rerun(name, STAGES, deep=request.verify)]
    return names


@task(name="plan", cache_policy=NO_CACHE)
def plan_task(lake: str, request: RunRequest, settings: Settings) -> planning.Plan:
    """Record new partitions for what is new in the sources."""
    store = Lake(lake)
    plan = planning.plan_for_lake(store, request.sources, settings, request.since, request.until)
    planning.record_plan(store, plan)
    return plan


# Parameter types: Prefect validates a run's parameters against them before any
# work starts (and a server rejects a deployment run whose parameters do not fit).
StageName = Literal[STAGES]  # type: ignore[valid-type]  # fetch, clean, annotate, validate
PublicationDate = Annotated[
    str, Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$", description="YYYY, YYYY-MM or YYYY-MM-DD")
]
Seconds = Annotated[float, Field(ge=0.0)]
NOT_GIVEN = SettingsGiven()  # every setting left out: the lake's last, else the default


def run_pipeline(
    lake: str, request: RunRequest, given: SettingsGiven, wait_seconds: float = 0.0
) -> RunSummary | State:
    """The body every depeche flow runs: plan what is new in the request's sources,
    then bring the partitions of the lake up to date. Call it from inside a flow."""
    store = Lake(lake)
    summary = RunSummary(lake=lake)
    try:
        settings = resolve_settings(store.last_settings(), given)
        summary.settings = settings.model_dump()
        _check_before_the_lake(request, settings)
        with store.lock(wait_seconds), settled():
            store.clear_leftovers()
            recover(store)  # a compaction killed before its switch: what it placed goes
            store.write_settings(summary.settings)
            if request.sources:
                _plan(summary, request, settings)
            _run_targets(summary, _targets(store, request), request, settings)
            if ended := _ended_periods(settings):
                summary.compaction = compact_task(lake, settings, ended)
            summary.marts = marts_task(lake, request.verify)
            if summary.marts.ok:  # the catalog lists the merged files: the old ones may go
                collect(store)
    except DepecheError as error:
        summary.error, summary.error_code = str(error).strip("'\""), error.exit_code
    return _outcome(summary)


def _check_before_the_lake(request: RunRequest, settings: Settings) -> None:
    """What must hold before the lake is touched (InvalidDate, ModelNotInstalled,
    ClusterUnreachable); then the model loads, when this process runs the stages."""
    DateWindow.parse(request.since, request.until)
    installed_version(settings.model)
    check_cluster(settings)
    current().warm_up(settings.model if settings.runner == "local" else None)


def _plan(summary: RunSummary, request: RunRequest, settings: Settings) -> None:
    """New partitions for what is new in the sources, and what the plan saw."""
    plan = plan_task(summary.lake, request, settings)
    summary.planned = [spec.partition for spec in plan.partitions]
    summary.plan = plan.counts
    summary.problems, summary.not_modified = plan.problems, plan.not_modified


def _run_targets(
    summary: RunSummary, targets: list[str], request: RunRequest, settings: Settings
) -> None:
    """The target partitions through their stages, on the runner the settings ask for."""
    with open_runner(settings) as runner:
        if runner.dashboard:
            _announce(f"Dask dashboard: {runner.dashboard}")
        for notice in runner.notices:
            _announce(notice)
        summary.workers = runner.workers
        summary.reports += run_partitions(
            _for_workers(summary.lake, settings), targets, settings, request, runner
        )


def _outcome(summary: RunSummary) -> RunSummary | State:
    """The run's artifact and log line; the summary, or a Failed state carrying it."""
    create_table_artifact(
        key="depeche-run",
        table=_artifact_rows(summary),
        description=describe(summary),
    )
    if summary.error:
        get_run_logger().error("depeche did not run: %s", summary.error)
    if not summary.ok:
        return Failed(message=describe(summary), data=RunFailed(describe(summary), summary))
    return summary


def summary_of(state: State) -> RunSummary | BaseException:
    """What a finished run's state says: its summary, failed or not, or the exception
    that stopped it (a bug, or the disk full)."""
    result = state.result(raise_on_failure=False)
    return result.summary if isinstance(result, RunFailed) else result


def _ended_periods(settings: Settings) -> Horizon:
    """The months and days that have ended, which the automatic compaction merges (as
    the settings `compact_months` and `compact_days` ask)."""
    return ended_periods(datetime.now(UTC), settings.compact_months, settings.compact_days)


def _for_workers(lake: str, settings: Settings) -> str:
    """The lake as the stage-partitions are told it: absolute on a cluster, whose
    workers do not share the flow's working folder."""
    return str(Path(lake).resolve()) if settings.runner == "dask" else lake


def _announce(line: str) -> None:
    """A line for whoever started the run (the command line's stderr, the log)."""
    print(f"depeche: {line}", file=sys.stderr, flush=True)
    get_run_logger().info(line)


def _artifact_rows(summary: RunSummary) -> list[dict[str, Any]]:
    rows = [
        {
            "partition": r.partition,
            "stage": r.stage,
            "status": str(r.status),
            "rows_in": r.rows_in,
            "rows_out": r.rows_out,
            "quarantined": r.rows_quarantined,
            "reasons": r.reasons,
            "seconds": r.seconds,
            "worker": r.worker,
            "problem": r.message,
        }
        for r in summary.reports
    ]
    return rows or [{"partition": "-", "status": summary.error or "nothing to do"}]


@flow(name="depeche", log_prints=False)
def depeche_pipeline(
    sources: list[str] | None = None,
    lake: str = "data/lake",
    settings: SettingsGiven = NOT_GIVEN,
    since: PublicationDate | None = None,
    until: PublicationDate | None = None,
    rerun_failed: bool = False,
    from_stage: StageName | None = None,
    partitions: list[str] | None = None,
    wait_seconds: Seconds = 0.0,
    verify: bool = False,
) -> RunSummary | State:
    """Plan what is new in `sources`, then bring every partition of the lake up to date.

    Settings left out (None) are those of the lake's last run, or the defaults.
    `rerun_failed` reruns failed stage-partitions; `from_stage` forces a stage and
    the stages after it; `partitions` limits the run to those partitions; `verify`
    checks the content hash of every committed file, not only its size.
    """
    request = RunRequest(
        sources=list(sources or []),
        since=since,
        until=until,
        rerun_failed=rerun_failed,
        from_stage=from_stage,
        partitions=partitions,
        verify=verify,
    )
    return run_pipeline(lake, request, settings, wait_seconds)


def describe(summary: RunSummary) -> str:
    """The run in a few lines: counts, and for each failure where, why and how to rerun."""
    if summary.error:
        return f"depeche did not run: {summary.error}"
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts().items()))
    text = f"depeche on {summary.lake}: {counts or 'nothing to do'}"
    if summary.marts is not None and not summary.marts.ok:
        text += f"\nthe marts were not made: {summary.marts.message}"
    for merged, count in (summary.compaction.merged if summary.compaction else {}).items():
        text += f"\ncompacted {count} partitions into {merged}"
    for problem in summary.problems:
        text += f"\nsource not read: {problem.source}: {problem.reason} ({problem.detail})"
    for host, counts in summary.hosts.items():
        text += f"\nweb {host}: {web_counts(counts)}"
    for failure in summary.failures:
        text += (
            f"\n{failure.stage} failed for partition {failure.partition}: {failure.message}"
            f"\nrerun it with: {summary.rerun_command} (or the {RERUN_DEPLOYMENT} deployment)"
        )
    return text


if __name__ == "__main__":
    depeche_pipeline(["data/sample"])
