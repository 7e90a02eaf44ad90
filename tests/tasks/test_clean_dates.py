"""Placeholder dates: a publication date is plausible (1990-01-01 to the day after the
article was fetched) or absent; the article then keeps its other sources' dates, and
neither a backfill's window nor the gate is fooled by a placeholder."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from schemas import CLEAN, RAW
from tasks.gate import check_table
from tasks.planning import plan_partitions
from tasks.stages.clean import clean_items, extract_html, published_period
from tasks.text.dates import latest_date, plausible
from tasks.web.feeds import parse_listing
from tests.tasks.test_web_listing import _list
from tests.websites import Answer, Site

FETCHED = datetime(2024, 3, 5, 23, 30, tzinfo=UTC)
BODY = (
    "Les ministres européens se sont réunis mardi à Bruxelles pour discuter du budget "
    "de l’Union, a indiqué la présidente de la Commission devant la presse."
)
PLACEHOLDERS = ["0001-01-01", "1900-01-01", "1970-01-01", "1989-12-31", "9999-12-31"]


def _raw(*items: dict) -> pa.Table:
    rows = [
        {
            "item_id": f"{number:016x}",
            "source_path": f"src/{number:02d}",
            "line": item.get("line"),
            "format": item.get("format", "html"),
            "encoding": "utf-8",
            "payload": item["payload"],
            "content_sha256": "0" * 64,
            "byte_size": len(item["payload"]),
            "fetched_at": FETCHED,
            **{k: v for k, v in item.items() if k.startswith("listed") or k == "url"},
        }
        for number, item in enumerate(items)
    ]
    return pa.Table.from_pylist(rows, schema=RAW.schema)


def _page(head: str, body: str = BODY) -> str:
    return (
        f'<html lang="fr"><head>{head}</head><body><article><h1>Le budget</h1>'
        f"<p>{body}</p><p>{body.replace('mardi', 'jeudi')}</p></article></body></html>"
    )


def _jsonld(published: str) -> str:
    article = {"@context": "https://schema.org", "@type": "NewsArticle", "datePublished": published}
    return f'<script type="application/ld+json">{json.dumps(article)}</script>'


def _meta(published: str) -> str:
    return f'<meta property="article:published_time" content="{published}">'


def _article(language, **item) -> dict:
    result = clean_items(_raw(item), identifier=language)
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()
    return result.articles.to_pylist()[0]


def test_the_bound_is_the_day_after_the_fetch_and_1990() -> None:
    latest = latest_date(FETCHED)
    assert latest == date(2024, 3, 6)
    assert plausible(date(1990, 1, 1), latest) and plausible(latest, latest)
    assert not plausible(date(1989, 12, 31), latest)
    assert not plausible(date(2024, 3, 7), latest)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 01 Jan 0001 00:00:00 GMT", None),  # never 2001 by the two-digit-year rule
        ("Mon, 01 Jan 1900 00:00:00 GMT", None),
        ("Thu, 01 Jan 1970 00:00:00 +0000", None),
        ("0001-01-01T00:00:00Z", None),
        ("Tue, 05 Mar 2024 08:30:00 GMT", "2024-03-05T08:30:00+00:00"),
        ("Tue, 05 Mar 24 08:30:00 GMT", "2024-03-05T08:30:00+00:00"),  # RFC 822's two digits
    ],
)
def test_a_feed_placeholder_date_is_no_date(value: str, expected: str | None) -> None:
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        f"<link>https://example.org/a</link><pubDate>{value}</pubDate></item></channel></rss>"
    ).encode()
    (entry,) = parse_listing(feed, "https://example.org/rss.xml", max_bytes=10**6).entries
    assert (entry.published.isoformat() if entry.published else None) == expected


def test_a_sitemap_lastmod_placeholder_is_no_date() -> None:
    sitemap = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://example.org/a</loc><lastmod>1970-01-01</lastmod></url></urlset>"
    )
    (entry,) = parse_listing(sitemap, "https://example.org/sitemap.xml", max_bytes=10**6).entries
    assert entry.published is None


def test_since_does_not_drop_an_entry_for_its_placeholder_date() -> None:
    site = Site("127.0.0.1")
    try:
        site.routes["/robots.txt"] = Answer(404, content_type="text/plain")
        site.routes["/rss.xml"] = Answer(
            body=(
                '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                f"<item><link>{site.url('/vieux')}</link>"
                "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate></item>"
                f"<item><link>{site.url('/ancien')}</link>"
                "<pubDate>Mon, 01 Jan 2018 00:00:00 GMT</pubDate></item>"
                "</channel></rss>"
            ).encode(),
            content_type="application/rss+xml",
        )
        listed = _list([site.url("/rss.xml")], since=datetime(2020, 1, 1, tzinfo=UTC))
    finally:
        site.close()
    # the 2018 entry is older than --since; the placeholder's is undated, kept
    assert list(listed.entries) == [site.url("/vieux")]
    assert listed.entries[site.url("/vieux")].published is None
    assert listed.since_skipped == 1


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_a_placeholder_in_the_json_ld_gives_way_to_the_meta_tags(language, placeholder) -> None:
    page = _page(_jsonld(f"{placeholder}T00:00:00Z") + _meta("2024-03-04T10:00:00+01:00"))
    article = _article(language, payload=page)
    assert (article["published_date"], article["date_source"]) == (date(2024, 3, 4), "meta")


def test_a_page_dated_after_its_fetch_takes_the_feed_date(language) -> None:
    page = _page(_meta("2099-01-01T00:00:00Z"))
    article = _article(
        language,
        payload=page,
        url="https://example.org/a",
        listed_by="feed",
        listed_date=datetime(2024, 3, 5, 8, 30, tzinfo=UTC),
    )
    assert (article["published_date"], article["date_source"]) == (date(2024, 3, 5), "feed")
    assert article["date_bound"] == date(2024, 3, 6)


def test_a_page_dated_a_day_ahead_keeps_its_date(language) -> None:
    # Nouméa is 11 hours ahead: its morning paper is dated tomorrow in UTC's evening
    article = _article(language, payload=_page(_meta("2024-03-06T07:00:00+11:00")))
    assert (article["published_date"], article["date_source"]) == (date(2024, 3, 6), "meta")


def test_an_article_with_only_placeholders_is_undated_not_lost(language) -> None:
    page = _page(_jsonld("1900-01-01") + _meta("1970-01-01T00:00:00Z"))
    feed = datetime(1, 1, 1, tzinfo=UTC)  # as an older lake may have recorded it
    result = clean_items(
        _raw({"payload": page, "url": "https://example.org/a", "listed_date": feed}),
        identifier=language,
    )
    (article,) = result.articles.to_pylist()
    assert (article["published_date"], article["date_precision"], article["date_source"]) == (
        None,
        None,
        None,
    )
    assert result.refused_dates == 3


@pytest.mark.parametrize("placeholder", ["0001-01-01", "1900", "9999-12-31"])
def test_a_json_line_placeholder_gives_way_to_the_wire_header(language, placeholder) -> None:
    line = json.dumps({"text": f"date 2020-02 (Paris)\n\n{BODY}", "date": placeholder})
    article = _article(language, payload=line, format="jsonl", line=1)
    assert (article["published_date"], article["date_precision"], article["date_source"]) == (
        date(2020, 2, 1),
        "month",
        "wire_header",
    )


def test_a_wire_header_placeholder_and_a_future_modified_date_are_dropped(language) -> None:
    article = _article(language, payload=f"date 1970-01-01 (Paris)\n\n{BODY}", format="wire")
    assert article["published_date"] is None
    page = _page(
        _meta("2024-03-04T10:00:00Z") + '<meta property="og:updated_time" content="9999-01-01">'
    )
    assert _article(language, payload=page)["modified_date"] is None


def test_a_backfill_plans_a_placeholder_by_the_other_date(tmp_path) -> None:
    line = json.dumps({"text": f"date 2020-02 (Paris)\n\n{BODY}", "date": "0001-01-01"})
    future = json.dumps({"text": BODY.replace("mardi", "lundi"), "date": "9999-12-31"})
    (tmp_path / "a.jsonl").write_text(f"{line}\n{future}\n", encoding="utf-8")
    assert published_period("jsonl", line, FETCHED) == (date(2020, 2, 1), "month")
    assert published_period("jsonl", future, FETCHED) is None
    plan = plan_partitions(
        [str(tmp_path)],
        known=set(),
        max_bytes=10**6,
        first_seq=1,
        since="2020-01",
        now=FETCHED,
    )
    assert [spec.month for spec in plan.partitions] == ["2020-02"]
    assert (plan.counts.undated, plan.counts.outside_range) == (1, 0)


def _clean_row(**changes) -> dict:
    row = {column.name: None for column in CLEAN.columns}
    row.update(
        doc_id="0" * 16,
        story_id="0" * 16,
        item_id="0" * 16,
        source_path="a.txt",
        format="wire",
        outlet="Agence France-Presse",
        outlet_source="agency",
        captions=[],
        text="Texte.",
        char_count=6,
        language="fr",
        language_score=0.9,
        date_bound=date(2024, 3, 6),
        published_date=date(2024, 3, 6),
        modified_date=date(2024, 3, 6),
    )
    return {**row, **changes}


@pytest.mark.parametrize(
    ("changes", "column"),
    [
        (
            {
                "published_date": date(2001, 1, 2),
                "modified_date": None,
                "date_bound": date(2001, 1, 1),
            },
            "date_bound,published_date",
        ),
        ({"published_date": date(1, 1, 1)}, "published_date"),
        ({"published_date": date(1970, 1, 1)}, "published_date"),
        ({"published_date": date(9999, 12, 31)}, "date_bound,published_date"),
        ({"modified_date": date(2024, 3, 7)}, "date_bound,modified_date"),
        ({"modified_date": date(1900, 1, 1)}, "modified_date"),
    ],
)
def test_the_clean_gate_checks_the_date_bound_on_every_row(suites, changes, column) -> None:
    good = pa.Table.from_pylist([_clean_row()], schema=CLEAN.schema)
    assert check_table(CLEAN, good, suites).success
    rows = [_clean_row(), _clean_row(doc_id="1" * 16, **changes)]
    result = check_table(CLEAN, pa.Table.from_pylist(rows, schema=CLEAN.schema), suites)
    assert [check.column for check in result.checks if not check.success] == [column]


def test_htmldate_s_reading_of_a_stated_placeholder_is_no_date_either(language) -> None:
    # htmldate reads this JSON-LD's `0001-01-01T00:00:00Z` as 2019-01-01: its year from
    # the `\u2019` of the escaped apostrophe
    article = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "datePublished": "0001-01-01T00:00:00Z",
        "publisher": {"@type": "Organization", "name": "L’Écho du Journal"},
    }
    head = f'<script type="application/ld+json">{json.dumps(article)}</script>'
    body = f"<p>{BODY}</p><p>{BODY.replace('mardi', 'jeudi')}</p>"
    page = f"<html><head>{head}</head><body><article>{body}</article></body></html>"
    assert extract_html(page)["guessed_date"] == "2019-01-01"
    found = _article(language, payload=page)
    assert (found["published_date"], found["date_source"]) == (None, None)
