"""What every test module shares: waiting for a condition (never a fixed sleep), a
free port on the loopback, a folder of sample wire stories, the `depeche` command run as
a user runs it, and a Python process run as a cron job would run it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    every: float = 0.1,
    process: subprocess.Popen | None = None,
    tolerate: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> T:
    """The first true value of `condition()`, asked every `every` seconds. Fails
    saying `what` was awaited after `timeout` seconds, or at once when `process`
    (whose work is awaited) has ended; an exception in `tolerate` counts as not yet
    (a server that does not answer yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = condition()
        except tolerate:
            found = None
        if found:
            return found
        if process is not None and process.poll() is not None:
            output = process.communicate() if process.stdout or process.stderr else ""
            raise AssertionError(f"the process ended before {what}: {output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def depeche(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed `depeche` command (the one beside this interpreter), its
    output captured as text; its exit code is the caller's to check."""
    argv = [str(Path(sys.executable).with_name("depeche")), *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def wire_stories(sample: Path, folder: Path, pattern: str) -> Path:
    """`folder`, made, with the wire stories of the sample whose names match `pattern`."""
    folder.mkdir()
    for name in sorted(p.name for p in (sample / "wire").glob(pattern)):
        shutil.copy(sample / "wire" / name, folder / name)
    return folder


def run_python(
    args: list[str], *, code: Path, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    """Python with `args`, importing depeche from `code`, in `cwd`, as a cron job would
    run it: no input, its output captured, five minutes at most."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
