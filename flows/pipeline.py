"""The depeche flow: which stage runs on which partition, in what order.

Orchestration only. Each stage is one Prefect task run per partition; a stage
whose upstream did not commit is reported as blocked and does not run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from tasks.annotate import DEFAULT_MODEL, annotate_task
from tasks.clean import clean_task
from tasks.contract import StageReport, blocked
from tasks.fetch import DEFAULT_MAX_BYTES, fetch_task, plan_batch
from tasks.storage import Lake
from tasks.validate import DEFAULT_MAX_SHARE_WITHOUT_ENTITIES, validate_task

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
    partitions: list[str]
    reports: list[StageReport] = field(default_factory=list)

    @property
    def failures(self) -> list[StageReport]:
        return [r for r in self.reports if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.reports)

    def as_rows(self) -> list[dict[str, Any]]:
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
        ]


def run_partition(
    lake: str,
    batch: Any,
    *,
    model: str,
    batch_size: int,
    n_process: int,
    max_bytes: int,
    max_share_without_entities: float,
) -> list[StageReport]:
    """fetch → clean → annotate → validate for one partition, stopping at a failure."""
    partition = batch.partition
    steps: list[tuple[str, Callable[[], StageReport]]] = [
        ("fetch", lambda: fetch_task(lake, batch, max_bytes)),
        ("clean", lambda: clean_task(lake, partition)),
        (
            "annotate",
            lambda: annotate_task(
                lake,
                partition,
                model,
                batch_size,
                n_process,
                progress=_progress("annotate", partition),
            ),
        ),
        ("validate", lambda: validate_task(lake, partition, max_share_without_entities)),
    ]
    reports: list[StageReport] = []
    for stage, run in steps:
        if reports and not reports[-1].ok:
            reports.append(blocked(stage, partition, reports[-1]))
            continue
        reports.append(run())
    return reports


@flow(name="depeche", log_prints=False)
def depeche_pipeline(
    sources: list[str],
    lake: str = "data/lake",
    model: str = DEFAULT_MODEL,
    batch_size: int = 64,
    n_process: int = 1,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_share_without_entities: float = DEFAULT_MAX_SHARE_WITHOUT_ENTITIES,
) -> RunSummary | State:
    """Fetch local sources into one partition and take it through every stage."""
    Lake(lake).clear_leftovers()
    batch = plan_batch(sources)
    summary = RunSummary(lake=lake, partitions=[batch.partition])
    summary.reports = run_partition(
        lake,
        batch,
        model=model,
        batch_size=batch_size,
        n_process=n_process,
        max_bytes=max_bytes,
        max_share_without_entities=max_share_without_entities,
    )
    create_table_artifact(
        key="depeche-run",
        table=summary.as_rows(),
        description=f"depeche run on {', '.join(sources)} into {lake}",
    )
    if summary.failures:
        first = summary.failures[0]
        return Failed(
            message=f"{first.stage} failed for partition {first.partition}: {first.message}",
            data=summary,
        )
    return summary


if __name__ == "__main__":
    depeche_pipeline(["data/sample"])
