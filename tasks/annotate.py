"""Annotate: articles into documents, sentences, entities and quotes with a French
spaCy model.

Text streams through `nlp.pipe` in batches, in `n_process` worker processes forked
for the partition from a process that holds the model. Only the components the
tables need run (tokenizer, tok2vec, senter, ner); the lemmatizer, morphologizer,
attribute ruler and parser are not loaded. Entities are re-cut when a title or
portfolio word was swallowed into a name (`Défense Mark Esper` → `Mark Esper`),
normalized (`l'OTAN` → `OTAN`), and spans that are not entities are dropped and
counted. Each entity gets the canonical name of its person or organisation in the
article (tasks/people.py), and the quotes with their speakers are read from the text
and those entities (tasks/quotes.py): neither needs more of the model.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import multiprocessing
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from schemas import (
    CLEAN,
    DOCUMENTS,
    ENTITIES,
    QUARANTINE,
    QUOTES,
    SENTENCES,
    Rejected,
    quarantine_row,
)
from tasks import gender, people, places, quotes
from tasks.contract import Stage, StageContext, StageOutput
from tasks.errors import ModelNotInstalled
from tasks.faults import fault_point
from tasks.processes import die_with_parent, glibc, leave_stopping_to_parent
from tasks.progress import ProgressFn
from tasks.settings import Settings

if TYPE_CHECKING:  # a type only: the model host runs this module's workers
    from tasks.model_host import ModelHost

DEFAULT_MODEL = Settings().model
UNUSED_COMPONENTS = ["lemmatizer", "morphologizer", "attribute_ruler", "parser"]

# Titles and portfolios that the model tends to fold into a person's name.
ROLE_WORDS = frozenset(
    """
    président présidente général générale ministre premier première secrétaire chef
    maire sénateur sénatrice député députée juge docteur dr m. mme mgr monsieur madame
    pape roi reine prince princesse colonel capitaine lieutenant commandant ambassadeur
    ambassadrice porte-parole directeur directrice patron patronne candidat candidate
    chancelier chancelière gouverneur gouverneure défense intérieur justice santé économie
    finances culture travail éducation
    """.split()
)
NOT_ENTITIES = frozenset({"photo", "photos", "vidéo", "video", "crédit", "archives"})
_ELIDED_ARTICLE = re.compile(r"^(?:[lLdD]|[qQ]u|[jJ]usqu|[lL]orsqu|[pP]uisqu)'\s*")
_BARE_ELISION = re.compile(r"^\w{1,7}'$")
_OUTER_PUNCT = " \"'«»()[]{},.;:!?-–—…"

# -- the model -------------------------------------------------------------------------


def load_model(name: str) -> Language:
    """The named pipeline with only the components the tables need (seconds of work:
    a stage gets it from its resources, which load it once)."""
    if not spacy.util.is_package(name):
        raise ModelNotInstalled(name)
    try:
        nlp = spacy.load(name, exclude=UNUSED_COMPONENTS)
    except ImportError as error:  # its package, or one it needs, cannot be imported here
        raise ModelNotInstalled(name, f"{type(error).__name__}: {error}") from None
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    return nlp


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


# -- entities --------------------------------------------------------------------------


def normalize_entity(surface: str) -> str:
    """The entity without outer punctuation or elided article: `l'OTAN` → `OTAN`."""
    text = " ".join(surface.split()).strip(_OUTER_PUNCT)
    text = _ELIDED_ARTICLE.sub("", text)
    return text.strip(_OUTER_PUNCT)


def drop_reason(surface: str, normalized: str) -> str | None:
    """Why a span is not an entity, or None when it is one."""
    if not any(ch.isalnum() for ch in surface):
        return "punctuation"
    if _BARE_ELISION.match(surface.strip()):
        return "bare_elision"
    if sum(ch.isalpha() for ch in normalized) <= 1:
        return "single_letter"
    if normalized.lower() in NOT_ENTITIES:
        return "not_an_entity"
    if all(word.lower() in ROLE_WORDS for word in normalized.split()):
        return "title_only"
    if not any(ch.isupper() for ch in normalized):
        return "no_capital_letter"
    return None


def refine_span(span: Span) -> tuple[Span, str]:
    """Cut leading titles off a name: `Président Trump` → `Trump` (PER);
    `Défense Mark Esper` (MISC) → `Mark Esper` (PER)."""
    cut = 0
    while cut < len(span) - 1 and span[cut].lower_ in ROLE_WORDS:
        cut += 1
    if cut == 0:
        return span, span.label_
    rest = span[cut:]
    if not all(token.text[:1].isupper() for token in rest):
        return span, span.label_
    if span.label_ == "PER":
        return rest, "PER"
    if span.label_ == "MISC" and len(rest) >= 2:
        return rest, "PER"
    return span, span.label_


# -- the stage -------------------------------------------------------------------------


@dataclass
class AnnotateResult:
    documents: pa.Table
    sentences: pa.Table
    entities: pa.Table
    quotes: pa.Table
    quarantine: pa.Table
    dropped: dict[str, int] = field(default_factory=dict)
    quote_seconds: float = 0.0


def _sentences(doc: Doc) -> tuple[list[tuple[int, int, int]], list[int]]:
    """(start, end, tokens) of each sentence, and each token's sentence index.

    Blank sentences are skipped, and a sentence of punctuation alone (a lone `«`
    the sentence splitter cut off) joins the sentence after it.
    """
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
    spans: list[tuple[int, int, int]] = []
    token_sentence = [0] * len(doc)
    for index, tokens in enumerate(groups):
        for token in doc[tokens[0].i : tokens[-1].i + 1]:
            token_sentence[token.i] = index
        spans.append((tokens[0].idx, tokens[-1].idx + len(tokens[-1]), len(tokens)))
    return spans, token_sentence


@dataclass
class _Rows:
    """Rows of the annotated tables for a run of articles, in article order."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    sentences: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    quote_seconds: float = 0.0  # identities and quotes, apart from the model's work

    def tables(self) -> _Tables:
        return _Tables(
            documents=pa.Table.from_pylist(self.documents, schema=DOCUMENTS.schema),
            sentences=pa.Table.from_pylist(self.sentences, schema=SENTENCES.schema),
            entities=pa.Table.from_pylist(self.entities, schema=ENTITIES.schema),
            quotes=pa.Table.from_pylist(self.quotes, schema=QUOTES.schema),
            dropped=self.dropped,
            quote_seconds=self.quote_seconds,
        )


