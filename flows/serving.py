"""Prefect servers depeche starts, and `depeche serve`.

`depeche serve` serves the deployments of prefect.yaml from this machine. prefect.yaml
stays the one place where deployments are declared: this reads its entries
(entrypoint, parameters, cron schedules) and serves them with Prefect's `serve`,
against PREFECT_API_URL or, without one, a local Prefect server it starts.

`depeche run` without an API uses Prefect's temporary server, started here as soon
as the command begins, so that its start-up overlaps depeche's own.

A server depeche starts lives in a process group of its own: Ctrl-C or a service
manager's SIGTERM, which reach the whole group of the command, stop the command,
which records the stop on the server and then stops the server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tasks.execution.processes import STOP_SIGNALS, die_with_parent


def deployment_specs(prefect_yaml: Path) -> list[dict[str, Any]]:
    """The deployments declared in prefect.yaml."""
    config = yaml.safe_load(prefect_yaml.read_text(encoding="utf-8"))
    return list(config.get("deployments") or [])


def runner_deployments(prefect_yaml: Path) -> list[Any]:
    """Each declared deployment as a deployment this process can serve."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron

    deployments = []
    for spec in deployment_specs(prefect_yaml):
        flow = load_flow_from_entrypoint(spec["entrypoint"])
        schedules = [
            Cron(entry["cron"], timezone=entry.get("timezone", "UTC"))
            for entry in spec.get("schedules") or []
            if "cron" in entry
        ]
        deployments.append(
            flow.to_deployment(
                name=spec["name"],
                description=spec.get("description"),
                parameters=spec.get("parameters") or {},
                schedules=schedules or None,
            )
        )
    return deployments


def healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


