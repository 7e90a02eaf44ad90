"""The French spaCy model annotate runs, and what else it reads (first names,
gazetteers).

Only the components the tables need run (tokenizer, tok2vec, senter, ner); the
lemmatizer, morphologizer, attribute ruler and parser are not loaded.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from re import _compiler as regex_compiler
from typing import TYPE_CHECKING

import spacy
from spacy.language import Language

from tasks.errors import ModelNotInstalled
from tasks.nlp import gender, places
from tasks.settings import Settings

if TYPE_CHECKING:  # a type only: the model host runs annotate's workers
    from tasks.execution.model_host import ModelHost

DEFAULT_MODEL = Settings().model
UNUSED_COMPONENTS = ["lemmatizer", "morphologizer", "attribute_ruler", "parser"]


def load_model(name: str) -> Language:
    """The named pipeline with only the components the tables need (seconds of work:
    a stage gets it from its resources, which load it once)."""
    if not spacy.util.is_package(name):
        raise ModelNotInstalled(name)
    try:
        with _charsets_optimized_once():
            nlp = spacy.load(name, exclude=UNUSED_COMPONENTS)
    except ImportError as error:  # its package, or one it needs, cannot be imported here
        raise ModelNotInstalled(name, f"{type(error).__name__}: {error}") from None
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp


@contextlib.contextmanager
def _charsets_optimized_once() -> Iterator[None]:
    """Compile regular expressions with each distinct character class optimized once.

    spaCy's French tokenizer exceptions are one pattern of some 640 alternatives, most
    holding the same few Unicode letter classes, and Python's `re` optimizes each
    occurrence again: 5 of the 7 s the model takes to load, in every process that loads
    it (a run, a Dask worker). The optimization is a pure function of the class, so
    the compiled pattern is the same (`bench.model_load` measures it).
    """
    optimize = getattr(regex_compiler, "_optimize_charset", None)
    if optimize is None:  # another Python's `re`: compile as it does
        yield
        return
    optimized: dict[tuple, tuple] = {}

    def once(charset, iscased=None, fixup=None, fixes=None):
        key = (_hashable(charset), iscased, fixup, id(fixes))
        if key not in optimized:
            optimized[key] = optimize(charset, iscased, fixup, fixes)
        return optimized[key]

    regex_compiler._optimize_charset = once
    try:
        yield
    finally:
        regex_compiler._optimize_charset = optimize


def _hashable(charset: list) -> tuple:
    return tuple((op, tuple(av) if isinstance(av, list) else av) for op, av in charset)


@functools.cache
def _package_version(name: str) -> str | None:
    # every annotate key asks it (7 ms: a walk of the installed packages); a process
    # annotates with the model it loaded, whose version does not change under it
    return spacy.util.get_package_version(name)


def installed_version(name: str) -> str:
    """The version of the installed pipeline `name` (what the annotations depend on)."""
    version = _package_version(name)
    if version is None:
        raise ModelNotInstalled(name)
    return version


def model_id(nlp: Language | ModelHost) -> tuple[str, str]:
    return f"{nlp.meta['lang']}_{nlp.meta['name']}", str(nlp.meta["version"])


def load_references() -> None:
    """Load what annotate reads besides the model (first names, gazetteers) now, in a
    process whose workers fork from it, rather than once in each worker."""
    gender.first_names()
    places.gazetteer()
