"""The stages of depeche, in run order, and the one Prefect task that runs any of them.

Adding a stage: a module with its pure function and its `STAGE = Stage(...)`
declaration, its name in `schemas.tables.STAGES`, and one line below.
"""

from __future__ import annotations

import os
import resource
import socket

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from schemas import STAGES
from tasks.contract import Stage, run_stage
from tasks.errors import DepecheError
from tasks.execution.resources import current
from tasks.lake.storage import Lake
from tasks.records import StageKey, StageReport, Status
from tasks.settings import Settings
from tasks.stages import annotate, clean, fetch, validate

REGISTRY: tuple[Stage, ...] = (
    fetch.STAGE,
    clean.STAGE,
    annotate.STAGE,
    validate.STAGE,
)
BY_NAME = {stage.name: stage for stage in REGISTRY}

if tuple(BY_NAME) != STAGES:  # the tables' `stage` vocabulary and the registry agree
    raise RuntimeError(f"stage registry {tuple(BY_NAME)} differs from schemas STAGES {STAGES}")


def settings_affect() -> dict[str, list[str]]:
    """For each setting, the stages whose output depends on it (a change reruns them,
    and the stages after them when their output changes)."""
    return {
        name: [stage.name for stage in REGISTRY if name in stage.settings]
        for name in Settings.model_fields
    }


RERUN_DEPLOYMENT = "depeche-rerun-failed/rerun-failed"


class LakeNotVisible(DepecheError):
    """A worker of a cluster does not see the lake at the flow's path."""


def worker_name() -> str:
    """The Dask worker this runs on (its name, else its address), or host:pid."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # ValueError: not in a Dask worker
        return f"{socket.gethostname()}:{os.getpid()}"
    return str(worker.name) if isinstance(worker.name, str) else worker.address


def rerun_hint(lake: str) -> str:
    """The command that reruns a lake's failed stage-partitions."""
    return f"depeche rerun --failed --lake {lake}"


@task(name="stage", task_run_name="{stage}[{partition}]", cache_policy=NO_CACHE)
def stage_task(
    lake: str, stage: str, partition: str, settings: Settings, key: StageKey
) -> StageReport:
    """Run one stage on one partition under the contract, and log how it went; say
    which process ran it (a Dask worker, on a cluster) and its peak memory."""
    worker = worker_name()
    store = Lake(lake)
    if not store.exists():
        raise LakeNotVisible(
            f"{worker} cannot see the lake at {lake}: every worker must mount the lake's "
            "shared storage at the same path as the flow"
        )
    report = run_stage(store, BY_NAME[stage], partition, settings, key, current())
    report.worker = worker
    report.worker_peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if report.status == Status.FAILED and settings.runner == "dask":
        report.message = f"{report.message} (on {worker})"
    logger = get_run_logger()
    logger.info(
        "%s[%s] %s: %d in, %d out, %d quarantined%s, %.1f s",
        stage,
        partition,
        report.status,
        report.rows_in,
        report.rows_out,
        report.rows_quarantined,
        f" ({report.reasons})" if report.reasons else "",
        report.seconds,
    )
    if report.status == Status.FAILED:
        logger.error(
            "%s failed for partition %s: %s. Fix the cause, then rerun it with: %s "
            "(or the %s deployment)",
            stage,
            partition,
            report.message,
            rerun_hint(lake),
            RERUN_DEPLOYMENT,
        )
    return report