@dataclass
class _Tables:
    """The annotated tables of a run of articles: what a worker sends back (Arrow
    buffers pickle at the cost of a copy, where rows would be rebuilt one by one)."""

    documents: pa.Table
    sentences: pa.Table
    entities: pa.Table
    quotes: pa.Table
    dropped: Counter[str]
    quote_seconds: float = 0.0

    @staticmethod
    def concat(parts: list[_Tables]) -> _Tables:
        return _Tables(
            documents=pa.concat_tables([p.documents for p in parts]),
            sentences=pa.concat_tables([p.sentences for p in parts]),
            entities=pa.concat_tables([p.entities for p in parts]),
            quotes=pa.concat_tables([p.quotes for p in parts]),
            dropped=sum((p.dropped for p in parts), Counter()),
            quote_seconds=sum(p.quote_seconds for p in parts),
        )


def _genders(
    who: people.People, found: list[quotes.Quote], mentions: list[people.Mention]
) -> dict[int, gender.Verdict]:
    """Each person of the article (by identity) and their gender, from every cue: the
    model's persons, and the names quoted as a person whatever the model took them for
    (`Pasiphae`, unclassed, then `dit-elle`)."""
    speaking = _speakers(found, who, mentions)
    return {
        id(identity): gender.decide(identity.cues, identity.canonical)
        for identity in who.identities.values()
        if identity.is_person or id(identity) in speaking
    }


