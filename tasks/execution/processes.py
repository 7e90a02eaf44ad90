"""Child processes that must not outlive the process that started them, a stop that
must not be lost, and the memory a process gives back to the system."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable

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


_signal_of: Callable[[BaseException], int | None] | None = None  # set with the hook
_unraisable_before = sys.unraisablehook


def redeliver_lost_stops(signal_of: Callable[[BaseException], int | None]) -> None:
    """Raise a stop again when a finalizer (a `__del__`, a weakref callback) swallowed
    it. A stop signal's handler raises wherever the main thread is, and a stop sent to
    another thread lands wherever that thread is, a finalizer included; Python lets
    no exception out of one: it prints "Exception ignored in" and goes on, the stop
    lost. `signal_of` names the signal an exception stands for, None if it is not a
    stop (then printed as before)."""
    global _signal_of, _unraisable_before
    if sys.unraisablehook is not _redeliver:
        _unraisable_before = sys.unraisablehook
    _signal_of = signal_of
    sys.unraisablehook = _redeliver


def _redeliver(unraisable: sys.UnraisableHookArgs) -> None:
    error = unraisable.exc_value
    signum = None if error is None or _signal_of is None else _signal_of(error)
    if signum is None:
        _unraisable_before(unraisable)
        return
    # raised again from another thread: raised here, in the hook, it would be lost too
    thread = threading.get_ident()
    threading.Thread(target=_raise_again, args=(thread, error, signum), daemon=True).start()


def _raise_again(thread: int, error: BaseException, signum: int) -> None:
    """Once `thread` has left the hook: the signal again (its handler runs in the main
    thread, waking it from any wait), or, in another thread, the stop it was sent."""
    while _in_hook(thread):
        time.sleep(0.001)
    if thread == threading.main_thread().ident:
        os.kill(os.getpid(), signum)
    else:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread), ctypes.py_object(type(error))
        )


def _in_hook(thread: int) -> bool:
    frame = sys._current_frames().get(thread)
    while frame is not None:
        if frame.f_code is _redeliver.__code__:
            return True
        frame = frame.f_back
    return False


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
