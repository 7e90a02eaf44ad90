"""Partitions on a Dask cluster, with real processes on 127.0.0.1: a local cluster
started by depeche (`--runner dask --workers 2`), and a `dask scheduler` with two
`dask worker`s started here, one of them killed with SIGKILL while it annotates.
The tables must equal, row for row, those of a `local` run of the same sources.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.corpus import write_corpus
from tests.conftest import DEPECHE, snapshot

ARTICLES, PARTITION_SIZE = 300, 50  # six partitions
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.2)


def test_a_worker_killed_while_it_annotates_loses_nothing_and_doubles_nothing(
    articles, env, depeche, local_tables, same_tables, tmp_path
):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    pause = tmp_path / "paused"
    processes = [
        _start(
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
            ],
            env,
            tmp_path / "scheduler.log",
        )
    ]
    try:
        time.sleep(2)
        # the doomed worker pauses at the first annotate it is given, to be killed there
        doomed = {
            **env,
            "DEPECHE_PAUSE_AT": "produce:annotate",
            "DEPECHE_PAUSE_FILE": str(pause),
        }
        for name, worker_env in (("doomed", doomed), ("steady", env)):
            processes.append(
                _start(
                    [
                        DASK,
                        "worker",
                        address,
                        "--name",
                        name,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--dashboard-address",
                        ":0",
                    ],
                    worker_env,
                    tmp_path / f"{name}.log",
                )
            )
        lake = tmp_path / "lake"
        run = subprocess.Popen(
            [DEPECHE, *_run(articles, lake, "--runner", "dask", "--dask-address", address)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        _wait_for(pause, 180)
        os.killpg(processes[1].pid, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=300)
        assert "Traceback" not in stdout + stderr
        if run.returncode != 0:  # it failed: it says which stage-partition and how to redo
            assert "FAILED stage annotate, partition" in stderr
            assert "depeche rerun --failed" in stderr
        # none lost, none doubled: a following run leaves the tables of a local run
        again = depeche("run", str(articles), "--lake", str(lake), "--runner", "local", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        same_tables(lake, local_tables)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


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
        f"tcp://127.0.0.1:{_free_port()}",
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "no Dask scheduler answers at tcp://127.0.0.1:" in result.stderr
    assert not (tmp_path / "lake" / "_partitions").exists()  # nothing planned


def test_a_worker_that_cannot_see_the_lake_says_so(tmp_path):
    from tasks.records import StageKey
    from tasks.settings import Settings
    from tasks.stages import LakeNotVisible, stage_task

    with pytest.raises(LakeNotVisible, match=f"cannot see the lake at {tmp_path / 'absent'}"):
        stage_task.fn(str(tmp_path / "absent"), "fetch", "p", Settings(), StageKey("", "", {}))


def test_a_run_is_split_in_partitions_of_at_most_the_size_and_always_the_same(
    articles, local_tables, tmp_path
):
    from tasks.fetch import plan_partitions

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