def _speakers(
    found: list[quotes.Quote], who: people.People, mentions: list[people.Mention]
) -> set[int]:
    """The identities (by id) that speak as persons; one named by a role where it speaks
    (`« … », s'inquiète la jeune femme`) takes the role's gender as a cue (its name's
    own roles are read where it is named)."""
    speaking = set()
    for quote in found:
        if quote.speaker_kind != "person" or quote.entity is None:
            continue
        identity = who.identity_of[quote.entity]
        if identity.label == "ORG":
            continue
        speaking.add(id(identity))
        named = mentions[quote.entity]  # an entity's index is its place in the list
        start, end = quote.speaker_start, quote.speaker_end
        by_role = start is not None and end is not None and not start <= named.start < end
        cue = people.role_cue(quote.speaker) if quote.speaker and by_role else None
        identity.cues.extend([] if cue is None else [cue])
    return speaking


def load_references() -> None:
    """Load what annotate reads besides the model (first names, gazetteers) now, in a
    process whose workers fork from it, rather than once in each worker."""
    gender.first_names()
    places.gazetteer()


def _places(entities: list[dict[str, Any]], who: people.People) -> dict[int, places.Place]:
    """The place each `LOC` entity stands for (a person the model took for a place is
    none), by entity index."""
    located = [
        e
        for e in entities
        if e["label"] == "LOC" and not who.identity_of[e["entity_index"]].is_person
    ]
    if not located:
        return {}
    found = places.resolve([e["normalized"] for e in located])
    return {e["entity_index"]: p for e, p in zip(located, found, strict=True) if p is not None}


def _speaker_gender(
    quote: quotes.Quote, who: people.People, genders: dict[int, gender.Verdict]
) -> dict[str, str | None]:
    """The speaker's gender when the speaker is a person (unknown when the text does
    not say which), else nulls."""
    verdict = None
    if quote.speaker_kind == "person" and quote.entity is not None:
        verdict = genders.get(id(who.identity_of[quote.entity]), gender.NO_CUE)
    elif quote.speaker_kind == "person":
        # a person the text names by a role only (`a déclaré la porte-parole`)
        cue = people.role_cue(quote.speaker or "")
        verdict = gender.NO_CUE if cue is None else gender.decide([cue], "")
    return {
        "speaker_gender": verdict and verdict.gender,
        "speaker_gender_source": verdict and verdict.source,
    }


def _add_doc(rows: _Rows, article: dict[str, Any], doc: Doc, model: tuple[str, str]) -> None:
    doc_id, text = article["doc_id"], article["text"]  # doc.text would rebuild it each time
    spans, token_sentence = _sentences(doc)
    for index, (start, end, tokens) in enumerate(spans):
        rows.sentences.append(
            {
                "doc_id": doc_id,
                "sentence_index": index,
                "start_char": start,
                "end_char": end,
                "text": text[start:end],
                "token_count": tokens,
            }
        )
    entities: list[dict[str, Any]] = []
    for ent in doc.ents:
        span, label = refine_span(ent)
        surface = text[span.start_char : span.end_char]
        normalized = normalize_entity(surface)
        reason = drop_reason(surface, normalized)
        if reason is not None:
            rows.dropped[reason] += 1
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
    clock = time.perf_counter()
    mentions = [
        people.Mention(
            e["entity_index"], e["start_char"], e["end_char"], e["normalized"], e["label"]
        )
        for e in entities
    ]
    who = people.identities(text, mentions)
    found = quotes.find_quotes(text, mentions, who)  # reads pronouns' genders too
    genders = _genders(who, found, mentions)
    where = _places(entities, who)
    for entity, canonical in zip(entities, who.canonical, strict=True):
        entity["canonical"] = canonical
        verdict = genders.get(id(who.identity_of[entity["entity_index"]]))
        entity["gender"] = verdict and verdict.gender
        entity["gender_source"] = verdict and verdict.source
        place = where.get(entity["entity_index"])
        entity["place_kind"] = place and place.kind
        entity["place_id"] = place and (place.place_id or None)
        entity["country"] = place and place.country
        entity["lat"] = place and place.lat
        entity["lon"] = place and place.lon
    rows.entities.extend(entities)
    for index, quote in enumerate(found):
        rows.quotes.append(
            {
                "doc_id": doc_id,
                "quote_index": index,
                "start_char": quote.start,
                "end_char": quote.end,
                "text": text[quote.start : quote.end],
                "kind": quote.kind,
                "verb": quote.verb,
                "speaker": quote.speaker,
                "speaker_start": quote.speaker_start,
                "speaker_end": quote.speaker_end,
                "speaker_entity_index": quote.entity,
                "speaker_canonical": quote.canonical,
                "speaker_kind": quote.speaker_kind,
                "quote_id": quote.quote_id,
                **_speaker_gender(quote, who, genders),
            }
        )
    rows.quote_seconds += time.perf_counter() - clock
    rows.documents.append(
        {
            **{name: article[name] for name in DOCUMENTS.column_names if name in article},
            "sentence_count": len(spans),
            "token_count": sum(n for _, _, n in spans),
            "entity_count": len(entities),
            "quote_count": len(found),
            "model": model[0],
            "model_version": model[1],
        }
    )


