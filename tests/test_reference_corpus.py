"""The reference corpus beside the project (../shared/corpus): the wire story and eight
real French news pages with their gold (segments, title, date). Skipped, saying so, when it
is absent."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tasks.sources.files import fetch_files
from tasks.stages.annotate import annotate_articles
from tasks.stages.clean import clean_items, normalize_text


def clean_files(paths: list[Path], language):
    fetched = fetch_files(paths, max_bytes=5_000_000, fetched_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert fetched.quarantine.num_rows == 0, fetched.quarantine.to_pylist()
    result = clean_items(fetched.raw, identifier=language)
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()
    return result.articles


def test_the_reference_wire_story(corpus: Path, nlp, language) -> None:
    articles = clean_files(sorted((corpus / "wire").glob("*.txt")), language)
    [story] = articles.to_pylist()
    assert (story["published_date"], story["date_precision"]) == (date(2020, 2, 1), "month")
    assert story["dateline"] == "Bruxelles"
    assert story["agency"] == "Agence France-Presse"
    [caption] = story["captions"]
    assert caption["credit"] == "FOI-IMPACT, DÉFENSE NATIONALE"
    assert caption["text"].startswith("Un instructeur militaire canadien")
    text = story["text"]
    assert "PHOTO" not in text and "FOI-IMPACT" not in text and "instructeur" not in text
    assert "Agence France-Presse" not in text
    assert text.startswith("Les pays membres de l'OTAN")

    annotated = annotate_articles(articles, nlp)
    entities = annotated.entities.to_pylist()
    persons = {e["normalized"] for e in entities if e["label"] == "PER"}
    assert {"Jens Stoltenberg", "Donald Trump", "Kay Bailey Hutchison", "Mark Esper"} <= persons
    for entity in entities:
        assert text[entity["start_char"] : entity["end_char"]] == entity["text"]
        letters = sum(ch.isalpha() for ch in entity["normalized"])
        assert letters > 1, entity
        assert not entity["text"].endswith("'"), entity
    assert "OTAN" in {e["normalized"] for e in entities}
    canonical = {e["normalized"]: e["canonical"] for e in entities if e["label"] == "PER"}
    assert canonical["Trump"] == "Donald Trump"


# The quotes of the wire story as the corpus's README lists them: how each starts, who said it.
WIRE_QUOTES = [
    ("Le président Donald Trump a demandé", "Kay Bailey Hutchison"),
    ("S'ils prennent une partie", "Kay Bailey Hutchison"),
    ("Nous allons en parler", "Jens Stoltenberg"),
    ("mais nous annoncerons", "Jens Stoltenberg"),
    ("La mission forte de 500 personnes", "Jens Stoltenberg"),
    ("Nous sommes venus en Irak", "Jens Stoltenberg"),
    ("Nous espérons reprendre", "Jens Stoltenberg"),
]


def test_the_reference_wire_story_s_quotes_and_speakers(corpus: Path, nlp, language) -> None:
    articles = clean_files(sorted((corpus / "wire").glob("*.txt")), language)
    quotes = annotate_articles(articles, nlp).quotes.to_pylist()
    quoted = [q for q in quotes if q["kind"] != "indirect"]
    # every quote listed, with its speaker, and no other quotation
    assert len(quoted) == len(WIRE_QUOTES)
    for quote, (start, speaker) in zip(quoted, WIRE_QUOTES, strict=True):
        assert quote["text"].startswith(start), quote["text"]
        assert quote["speaker_canonical"] == speaker, quote
    pronouns = [q["speaker"] for q in quoted if q["speaker"] in ("il", "elle")]
    assert pronouns == ["elle", "il", "il"]
    # what Jens Stoltenberg said without quotation marks is reported speech of his too
    reported = [q for q in quotes if q["kind"] == "indirect"]
    assert [q["speaker_canonical"] for q in reported].count("Jens Stoltenberg") == 3
    assert all(q["speaker_canonical"] in ("Jens Stoltenberg", None) for q in reported)


@pytest.mark.parametrize(("folder", "count"), [("html", 3), ("more-html", 5)])
def test_the_reference_news_pages_match_their_gold(corpus: Path, language, folder, count) -> None:
    gold = json.loads((corpus / folder / "gold.json").read_text(encoding="utf-8"))
    pages = {entry["file"]: entry for entry in gold.values()}
    articles = clean_files([corpus / folder / name for name in sorted(pages)], language)
    assert articles.num_rows == len(pages) == count
    for article in articles.to_pylist():
        expected = pages[Path(article["source_path"]).name]
        text = article["text"]
        for segment in expected["with"]:
            assert normalize_text(segment) in text, (expected["file"], segment)
        for segment in expected["without"]:
            assert normalize_text(segment) not in text, (expected["file"], segment)
        if expected.get("title"):
            assert article["title"] == normalize_text(expected["title"]), expected["file"]
        if expected.get("date"):
            assert article["published_date"].isoformat() == expected["date"], expected["file"]
            assert article["date_precision"] == "day"
            # every one of these pages states its date: none is htmldate's guess
            assert article["date_source"] in {"jsonld", "meta", "byline"}, expected["file"]


def test_the_reference_captions_and_credits_leave_the_text(corpus: Path, language) -> None:
    names = ["more-html/gala.fr.surnom.html", "html/ledevoir.com.trottinettes.html"]
    articles = {
        Path(a["source_path"]).name: a
        for a in clean_files([corpus / name for name in names], language).to_pylist()
    }
    assert articles["gala.fr.surnom.html"]["captions"] == [{"credit": "Bestimage", "text": None}]
    [caption] = articles["ledevoir.com.trottinettes.html"]["captions"]
    assert caption["credit"] == "Adil Boukind Archives Le Devoir"
    assert caption["text"].startswith("Les entreprises de trottinettes")
    assert "Adil Boukind" not in articles["ledevoir.com.trottinettes.html"]["text"]
