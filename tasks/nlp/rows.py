"""A spaCy Doc into the rows of the annotated tables: its document, its sentences,
its entities (with who each is) and its quotes; and the one `nlp.pipe` stream that
makes them for a run of articles."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from spacy.language import Language
from spacy.tokens import Doc, Token

from schemas import DOCUMENTS, ENTITIES, QUOTES, SENTENCES
from tasks.nlp.entities import drop_reason, normalize_entity, refine_span, whole_name
from tasks.nlp.identities import identified, quote_rows, read_article
from tasks.nlp.model import model_id

Row = dict[str, Any]
Sentence = tuple[int, int, int]  # start, end, tokens


@dataclass
class Rows:
    """Rows of the annotated tables for a run of articles, in article order."""

    documents: list[Row] = field(default_factory=list)
    sentences: list[Row] = field(default_factory=list)
    entities: list[Row] = field(default_factory=list)
    quotes: list[Row] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    quote_seconds: float = 0.0  # identities and quotes, apart from the model's work

    def tables(self) -> Tables:
        return Tables(
            documents=pa.Table.from_pylist(self.documents, schema=DOCUMENTS.schema),
            sentences=pa.Table.from_pylist(self.sentences, schema=SENTENCES.schema),
            entities=pa.Table.from_pylist(self.entities, schema=ENTITIES.schema),
            quotes=pa.Table.from_pylist(self.quotes, schema=QUOTES.schema),
            dropped=self.dropped,
            quote_seconds=self.quote_seconds,
        )


@dataclass
class Tables:
    """The annotated tables of a run of articles: what a worker sends back (Arrow
    buffers pickle at the cost of a copy, where rows would be rebuilt one by one)."""

    documents: pa.Table
    sentences: pa.Table
    entities: pa.Table
    quotes: pa.Table
    dropped: Counter[str]
    quote_seconds: float = 0.0

    @staticmethod
    def concat(parts: list[Tables]) -> Tables:
        return Tables(
            documents=pa.concat_tables([p.documents for p in parts]),
            sentences=pa.concat_tables([p.sentences for p in parts]),
            entities=pa.concat_tables([p.entities for p in parts]),
            quotes=pa.concat_tables([p.quotes for p in parts]),
            dropped=sum((p.dropped for p in parts), Counter()),
            quote_seconds=sum(p.quote_seconds for p in parts),
        )

    def in_article_order(self, doc_ids: list[str]) -> Tables:
        """Rows gathered from interleaved shares, put back in article order."""
        order = pa.array(doc_ids)

        def sort(table: pa.Table, index: str | None) -> pa.Table:
            keys = {"rank": pc.index_in(table["doc_id"], value_set=order)}
            if index is not None:
                keys["index"] = table[index]
            by = [(name, "ascending") for name in keys]
            return table.take(pc.sort_indices(pa.table(keys), sort_keys=by))

        return Tables(
            documents=sort(self.documents, None),
            sentences=sort(self.sentences, "sentence_index"),
            entities=sort(self.entities, "entity_index"),
            quotes=sort(self.quotes, "quote_index"),
            dropped=self.dropped,
            quote_seconds=self.quote_seconds,
        )


def annotate_stream(
    nlp: Language,
    articles: list[Row],
    batch_size: int,
    counted: Callable[[int], None] | None = None,
) -> Tables:
    """One `nlp.pipe` stream over the articles (one stream, not one per chunk: each
    new stream measurably slows the whole); `counted(n)` hears of every batch done."""
    rows = Rows()
    model = model_id(nlp)
    docs = nlp.pipe((a["text"] for a in articles), batch_size=batch_size)
    for done, (article, doc) in enumerate(zip(articles, docs, strict=True), start=1):
        add_doc(rows, article, doc, model)
        if counted is not None and (done % batch_size == 0 or done == len(articles)):
            counted(batch_size if done % batch_size == 0 else done % batch_size)
    return rows.tables()


def add_doc(rows: Rows, article: Row, doc: Doc, model: tuple[str, str]) -> None:
    """Add the rows of one article, annotated as `doc`, to `rows`."""
    doc_id, text = article["doc_id"], article["text"]  # doc.text would rebuild it each time
    spans, token_sentence = sentences(doc)
    rows.sentences += sentence_rows(doc_id, text, spans)
    entities = entity_rows(doc, doc_id, text, token_sentence, rows.dropped)
    clock = time.perf_counter()
    reading = read_article(text, entities)
    rows.entities += identified(entities, reading)
    rows.quotes += quote_rows(doc_id, text, reading)
    rows.quote_seconds += time.perf_counter() - clock
    rows.documents.append(
        {
            **{name: article[name] for name in DOCUMENTS.column_names if name in article},
            "sentence_count": len(spans),
            "token_count": sum(n for _, _, n in spans),
            "entity_count": len(entities),
            "quote_count": len({quote.quote_id for quote in reading.said}),
            "model": model[0],
            "model_version": model[1],
        }
    )


def sentences(doc: Doc) -> tuple[list[Sentence], list[int]]:
    """(start, end, tokens) of each sentence, and each token's sentence index.

    Blank sentences are skipped, and a sentence of punctuation alone (a lone `«`
    the sentence splitter cut off) joins the sentence after it.
    """
    groups = _sentence_tokens(doc)
    spans: list[Sentence] = []
    token_sentence = [0] * len(doc)
    for index, tokens in enumerate(groups):
        for token in doc[tokens[0].i : tokens[-1].i + 1]:
            token_sentence[token.i] = index
        spans.append((tokens[0].idx, tokens[-1].idx + len(tokens[-1]), len(tokens)))
    return spans, token_sentence


def _sentence_tokens(doc: Doc) -> list[list[Token]]:
    """The tokens of each sentence but spaces, punctuation alone joined to the next."""
    groups: list[list[Token]] = []
    pending: list[Token] = []
    for sent in doc.sents:
        tokens = [t for t in sent if not t.is_space]
        if not any(any(ch.isalnum() for ch in t.text) for t in tokens):
            pending.extend(tokens)
            continue
        groups.append(pending + tokens)
        pending = []
    if pending:
        if groups:
            groups[-1].extend(pending)
        else:
            groups.append(pending)
    return groups


def sentence_rows(doc_id: str, text: str, spans: list[Sentence]) -> list[Row]:
    return [
        {
            "doc_id": doc_id,
            "sentence_index": index,
            "start_char": start,
            "end_char": end,
            "text": text[start:end],
            "token_count": tokens,
        }
        for index, (start, end, tokens) in enumerate(spans)
    ]


def entity_rows(
    doc: Doc, doc_id: str, text: str, token_sentence: list[int], dropped: Counter[str]
) -> list[Row]:
    """The rows of the model's entities, re-cut and normalized; the spans that are not
    entities are counted in `dropped` by reason."""
    entities: list[Row] = []
    taken = 0  # where the entity before ends: a name made whole never runs into it
    for ent in doc.ents:
        span, label = refine_span(ent)
        whole = whole_name(span, label)
        span = whole if whole.start >= taken else span
        taken = span.end
        surface = text[span.start_char : span.end_char]
        normalized = normalize_entity(surface)
        reason = drop_reason(surface, normalized)
        if reason is not None:
            dropped[reason] += 1
            continue
        entities.append(
            {
                "doc_id": doc_id,
                "entity_index": len(entities),
                "sentence_index": token_sentence[span.start],
                "start_char": span.start_char,
                "end_char": span.end_char,
                "text": surface,
                "normalized": normalized,
                "label": label,
            }
        )
    return entities
