"""Validate: check the annotated tables of a partition against each other and against
the clean articles, then publish them under `annotated/` for analytics.

The annotate stage commits its tables to a checkpoint that no reader sees; only a
partition that passes every check here is published (write, audit, publish).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import CLEAN, DOCUMENTS, ENTITIES, QUARANTINE, QUOTES, SENTENCES
from tasks.contract import Stage, StageContext, StageOutput
from tasks.gate import Check
from tasks.stages.annotate import quote_figures


def _rows_wrong(
    table: str, expectation: str, column: str, wrong: int, observed: Any = None
) -> Check:
    """A check that counts the rows found wrong: it passes when there are none."""
    return Check(
        table=table,
        expectation=expectation,
        column=column,
        success=wrong == 0,
        unexpected_count=wrong,
        observed=observed,
    )


def _spans_match_text(table: str, spans: pd.DataFrame, texts: dict[str, str]) -> Check:
    """Every span's offsets lie inside its document's text and cut out its `text`."""
    bad = 0
    missing = 0
    for doc_id, start, end, surface in zip(
        spans["doc_id"], spans["start_char"], spans["end_char"], spans["text"], strict=True
    ):
        text = texts.get(doc_id)
        if text is None:
            missing += 1
        elif not (0 <= start < end <= len(text)) or text[start:end] != surface:
            bad += 1
    return _rows_wrong(
        table,
        "offsets_match_document_text",
        "start_char,end_char",
        bad + missing,
        observed={"outside_or_mismatched": bad, "unknown_doc_id": missing},
    )


def _count_mismatches(
    documents: pd.DataFrame, rows: pa.Table, column: str, unit: str | None = None
) -> int:
    """Articles whose `column` (entity_count, quote_count) differs from the count of
    their rows, or of their distinct `unit` values (a quote's segments share its
    `quote_id`)."""
    if unit is not None:
        rows = rows.group_by(["doc_id", unit]).aggregate([])
    counts = rows.column("doc_id").value_counts().to_pylist()
    counted = {item["values"]: item["counts"] for item in counts}
    return int(
        sum(
            counted.get(d, 0) != n
            for d, n in zip(documents["doc_id"], documents[column], strict=True)
        )
    )


def _speakers_cut_wrong(quotes: pd.DataFrame, texts: dict[str, str]) -> int:
    """Quotes whose speaker is given in part only, or whose speaker's offsets do not
    cut it out of its document."""
    cut_wrong = 0
    for doc_id, speaker, start, end in zip(
        quotes["doc_id"], quotes["speaker"], quotes["speaker_start"], quotes["speaker_end"],
        strict=True,
    ):  # fmt: skip
        given = [pd.notna(speaker), pd.notna(start), pd.notna(end)]
        if not any(given):
            continue
        text = texts.get(doc_id)
        if (
            not all(given)
            or text is None
            or not (0 <= start < end <= len(text))
            or text[int(start) : int(end)] != speaker
        ):
            cut_wrong += 1
    return cut_wrong


def _speaker_entities_wrong(quotes: pd.DataFrame, entities: pd.DataFrame) -> dict[str, int]:
    """Resolved speakers that are no entity of their document, and those named other
    than that entity's canonical name."""
    canonical = {
        (d, int(i)): c
        for d, i, c in zip(
            entities["doc_id"], entities["entity_index"], entities["canonical"], strict=True
        )
    }
    unknown = wrong_name = 0
    for doc_id, index, name in zip(
        quotes["doc_id"], quotes["speaker_entity_index"], quotes["speaker_canonical"], strict=True
    ):
        if pd.isna(index) and pd.isna(name):
            continue
        if pd.isna(index) or (doc_id, int(index)) not in canonical:
            unknown += 1
        elif canonical[(doc_id, int(index))] != name:
            wrong_name += 1
    return {"unknown_entity": unknown, "other_canonical_name": wrong_name}


