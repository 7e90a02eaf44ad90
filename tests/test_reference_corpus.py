"""The reference corpus beside the project (../shared/corpus): the wire story and three
real French news pages with their gold metadata. Skipped, saying so, when it is absent."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from tasks.annotate import annotate_articles
from tasks.clean import clean_items, normalize_text
from tasks.fetch import fetch_files


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


def test_the_reference_news_pages_match_their_gold(corpus: Path, language) -> None:
    gold = json.loads((corpus / "html" / "gold.json").read_text(encoding="utf-8"))
    pages = {entry["file"]: entry for entry in gold.values()}
    articles = clean_files([corpus / "html" / name for name in sorted(pages)], language)
    assert articles.num_rows == len(pages) == 3
    for article in articles.to_pylist():
        expected = pages[Path(article["source_path"]).name]
        text = article["text"]
        for segment in expected["with"]:
            assert normalize_text(segment) in text, (expected["file"], segment)
        for segment in expected["without"]:
            assert normalize_text(segment) not in text, (expected["file"], segment)
        assert article["title"] == normalize_text(expected["title"])
        assert article["published_date"].isoformat() == expected["date"]
        assert article["date_precision"] == "day"
