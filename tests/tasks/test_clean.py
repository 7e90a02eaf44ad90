"""Clean: the wire format, HTML and JSON lines into normalized, deduplicated articles."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from schemas import CLEAN, QUARANTINE, RAW
from tasks.stages.clean import (
    clean_items,
    detect_language,
    doc_id,
    extract_html,
    normalize_text,
    parse_wire,
    split_caption,
)
from tasks.text.dates import InvalidDate, parse_date

BODY = (
    "Les ministres européens se sont réunis mardi à Bruxelles pour discuter du budget "
    "de l’Union, a indiqué la présidente de la Commission."
)


def raw_items(*items: dict) -> pa.Table:
    rows = []
    for number, item in enumerate(items):
        rows.append(
            {
                "item_id": f"{number:016x}",
                "source_path": item.get("source_path", f"src/{number:02d}.txt"),
                "line": item.get("line"),
                "format": item.get("format", "wire"),
                "encoding": "utf-8",
                "payload": item["payload"],
                "content_sha256": "0" * 64,
                "byte_size": len(item["payload"]),
                "fetched_at": datetime(2024, 1, 1, tzinfo=UTC),
            }
        )
    return pa.Table.from_pylist(rows, schema=RAW.schema)


# -- normalization -----------------------------------------------------------------


def test_normalize_text_makes_typography_plain_for_the_annotator() -> None:
    text = (
        "L\u2019OTAN\u00a0:  «\u202fNous   allons\u00a0» \u201cici\u201d\u00ad."
        "\r\n\r\n\n Suite\u200b\tfin "
    )
    assert normalize_text(text) == 'L\'OTAN : « Nous allons » "ici".\n\nSuite fin'


def test_normalize_text_composes_unicode() -> None:
    decomposed = "e\u0301te\u0301"  # é as e + combining accent
    assert normalize_text(decomposed) == "été"


def test_normalize_text_leaves_no_control_character_and_no_mojibake() -> None:
    # what a JSON line's escapes (`\\u0001`, `\\u00c3\\u00a9`) hide from fetch
    text = (
        "Le num\u00c3\u00a9ro\x01 un\x1b[0m l\u00e2\u0080\u0099a\x85dit\x7f.\r\n\r\nFin\x0b\x0cici"
    )
    assert normalize_text(text) == "Le numéro un[0m l'a dit.\n\nFin ici"


def test_doc_id_is_stable_and_content_derived() -> None:
    assert doc_id("abc") == doc_id("abc")
    assert doc_id("abc") != doc_id("abd")
    assert len(doc_id("abc")) == 16


# -- dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-02", (date(2020, 2, 1), "month")),
        ("2020-02-19", (date(2020, 2, 19), "day")),
        ("2020", (date(2020, 1, 1), "year")),
        ("2023-05-27T21:30:00+02:00", (date(2023, 5, 27), "day")),
    ],
)
def test_parse_date_keeps_the_precision(value: str, expected: tuple) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["2020-13", "2020-02-30", "hier", "19/02/2020"])
def test_parse_date_refuses_what_it_cannot_read(value: str) -> None:
    with pytest.raises(InvalidDate):
        parse_date(value)


# -- the wire format ---------------------------------------------------------------


def test_wire_header_on_the_lead_paragraph_line() -> None:
    wire = parse_wire(normalize_text(f" date 2020-02 (Bruxelles) {BODY}\n\nSuite."))
    assert (wire.date, wire.dateline) == ("2020-02", "Bruxelles")
    assert wire.body == f"{normalize_text(BODY)}\n\nSuite."


def test_wire_header_on_its_own_line_and_without_dateline() -> None:
    wire = parse_wire(normalize_text(f"date 2021-03-15\n\n{BODY}"))
    assert (wire.date, wire.dateline, wire.body) == ("2021-03-15", None, normalize_text(BODY))


def test_a_text_that_starts_with_the_word_date_has_no_header() -> None:
    wire = parse_wire("Date limite dépassée pour les candidats, a annoncé le jury.")
    assert wire.date is None
    assert wire.body.startswith("Date limite")


@pytest.mark.parametrize(
    ("byline", "agency", "author"),
    [
        ("Agence France-Presse", "Agence France-Presse", None),
        ("AFP", "Agence France-Presse", None),
        ("La Presse canadienne", "La Presse canadienne", None),
        ("Associated Press", "Associated Press", None),
        ("Reuters", "Reuters", None),
        ("Par Marie Dubois, Agence France-Presse", "Agence France-Presse", "Marie Dubois"),
    ],
)
def test_the_byline_paragraph_names_the_agency(byline: str, agency: str, author) -> None:
    wire = parse_wire(f"{BODY}\n\n{byline}\n\nSuite.")
    assert (wire.agency, wire.author) == (agency, author)
    assert byline not in wire.body
    assert wire.body == f"{BODY}\n\nSuite."


def test_an_agency_named_inside_a_sentence_is_not_a_byline() -> None:
    text = f"{BODY}\n\nSelon Reuters, la réunion a duré trois heures."
    wire = parse_wire(text)
    assert wire.agency is None
    assert wire.body == text


@pytest.mark.parametrize(
    ("credit", "caption"),
    [
        ("FOI-IMPACT, DÉFENSE NATIONALE", "Un instructeur militaire canadien."),
        ("SEYLLOU, AFP", "Des électeurs à Dakar."),
        ("ARCHIVES REUTERS", "À Paris, en 2019."),  # a short capital word opens the caption
    ],
)
def test_photo_captions_split_into_credit_and_text(credit: str, caption: str) -> None:
    assert split_caption(f"PHOTO {credit} {caption}") == {"credit": credit, "text": caption}


def test_captions_leave_the_body() -> None:
    wire = parse_wire(f"{BODY}\n\nPHOTO JEAN DUPONT, AFP Une vue de la ville.\n\nFin.")
    assert wire.captions == [{"credit": "JEAN DUPONT, AFP", "text": "Une vue de la ville."}]
    assert "PHOTO" not in wire.body and "Une vue de la ville" not in wire.body


def test_a_paragraph_about_photos_is_not_a_caption() -> None:
    assert split_caption("Photographes et journalistes étaient présents.") is None


# -- HTML --------------------------------------------------------------------------


def test_extract_html_takes_text_and_metadata_without_boilerplate() -> None:
    page = f"""<html lang="fr"><head><title>Un titre - Le Site</title>
    <meta property="og:site_name" content="Le Site"><meta name="author" content="Léa Martin">
    <meta property="article:published_time" content="2021-05-04T08:00:00+02:00"></head>
    <body><nav><a href="/">Accueil</a> <a href="/x">Abonnement</a></nav>
    <article><h1>Un titre</h1><p>{BODY}</p><p>{BODY.replace("mardi", "jeudi")}</p></article>
    <footer><p>Mentions légales du site</p></footer></body></html>"""
    found = extract_html(page)
    assert found is not None
    assert found["title"] == "Un titre"
    assert found["site_name"] == "Le Site"
    assert found["author"] == "Léa Martin"
    assert found["dates"][0] == ("2021-05-04", "meta")
    assert BODY in found["text"]
    assert "Mentions légales" not in found["text"]


def test_extract_html_finds_nothing_in_an_empty_page() -> None:
    assert extract_html("<html><body><nav>Accueil</nav></body></html>") is None


# -- the stage ---------------------------------------------------------------------


def test_language_detection_tells_french_from_english(language) -> None:
    assert detect_language(language, BODY).not_french is None
    english = "The ministers met on Tuesday in Brussels to discuss the budget."
    assert detect_language(language, english).not_french.startswith("detected language en")


def test_clean_items_accounts_for_every_item(language) -> None:
    jsonl = json.dumps(
        {"text": BODY.replace("mardi", "lundi"), "title": "Titre", "date": "2020-05", "url": "u"}
    )
    raw = raw_items(
        {"payload": f"date 2020-02-03 (Paris)\n\n{BODY}\n\nAgence France-Presse"},
        {"payload": f"date 2020-02 (Lyon) {BODY}"},  # same text as the first: duplicate
        {"payload": "The ministers met on Tuesday in Brussels to discuss the budget."},
        {"payload": "date 2020-13-01 (Paris) " + BODY.replace("mardi", "mercredi")},
        {"payload": "Agence France-Presse"},
        {"payload": "<html><body><nav>menu</nav></body></html>", "format": "html"},
        {"payload": jsonl, "format": "jsonl", "line": 1, "source_path": "src/x.jsonl"},
    )
    result = clean_items(raw, identifier=language)
    assert result.articles.schema.equals(CLEAN.schema)
    assert result.quarantine.schema.equals(QUARANTINE.schema)
    assert raw.num_rows == result.articles.num_rows + result.quarantine.num_rows

    articles = {a["source_path"]: a for a in result.articles.to_pylist()}
    first = articles["src/00.txt"]
    assert (first["published_date"], first["date_precision"]) == (date(2020, 2, 3), "day")
    assert (first["date_source"], first["modified_date"]) == ("wire_header", None)
    assert (first["dateline"], first["agency"]) == ("Paris", "Agence France-Presse")
    assert first["text"] == normalize_text(BODY)
    assert first["doc_id"] == doc_id(first["text"])
    assert (first["language"], first["char_count"]) == ("fr", len(first["text"]))
    line = articles["src/x.jsonl"]
    assert (line["title"], line["url"], line["date_precision"]) == ("Titre", "u", "month")
    assert line["date_source"] == "jsonl"

    reasons = {q["source_path"]: (q["reason"], q["detail"]) for q in result.quarantine.to_pylist()}
    assert reasons["src/01.txt"] == (
        "duplicate",
        f"same text as doc_id {first['doc_id']} (src/00.txt)",
    )
    assert reasons["src/02.txt"][0] == "not_french" and "en" in reasons["src/02.txt"][1]
    assert reasons["src/03.txt"][0] == "invalid_date"
    assert reasons["src/04.txt"][0] == "empty_text"
    assert reasons["src/05.txt"][0] == "extraction_failed"
    kept = json.loads(result.quarantine.to_pylist()[0]["record"])
    assert kept["payload"] in {r["payload"] for r in raw.to_pylist()}


def test_clean_output_is_stable(language) -> None:
    raw = raw_items({"payload": BODY}, {"payload": BODY.replace("mardi", "jeudi")})
    first, second = (clean_items(raw, identifier=language) for _ in range(2))
    assert first.articles.equals(second.articles)
