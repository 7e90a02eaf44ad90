"""What every test module shares: waiting for a condition (never a fixed sleep), and
a free port on the loopback."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
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