def _speakers_match(
    quotes: pd.DataFrame, entities: pd.DataFrame, texts: dict[str, str]
) -> list[Check]:
    """A speaker's offsets cut it out of its document, and a resolved speaker is an
    entity of the same document, with that entity's canonical name."""
    entities_wrong = _speaker_entities_wrong(quotes, entities)
    return [
        _rows_wrong(
            QUOTES.name,
            "speaker_offsets_match_document_text",
            "speaker_start,speaker_end",
            _speakers_cut_wrong(quotes, texts),
        ),
        _rows_wrong(
            QUOTES.name,
            "speaker_is_an_entity_of_the_document",
            "speaker_entity_index,speaker_canonical",
            sum(entities_wrong.values()),
            observed=entities_wrong,
        ),
    ]


def _coverage(
    docs: pd.DataFrame, expected_doc_ids: set[str], max_share_without_entities: float
) -> list[Check]:
    """Every clean article (and no other) is annotated, and few enough articles have
    no entity."""
    found = set(docs["doc_id"])
    share = float((docs["entity_count"] == 0).mean()) if len(docs) else 0.0
    return [
        Check(
            table=DOCUMENTS.name,
            expectation="every_clean_article_is_annotated",
            column="doc_id",
            success=found == expected_doc_ids,
            unexpected_count=len(found ^ expected_doc_ids),
            observed={
                "missing": sorted(expected_doc_ids - found)[:5],
                "extra": sorted(found - expected_doc_ids)[:5],
            },
        ),
        Check(
            table=DOCUMENTS.name,
            expectation="share_without_entities_at_most",
            column="entity_count",
            success=share <= max_share_without_entities,
            observed={"share": round(share, 4), "max": max_share_without_entities},
        ),
    ]


def annotation_checks(
    documents: pa.Table,
    sentences: pa.Table,
    entities: pa.Table,
    quotes: pa.Table,
    expected_doc_ids: set[str],
    max_share_without_entities: float,
) -> list[Check]:
    """Checks across the annotated tables of one partition."""
    columns = ["doc_id", "text", "entity_count", "quote_count", "sentence_count"]
    docs = documents.select(columns).to_pandas()
    texts = dict(zip(docs["doc_id"], docs["text"], strict=True))
    quote_rows, entity_rows = quotes.to_pandas(), entities.to_pandas()
    return [
        *_coverage(docs, expected_doc_ids, max_share_without_entities),
        *(
            # a document's count of its rows in a table (of its quotes, not segments)
            _rows_wrong(
                DOCUMENTS.name,
                f"{column}_matches_{declared.name}_table",
                column,
                _count_mismatches(docs, rows, column, unit),
            )
            for column, declared, rows, unit in (
                ("entity_count", ENTITIES, entities, None),
                ("quote_count", QUOTES, quotes, "quote_id"),
            )
        ),
        _spans_match_text(SENTENCES.name, sentences.to_pandas(), texts),
        _spans_match_text(ENTITIES.name, entity_rows, texts),
        _spans_match_text(QUOTES.name, quote_rows, texts),
        *_speakers_match(quote_rows, entity_rows, texts),
        Check(
            table=QUOTES.name,
            expectation="share_without_speaker",
            column="speaker_canonical",
            success=True,  # a figure of the batch, recorded: not a gate
            observed=quote_figures(quotes),
        ),
    ]


ANNOTATED = (DOCUMENTS, SENTENCES, ENTITIES, QUOTES)


def validate_partition(context: StageContext) -> StageOutput:
    """Audit the annotate checkpoint of one partition; the contract publishes it if
    every check passes."""
    documents, sentences, entities, quotes = (context.read(table) for table in ANNOTATED)
    clean_ids = set(context.read(CLEAN, columns=["doc_id"]).column("doc_id").to_pylist())
    rejected = context.read(QUARANTINE, stage="annotate", columns=["record_id"])
    expected = clean_ids - set(pc.drop_null(rejected.column("record_id")).to_pylist())
    checks = annotation_checks(
        documents,
        sentences,
        entities,
        quotes,
        expected,
        context.settings.max_share_without_entities,
    )
    return StageOutput(
        outputs={},
        quarantine=pa.Table.from_pylist([], schema=QUARANTINE.schema),
        rows_in=documents.num_rows,
        rows_out=documents.num_rows,
        checks=checks,
        details=quote_figures(quotes),
    )


STAGE = Stage(
    name="validate",
    produce=validate_partition,
    reads=(CLEAN,),
    publishes=ANNOTATED,
    settings=("max_share_without_entities",),
)
