"""Ctrl-C, SIGTERM and a full disk: `depeche run` as a real subprocess with its own
temporary Prefect server, stopped in an annotate worker (DEPECHE_PAUSE_AT) and
signalled, or failing as on a full disk (DEPECHE_FAIL_AT); then run again (on the test
harness's server)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schemas import STAGES
from tasks.lake.storage import Lake
from tests.conftest import snapshot
from tests.helpers import wait_until
from tests.processes import command_line, descendants

PROJECT = Path(__file__).resolve().parents[2]
DEPECHE = str(Path(sys.executable).with_name("depeche"))


def run_again_equals(
    same_tables, lake: Path, env: dict[str, str], reference, *command: str
) -> None:
    """The next run (`command`), without faults, completes and makes the tables of a
    run never interrupted. `env` names the test harness's server: what the next run
    shows is the lake it finds, not a temporary server of its own."""
    env = {k: v for k, v in env.items() if not k.startswith(("DEPECHE_PAUSE", "DEPECHE_FAIL"))}
    again = subprocess.run(
        [DEPECHE, *command, "--lake", str(lake)], cwd=PROJECT, env=env,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    store = Lake(lake)
    for spec in store.partitions():
        assert all(store.is_committed(stage, spec.partition) for stage in STAGES)
    assert not list(lake.glob("_staging/*"))
    same_tables(lake, reference)


def _exists(pid: int) -> bool:
    """Still a process, a zombie included (a child nobody reaped)."""
    return Path(f"/proc/{pid}").exists()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stopped(run: subprocess.Popen, children: set[int], send, sig: int) -> tuple[bytes, bytes]:
    """Send `sig` to the run (`os.kill`) or its group (`os.killpg`); its output once it,
    its group and its `children` are gone (asserted)."""
    send(run.pid, sig)
    stdout, stderr = run.communicate(timeout=60)
    wait_until(
        lambda: not (_group_alive(run.pid) or any(map(_exists, children))),
        timeout=5,
        what="every process of the run's group and every child to end (no zombie left)",
    )
    return stdout, stderr


def _kill_all(run: subprocess.Popen, children: set[int]) -> None:
    """Whatever a test saw, nothing of the run outlives it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(run.pid, signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def uninterrupted_in_three(prefect_harness, source: Path, tmp_path_factory) -> dict:
    """The tables of an uninterrupted run of `source` in partitions of two articles."""
    from flows.pipeline import depeche_pipeline
    from tasks.settings import SettingsGiven

    lake = tmp_path_factory.mktemp("reference-in-three")
    given = SettingsGiven(partition_size=2)
    assert depeche_pipeline(sources=[str(source)], lake=str(lake), settings=given).ok
    return snapshot(lake)


@pytest.mark.parametrize(
    ("sig", "to_group", "code", "partition_size"),
    [
        (signal.SIGINT, True, 130, None),  # a terminal's Ctrl-C: the whole foreground group
        (signal.SIGTERM, True, 143, None),  # a timeout, systemd, a container stop
        (signal.SIGTERM, False, 143, None),  # `kill PID`: the run's own process alone
        # three partitions, two in flight: one annotating, the next beside it in a
        # thread of the flow, which the signal (heard by the main thread) must stop too
        (signal.SIGTERM, False, 143, 2),
    ],
    ids=["ctrl-c", "sigterm-group", "sigterm-main", "sigterm-main-partitions-in-flight"],
)
def test_a_signalled_run_stops_at_once_in_one_line_and_the_next_run_redoes_it(
    sig,
    to_group,
    code,
    partition_size,
    source,
    same_tables,
    subprocess_env,
    harness_env,
    tmp_path,
    request,
):
    reference = request.getfixturevalue(
        "uninterrupted" if partition_size is None else "uninterrupted_in_three"
    )
    sizing = [] if partition_size is None else ["--partition-size", str(partition_size)]
    lake = tmp_path / "lake"
    marker = tmp_path / "paused"
    env = {
        **subprocess_env,  # no PREFECT_API_URL: the run starts its temporary server
        "DEPECHE_PAUSE_AT": "annotate:worker",
        "DEPECHE_PAUSE_FILE": str(marker),
    }
    run = subprocess.Popen(
        [DEPECHE, "run", str(source), "--lake", str(lake), *sizing],
        cwd=PROJECT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group, as a terminal's foreground job
    )
    children: set[int] = set()
    try:
        wait_until(marker.exists, timeout=240, what="its annotate worker", process=run)
        children = descendants(run.pid)  # the server, the model host and its worker
        assert any("uvicorn" in command_line(pid) for pid in children), "its temporary server"
        assert any("tasks.execution.model_host" in command_line(pid) for pid in children), (
            "its model host"
        )
        signalled = time.monotonic()
        stdout, stderr = _stopped(run, children, os.killpg if to_group else os.kill, sig)
        took = time.monotonic() - signalled
    finally:
        _kill_all(run, children)

    assert run.returncode == code, stderr.decode()
    assert took < 10, f"stopped {took:.1f} s after the signal"
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, stderr.decode()
    assert f"interrupted ({sig.name})" in lines[0] and "next run" in lines[0]
    assert b"Traceback" not in stdout + stderr
    assert not Lake(lake).is_locked()
    annotate = [row.status for row in Lake(lake).status(STAGES) if row.stage == "annotate"]
    assert annotate[0] == "interrupted"  # the first partition, stopped in its worker
    assert "running" not in annotate and "committed" not in annotate

    if to_group or partition_size:  # the other case unwinds the same way
        run_again_equals(same_tables, lake, harness_env, reference, "run", str(source))


def _loaded(pid: int, package: str) -> bool:
    """`package` (a compiled part of it) is loaded in process `pid`."""
    with contextlib.suppress(OSError):
        return f"/{package}/" in Path(f"/proc/{pid}/maps").read_text()
    return False


def _importing(pid: int) -> bool:
    """The command is loading its command line (pydantic, among the first)."""
    return _loaded(pid, "pydantic_core")


def _host_loading_spacy(pid: int) -> bool:
    """The run's model host has begun to import spaCy (it loads the model after)."""
    hosts = [
        child for child in descendants(pid) if "tasks.execution.model_host" in command_line(child)
    ]
    return any(_loaded(host, "spacy") for host in hosts)


def _gating(lake: Path) -> bool:
    """The first stage's output is staged: its gate reads it back and runs the
    suites (the first gate of a run also waits for Great Expectations to load)."""
    return any(lake.glob("_staging/fetch-*/**/*.parquet"))


@pytest.mark.parametrize(
    "instant",
    [_importing, _host_loading_spacy, _gating],
    ids=["loading-the-command", "host-importing-spacy", "in-the-gate"],
)
def test_ctrl_c_at_any_instant_of_a_run_is_one_line_from_the_run_alone(
    instant, source, subprocess_env, tmp_path
):
    """A terminal's Ctrl-C reaches every process of the run's group: the run, its
    model host (and, later, the host's workers). Only the run speaks, whenever it
    comes (the existing case above: in an annotate worker)."""
    lake = tmp_path / "lake"
    run = subprocess.Popen(
        [DEPECHE, "run", str(source), "--lake", str(lake)], cwd=PROJECT, env=subprocess_env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    children: set[int] = set()
    try:
        reached = lake if instant is _gating else run.pid

        def there() -> bool:
            children.update(descendants(run.pid))  # each process it started on the way
            return instant(reached)

        wait_until(there, timeout=240, what=instant.__name__, every=0.02, process=run)
        children |= descendants(run.pid)
        stdout, stderr = _stopped(run, children, os.killpg, signal.SIGINT)
    finally:
        _kill_all(run, children)

    assert run.returncode == 130, stderr.decode()
    assert b"Traceback" not in stdout + stderr, stderr.decode()
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, stderr.decode()
    assert "run interrupted (SIGINT)" in lines[0]
    if instant is not _importing:  # the lake exists: left unlocked, nothing left running
        assert not Lake(lake).is_locked()
        assert "running" not in {row.status for row in Lake(lake).status(STAGES)}


def test_a_full_disk_fails_the_stage_in_plain_words_and_the_next_run_completes(
    source, uninterrupted, same_tables, subprocess_env, harness_env, tmp_path
):
    lake = tmp_path / "lake"
    env = {**subprocess_env, "DEPECHE_FAIL_AT": "write:entities"}
    full = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(lake)], cwd=PROJECT, env=env,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert full.returncode == 1, full.stderr
    assert "No space left on device" in full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    states = {row.stage: row.status for row in Lake(lake).status(STAGES)}
    assert states["annotate"] == "failed"
    # a failed stage-partition is redone on demand, as the run's last line says
    assert "depeche rerun --failed" in full.stderr
    run_again_equals(same_tables, lake, harness_env, uninterrupted, "rerun", "--failed")


@pytest.fixture
def cli_main(monkeypatch):
    """flows.cli.main() in this process, its command replaced; its exit code."""
    from flows import cli

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def leave(code: int):
        raise SystemExit(code)

    monkeypatch.setattr(cli, "_leave", leave)
    monkeypatch.setattr(sys, "unraisablehook", sys.unraisablehook)  # main() sets its own

    def main(error: BaseException) -> int:
        class Command:
            def main(self, **_: object):
                raise error

        monkeypatch.setattr(cli.typer.main, "get_command", lambda _app: Command())
        try:
            cli.main()
        except SystemExit as leaving:
            return int(leaving.code)
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        raise AssertionError("main() did not leave")

    return main


# `depeche run` whose command is replaced: a thing it lets go of (an event loop's
# transport, say) has a finalizer that waits, and a stop comes meanwhile, in the main
# thread (SIGTERM: its handler raises in the finalizer) or in a partition's thread
# (sent by the flow as the main thread stops: it lands in the finalizer)
LET_GO_WHILE_STOPPED = """
import sys, threading, time
from pathlib import Path
from flows import cli

where, finalizing, left = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])

class Transport:
    def __del__(self):
        finalizing.touch()
        for _ in range(2000):  # 20 s, in steps a stop can land between
            time.sleep(0.01)

def work():
    Transport()  # let go at once: its finalizer runs here
    for _ in range(2000):  # the rest of the work, which the stop must end
        time.sleep(0.01)

def partition(working):
    with working.on("2024-01-01"):
        try:
            work()
        except KeyboardInterrupt:
            left.touch()

class Run:
    def main(self, **_):
        if where == "main-thread":
            return work()
        from flows.pipeline import _Working

        working = _Working()
        threading.Thread(target=partition, args=(working,)).start()
        try:
            time.sleep(60)
        except BaseException:
            working.interrupt()  # as the flow does for the partitions in flight
            raise

cli.typer.main.get_command = lambda _app: Run()
cli.main()
"""


@pytest.mark.parametrize("where", ["main-thread", "partition-thread"])
def test_a_stop_that_lands_in_a_finalizer_still_stops_the_run_in_one_line(where, tmp_path):
    """Python lets no exception out of a finalizer (it prints "Exception ignored in"
    and goes on): the stop that landed there is raised again once it has run."""
    finalizing, left = tmp_path / "finalizing", tmp_path / "left"
    run = subprocess.Popen(
        [sys.executable, "-c", LET_GO_WHILE_STOPPED, "run", where, str(finalizing), str(left)],
        cwd=PROJECT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(finalizing.exists, timeout=60, what="the finalizer", process=run)
        signalled = time.monotonic()
        _stdout, stderr = _stopped(run, set(), os.kill, signal.SIGTERM)
        took = time.monotonic() - signalled
    finally:
        _kill_all(run, set())

    assert run.returncode == 143, stderr.decode()
    assert took < 10, f"stopped {took:.1f} s after the signal"
    lines = stderr.decode().strip().splitlines()  # no "Exception ignored in" among them
    assert len(lines) == 1, stderr.decode()
    assert lines[0].startswith("depeche: run interrupted (SIGTERM)")
    if where == "partition-thread":
        assert left.exists(), "the partition's thread stopped too"


def test_a_full_disk_outside_a_stage_says_so_in_one_line(cli_main, capsys):
    code = cli_main(OSError(errno.ENOSPC, "No space left on device", "/lake/_manifests/x"))
    assert code == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("depeche: the disk is full (No space left on device: /lake/")
    assert "free space, then run again" in line


@pytest.mark.parametrize(
    ("escaped", "raised"),
    [
        (RuntimeError("boom"), "RunStopped"),  # one line, exit code 1 (not 2, usage)
        (OSError(errno.ENOSPC, "No space left on device"), "OSError"),  # main(): disk full
    ],
)
def test_an_error_that_escapes_the_flow_is_not_a_usage_error(escaped, raised, monkeypatch):
    from flows import cli, pipeline
    from tasks.execution.resources import Resources

    class State:
        def result(self, raise_on_failure: bool) -> BaseException:
            return escaped

    monkeypatch.setattr(pipeline, "depeche_pipeline", lambda **_: State())
    monkeypatch.setattr(Resources, "warm_up", lambda self, model: None)
    with pytest.raises(BaseException) as stopped:
        cli._run_flow(None, "fr_core_news_sm", {}, verbose=True)
    assert type(stopped.value).__name__ == raised
    if raised == "RunStopped":
        assert stopped.value.exit_code == 1
        assert str(stopped.value) == "the run stopped: RuntimeError: boom"
