"""Annotate: the real French model, entity normalization, and the annotated tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemas import CLEAN, DOCUMENTS, ENTITIES, QUOTES, SENTENCES
from tasks.errors import ModelNotInstalled
from tasks.execution import pool
from tasks.nlp.entities import drop_reason, normalize_entity, refine_span, whole_name
from tasks.nlp.model import load_model
from tasks.stages.annotate import annotate_articles
from tasks.stages.clean import doc_id, normalize_text

TEXTS = [
    "Le secrétaire américain à la Défense Mark Esper va soumettre cette demande à ses "
    "homologues, a averti Jens Stoltenberg au siège de l'OTAN à Bruxelles.",
    "« Nous allons en parler », a assuré Emmanuel Macron à Paris.\n\nLa réunion a duré "
    "trois heures. Angela Merkel est repartie pour Berlin.",
    "Il pleuvait ce matin et les enfants jouaient dans la cour.",
]


def articles(texts: list[str]) -> pa.Table:
    rows = []
    for number, text in enumerate(texts):
        text = normalize_text(text)
        rows.append(
            {
                "doc_id": doc_id(text),
                "story_id": doc_id(text),
                "item_id": f"{number:016x}",
                "source_path": f"src/{number}.txt",
                "line": None,
                "format": "wire",
                "captions": [],
                "text": text,
                "char_count": len(text),
                "language": "fr",
                "language_score": 1.0,
            }
        )
    return pa.Table.from_pylist(rows, schema=CLEAN.schema)


@pytest.mark.parametrize(
    ("surface", "normalized"),
    [
        ("l'OTAN", "OTAN"),
        ("L'Alliance", "Alliance"),
        ("d'Ottawa", "Ottawa"),
        ("« Bruxelles »", "Bruxelles"),
        ("Jens  Stoltenberg,", "Jens Stoltenberg"),
        ("jusqu'à Paris", "à Paris"),
    ],
)
def test_normalize_entity(surface: str, normalized: str) -> None:
    assert normalize_entity(surface) == normalized


@pytest.mark.parametrize(
    ("surface", "reason"),
    [
        ("S'", "bare_elision"),
        ("n'", "bare_elision"),
        ("d.", "single_letter"),
        ("M", "single_letter"),
        ("PHOTO", "not_an_entity"),
        ("«", "punctuation"),
        ("Premier ministre", "title_only"),
        ("mémoire de vigneron", "no_capital_letter"),
        ("Jens Stoltenberg", None),
        ("OTAN", None),
    ],
)
def test_drop_reason(surface: str, reason: str | None) -> None:
    assert drop_reason(surface, normalize_entity(surface)) == reason


def test_titles_are_cut_off_names(nlp) -> None:
    doc = nlp("Le Président Trump a rencontré le Premier ministre Justin Trudeau.")
    # the model tags the title with the name: there is something to cut
    assert "Président Trump" in {ent.text for ent in doc.ents}
    spans = [refine_span(ent) for ent in doc.ents]
    # what the entities table keeps (a title alone, "Premier ministre", is dropped)
    kept = {
        span.text: label
        for span, label in spans
        if drop_reason(span.text, normalize_entity(span.text)) is None
    }
    assert kept.get("Trump") == "PER"
    assert kept.get("Justin Trudeau") == "PER"
    titles = {"président", "présidente", "premier", "première", "ministre"}
    assert not [text for text in kept if text.split()[0].lower() in titles]


def test_a_name_cut_short_by_the_model_is_made_whole(nlp) -> None:
    text = (
        "Marine Le Pen a prévenu les députés. Bruno Le Maire, qui s'exprimait à Paris, a "
        "répondu. Emmanuel Macron a reçu Angela Merkel."
    )
    doc = nlp(text)
    # the model leaves a first name or a surname out: there is something to make whole
    assert {"Le Pen", "Bruno"} <= {ent.text for ent in doc.ents}
    people = [whole_name(*refine_span(ent)).text for ent in doc.ents if ent.label_ == "PER"]
    assert people == ["Marine Le Pen", "Bruno Le Maire", "Emmanuel Macron", "Angela Merkel"]
    places = [whole_name(ent, ent.label_).text for ent in doc.ents if ent.label_ == "LOC"]
    assert places == ["Paris"]  # a place is left as it is


def test_a_name_made_whole_keeps_its_hyphens_and_never_overlaps_another(nlp) -> None:
    from collections import Counter

    from spacy.tokens import Span

    from tasks.nlp.rows import entity_rows

    # the cuts the model makes elsewhere, made here by hand on the real tokens
    doc = nlp("Jean-Luc Mélenchon a parlé. Nicolas Dupont-Aignan a répondu.")
    doc.ents = [Span(doc, 1, 2, "PER"), Span(doc, 5, 6, "PER")]
    assert [whole_name(ent, "PER").text for ent in doc.ents] == [
        "Jean-Luc Mélenchon",
        "Nicolas Dupont-Aignan",
    ]
    text = "Bruno Marine Le Pen a parlé."
    doc = nlp(text)
    doc.ents = [Span(doc, 0, 1, "PER"), Span(doc, 2, 4, "PER")]
    rows = entity_rows(doc, "d", text, [0] * len(doc), Counter())
    assert [row["text"] for row in rows] == ["Bruno Marine", "Le Pen"]


def test_annotated_tables_are_consistent_with_the_text(nlp) -> None:
    progress: list[tuple[int, int]] = []
    result = annotate_articles(
        articles(TEXTS), nlp, batch_size=2, progress=lambda d, t: progress.append((d, t))
    )
    assert result.documents.schema.equals(DOCUMENTS.schema)
    assert result.sentences.schema.equals(SENTENCES.schema)
    assert result.entities.schema.equals(ENTITIES.schema)
    assert result.quotes.schema.equals(QUOTES.schema)
    assert progress[-1] == (3, 3)

    documents = {d["doc_id"]: d for d in result.documents.to_pylist()}
    assert len(documents) == 3
    for sentence in result.sentences.to_pylist():
        text = documents[sentence["doc_id"]]["text"]
        assert text[sentence["start_char"] : sentence["end_char"]] == sentence["text"]
        assert sentence["text"] == sentence["text"].strip()
    for entity in result.entities.to_pylist():
        text = documents[entity["doc_id"]]["text"]
        assert text[entity["start_char"] : entity["end_char"]] == entity["text"]
        assert entity["label"] in ("PER", "LOC", "ORG", "MISC")
    for document in documents.values():
        found = [e for e in result.entities.to_pylist() if e["doc_id"] == document["doc_id"]]
        assert document["entity_count"] == len(found)
        quoted = [q for q in result.quotes.to_pylist() if q["doc_id"] == document["doc_id"]]
        assert document["quote_count"] == len({q["quote_id"] for q in quoted})
        assert document["model"] == "fr_core_news_sm"
        assert document["sentence_count"] >= 1

    persons = {e["normalized"] for e in result.entities.to_pylist() if e["label"] == "PER"}
    assert {"Mark Esper", "Jens Stoltenberg", "Emmanuel Macron", "Angela Merkel"} <= persons
    normalized = {e["normalized"] for e in result.entities.to_pylist()}
    assert "OTAN" in normalized
    assert not any("'" in n and len(n) <= 3 for n in normalized)
    assert all(e["canonical"].strip() for e in result.entities.to_pylist())
    # the first text's reported speech and the second's quote, with their speakers
    said = {(q["kind"], q["speaker_canonical"]) for q in result.quotes.to_pylist()}
    assert said == {("indirect", "Jens Stoltenberg"), ("direct", "Emmanuel Macron")}
    sentences_of_second = [
        s
        for s in result.sentences.to_pylist()
        if s["doc_id"] == articles(TEXTS)["doc_id"][1].as_py()
    ]
    assert len(sentences_of_second) == 3


def test_a_text_over_the_model_limit_is_quarantined(nlp) -> None:
    limit = nlp.max_length
    nlp.max_length = 60
    try:
        result = annotate_articles(articles(TEXTS), nlp)
    finally:
        nlp.max_length = limit
    assert result.documents.num_rows + result.quarantine.num_rows == 3
    assert set(result.quarantine.column("reason").to_pylist()) == {"too_long"}
    assert result.documents.column("text").to_pylist() == [normalize_text(TEXTS[2])]


def test_annotation_is_stable(nlp) -> None:
    first = annotate_articles(articles(TEXTS), nlp)
    second = annotate_articles(articles(TEXTS), nlp)
    assert first.entities.equals(second.entities)
    assert first.sentences.equals(second.sentences)
    assert first.quotes.equals(second.quotes)


def test_worker_processes_give_the_same_tables(nlp) -> None:
    alone = annotate_articles(articles(TEXTS), nlp, batch_size=1)
    progress: list[tuple[int, int]] = []
    shared = annotate_articles(
        articles(TEXTS),
        nlp,
        batch_size=1,
        n_process=2,
        progress=lambda d, t: progress.append((d, t)),
    )
    assert shared.entities.equals(alone.entities)
    assert shared.sentences.equals(alone.sentences)
    assert shared.documents.equals(alone.documents)
    assert shared.quotes.equals(alone.quotes)
    assert shared.dropped == alone.dropped
    assert progress[-1] == (3, 3)


def test_without_fork_the_same_tables_come_from_this_process(nlp, monkeypatch) -> None:
    forked = annotate_articles(articles(TEXTS), nlp)
    monkeypatch.setattr(pool, "CAN_FORK", False)
    monkeypatch.setattr(pool, "annotate_in_workers", None)  # would fail if called
    here = annotate_articles(articles(TEXTS), nlp)
    assert here.entities.equals(forked.entities)
    assert here.sentences.equals(forked.sentences)
    assert here.documents.equals(forked.documents)
    assert here.quotes.equals(forked.quotes)


def test_only_the_components_the_tables_need_are_loaded(nlp) -> None:
    assert nlp.pipe_names == ["tok2vec", "senter", "ner"]


def test_an_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ModelNotInstalled, match="fr_core_news_xl"):
        load_model("fr_core_news_xl")


def test_loading_the_model_compiles_the_french_patterns_as_re_does() -> None:
    from re import _compiler, _parser

    from spacy.lang.fr import tokenizer_exceptions

    from tasks.nlp import model

    # a slice of the French tokenizer's pattern: the same Unicode letter classes, again
    # and again, as in the whole (which takes seconds to compile the plain way)
    alternatives = tokenizer_exceptions._regular_exp[:40]
    pattern = "(?iu)" + "|".join(f"(?:{alternative})" for alternative in alternatives)
    parsed = _parser.parse(pattern, 0)
    plain = _compiler._code(parsed, parsed.state.flags)
    optimize = _compiler._optimize_charset
    with model._charsets_optimized_once():
        assert _compiler._optimize_charset is not optimize
        once = _compiler._code(parsed, parsed.state.flags)
    assert _compiler._optimize_charset is optimize
    assert once == plain
    assert len(set(alternatives)) == 40
