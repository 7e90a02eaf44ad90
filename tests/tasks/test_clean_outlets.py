"""The outlet of an article: the name its page states (og:site_name, then the JSON-LD
publisher), then its news sitemap's, then its host; a JSON line's source, a wire
story's agency; one spelling for one name; and the gate that wants one for every
article."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from schemas import CLEAN, DOCUMENTS
from tasks.gate import check_table
from tasks.stages.clean import clean_items, outlet_name
from tests.tasks.test_clean_dates import BODY, _clean_row, _raw
from tests.tasks.test_gate import documents

URL = "https://www.journal-test.fr/region/article-1"


def _page(head: str = "", body: str = BODY) -> str:
    return (
        f'<html lang="fr"><head>{head}</head><body><article><h1>Le budget</h1>'
        f"<p>{body}</p><p>{body.replace('mardi', 'jeudi')}</p></article></body></html>"
    )


def _og(name: str) -> str:
    return f'<meta property="og:site_name" content="{name}">'


def _jsonld(publisher: object, graph: list | None = None) -> str:
    article = {"@type": "NewsArticle", "headline": "Le budget", "publisher": publisher}
    data = {"@context": "https://schema.org", "@graph": [article, *(graph or [])]}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _outlet(language, **item) -> tuple[str, str]:
    result = clean_items(_raw(item), identifier=language)
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()
    (article,) = result.articles.to_pylist()
    return article["outlet"], article["outlet_source"]


def test_og_site_name_comes_first(language) -> None:
    head = _og("La Gazette du Test") + _jsonld({"@type": "Organization", "name": "Gazette SA"})
    found = _outlet(language, payload=_page(head), url=URL, listed_by="sitemap", listed_site="GT")
    assert found == ("La Gazette du Test", "og_site_name")


@pytest.mark.parametrize(
    ("publisher", "graph"),
    [
        ({"@type": "NewsMediaOrganization", "name": "L’Écho  du Test"}, None),
        ([{"@type": "Organization", "name": "L'Écho du Test"}], None),
        (
            {"@id": "https://www.journal-test.fr/#org"},
            [
                {
                    "@type": "Organization",
                    "@id": "https://www.journal-test.fr/#org",
                    "name": "L'Écho du Test",
                }
            ],
        ),
    ],
    ids=["object", "list", "reference"],
)
def test_the_json_ld_publisher_names_a_page_without_og(language, publisher, graph) -> None:
    found = _outlet(language, payload=_page(_jsonld(publisher, graph)), url=URL)
    assert found == ("L'Écho du Test", "jsonld_publisher")


def test_a_news_sitemap_names_a_page_that_names_nothing(language) -> None:
    found = _outlet(
        language, payload=_page(), url=URL, listed_by="sitemap", listed_site="Le Petit Quotidien"
    )
    assert found == ("Le Petit Quotidien", "news_sitemap")


def test_a_feed_title_is_no_outlet_the_host_is(language) -> None:
    found = _outlet(
        language, payload=_page(), url=URL, listed_by="feed", listed_site="Région - À la une"
    )
    assert found == ("journal-test.fr", "host")


def test_the_host_names_a_page_given_directly(language) -> None:
    found = _outlet(language, payload=_page(), url="http://127.0.0.1:8765/article")
    assert found == ("127.0.0.1:8765", "host")


def test_a_json_line_names_its_source_else_its_host(language) -> None:
    named = json.dumps({"text": BODY, "source": " Le Fil  Sport ", "url": URL})
    assert _outlet(language, payload=named, format="jsonl", line=1) == ("Le Fil Sport", "jsonl")
    unnamed = json.dumps({"text": BODY, "url": URL})
    assert _outlet(language, payload=unnamed, format="jsonl", line=1) == ("journal-test.fr", "host")


def test_a_wire_story_is_its_agency_s_else_unknown(language) -> None:
    story = f"date 2020-02 (Paris)\n\n{BODY}\n\nAgence France-Presse"
    assert _outlet(language, payload=story, format="wire") == ("Agence France-Presse", "agency")
    bare = BODY.replace("mardi", "lundi")
    assert _outlet(language, payload=bare, format="wire") == ("unknown", "unknown")


def test_every_spelling_of_one_name_is_one_outlet(language) -> None:
    spellings = ["Les Dernières Nouvelles de l’Est", " Les Dernières  Nouvelles de l'Est |"]
    spellings.append("Les Derni\u0300eres Nouvelles de l'Est".replace("\u0300e", "e\u0300"))
    names = {outlet_name(spelling) for spelling in spellings}
    assert names == {"Les Dernières Nouvelles de l'Est"}
    pages = [
        {"payload": _page(_og(name), BODY.replace("mardi", day)), "url": f"{URL}-{day}"}
        for name, day in zip(spellings[:2], ("lundi", "mercredi"), strict=True)
    ]
    articles = clean_items(_raw(*pages), identifier=language).articles
    assert set(articles.column("outlet").to_pylist()) == {"Les Dernières Nouvelles de l'Est"}


def test_pages_of_one_host_that_state_different_names_are_different_outlets(language) -> None:
    pages = [
        {"payload": _page(_og(name), BODY.replace("mardi", day)), "url": f"{URL}-{day}"}
        for name, day in (("Sud-Ouest Matin", "lundi"), ("La Voix du Nord-Est", "jeudi"))
    ]
    articles = clean_items(_raw(*pages), identifier=language).articles
    assert articles.column("outlet").to_pylist() == ["Sud-Ouest Matin", "La Voix du Nord-Est"]


def _nullable(schema: pa.Schema, column: str) -> pa.Schema:
    """The schema with `column` nullable: the rows a faulty stage could hand the gate."""
    index = schema.get_field_index(column)
    return schema.set(index, schema.field(column).with_nullable(True))


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        ({"outlet": None}, "outlet"),
        ({"outlet": "  "}, "outlet"),
        ({"outlet_source": "feed_title"}, "outlet_source"),
        ({"outlet_source": None}, "outlet_source"),
    ],
)
def test_the_clean_gate_wants_an_outlet_for_every_article(suites, changes, column) -> None:
    rows = [_clean_row(), _clean_row(doc_id="1" * 16, **changes)]
    table = pa.Table.from_pylist(rows, schema=_nullable(CLEAN.schema, column))
    result = check_table(CLEAN, table, suites)
    failed = {check.column for check in result.checks if not check.success}
    assert column in failed


@pytest.mark.parametrize("outlet", [None, ""])
def test_the_documents_gate_wants_an_outlet_for_every_published_article(suites, outlet) -> None:
    rows = documents(outlet=outlet)
    loose = _nullable(DOCUMENTS.schema, "outlet")
    result = check_table(DOCUMENTS, pa.Table.from_pylist(rows, schema=loose), suites)
    assert "outlet" in {check.column for check in result.checks if not check.success}
    named = documents(outlet="Le Journal")
    assert check_table(
        DOCUMENTS, pa.Table.from_pylist(named, schema=DOCUMENTS.schema), suites
    ).success