def _annotate(
    nlp: Language,
    articles: list[dict[str, Any]],
    batch_size: int,
    counted: Callable[[int], None] | None = None,
) -> _Tables:
    """One `nlp.pipe` stream over the articles (one stream, not one per chunk: each
    new stream measurably slows the whole); `counted(n)` hears of every batch done."""
    rows = _Rows()
    model = model_id(nlp)
    docs = nlp.pipe((a["text"] for a in articles), batch_size=batch_size)
    for done, (article, doc) in enumerate(zip(articles, docs, strict=True), start=1):
        _add_doc(rows, article, doc, model)
        if counted is not None and (done % batch_size == 0 or done == len(articles)):
            counted(batch_size if done % batch_size == 0 else done % batch_size)
    return rows.tables()


# Worker processes. spaCy grows its vocabulary with every new word it meets; its
# memory zones would free that growth but also turn the tokenizer's cache off
# (tokenizing then costs ten times as much). So the model runs in worker processes
# forked for one partition: each keeps its cache while it works and takes its
# vocabulary with it when it exits. A local run forks them from its model host
# (tasks/model_host.py), a process that holds the model and nothing else; given a
# loaded model instead (the tests), they fork from this process. Where no worker
# can be forked (a Dask worker), the model annotates in its own process and the
# process's `Resources` loads it afresh once its vocabulary has grown past a bound.

# What a forked worker holds for the shares it annotates: the parent's model and the
# shared count of articles done. Set by `_start_worker` in the worker only (a pool's
# initializer can hand its tasks nothing else without pickling the model).
_worker: dict[str, Any] = {}


def _start_worker(nlp: Language, parent: int, done: Any) -> None:
    """Runs first in each forked worker: adopt the parent's loaded model and the
    shared count of articles done, and die with the parent (a killed run must not
    leave workers holding its lake lock). What the parent had built (Prefect, Great
    Expectations, the model) is moved out of the garbage collector's sight: its full
    collections would walk all of it, and copy every page they touch.

    Ctrl-C and SIGTERM are left to the parent, which stops its workers: forked from
    the process running the flow, a worker would otherwise inherit its handlers
    (Prefect's, the CLI's) and raise, or die before the parent heard why."""
    leave_stopping_to_parent()
    _worker.update(nlp=nlp, done=done)
    gc.freeze()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _count_done(n: int) -> None:
    with _worker["done"].get_lock():
        _worker["done"].value += n


def _annotate_share(articles: list[dict[str, Any]], batch_size: int) -> _Tables:
    fault_point("annotate:worker")
    return _annotate(_worker["nlp"], articles, batch_size, _count_done)


def _in_article_order(tables: _Tables, doc_ids: list[str]) -> _Tables:
    """Rows gathered from interleaved shares, put back in article order."""
    order = pa.array(doc_ids)

    def sort(table: pa.Table, index: str | None) -> pa.Table:
        keys = {"rank": pc.index_in(table["doc_id"], value_set=order)}
        if index is not None:
            keys["index"] = table[index]
        by = [(name, "ascending") for name in keys]
        return table.take(pc.sort_indices(pa.table(keys), sort_keys=by))

    return _Tables(
        documents=sort(tables.documents, None),
        sentences=sort(tables.sentences, "sentence_index"),
        entities=sort(tables.entities, "entity_index"),
        quotes=sort(tables.quotes, "quote_index"),
        dropped=tables.dropped,
        quote_seconds=tables.quote_seconds,
    )


