"""Scheduling, for real: a Prefect server on 127.0.0.1 with its own Prefect home, the
deployments of prefect.yaml in a process work pool with a worker, and `depeche serve`.
Every process a test starts is stopped at its end."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path

import pytest

from schemas import STAGES
from tasks.lake.storage import Lake
from tests.helpers import free_port, wait_until

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def server_env(subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    env = {**subprocess_env, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    # schedules show up within seconds, and served runs start at once
    env["PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS"] = "2"
    env["PREFECT_RUNNER_POLL_FREQUENCY"] = "2"
    env["PREFECT_WORKER_QUERY_SECONDS"] = "2"
    return env


@contextmanager
def started(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        args, cwd=PROJECT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def wait_for(check, timeout: float, what: str):
    # the server may not answer yet
    return wait_until(check, timeout=timeout, what=what, every=0.5, tolerate=Exception)


def api(api_url: str, call):
    """Run `call(client)` against the server at api_url."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def go():
        with temporary_settings({PREFECT_API_URL: api_url}):
            async with get_client() as client:
                return await call(client)

    return asyncio.run(go())


def healthy(api_url: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
        return response.status == 200


def run_and_wait(api_url: str, name: str, parameters: dict, timeout: float = 300):
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        flow_run = run_deployment(name, parameters=parameters, timeout=0)

    async def final(client):
        current = await client.read_flow_run(flow_run.id)
        return current if current.state and current.state.is_final() else None

    return wait_for(lambda: api(api_url, final), timeout, f"the {name} run to end")


def scheduled_starts(api_url: str, name: str) -> list:
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async def read(client):
        deployment = await client.read_deployment_by_name(name)
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
            ),
        )
        return sorted(run.expected_start_time for run in runs)

    return api(api_url, read)


def assert_hourly(starts: list) -> None:
    assert len(starts) >= 2
    assert all((s.minute, s.second, s.microsecond) == (0, 0, 0) for s in starts)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts))


def assert_committed(lake: Path) -> None:
    store = Lake(lake)
    partitions = [spec.partition for spec in store.partitions()]
    assert partitions
    assert all(store.is_committed(stage, p) for p in partitions for stage in STAGES)
    assert (lake / "annotated" / "entities").is_dir()


