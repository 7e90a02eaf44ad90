"""The stages of depeche, in run order, and the one Prefect task that runs any of them.

Adding a stage: a module with its pure function and its `STAGE = Stage(...)`
declaration, its name in `schemas.tables.STAGES`, and one line below.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from schemas import STAGES
from tasks import annotate, clean, fetch, validate
from tasks.contract import Stage, run_stage
from tasks.records import StageKey, StageReport, Status
from tasks.resources import current
from tasks.settings import Settings
from tasks.storage import Lake

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


def rerun_hint(lake: str) -> str:
    """The command that reruns a lake's failed stage-partitions."""
    return f"depeche rerun --failed --lake {lake}"


@task(name="stage", task_run_name="{stage}[{partition}]", cache_policy=NO_CACHE)
def stage_task(
    lake: str, stage: str, partition: str, settings: Settings, key: StageKey
) -> StageReport:
    """Run one stage on one partition under the contract, and log how it went."""
    report = run_stage(Lake(lake), BY_NAME[stage], partition, settings, key, current())
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
