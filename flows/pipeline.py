"""The depeche flow: which stage runs on which partition, in what order.

Orchestration only. New items of the sources become new partitions; then every
partition of the lake goes through fetch → clean → annotate → validate, one
Prefect task run per stage and partition. A stage-partition whose manifest shows
it already made from the same input, code and parameters costs no task run at
all; a stage whose upstream did not commit is reported as blocked.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State
from pydantic import Field

from schemas import STAGES
from tasks import annotate, clean, fetch, gate, validate
from tasks.contract import (
    SKIPPED,
    Settings,
    StageReport,
    blocked,
    current_manifest,
    resolve_settings,
    skipped,
    still_failed,
)
from tasks.storage import COMMITTED, FAILED, Lake, LakeLocked, PartitionNotCommitted

STAGE_MODULES = {"fetch": fetch, "clean": clean, "annotate": annotate, "validate": validate}
STAGE_TASKS = {
    "fetch": fetch.fetch_task,
    "clean": clean.clean_task,
    "annotate": annotate.annotate_task,
    "validate": validate.validate_task,
}

ProgressSink = Callable[[str, str, int, int], None]
"""(stage, partition, done, total): how a front end learns of a stage's progress."""

_PROGRESS_SINKS: list[ProgressSink] = []


def add_progress_sink(sink: ProgressSink) -> None:
    _PROGRESS_SINKS.append(sink)


