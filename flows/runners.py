"""Where the stage-partitions of a run execute: in this process (`local`), or side by
side on the workers of a Dask cluster (`dask`, through prefect-dask's
`DaskTaskRunner`), each still one Prefect task run.

Locally, two partitions are in flight at once: while one is in annotate's worker
processes, the flow's process fetches and cleans the next (and validates the one
before), on the core the annotate worker leaves; annotate's worker processes serve
one partition at a time (tasks/stages/annotate.py).

The flow keeps the decisions (what is current, what is blocked, what to redo) and
the lake's lock; a runner only executes the stage-partitions the flow hands it.
On a cluster every partition has a thread in the flow that takes it through the
stages in order, submitting each stage-partition to the cluster and waiting for
it; a skipped one costs a worker nothing. Stages whose output depends on the
partitions made before (clean's duplicates) take their turn in plan order: see
`Turns`.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tasks.errors import DepecheError
from tasks.records import StageKey, StageReport, Status
from tasks.settings import Settings

Execute = Callable[[str, str, str, Settings, StageKey], StageReport]
"""(lake, stage, partition, settings, key) → the stage-partition's report."""


class ClusterUnreachable(DepecheError):
    """The Dask scheduler given with --dask-address does not answer."""

    exit_code = 2


@dataclass
class Runner:
    """How a run executes its stage-partitions."""

    execute: Execute
    parallel: int = 1  # partitions taken through their stages at once
    in_flight: int = 64  # at most this many partitions open at once (a thread each)
    dashboard: str | None = None  # the Dask dashboard, when depeche started the cluster
    workers: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # for whoever started the run


def run_here(
    lake: str, stage: str, partition: str, settings: Settings, key: StageKey
) -> StageReport:
    """Run a stage-partition in this process (the `local` runner)."""
    # imported when a stage runs, not with this module: a Dask worker unpickles this
    # module's fitness probe, and where spaCy is missing the probe must say so itself
    from tasks.stages.registry import stage_task

    return stage_task(lake, stage, partition, settings, key)


@contextlib.contextmanager
def open_runner(settings: Settings) -> Iterator[Runner]:
    """The runner the settings ask for, started, and stopped after the run (a cluster
    depeche started is shut down; one it connected to is left running)."""
    if settings.runner == "local":
        # two in flight: one annotating, the next cleaning; each holds its tables
        yield Runner(run_here, parallel=2, in_flight=2)
        return
    with _dask_task_runner(settings) as task_runner:
        try:
            yield _cluster_runner(task_runner, settings)
        finally:
            if not settings.dask_address:
                _quiet_before_closing(task_runner.client)


def _dask_task_runner(settings: Settings) -> Any:
    """prefect-dask's task runner: on the cluster at --dask-address, else on a local
    cluster it starts (and stops) with `workers` processes."""
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        check_cluster(settings)
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": settings.workers,
            "threads_per_worker": 1,  # spaCy and the GIL: a process per worker
            "processes": True,
            "dashboard_address": "127.0.0.1:0",
        },
    )


def _cluster_runner(task_runner: Any, settings: Settings) -> Runner:
    """The runner of a started task runner: its workers, its dashboard when depeche
    started the cluster, and a notice for each worker that cannot run the stages."""
    client = task_runner.client
    info = client.scheduler_info()
    address = info.get("address") or settings.dask_address or "?"
    workers = sorted(_name(worker, about) for worker, about in info.get("workers", {}).items())
    fitness = Fitness(client)
    _, unfit = fitness.now()
    return Runner(
        _OnCluster(task_runner, client, fitness, address),
        parallel=max(1, len(workers)) if workers else settings.workers,
        dashboard=None if settings.dask_address else client.dashboard_link,
        workers=workers,
        notices=[
            f"worker {name} cannot run depeche's stages ({why}): a task given to it would "
            "make it leave the cluster; install depeche's environment there"
            for name, why in unfit.items()
        ],
    )


@dataclass
class _OnCluster:
    """The `dask` runner's execute: a stage-partition submitted to the cluster and
    waited for; one the cluster cannot finish is reported failed, never raised."""

    task_runner: Any
    client: Any
    fitness: Fitness
    address: str

    def __call__(
        self, lake: str, stage: str, partition: str, settings: Settings, key: StageKey
    ) -> StageReport:
        if self.client.status != "running":  # the scheduler went away: nothing more runs
            return _not_finished(stage, partition, f"not run: {_gone(self.address)}")
        try:
            no_worker_fits = self._no_worker_fits()
            if no_worker_fits is not None:  # sent there, it would hang the run
                return _not_finished(stage, partition, no_worker_fits)
            return self._submit(lake, stage, partition, settings, key)
        except Exception as error:  # the worker died for good, the scheduler went away
            return _not_finished(stage, partition, self._lost(error))

    def _no_worker_fits(self) -> str | None:
        """Why no worker present can run the stages, when none can; else None."""
        present, unfit = self.fitness.now()
        if not present or len(unfit) != present:
            return None
        lacking = "; ".join(f"{name}: {why}" for name, why in unfit.items())
        return (
            f"not run: no worker of the Dask cluster at {self.address} can run "
            f"depeche's stages ({lacking})"
        )

    def _submit(
        self, lake: str, stage: str, partition: str, settings: Settings, key: StageKey
    ) -> StageReport:
        from tasks.stages.registry import stage_task  # (see run_here)

        parameters = {
            "lake": lake,
            "stage": stage,
            "partition": partition,
            "settings": settings,
            "key": key,
        }
        return self.task_runner.submit(stage_task, parameters=parameters).result()

    def _lost(self, error: Exception) -> str:
        """Why a submitted stage-partition did not finish."""
        if self.client.status != "running" or getattr(error, "reason", None) == LOST:
            return f"{_gone(self.address)} before it finished"
        return f"on the Dask cluster: {type(error).__name__}: {error}"


