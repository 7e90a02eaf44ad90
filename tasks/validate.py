"""Validate: check the annotated tables of a partition against each other and against
the clean articles, then publish them under `annotated/` for analytics.

The annotate stage commits its tables to a checkpoint that no reader sees; only a
partition that passes every check here is published (write, audit, publish).
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas import CLEAN, DOCUMENTS, ENTITIES, QUARANTINE, SENTENCES
from tasks.contract import Stage, StageContext, StageOutput
from tasks.gate import Check


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
    return Check(
        table=table,
        expectation="offsets_match_document_text",
        column="start_char,end_char",
        success=bad == 0 and missing == 0,
        unexpected_count=bad + missing,
        observed={"outside_or_mismatched": bad, "unknown_doc_id": missing},
    )


def annotation_checks(
    documents: pa.Table,
    sentences: pa.Table,
    entities: pa.Table,
    expected_doc_ids: set[str],
    max_share_without_entities: float,
) -> list[Check]:
    """Checks across the annotated tables of one partition."""
    docs = documents.select(["doc_id", "text", "entity_count", "sentence_count"]).to_pandas()
    texts = dict(zip(docs["doc_id"], docs["text"], strict=True))
    found = set(docs["doc_id"])
    share = float((docs["entity_count"] == 0).mean()) if len(docs) else 0.0
    entity_counts = entities.column("doc_id").value_counts().to_pylist()
    counted = {item["values"]: item["counts"] for item in entity_counts}
    mismatched = int(
        sum(
            counted.get(d, 0) != n
            for d, n in zip(docs["doc_id"], docs["entity_count"], strict=True)
        )
    )
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
        Check(
            table=DOCUMENTS.name,
            expectation="entity_count_matches_entities_table",
            column="entity_count",
            success=mismatched == 0,
            unexpected_count=mismatched,
        ),
        _spans_match_text(SENTENCES.name, sentences.to_pandas(), texts),
        _spans_match_text(ENTITIES.name, entities.to_pandas(), texts),
    ]


ANNOTATED = (DOCUMENTS, SENTENCES, ENTITIES)


def validate_partition(context: StageContext) -> StageOutput:
    """Audit the annotate checkpoint of one partition; the contract publishes it if
    every check passes."""
    documents, sentences, entities = (context.read(table) for table in ANNOTATED)
    clean_ids = set(context.read(CLEAN, columns=["doc_id"]).column("doc_id").to_pylist())
    rejected = context.read(QUARANTINE, stage="annotate", columns=["record_id"])
    expected = clean_ids - set(pc.drop_null(rejected.column("record_id")).to_pylist())
    checks = annotation_checks(
        documents, sentences, entities, expected, context.settings.max_share_without_entities
    )
    return StageOutput(
        outputs={},
        quarantine=pa.Table.from_pylist([], schema=QUARANTINE.schema),
        rows_in=documents.num_rows,
        rows_out=documents.num_rows,
        checks=checks,
    )


STAGE = Stage(
    name="validate",
    produce=validate_partition,
    reads=(CLEAN,),
    publishes=ANNOTATED,
    settings=("max_share_without_entities",),
)