def _progress(stage: str, partition: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        for sink in _PROGRESS_SINKS:
            sink(stage, partition, done, total)

    return report


@dataclass
class RunSummary:
    lake: str
    settings: dict[str, Any] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    plan: dict[str, int] = field(default_factory=dict)
    reports: list[StageReport] = field(default_factory=list)
    error: str | None = None

    @property
    def failures(self) -> list[StageReport]:
        return [r for r in self.reports if r.status == FAILED]

    @property
    def ok(self) -> bool:
        return self.error is None and not self.failures

    @property
    def rerun_command(self) -> str:
        return f"depeche rerun --failed --lake {self.lake}"

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for report in self.reports:
            counts[report.status] = counts.get(report.status, 0) + 1
        return counts

    def as_rows(self, *, with_skipped: bool = True) -> list[dict[str, Any]]:
        return [
            {
                "partition": r.partition,
                "stage": r.stage,
                "status": r.status,
                "rows_in": r.rows_in,
                "rows_out": r.rows_out,
                "quarantined": r.rows_quarantined,
                "reasons": ", ".join(f"{k}={v}" for k, v in r.quarantine_reasons.items()),
                "seconds": r.seconds,
                "problem": r.message,
            }
            for r in self.reports
            if with_skipped or r.status != SKIPPED
        ]


def _decide(
    store: Lake, stage: str, partition: str, settings: Settings, *, force: bool, rerun_failed: bool
) -> tuple[StageReport | None, bool]:
    """The report of a stage-partition that need not run (None when it must), and
    whether a run must bypass its manifest."""
    try:
        key = STAGE_MODULES[stage].stage_key(store, partition, settings)
    except PartitionNotCommitted as error:
        return blocked(stage, partition, None, str(error)), False
    manifest = current_manifest(store, stage, partition, key)
    status = manifest.get("status") if manifest else None
    force = force or (rerun_failed and status == FAILED)
    if not force and status == COMMITTED:
        return skipped(manifest), False
    if not force and status == FAILED:
        return still_failed(manifest), False
    return None, force


def run_partition(
    lake: str, partition: str, settings: Settings, *, force_from: int | None, rerun_failed: bool
) -> list[StageReport]:
    """The stages of one partition in order; only what is not current runs as a task."""
    store = Lake(lake)
    reports: list[StageReport] = []
    for index, stage in enumerate(STAGES):
        if reports and not reports[-1].ok:
            reports.append(blocked(stage, partition, reports[-1]))
            continue
        forced = force_from is not None and index >= force_from
        report, force = _decide(
            store, stage, partition, settings, force=forced, rerun_failed=rerun_failed
        )
        if report is None:
            extra = {"progress": _progress(stage, partition)} if stage == "annotate" else {}
            report = STAGE_TASKS[stage](lake, partition, settings, force=force, **extra)
        reports.append(report)
    return reports


def idle_run(
    lake: str,
    sources: list[str],
    settings: dict[str, Any],
    since: str | None = None,
    until: str | None = None,
) -> RunSummary | None:
    """The summary of a run that would find nothing new and nothing to redo, or None.

    Answered from the sources and the manifests alone, so a front end can skip
    starting Prefect (and its temporary server) for a run that would do no work.
    """
    store = Lake(lake)
    if not (store.root / "_partitions").is_dir() or store.is_locked():
        return None
    resolved = resolve_settings(store.last_settings(), settings)
    if since is None and until is None:
        # one pass that stops at the first new item: the common case of a run with work
        found = fetch.count_if_nothing_new(store, sources, resolved)
        if found is None:
            return None
        plan = fetch.Plan([], found=found)
    else:
        plan = fetch.plan_for_lake(store, sources, resolved, since, until)
        if plan.partitions:
            return None
    summary = RunSummary(lake=lake, settings=asdict(resolved), plan=_plan_counts(plan))
    for spec in store.partitions():
        for stage in STAGES:
            report, _ = _decide(
                store, stage, spec["partition"], resolved, force=False, rerun_failed=False
            )
            if report is None or report.status != SKIPPED:
                return None
            summary.reports.append(report)
    return summary


def _plan_counts(plan: fetch.Plan) -> dict[str, int]:
    return {
        "found": plan.found,
        "new": plan.new,
        "outside_range": plan.outside_range,
        "undated": plan.undated,
    }


def _targets(store: Lake, partitions: list[str] | None, rerun_failed: bool) -> list[str]:
    names = [spec["partition"] for spec in store.partitions()]
    if partitions:
        unknown = sorted(set(partitions) - set(names))
        if unknown:
            raise KeyError(f"no partition {', '.join(unknown)} in {store.root}")
        return [name for name in names if name in partitions]
    if rerun_failed:
        return [name for name in names if store.needs_rerun(name, STAGES)]
    return names


# Parameter types: Prefect validates a run's parameters against them before any
# work starts (and a server rejects a deployment run whose parameters do not fit).
StageName = Literal[STAGES]  # type: ignore[valid-type]  # fetch, clean, annotate, validate
PublicationDate = Annotated[
    str, Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$", description="YYYY, YYYY-MM or YYYY-MM-DD")
]
ModelName = Annotated[str, Field(pattern=r"^[a-z]{2}_[a-z0-9_]+$", description="spaCy pipeline")]
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[float, Field(ge=0.0)]
RERUN_DEPLOYMENT = "depeche-rerun-failed/rerun-failed"


def run_pipeline(
    *,
    lake: str,
    sources: list[str] | None = None,
    settings: dict[str, Any] | None = None,
    since: str | None = None,
    until: str | None = None,
    rerun_failed: bool = False,
    from_stage: str | None = None,
    partitions: list[str] | None = None,
    wait_seconds: float = 0.0,
) -> RunSummary | State:
    """The body every depeche flow runs: plan what is new in `sources`, then bring the
    partitions of the lake up to date. Call it from inside a flow."""
    store = Lake(lake)
    resolved = resolve_settings(store.last_settings(), settings or {})
    summary = RunSummary(lake=lake, settings=asdict(resolved))
    warm_up(resolved.model)
    try:
        if since or until:
            clean.DateWindow.parse(since, until)
        with store.lock(wait_seconds):
            store.clear_leftovers()
            store.write_settings(asdict(resolved))
            if sources:
                plan = fetch.plan_task(lake, sources, resolved, since, until)
                summary.planned = [spec["partition"] for spec in plan.partitions]
                summary.plan = _plan_counts(plan)
            force_from = STAGES.index(from_stage) if from_stage else None
            for partition in _targets(store, partitions, rerun_failed):
                summary.reports += run_partition(
                    lake, partition, resolved, force_from=force_from, rerun_failed=rerun_failed
                )
    except (LakeLocked, KeyError, clean.InvalidDate, fetch.SourceNotFound) as error:
        summary.error = str(error).strip("'\"")
    create_table_artifact(
        key="depeche-run",
        table=summary.as_rows() or [{"partition": "-", "status": summary.error or "nothing to do"}],
        description=_describe(summary),
    )
    logger = get_run_logger()
    for failure in summary.failures:
        logger.error(
            "%s failed for partition %s: %s. Fix the cause, then rerun it with: %s "
            "(or the %s deployment)",
            failure.stage,
            failure.partition,
            failure.message,
            summary.rerun_command,
            RERUN_DEPLOYMENT,
        )
    if summary.error:
        logger.error("depeche did not run: %s", summary.error)
    if not summary.ok:
        return Failed(message=_describe(summary), data=summary)
    return summary


_WARMING: set[str] = set()


def warm_up(model: str) -> None:
    """Import the gate's library and load the language detector and the model on the
    side, in the order the stages need them, while Prefect starts and fetch and clean
    work; a stage that needs one waits for it if it is not ready."""

    def load() -> None:
        with contextlib.suppress(Exception):  # the stage that needs it reports a problem
            gate.load_library()
            clean.language_identifier()
            annotate.load_model(model)

    if model not in _WARMING:
        _WARMING.add(model)
        threading.Thread(target=load, name="depeche-warm-up", daemon=True).start()


@flow(name="depeche", log_prints=False)
def depeche_pipeline(
    sources: list[str] | None = None,
    lake: str = "data/lake",
    model: ModelName | None = None,
    batch_size: Positive | None = None,
    n_process: Positive | None = None,
    max_bytes: Positive | None = None,
    max_share_without_entities: Share | None = None,
    since: PublicationDate | None = None,
    until: PublicationDate | None = None,
    rerun_failed: bool = False,
    from_stage: StageName | None = None,
    partitions: list[str] | None = None,
    wait_seconds: Seconds = 0.0,
) -> RunSummary | State:
    """Plan what is new in `sources`, then bring every partition of the lake up to date.

    Settings left out (None) are those of the lake's last run, or the defaults.
    `rerun_failed` reruns failed stage-partitions; `from_stage` forces a stage and
    the stages after it; `partitions` limits the run to those partitions.
    """
    return run_pipeline(
        lake=lake,
        sources=sources,
        settings={
            "model": model,
            "batch_size": batch_size,
            "n_process": n_process,
            "max_bytes": max_bytes,
            "max_share_without_entities": max_share_without_entities,
        },
        since=since,
        until=until,
        rerun_failed=rerun_failed,
        from_stage=from_stage,
        partitions=partitions,
        wait_seconds=wait_seconds,
    )


def _describe(summary: RunSummary) -> str:
    if summary.error:
        return f"depeche did not run: {summary.error}"
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts().items()))
    text = f"depeche on {summary.lake}: {counts or 'nothing to do'}"
    for failure in summary.failures:
        text += (
            f"\n{failure.stage} failed for partition {failure.partition}: {failure.message}"
            f"\nrerun it with: {summary.rerun_command} (or the {RERUN_DEPLOYMENT} deployment)"
        )
    return text


if __name__ == "__main__":
    depeche_pipeline(["data/sample"])