class Fitness:
    """Which workers of a Dask cluster can run depeche's stage-partitions. Each is asked
    once, the first time the run sees it, to import what unpickling a task makes it
    import: the flow's module and, through it, every stage and what they need (spaCy,
    pyarrow…). A worker that cannot leaves the cluster at the first task it is given
    (Dask drops a worker that cannot read what it is sent) and the task goes to
    another; with no other worker, the run would wait for ever."""

    def __init__(self, client: Any) -> None:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        flow = context.flow if context is not None else None
        self.module = flow.fn.__module__ if flow is not None else "flows.pipeline"
        self.client = client
        self._checked: dict[str, str | None] = {}  # worker address → why not, or None
        self._lock = threading.Lock()

    def now(self) -> tuple[int, dict[str, str]]:
        """How many workers the cluster has now, and why those that cannot run depeche
        cannot (by worker name)."""
        present = self.client.scheduler_info().get("workers", {})
        with self._lock:
            new = [worker for worker in present if worker not in self._checked]
            if new:
                answers = self.client.run(_unfit_here, self.module, workers=new, on_error="return")
                for worker in new:
                    answer = answers.get(worker, "it did not answer")
                    if isinstance(answer, BaseException):
                        answer = f"{type(answer).__name__}: {answer}"
                    self._checked[worker] = answer
            unfit = {
                _name(worker, about): why
                for worker, about in present.items()
                if (why := self._checked.get(worker)) is not None
            }
        return len(present), unfit


HEARTBEAT_LOST = "Failed to communicate with scheduler during heartbeat"


def _quiet_before_closing(client: Any) -> None:
    """Before the local cluster depeche started shuts down: its workers stop reporting
    a heartbeat that found the scheduler gone. The cluster stops its workers before its
    scheduler, but a worker slow to stop can still send one heartbeat after; Dask then
    logs a traceback on the run's stderr after a run that succeeded."""
    with contextlib.suppress(Exception):  # a worker already gone has nothing to say
        client.run(_quiet_heartbeat_here)


def _quiet_heartbeat_here() -> None:
    """On a worker: drop the log record of a heartbeat that found no scheduler."""
    import logging

    logging.getLogger("distributed.worker").addFilter(_not_a_lost_heartbeat)


def _not_a_lost_heartbeat(record: Any) -> bool:
    return not str(record.msg).startswith(HEARTBEAT_LOST)


def _unfit_here(module: str) -> str | None:
    """On a worker: why it cannot import `module` (a flow's), or None when it can."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        return f"{type(error).__name__}: {error}"
    return None


def _name(address: str, about: dict[str, Any]) -> str:
    """A worker's name, else its address."""
    return about["name"] if isinstance(about.get("name"), str) else address


LOST = "scheduler-connection-lost"  # Dask's reason for the futures of a lost scheduler


def _gone(address: str) -> str:
    return f"the Dask scheduler at {address} went away"


def _not_finished(stage: str, partition: str, why: str) -> StageReport:
    """A stage-partition the cluster did not finish: failed, for `rerun --failed`; its
    message on one line (Dask's may have several)."""
    return StageReport(stage, partition, Status.FAILED, message=" ".join(why.split()), ran=True)


def check_cluster(settings: Settings) -> None:
    """A one-line error, not a hang, when nothing answers at --dask-address."""
    if settings.runner != "dask" or not settings.dask_address:
        return
    from distributed import Client

    address = settings.dask_address
    try:
        Client(address, timeout="5s", set_as_default=False).close()
    except (OSError, TimeoutError) as error:
        raise ClusterUnreachable(
            f"no Dask scheduler answers at {address} ({type(error).__name__}): start one "
            "(`dask scheduler`) or leave --dask-address out to let depeche start a local "
            "cluster"
        ) from None


class Turns:
    """The order of the `ordered` stages: within a run, such a stage of partition k
    starts once the partitions planned before k are done with it (committed, failed
    or blocked), whatever order their other stages finish in. So clean of k sees
    every doc_id the earlier partitions of the run committed, and a duplicate across
    them is caught in the later partition, as in a local run; and no two fetches ask
    the same web hosts at once."""

    def __init__(self, partitions: list[str], stages: list[str]) -> None:
        self._order = partitions
        self._done = {(stage, p): threading.Event() for stage in stages for p in partitions}

    def wait(self, stage: str, partition: str) -> None:
        for earlier in self._order[: self._order.index(partition)]:
            event = self._done.get((stage, earlier))
            if event is not None:
                event.wait()

    def done(self, stage: str, partition: str) -> None:
        event = self._done.get((stage, partition))
        if event is not None:
            event.set()

    def release(self, partition: str) -> None:
        """Whatever happened to the partition, the ones after it may go on."""
        for (_, name), event in self._done.items():
            if name == partition:
                event.set()