def annotate_in_workers(
    nlp: Language,
    articles: list[dict[str, Any]],
    batch_size: int,
    n_process: int,
    progress: ProgressFn | None,
) -> _Tables:
    """Annotate in `n_process` workers forked with the model loaded, which return
    tables, not Docs. Worker k takes articles k, k + n, k + 2n…: shares of equal
    work whatever the order of long and short articles, each one stream."""
    n = min(n_process, len(articles))
    shares = [articles[k::n] for k in range(n)]
    context = multiprocessing.get_context("fork")
    done = context.Value("q", 0)
    pool = ProcessPoolExecutor(
        max_workers=n,
        mp_context=context,
        initializer=_start_worker,
        initargs=(nlp, os.getpid(), done),  # inherited by the fork, never pickled
    )
    try:
        futures = [pool.submit(_annotate_share, share, batch_size) for share in shares]
        reported = 0
        while reported < len(articles):
            finished, _ = wait(futures, timeout=0.5)
            if progress is not None and done.value != reported:
                progress(done.value, len(articles))
            reported = done.value
            if any(f.exception() is not None for f in finished) or len(finished) == n:
                break
        tables = _Tables.concat([future.result() for future in futures])
    except BaseException:
        # a failed share, or the run interrupted (Ctrl-C, SIGTERM): the other
        # shares are of no use now, and waiting for them would hold the run up
        _stop_workers(pool)
        raise
    pool.shutdown()
    if n == 1:
        return tables
    return _in_article_order(tables, [a["doc_id"] for a in articles])


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Kill the pool's workers and shut it down without waiting for their shares."""
    workers = list((pool._processes or {}).values())  # no public way before Python 3.14
    for worker in workers:
        with contextlib.suppress(OSError, ValueError):
            worker.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:  # reaped: no zombie left while the run winds down
        with contextlib.suppress(OSError, ValueError, AssertionError):
            worker.join(timeout=5)


def _annotate_here(
    nlp: Language, articles: list[dict[str, Any]], batch_size: int, progress: ProgressFn | None
) -> _Tables:
    """Where processes cannot fork, or may have no children (a Dask worker is a
    daemon process: the cluster is the parallelism there): in this process, outside
    a memory zone, which would give up the tokenizer's cache; the vocabulary the
    articles add stays until the process's `Resources` reloads the model (see
    `Resources.model`)."""
    with _large_blocks_from_the_heap():
        tables = _annotate(nlp, articles, batch_size)
    if progress is not None:
        progress(len(articles), len(articles))
    return tables


# glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_DEFAULT, _MMAP_THRESHOLD_MAX = 128 * 1024, 32 * 1024 * 1024


@contextlib.contextmanager
def _large_blocks_from_the_heap() -> Iterator[None]:
    """Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_ set, and glibc then
    keeps the threshold above which a block is mapped on its own at 128 KiB instead of
    raising it as large blocks come and go: every array of a batch bigger than that
    is mapped and unmapped, zeroed page by page. Measured on 250 generated articles:
    2 million page faults and 6 s of system time, a third more CPU than the same
    annotate in a process without the variable. While the articles are annotated,
    large blocks come from the heap again (up to 32 MiB, where glibc's own threshold
    stops rising); after, the threshold is put back and the heap's free memory given
    back to the system, as the worker's setting wants."""
    libc = glibc()
    if (
        libc is None
        or "MALLOC_TRIM_THRESHOLD_" not in os.environ
        or "MALLOC_MMAP_THRESHOLD_" in os.environ  # chosen by whoever started it: kept
    ):
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_DEFAULT)
        libc.malloc_trim(0)


