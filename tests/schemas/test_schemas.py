"""schemas/ is the single source: Arrow schemas, suites and the docs' data dictionary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas import ALL_TABLES, DOCUMENTS, ENTITIES, ENTITY_LABELS, QUARANTINE_REASONS, SENTENCES
from schemas.dictionary import BEGIN, END, PAGE, generated_section
from schemas.suites import expectation_suite

PROJECT = Path(__file__).resolve().parents[2]


def test_the_data_dictionary_page_is_generated_from_schemas() -> None:
    page = (PROJECT / PAGE).read_text(encoding="utf-8")
    start, end = page.index(BEGIN), page.index(END) + len(END)
    assert page[start:end] == generated_section(), f"run: depeche dictionary --write {PAGE}"


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.name)
def test_each_column_is_named_once_and_the_schema_follows(table) -> None:
    names = table.column_names
    assert len(names) == len(set(names))
    assert table.schema.names == names
    assert set(table.key) <= set(names)
    for later, earlier in table.ordered:
        assert {later, earlier} <= set(names)


def expectations(table) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for expectation in expectation_suite(table).expectations:
        config = expectation.configuration
        found.setdefault(config.type, []).append(config.kwargs)
    return found


def test_suites_are_derived_from_the_column_rules() -> None:
    entities = expectations(ENTITIES)
    [labels] = [k for k in entities["expect_column_values_to_be_in_set"] if k["column"] == "label"]
    assert labels["value_set"] == list(ENTITY_LABELS)
    assert entities["expect_table_columns_to_match_ordered_list"][0]["column_list"] == list(
        ENTITIES.column_names
    )
    assert {"column_list": ["doc_id", "entity_index"]} in [
        {"column_list": k["column_list"]} for k in entities["expect_compound_columns_to_be_unique"]
    ]
    not_null = {k["column"] for k in entities["expect_column_values_to_not_be_null"]}
    assert not_null == {c.name for c in ENTITIES.columns if not c.nullable}
    documents = expectations(DOCUMENTS)
    assert [k["column"] for k in documents["expect_column_values_to_be_unique"]] == ["doc_id"]
    pairs = expectations(SENTENCES)["expect_column_pair_values_a_to_be_greater_than_b"]
    assert pairs[0]["column_A"] == "end_char" and pairs[0]["column_B"] == "start_char"


def test_every_quarantine_reason_the_code_gives_is_declared() -> None:
    source = "\n".join(p.read_text() for p in (PROJECT / "tasks").rglob("*.py"))
    given = set(re.findall(r"Reject(?:ed)?\(\s*\"([a-z_]+)\"", source))
    given |= set(re.findall(r"\"reason\": \"([a-z_]+)\"", source))
    assert given, "no reason codes found: the pattern is out of date"
    assert given <= set(QUARANTINE_REASONS)


def test_depeche_dictionary_rewrites_the_generated_sections_of_a_page(
    tmp_path, subprocess_env, depeche
) -> None:
    page = tmp_path / "dictionary.md"
    current = (PROJECT / PAGE).read_text(encoding="utf-8")
    start, end = current.index(BEGIN) + len(BEGIN), current.index(END)
    page.write_text(current[:start] + "\nstale\n" + current[end:], encoding="utf-8")

    result = depeche("dictionary", "--write", str(page), env=subprocess_env)

    assert result.returncode == 0, result.stderr
    assert page.read_text(encoding="utf-8") == current


def test_depeche_dictionary_refuses_a_page_without_its_sections(
    tmp_path, subprocess_env, depeche
) -> None:
    page = tmp_path / "notes.md"
    page.write_text("# Notes\n", encoding="utf-8")
    result = depeche("dictionary", "--write", str(page), env=subprocess_env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"depeche: error: {page} has no data-dictionary markers"
    assert page.read_text(encoding="utf-8") == "# Notes\n"
