"""The model in a process of its own, from which annotate's workers fork.

A local run annotates in worker processes forked with the model loaded (see
tasks/execution/pool.py). Forked from the process that runs the flow, a worker would
start with all the flow holds (Prefect, Great Expectations, the partitions in
flight) and copy each page of it that the flow writes while the worker lives; the
flow would hold the model for nothing, and load it on its own critical path. So a
run starts a model host as it starts: a fresh interpreter that loads the model
and nothing else, on the other core while Prefect and the suites start, and that
forks each partition's workers from its clean heap. It never annotates itself, so
its vocabulary never grows.

The flow speaks to it over a socket pair, one partition at a time: it sends the
articles, hears progress, and gets the tables back (or the exception a worker
raised). The host lives as long as the process that started it: it exits when the
pipe on its stdin closes, however that process ended, and its workers die with it.
Ctrl-C and SIGTERM are that process's to handle: the host and its workers ignore
them from their first instruction, and are stopped by it.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from tasks.execution.processes import STOP_SIGNALS, leave_stopping_to_parent, mark_exiting
from tasks.progress import ProgressFn

if TYPE_CHECKING:  # a type only: spaCy is imported in the host, once it watches stdin
    from spacy.language import Language

POLL_SECONDS = 0.5  # how often a waiting partition thread can hear of an interruption


class ModelHost:
    """A running host for the named model. `meta`, `pipe_names` and `max_length` are
    the loaded pipeline's, as on a `Language` (they wait for the model to load, and
    raise what the load raised: `ModelNotInstalled`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tasks.execution.model_host", name, str(theirs.fileno())],
            stdin=subprocess.PIPE,  # its end of life: closed when this process ends
            pass_fds=(theirs.fileno(),),
            preexec_fn=leave_stopping_to_parent,  # even while the interpreter starts
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        self._lock = threading.Lock()
        self._facts: dict[str, Any] | None = None

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _loaded(self) -> dict[str, Any]:
        if self._facts is not None:  # not waiting for a partition another thread sent
            return self._facts
        with self._lock:
            if self._facts is None:
                self._facts = self._answer(None)
            return self._facts

    @property
    def meta(self) -> dict[str, Any]:
        return self._loaded()["meta"]

    @property
    def pipe_names(self) -> list[str]:
        return self._loaded()["pipe_names"]

    @property
    def max_length(self) -> int:
        return self._loaded()["max_length"]

    def annotate(
        self,
        articles: list[dict[str, Any]],
        batch_size: int,
        n_process: int,
        progress: ProgressFn | None,
    ) -> Any:
        """The annotated tables of `articles` (tasks/nlp/rows.py's `Tables`), from `n_process`
        workers the host forks for them."""
        self._loaded()
        with self._lock:
            self._connection.send((articles, batch_size, n_process))
            return self._answer(progress)

    def _answer(self, progress: ProgressFn | None) -> Any:
        """What the host sends back, hearing its progress on the way. Interrupted
        (the run stopped: an exception raised in this thread), the host is killed,
        its workers with it: what they were doing is of no use now."""
        try:
            while True:
                if not self._connection.poll(POLL_SECONDS):
                    if not self.alive:
                        raise RuntimeError(self._exited())
                    continue
                try:
                    kind, *message = self._connection.recv()
                except EOFError:  # the host is gone: its end of the socket closed
                    raise RuntimeError(self._exited()) from None
                if kind != "progress":
                    break
                if progress is not None:
                    progress(*message)
        except BaseException:
            self.close()
            raise
        if kind == "error":  # a worker's, or the model's load
            raise message[0]
        return message[0]

    def _exited(self) -> str:
        """Why the host stopped answering: it exited, with this code."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(POLL_SECONDS)  # a closed socket comes just before the exit
        return f"the process holding the model {self.name} exited (code {self._process.returncode})"

    def close(self, *, wait_seconds: float = 0.0) -> None:
        """Stop the host: at once, its workers with it; or, given `wait_seconds`, by
        closing its stdin as if this process had ended, and waiting for it to go (so
        that its CPU time is counted with this process's children), then killing it."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        if wait_seconds:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(wait_seconds)
        if self.alive:
            self._process.kill()
        self._process.wait()
        self._connection.close()


_hosts: dict[str, ModelHost] = {}
_hosts_lock = threading.Lock()


def host(name: str) -> ModelHost:
    """This process's host for the named model: started on first use, and again if it
    was stopped (a run interrupted while it annotated). One a process, whoever asks:
    each holds a model's memory."""
    with _hosts_lock:
        running = _hosts.get(name)
        if running is None or not running.alive:
            running = _hosts[name] = ModelHost(name)
        return running


@atexit.register
def stop_hosts() -> None:
    """Let this process's hosts go, and wait for them (called as it exits). A stop
    signal that comes meanwhile (a Ctrl-C reaching every process of a terminal's
    group, a flow run's process among them, as it exits) changes nothing: the process
    is already going, and the wait is bounded."""
    mark_exiting()  # before any pipe closes: a stage failing from now on is interrupted
    if threading.current_thread() is threading.main_thread():
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    with _hosts_lock:
        for running in _hosts.values():
            running.close(wait_seconds=5.0)
        _hosts.clear()


def _exit_with_parent() -> None:
    """Wait for the pipe on stdin to close (the starting process is gone), then go:
    the workers, which die with this process, go too."""
    while os.read(0, 1024):
        pass
    os._exit(0)


def main(name: str, fd: int) -> None:
    """The host: load the model, say what it is, then annotate each request in
    workers forked from here."""
    # first, so that a run stopped while spaCy still imports has its host go at once
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    connection = Connection(fd)
    nlp = _load(name, connection)
    if nlp is None:
        return
    gc.collect()
    gc.freeze()  # the model's objects, shared by the workers: never walked, never copied
    pipeline = {
        "meta": {key: nlp.meta[key] for key in ("lang", "name", "version")},
        "pipe_names": list(nlp.pipe_names),
        "max_length": nlp.max_length,
    }
    connection.send(("ready", pipeline))
    _serve(nlp, connection)


def _load(name: str, connection: Connection) -> Language | None:
    """The loaded model, with what annotate reads besides (first names, gazetteers:
    loaded once, shared by the workers); None when it cannot load, once the error is
    sent (said by the stage that needs the model)."""
    try:
        # spaCy takes seconds to import: here, in the host, after the watch on stdin
        from tasks.nlp.model import load_model, load_references

        nlp = load_model(name)
        load_references()
    except Exception as error:  # ModelNotInstalled, or a package that cannot import
        connection.send(("error", error))
        return None
    return nlp


def _serve(nlp: Language, connection: Connection) -> None:
    """Annotate each partition sent, in workers forked from here, until the socket
    closes; send back the tables, or the error."""
    # with spaCy, which it imports: after the watch on stdin, like the model's load
    from tasks.execution.pool import annotate_in_workers

    while True:
        try:
            articles, batch_size, n_process = connection.recv()
        except EOFError:
            return

        def progress(done: int, total: int) -> None:
            connection.send(("progress", done, total))

        try:
            answer = ("done", annotate_in_workers(nlp, articles, batch_size, n_process, progress))
        except Exception as error:
            answer = ("error", error)
        try:
            connection.send(answer)
        except Exception as error:  # an exception that cannot be pickled: said in words
            connection.send(("error", RuntimeError(f"{answer[1]!r} ({error})")))
        del articles, answer
        gc.collect()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
