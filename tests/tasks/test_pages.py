"""Web pages: the article's own dates and headline, and its text without furniture.

Each rule has a small page of its own in tests/fixtures/pages/ (gold in gold.json),
read through the function the clean stage runs on an HTML item.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import lxml.html
import pytest

from tasks.stages.clean import article_from_item, normalize_text
from tasks.text import pages

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
GOLD = {
    entry["file"]: entry
    for entry in json.loads((PAGES / "gold.json").read_text(encoding="utf-8")).values()
}


def article(name: str) -> dict:
    return article_from_item(
        {"format": "html", "payload": (PAGES / name).read_text(encoding="utf-8")}
    )


@pytest.mark.parametrize("name", sorted(GOLD))
def test_each_small_page_matches_its_gold(name: str) -> None:
    gold, found = GOLD[name], article(name)
    for segment in gold["with"]:
        assert normalize_text(segment) in found["text"], segment
    for segment in gold["without"]:
        assert normalize_text(segment) not in found["text"], segment
    assert found["title"] == gold["title"]
    assert (found["published_date"].isoformat(), found["date_precision"]) == (gold["date"], "day")
    assert found["date_source"] == gold["date_source"]
    modified = found["modified_date"] and found["modified_date"].isoformat()
    assert modified == gold.get("modified_date")


def test_a_comment_with_an_older_date_does_not_date_the_article() -> None:
    found = article("commentaire-date.html")
    # the comment list dates its comments 11 and 12 September; the byline says the 30th
    assert found["published_date"] == date(2018, 9, 30)
    assert found["date_source"] == "byline"
    assert "Gérard18" not in found["text"]


def test_a_caption_and_its_credit_leave_the_text_for_the_captions_column() -> None:
    found = article("legende-lire-aussi.html")
    assert found["captions"] == GOLD["legende-lire-aussi.html"]["captions"]
    assert "Image illustrative" not in found["text"]


def test_read_also_lines_lists_share_buttons_and_newsletter_prompts_go() -> None:
    text = article("legende-lire-aussi.html")["text"]
    for furniture in ("À lire aussi", "Voir aussi", "Partager sur", "newsletter", "Les plus lus"):
        assert furniture not in text
    # while every paragraph stays: its subheading and its quote too
    assert "Les pêcheurs inquiets pour les poissons" in text
    assert text.count("\n\n") >= 4


def test_json_ld_with_several_articles_reads_the_one_of_this_page() -> None:
    found = article("jsonld-plusieurs.html")
    assert found["title"] == "Les vendanges commencent tôt dans le Jura"
    # the JSON-LD article beats the meta tag (which gives the modification time)
    assert (found["published_date"], found["date_source"]) == (date(2023, 8, 28), "jsonld")
    assert found["modified_date"] == date(2023, 8, 29)


# -- the rules one by one, on pages written inline ---------------------------------------


def tree(body: str, head: str = "") -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><head>{head}</head><body>{body}</body></html>")


def test_the_meta_tag_dates_the_page_when_there_is_no_json_ld() -> None:
    found = pages.read_metadata(
        tree(
            "<h1>T</h1><p>Publié le 3 mars 2020</p>",
            '<meta property="article:published_time" content="2020-03-04T23:30:00-05:00">'
            '<meta property="article:modified_time" content="2020-03-05T08:00:00-05:00">',
        )
    )
    assert (found.published, found.date_source, found.modified) == (
        "2020-03-04",
        "meta",
        "2020-03-05",
    )


def test_the_byline_gives_the_publication_date_not_the_update() -> None:
    page = tree("<h1>Titre</h1><p>Mis à jour le 2 avril 2021, publié le 1er avril 2021</p>")
    assert (pages.read_metadata(page).published, pages.byline_date(page)) == (
        "2021-04-01",
        "2021-04-01",
    )
    assert pages.byline_date(tree('<h1>T</h1><time datetime="2019-06-07T10:00">hier</time>')) == (
        "2019-06-07"
    )


def test_the_url_dates_a_page_that_states_nothing_else() -> None:
    found = pages.read_metadata(
        tree(
            "<h1>T</h1><p>Sans date.</p>",
            '<link rel="canonical" href="https://x.example/2018/09/30/a">',
        )
    )
    assert (found.published, found.date_source) == ("2018-09-30", "url")
    assert pages.url_date("https://x.example/2018/09/a") == "2018-09"
    assert pages.url_date("https://x.example/article/123456") is None


def test_a_date_in_a_comment_block_is_pruned_before_the_byline_is_read() -> None:
    page = tree(
        "<article><h1>T</h1><p>Texte sans date.</p></article>"
        '<div class="comments"><p>Paul, le 11 septembre 2018</p></div>'
    )
    pages.prune_furniture(page)
    assert pages.byline_date(page) is None


def test_a_furniture_class_around_the_whole_text_does_not_prune_the_article() -> None:
    paragraph = "<p>" + "mot " * 50 + "</p>"
    page = tree(f'<div class="share-zone">{paragraph * 3}</div><div class="share">Partager</div>')
    pages.prune_furniture(page)
    assert page.text_content().count("mot") == 150
    assert "Partager" not in page.text_content()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Crédits photos : Bestimage", {"credit": "Bestimage", "text": None}),
        ("Crédit photo : KB / Bondy Blog", {"credit": "KB / Bondy Blog", "text": None}),
        ("Photos et vidéos ont circulé toute la journée sur les réseaux sociaux.", None),
    ],
)
def test_a_credit_line_in_the_text_is_a_caption(line: str, expected: dict | None) -> None:
    assert pages.split_credit_line(line) == expected


def test_french_dates_in_a_byline() -> None:
    assert pages.french_date("Publié le 30 septembre 2018 à 18h12") == "2018-09-30"
    assert pages.french_date("le 1er févr. 2020") == "2020-02-01"
    assert pages.french_date("Publié le 07/03/2019") == "2019-03-07"
    assert pages.french_date("Mis à jour le 8 mars 2019") is None
