"""Child processes that must not outlive the process that started them, and the
memory a process gives back to the system."""

from __future__ import annotations

import contextlib
import ctypes
import platform
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""What stops a command: a terminal's Ctrl-C and a service manager's stop. Both may
reach its whole process group, its children included."""


_exiting = threading.Event()


def mark_exiting() -> None:
    """Say that this process has begun to exit (its model hosts are let go)."""
    _exiting.set()


def process_exiting() -> bool:
    """Whether this process has begun to exit: a stage that fails then (its model
    host's pipe closed under it, a run stopped with partitions in flight) failed
    because its process is going, not of itself."""
    return _exiting.is_set()


def leave_stopping_to_parent() -> None:
    """In a child (as `preexec_fn`, before it runs anything, or first thing after a
    fork): ignore the signals that stop a command. The parent handles them and stops
    its children itself; a child that heard them too would print its own traceback
    (a KeyboardInterrupt in whatever it was importing) or die before the parent has
    recorded why. Ignored signals stay ignored across fork and exec, and a Python
    interpreter started with SIGINT ignored raises no KeyboardInterrupt."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> None:
    """In a child (Linux): receive `sig` when the parent dies, however it dies, so a
    killed run leaves no worker or server behind (holding its lake lock, say)."""
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (whose allocator the functions here tune)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def give_back_memory() -> None:
    """Hand the free memory of every heap of this process (each thread that
    allocates may have its own) back to the system: glibc keeps it otherwise, and
    a process that reads and gates one partition after another grows by each.
    Elsewhere, nothing."""
    libc = glibc()
    if libc is not None:
        libc.malloc_trim(0)
