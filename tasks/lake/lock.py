"""The one writer: an flock on `_lock`, held by the run writing the lake."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tasks.errors import LakeLocked, LakeNotWritable


class WriterLock:
    """The lock of one lake root. It is an flock, so the kernel releases it when its
    process dies, however it dies: a killed run never blocks the next."""

    def __init__(self, root: Path, path: Path) -> None:
        self.root = root
        self.path = path

    @contextlib.contextmanager
    def hold(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the lake for one run, waiting up to `wait_seconds` for another run."""
        handle = self._open()
        try:
            self._acquire(handle, time.monotonic() + wait_seconds)
            handle.seek(0)
            handle.truncate()
            handle.write(
                f"pid {os.getpid()} on {socket.gethostname()} since "
                f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}"
            )
            handle.flush()
            yield
        finally:
            handle.close()  # closing the file releases the lock

    def _acquire(self, handle: TextIO, deadline: float) -> None:
        """Take the lock, or LakeLocked naming its holder once `deadline` has passed."""
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another run"
                    raise LakeLocked(
                        f"the lake {self.root} is in use ({holder}); wait for that run "
                        "to end, or pass --wait SECONDS"
                    ) from None
                time.sleep(0.2)

    def _open(self) -> TextIO:
        """The lock file, open for writing; LakeNotWritable when the lake cannot be
        written (a read-only mount, no permission): every writer starts here."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return open(self.path, "a+", encoding="utf-8")
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise  # the disk is full: said as such by the front ends
            raise LakeNotWritable(
                f"the lake {self.root} cannot be written ({error.strerror}: "
                f"{error.filename}): depeche writes its marts, catalog, report and "
                "manifests there; make it writable, or copy the lake somewhere writable"
            ) from None

    def held(self) -> bool:
        """Whether some run holds the lake now."""
        if not self.path.exists():
            return False
        with open(self.path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
