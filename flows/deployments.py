"""The flows that `prefect.yaml` deploys: hourly ingest, rerun of what failed, and a
backfill over a range of publication dates. Each is the same pipeline with the
parameters its job needs, typed so that a bad value is refused before any work."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.pipeline import (
    ModelName,
    Positive,
    PublicationDate,
    RunSummary,
    Seconds,
    Share,
    run_pipeline,
)


@flow(name="depeche-ingest", log_prints=False)
def ingest(
    sources: list[str],
    lake: str = "data/lake",
    model: ModelName | None = None,
    batch_size: Positive | None = None,
    n_process: Positive | None = None,
    max_share_without_entities: Share | None = None,
    wait_seconds: Seconds = 300.0,
) -> RunSummary | State:
    """Take what is new in the sources into the lake (the hourly job)."""
    return run_pipeline(
        lake=lake,
        sources=sources,
        settings={
            "model": model,
            "batch_size": batch_size,
            "n_process": n_process,
            "max_share_without_entities": max_share_without_entities,
        },
        wait_seconds=wait_seconds,
    )


@flow(name="depeche-rerun-failed", log_prints=False)
def rerun_failed(
    lake: str = "data/lake",
    max_share_without_entities: Share | None = None,
    partitions: list[str] | None = None,
    wait_seconds: Seconds = 300.0,
) -> RunSummary | State:
    """Rerun the failed stage-partitions of the lake, once their cause is fixed."""
    return run_pipeline(
        lake=lake,
        settings={"max_share_without_entities": max_share_without_entities},
        rerun_failed=True,
        partitions=partitions,
        wait_seconds=wait_seconds,
    )


@flow(name="depeche-backfill", log_prints=False)
def backfill(
    sources: list[str],
    since: PublicationDate,
    until: PublicationDate,
    lake: str = "data/lake",
    model: ModelName | None = None,
    wait_seconds: Seconds = 300.0,
) -> RunSummary | State:
    """Take the articles of an archive published between `since` and `until`, one
    partition per month."""
    return run_pipeline(
        lake=lake,
        sources=sources,
        settings={"model": model},
        since=since,
        until=until,
        wait_seconds=wait_seconds,
    )
