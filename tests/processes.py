"""What the kill and signal tests read of a run's processes, from /proc (Linux)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def children(pid: int) -> set[int]:
    """The processes `pid` started (from any of its threads) that are still there."""
    found: set[int] = set()
    threads = Path(f"/proc/{pid}/task")
    for task in threads.iterdir() if threads.exists() else ():
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def descendants(pid: int) -> set[int]:
    """The processes `pid` started, and those they started in turn (the run's model
    host and its annotate workers, its Prefect server)."""
    found: set[int] = set()
    waiting = [pid]
    while waiting:
        started = children(waiting.pop()) - found
        waiting.extend(started)
        found |= started
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace").replace("\0", " ")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """A running process (not a zombie nobody reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] not in "ZX"
    except OSError:
        return False
