"""Resources: a model annotating in its own process (as on a Dask worker) is loaded
afresh once its vocabulary has grown past the bound, and gives the same tables."""

from __future__ import annotations

import pytest

from tasks.execution import pool, resources
from tasks.execution.resources import Resources
from tasks.nlp.model import DEFAULT_MODEL
from tasks.stages.annotate import annotate_articles
from tests.tasks.test_annotate import TEXTS, articles


@pytest.fixture
def in_this_process(monkeypatch):
    """Annotate as a Dask worker does: no forked workers, and Dask's allocator setting."""
    monkeypatch.setattr(pool, "CAN_FORK", False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")


def test_a_model_whose_vocabulary_grew_past_the_bound_is_loaded_again(in_this_process, monkeypatch):
    held = Resources()
    nlp = held.model(DEFAULT_MODEL)
    loaded = len(nlp.vocab.strings)
    first = annotate_articles(articles(TEXTS), nlp)
    grown = len(nlp.vocab.strings) - loaded
    assert grown > 0  # outside a memory zone, the articles' new words stay
    monkeypatch.setattr(resources, "VOCABULARY_GROWTH", grown)
    assert held.model(DEFAULT_MODEL) is nlp  # not past the bound yet
    annotate_articles(articles(["Zyxwvut Qwrtplk habite à Gzhpfrt."]), nlp)
    again = held.model(DEFAULT_MODEL)
    assert again is not nlp
    assert len(again.vocab.strings) == loaded
    second = annotate_articles(articles(TEXTS), again)
    for table in ("documents", "sentences", "entities", "quotes"):
        assert getattr(second, table).equals(getattr(first, table)), table
