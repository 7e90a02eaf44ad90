"""Annotate: articles into documents, sentences, entities and quotes with a French
spaCy model.

The stage: which articles the model can take (a text longer than its `max_length` is
quarantined), where the model runs, and the books of the partition. The NLP itself
(the model, a Doc's rows, who the entities are, the quotes) is in tasks/nlp/; the
worker processes text streams through, `n_process` of them forked for the partition
from a process that holds the model, in tasks/execution/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from spacy.language import Language

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
from tasks.contract import Stage, StageContext, StageOutput
from tasks.execution import pool
from tasks.execution.heap import large_blocks_from_the_heap
from tasks.nlp.model import installed_version, model_id
from tasks.nlp.rows import Row, Rows, Tables, annotate_stream
from tasks.progress import ProgressFn

if TYPE_CHECKING:  # a type only: the model host runs this stage's workers
    from tasks.execution.model_host import ModelHost


@dataclass
class AnnotateResult:
    documents: pa.Table
    sentences: pa.Table
    entities: pa.Table
    quotes: pa.Table
    quarantine: pa.Table
    dropped: dict[str, int] = field(default_factory=dict)
    quote_seconds: float = 0.0


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
    accepted: list[Row] = []
    rejects: list[Row] = []
    for article in articles.drop_columns(["captions"]).to_pylist():
        if len(article["text"]) > nlp.max_length:
            rejects.append(_too_long(article))
        else:
            accepted.append(article)
    tables = _annotated(nlp, accepted, batch_size, n_process, progress)
    return AnnotateResult(
        documents=tables.documents,
        sentences=tables.sentences,
        entities=tables.entities,
        quotes=tables.quotes,
        quarantine=pa.Table.from_pylist(rejects, schema=QUARANTINE.schema),
        dropped=dict(sorted(tables.dropped.items())),
        quote_seconds=tables.quote_seconds,
    )


def _too_long(article: Row) -> Row:
    """The quarantine row of an article longer than the model takes."""
    too_long = Rejected("too_long", f"{len(article['text'])} characters > nlp.max_length")
    doc_id, source_path, line = article["doc_id"], article["source_path"], article["line"]
    return quarantine_row(
        "annotate", too_long, record_id=doc_id, source_path=source_path, line=line
    )


def _annotated(
    nlp: Language | ModelHost,
    articles: list[Row],
    batch_size: int,
    n_process: int,
    progress: ProgressFn | None,
) -> Tables:
    """The articles' tables, from the model host's workers, from workers forked here,
    or from this process where none can fork."""
    if not articles:
        return Rows().tables()
    if not isinstance(nlp, Language):  # a model host: its workers fork from there
        with pool.WORKERS_IN_USE:
            return nlp.annotate(articles, batch_size, n_process, progress)
    if pool.workers_can_fork():
        with pool.WORKERS_IN_USE:  # the partition before may still be writing and gating
            return pool.annotate_in_workers(nlp, articles, batch_size, n_process, progress)
    return _annotate_here(nlp, articles, batch_size, progress)


def _annotate_here(
    nlp: Language, articles: list[Row], batch_size: int, progress: ProgressFn | None
) -> Tables:
    """Where processes cannot fork, or may have no children (a Dask worker is a
    daemon process: the cluster is the parallelism there): in this process, outside
    a memory zone, which would give up the tokenizer's cache; the vocabulary the
    articles add stays until the process's `Resources` reloads the model (see
    `Resources.model`). Here rather than in tasks/execution/: the stage names the NLP
    it runs, so that its code version covers it (tasks/code_version.py)."""
    with large_blocks_from_the_heap():
        tables = annotate_stream(nlp, articles, batch_size)
    if progress is not None:
        progress(len(articles), len(articles))
    return tables


def annotate_partition(context: StageContext) -> StageOutput:
    """Annotate the committed clean articles of one partition."""
    settings = context.settings
    if pool.workers_can_fork():
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