PORT_IN_USE = 3  # uvicorn's exit code when it cannot bind
STOP_SECONDS = 10.0  # a server's graceful stop, before it is killed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrefectServer:
    """A Prefect server in a child process on 127.0.0.1, from its start to `stop`.

    Temporary (no port given): Prefect's temporary server, the same app, command and
    settings Prefect starts by itself when no API is configured (no UI, ephemeral
    mode), on a free port; depeche launches it before it imports Prefect and loads
    its model, where Prefect would start it (and import the whole server into the
    caller first) at the flow's first API call. On a given port: `prefect server
    start`, with its UI and its services (the scheduler `depeche serve` needs)."""

    def __init__(self, port: int | None = None) -> None:
        self.temporary = port is None
        self.port = port or _free_port()
        self.name = "Prefect's temporary server" if self.temporary else "the Prefect server"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (kept until stop)
        self.process = self._launch()
        self.answered = False

    def _launch(self) -> subprocess.Popen[bytes]:
        if self.temporary:
            command = [
                sys.executable, "-m", "uvicorn", "--factory",
                "prefect.server.api.server:create_app", "--host", "127.0.0.1",
                "--port", str(self.port), "--log-level", "error", "--lifespan", "on",
            ]  # fmt: skip
            settings = {
                "PREFECT_UI_ENABLED": "0",
                "PREFECT__SERVER_EPHEMERAL": "1",
                "PREFECT__SERVER_FINAL": "1",
            }
        else:
            prefect = str(Path(sys.executable).with_name("prefect"))
            command = [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
            # `--port` only binds the server: the api_url its UI is given (/ui-settings)
            # comes from settings (PREFECT_API_URL, else PREFECT_SERVER_API_HOST/PORT,
            # default 4200), so on any other port the UI could not reach its API. Tell
            # it this server's URL, unless the user set the UI's URL (e.g. a proxy).
            settings = {}
            if not {"PREFECT_SERVER_UI_API_URL", "PREFECT_UI_API_URL"} & os.environ.keys():
                settings["PREFECT_SERVER_UI_API_URL"] = self.api_url
        return subprocess.Popen(
            command,
            env={**os.environ, **settings},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            # killed when the command dies, however it dies: no server left behind
            preexec_fn=functools.partial(die_with_parent, signal.SIGTERM),
            start_new_session=True,  # out of reach of the signals that stop the command
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def ready(self, timeout: float = 120.0) -> str:
        """Its API URL, once it answers."""
        deadline = time.monotonic() + timeout
        while not healthy(self.api_url):
            exited = self.process.poll()
            if exited == PORT_IN_USE and self.temporary:  # taken since it was probed
                self.port = _free_port()
                self.process = self._launch()
            elif exited is not None:
                self._log.seek(0)
                detail = self._log.read().decode(errors="replace").strip().splitlines()
                raise RuntimeError(
                    f"{self.name} did not start"
                    + (f": {detail[-1]}" if detail else f" (port {self.port} in use?)")
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer on {self.api_url}")
            time.sleep(0.05)
        self.answered = True  # from now on, clients may record on it
        return self.api_url

    def stop(self) -> None:
        """Stop it: at once if it never answered (nothing was recorded on it, and a
        server still starting up finishes that first, seconds later, before it
        heeds SIGTERM); else once this process's queued log lines and events are
        sent to it, gracefully, then at once."""
        if self.answered:
            send_prefect_queues()
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_SECONDS)
        self.process.kill()
        self.process.wait()
        self._log.close()


def send_prefect_queues() -> None:
    """Send what Prefect still holds of this process's log lines and events to its
    API (Prefect would at exit, when a server depeche started is gone)."""
    if "prefect.logging.handlers" in sys.modules:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)


@contextlib.contextmanager
def local_server(port: int) -> Iterator[str]:
    """A Prefect server with its UI on 127.0.0.1:port for as long as the block runs;
    its API URL."""
    server = PrefectServer(port)
    try:
        yield server.ready()
    finally:
        server.stop()


def serve(prefect_yaml: Path, port: int, announce: Any = print) -> int | None:
    """Serve every deployment of prefect.yaml until a stop signal comes (Ctrl-C, a
    service manager's SIGTERM); that signal."""
    if os.environ.get("PREFECT_API_URL"):
        context: contextlib.AbstractContextManager[str] = contextlib.nullcontext(
            os.environ["PREFECT_API_URL"]
        )
    else:
        context = local_server(port)
    with context as api_url:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        os.environ["PREFECT_API_URL"] = api_url  # for the flow runs it starts
        with temporary_settings({PREFECT_API_URL: api_url}):
            deployments = runner_deployments(prefect_yaml)
            names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments)
            announce(f"serving {names}")
            announce(f"Prefect UI: {api_url.removesuffix('/api')}   (Ctrl-C to stop)")
            return _serve_until_stopped(deployments)


def _serve_until_stopped(deployments: list[Any]) -> int | None:
    """Run Prefect's runner for `deployments` (as Prefect's `serve` does) until a
    stop signal, then stop it as Prefect stops it on SIGTERM, for either signal:
    runs in flight cancelled, its loops ended, its connections closed while the
    server still answers; the signal."""
    from prefect.runner import Runner

    command_handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    class StoppedBySignal(Runner):
        stopped_by: int | None = None

        def handle_sigterm(self, signum: int = signal.SIGTERM, frame: Any = None) -> None:
            if self.stopped_by is not None:  # a second signal: the stop is under way
                return
            if self._loop is None or self._loop.is_closed():  # not serving: as before
                handler = command_handlers[signum]
                if callable(handler):
                    handler(signum, frame)
                raise KeyboardInterrupt
            self.stopped_by = signum
            asyncio.run_coroutine_threadsafe(self._stop_once_started(), self._loop)

        async def _stop_once_started(self) -> None:
            while not self.started:  # the signal came while it connected
                await asyncio.sleep(0.05)
            await self.astop()

    runner = StoppedBySignal()
    for deployment in deployments:
        runner.add_deployment(deployment)
    # the runner takes SIGTERM as it starts (its handler: this class's); SIGINT too
    signal.signal(signal.SIGINT, runner.handle_sigterm)
    asyncio.run(runner.start())
    return runner.stopped_by