CAN_FORK = "fork" in multiprocessing.get_all_start_methods()


def _workers_can_fork() -> bool:
    """Whether this process may fork annotate's workers (a Dask worker, a daemon
    process, may have no children)."""
    return CAN_FORK and not multiprocessing.current_process().daemon


# One partition's workers at a time in a process: they take the machine's cores
# (n_process of them), while the run's other partition in flight is read, written
# and gated beside them in the flow's process.
_WORKERS_IN_USE = threading.Lock()


def annotate_articles(
    articles: pa.Table,
    nlp: Language | ModelHost,
    *,
    batch_size: int = 16,
    n_process: int = 1,
    progress: ProgressFn | None = None,
) -> AnnotateResult:
    """Annotate every article; a text the model cannot take is quarantined. `nlp` is
    the loaded model, or a process holding it (a local run's), whose workers fork
    from there."""
    accepted: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for article in articles.drop_columns(["captions"]).to_pylist():
        if len(article["text"]) > nlp.max_length:
            too_long = Rejected("too_long", f"{len(article['text'])} characters > nlp.max_length")
            rejects.append(
                quarantine_row(
                    "annotate",
                    too_long,
                    record_id=article["doc_id"],
                    source_path=article["source_path"],
                    line=article["line"],
                )
            )
        else:
            accepted.append(article)

    if not accepted:
        tables = _Rows().tables()
    elif not isinstance(nlp, Language):  # a model host: its workers fork from there
        with _WORKERS_IN_USE:
            tables = nlp.annotate(accepted, batch_size, n_process, progress)
    elif _workers_can_fork():
        with _WORKERS_IN_USE:  # the partition before may still be writing and gating
            tables = annotate_in_workers(nlp, accepted, batch_size, n_process, progress)
    else:
        tables = _annotate_here(nlp, accepted, batch_size, progress)
    return AnnotateResult(
        documents=tables.documents,
        sentences=tables.sentences,
        entities=tables.entities,
        quotes=tables.quotes,
        quarantine=pa.Table.from_pylist(rejects, schema=QUARANTINE.schema),
        dropped=dict(sorted(tables.dropped.items())),
        quote_seconds=tables.quote_seconds,
    )


def annotate_partition(context: StageContext) -> StageOutput:
    """Annotate the committed clean articles of one partition."""
    settings = context.settings
    if _workers_can_fork():
        nlp: Language | ModelHost = context.resources.model_host(settings.model)
    else:
        nlp = context.resources.model(settings.model)
    name, version = model_id(nlp)
    articles = context.read(CLEAN)
    result = annotate_articles(
        articles,
        nlp,
        batch_size=settings.batch_size,
        n_process=settings.annotate_workers(articles.num_rows),
        progress=context.progress,
    )
    return StageOutput(
        outputs={
            DOCUMENTS: result.documents,
            SENTENCES: result.sentences,
            ENTITIES: result.entities,
            QUOTES: result.quotes,
        },
        quarantine=result.quarantine,
        rows_in=articles.num_rows,
        rows_out=result.documents.num_rows,
        details={
            "model": name,
            "model_version": version,
            "components": list(nlp.pipe_names),
            "dropped_spans": result.dropped,
            "entities": result.entities.num_rows,
            "sentences": result.sentences.num_rows,
            **quote_figures(result.quotes),
            "quotes_seconds": round(result.quote_seconds, 3),
        },
    )


def quote_figures(rows: pa.Table) -> dict[str, Any]:
    """The batch's quotes: how many, how many without a resolved speaker, and that share."""
    total = rows.num_rows
    without = rows.column("speaker_canonical").null_count if total else 0
    return {
        "quotes": total,
        "quotes_without_speaker": without,
        "share_quotes_without_speaker": round(without / total, 4) if total else 0.0,
    }


STAGE = Stage(
    name="annotate",
    produce=annotate_partition,
    reads=(CLEAN,),
    writes=(DOCUMENTS, SENTENCES, ENTITIES, QUOTES),
    settings=("model",),
    extra_parameters=lambda settings: {"model_version": installed_version(settings.model)},
)
