"""The flows that `prefect.yaml` deploys: hourly ingest, rerun of what failed, and a
backfill over a range of publication dates. Each is the same pipeline with the
parameters its job needs, typed so that a bad value is refused before any work;
`settings` is the one settings model every entry point shares."""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.pipeline import (
    NOT_GIVEN,
    PublicationDate,
    RunRequest,
    RunSummary,
    Seconds,
    run_pipeline,
)
from tasks.settings import SettingsGiven


@flow(name="depeche-ingest", log_prints=False)
def ingest(
    sources: list[str],
    lake: str = "data/lake",
    settings: SettingsGiven = NOT_GIVEN,
    wait_seconds: Seconds = 300.0,
) -> RunSummary | State:
    """Take what is new in the sources into the lake (the hourly job)."""
    return run_pipeline(lake, RunRequest(sources=sources), settings, wait_seconds)


@flow(name="depeche-rerun-failed", log_prints=False)
def rerun_failed(
    lake: str = "data/lake",
    settings: SettingsGiven = NOT_GIVEN,
    partitions: list[str] | None = None,
    wait_seconds: Seconds = 300.0,
) -> RunSummary | State:
    """Rerun the failed stage-partitions of the lake, once their cause is fixed."""
    request = RunRequest(rerun_failed=True, partitions=partitions)
    return run_pipeline(lake, request, settings, wait_seconds)


@flow(name="depeche-backfill", log_prints=False)
def backfill(
    sources: list[str],
    since: PublicationDate,
    until: PublicationDate,
    lake: str = "data/lake",
    settings: SettingsGiven = NOT_GIVEN,
    wait_seconds: Seconds = 300.0,
) -> RunSummary | State:
    """Take the articles of an archive published between `since` and `until`, one
    partition per month."""
    request = RunRequest(sources=sources, since=since, until=until)
    return run_pipeline(lake, request, settings, wait_seconds)