def test_deployments_run_on_a_real_server_and_worker(server_env, tmp_path):
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**server_env, "PREFECT_API_URL": api_url}
    prefect = str(BIN / "prefect")
    server = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with started(server, server_env):
        wait_for(lambda: healthy(api_url), 120, "the Prefect server")
        for command in (
            [prefect, "work-pool", "create", "depeche", "--type", "process"],
            [prefect, "--no-prompt", "deploy", "--all"],
        ):
            done = subprocess.run(
                command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr

        # a bad parameter is refused before any run exists
        from prefect.settings import PREFECT_API_URL, temporary_settings

        bad_lake = tmp_path / "never"
        with temporary_settings({PREFECT_API_URL: api_url}), pytest.raises(Exception) as refused:
            from prefect.deployments import run_deployment

            run_deployment(
                "depeche-backfill/backfill",
                parameters={"since": "last spring", "until": "2020-03", "lake": str(bad_lake)},
                timeout=0,
            )
        assert "since" in str(refused.value)
        assert not bad_lake.exists()

        worker = [prefect, "worker", "start", "--pool", "depeche"]
        with started(worker, env):
            lake = tmp_path / "lake"
            flow_run = run_and_wait(api_url, "depeche-ingest/ingest", {"lake": str(lake)})
            assert flow_run.state.is_completed(), flow_run.state.message
            assert_committed(lake)
        starts = wait_for(
            lambda: scheduled_starts(api_url, "depeche-ingest/ingest"), 90, "scheduled runs"
        )
        assert_hourly(starts)


def test_depeche_serve_serves_the_deployments_with_their_schedules(server_env, sample, tmp_path):
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    serve = [str(BIN / "depeche"), "serve", "--port", str(port)]
    with started(serve, server_env):
        wait_for(lambda: healthy(api_url), 120, "the Prefect server of depeche serve")

        async def names(client):
            return {f"{d.name}" for d in await client.read_deployments()} >= {
                "ingest", "rerun-failed", "backfill"
            }  # fmt: skip

        wait_for(lambda: api(api_url, names), 120, "the served deployments")
        lake = tmp_path / "lake"
        flow_run = run_and_wait(
            api_url,
            "depeche-ingest/ingest",
            {"lake": str(lake), "sources": [str(sample / "wire")]},
        )
        assert flow_run.state.is_completed(), flow_run.state.message
        assert_committed(lake)
        starts = wait_for(
            lambda: scheduled_starts(api_url, "depeche-ingest/ingest"), 90, "scheduled runs"
        )
        assert_hourly(starts)


def test_the_ui_of_depeche_serve_talks_to_the_port_it_serves_on(monkeypatch, tmp_path):
    """`depeche serve --port N`: the UI is told to call the API on N, not Prefect's
    default 4200 (its /ui-settings api_url)."""
    import json
    import urllib.request

    from flows.serving import local_server

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    for name in ("PREFECT_API_URL", "PREFECT_UI_API_URL", "PREFECT_SERVER_UI_API_URL"):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    assert port != 4200
    with local_server(port) as api_url:
        assert api_url == f"http://127.0.0.1:{port}/api"
        url = f"http://127.0.0.1:{port}/ui-settings"
        with urllib.request.urlopen(url, timeout=10) as response:
            ui_settings = json.load(response)
    assert ui_settings["api_url"] == api_url


@pytest.mark.parametrize(
    ("sig", "code", "in_flight"),
    [(signal.SIGTERM, 143, False), (signal.SIGINT, 130, False), (signal.SIGTERM, 143, True)],
    ids=["service-manager-stop", "ctrl-c", "service-manager-stop-run-in-flight"],
)
def test_depeche_serve_stops_within_seconds_after_serving_a_run(
    sig, code, in_flight, server_env, sample, tmp_path
):
    """A service manager's stop (SIGTERM) or a terminal's Ctrl-C, to the whole group,
    once a served run has used the server, or while one runs: everything stops, in
    one line; a run it stopped is left for the next run to redo."""
    from flows.serving import healthy as answers
    from tests.processes import command_line, descendants

    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    lake, paused = tmp_path / "lake", tmp_path / "paused"
    env = {**server_env, "DEPECHE_PAUSE_AT": "produce:clean", "DEPECHE_PAUSE_FILE": str(paused)}
    output, errors = tmp_path / "stdout", tmp_path / "stderr"
    with output.open("wb") as stdout, errors.open("wb") as stderr:
        serve = subprocess.Popen(
            [str(BIN / "depeche"), "serve", "--port", str(port)], cwd=PROJECT,
            env=env if in_flight else server_env, stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=stderr, start_new_session=True,
        )  # fmt: skip
    children: set[int] = set()
    try:
        wait_for(lambda: healthy(api_url), 120, "the Prefect server of depeche serve")

        async def served(client):
            return {"ingest", "rerun-failed"} <= {d.name for d in await client.read_deployments()}

        wait_for(lambda: api(api_url, served), 120, "the served deployments")
        if in_flight:  # held in its clean stage, fetch committed
            from prefect.deployments import run_deployment
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings({PREFECT_API_URL: api_url}):
                parameters = {"lake": str(lake), "sources": [str(sample / "wire")]}
                run_deployment("depeche-ingest/ingest", parameters=parameters, timeout=0)
            wait_for(paused.exists, 240, "the served run to reach its clean stage")
        else:  # the quickest run there is: nothing failed in a new lake
            flow_run = run_and_wait(
                api_url, "depeche-rerun-failed/rerun-failed", {"lake": str(lake)}
            )
            assert flow_run.state.is_completed(), flow_run.state.message
        children = descendants(serve.pid)
        assert any("server start" in command_line(pid) for pid in children), "its server"
        os.killpg(serve.pid, sig)
        # within a service manager's stop timeout (systemd's default: 90 s), on a
        # loaded machine too: a run in flight is cancelled and recorded on the server,
        # queued log lines are sent, then the server stops
        serve.wait(timeout=60)
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in children),
            timeout=5,
            what="the children to end, zombies reaped",
        )
    finally:
        with suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        serve.wait(timeout=30)

    said = errors.read_text()
    assert serve.returncode == code, said
    assert "Traceback" not in output.read_text() + said, said
    lines = [line for line in said.splitlines() if line.strip()]
    assert len(lines) == 1, said  # Prefect's console log shows only CRITICAL here
    assert f"serve interrupted ({sig.name})" in lines[0]
    assert not answers(api_url), "the server was stopped"
    if in_flight:
        assert not Lake(lake).is_locked()
        states = {row.stage: row.status for row in Lake(lake).status(STAGES)}
        assert states["fetch"] == "committed" and states["clean"] == "interrupted"
