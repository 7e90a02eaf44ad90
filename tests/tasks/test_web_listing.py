"""Listing web sources against a real server on 127.0.0.1: kinds read from the
content, sitemap indexes followed to a depth, `--since` on dates, conditional
requests from the remembered validators, and a problem for what cannot be read."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from tasks.web.address import AddressPolicy, parse_networks
from tasks.web.client import ClientPolicy
from tasks.web.crawl import Crawler, CrawlPolicy
from tasks.web.listing import is_url, list_sources
from tests.websites import Answer, Site

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _urlset(site: Site, pages: list[tuple[str, str]]) -> bytes:
    urls = "".join(
        f"<url><loc>{site.url(path)}</loc><lastmod>{lastmod}</lastmod></url>"
        for path, lastmod in pages
    )
    return f'<?xml version="1.0"?><urlset xmlns="{SITEMAP}">{urls}</urlset>'.encode()


def _index(site: Site, children: list[tuple[str, str]]) -> bytes:
    maps = "".join(
        f"<sitemap><loc>{site.url(path)}</loc><lastmod>{lastmod}</lastmod></sitemap>"
        for path, lastmod in children
    )
    return f'<?xml version="1.0"?><sitemapindex xmlns="{SITEMAP}">{maps}</sitemapindex>'.encode()


@pytest.fixture
def site():
    site = Site("127.0.0.1")
    site.routes["/robots.txt"] = Answer(404, content_type="text/plain")
    yield site
    site.close()


def _crawler() -> Crawler:
    client = ClientPolicy(
        user_agent="depeche/0.1 (+https://newsroom.example/bot)",
        addresses=AddressPolicy(allowed=parse_networks(["127.0.0.1/32"])),
        timeout=5,
    )
    return Crawler(CrawlPolicy(client=client, min_delay=0.0, retries=0))


def _list(sources: list[str], **options):
    return list_sources(
        sources, _crawler(), options.pop("state", {}), known=set(), max_bytes=10**6, **options
    )


def test_sitemap_indexes_are_followed_down_to_the_depth_and_gzip_is_unpacked(site):
    site.routes["/index.xml"] = Answer(
        body=_index(site, [("/inner.xml", "2024-03-01"), ("/pages.xml.gz", "2024-03-01")]),
        content_type="text/plain",  # mislabelled: the content says what it is
    )
    site.routes["/inner.xml"] = Answer(body=_index(site, [("/deep.xml", "2024-03-01")]))
    site.routes["/pages.xml.gz"] = Answer(
        body=gzip.compress(_urlset(site, [("/a", "2024-03-02"), ("/b", "2024-03-03")])),
        content_type="application/octet-stream",
    )
    listed = _list([site.url("/index.xml")], sitemap_depth=1)
    assert sorted(listed.entries) == [site.url("/a"), site.url("/b")]
    assert listed.entries[site.url("/b")].published == datetime(2024, 3, 3, tzinfo=UTC)
    assert [(p.source, p.reason) for p in listed.problems] == [(site.url("/deep.xml"), "too_deep")]
    assert "/deep.xml" not in site.paths()


def test_since_drops_older_entries_and_sitemaps_never_asked(site):
    site.routes["/index.xml"] = Answer(
        body=_index(site, [("/2023.xml", "2023-12-31"), ("/2024.xml", "2024-03-01")])
    )
    site.routes["/2024.xml"] = Answer(
        body=_urlset(site, [("/old", "2024-01-02"), ("/new", "2024-03-01")])
    )
    listed = _list([site.url("/index.xml")], since=datetime(2024, 2, 1, tzinfo=UTC))
    assert list(listed.entries) == [site.url("/new")]
    assert listed.since_skipped == 1
    assert "/2023.xml" not in site.paths()


def test_a_page_a_url_list_and_unreadable_sources(site):
    site.routes["/article"] = Answer(
        body=b"<!doctype html><html><body><p>Bonjour</p></body></html>"
    )
    site.routes["/liste"] = Answer(
        body=f"# veille\n{site.url('/x?utm_source=a')}\n{site.url('/y')}\n".encode(),
        content_type="text/plain",
    )
    site.routes["/json"] = Answer(body=b'{"items": []}', content_type="application/json")
    site.routes["/svg"] = Answer(body=b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    listed = _list([site.url(p) for p in ("/article", "/liste", "/json", "/svg", "/absent")])
    assert sorted(listed.entries) == [site.url("/article"), site.url("/x"), site.url("/y")]
    assert listed.entries[site.url("/article")].hint_source == "page"
    assert listed.listed_in[site.url("/x")] == site.url("/liste")
    problems = {problem.source: problem.reason for problem in listed.problems}
    assert problems == {
        site.url("/json"): "not_a_feed",
        site.url("/svg"): "not_a_feed",
        site.url("/absent"): "http_404",
    }


def test_validators_are_sent_back_and_a_304_lists_nothing(site):
    def feed(asked):
        if asked.headers.get("if-none-match") == '"1"':
            return Answer(304, content_type=None)
        body = _urlset(site, [("/a", "2024-03-02")])
        return Answer(body=body, headers={"ETag": '"1"', "Last-Modified": "Sat, 02 Mar 2024"})

    site.routes["/map.xml"] = feed
    first = _list([site.url("/map.xml")])
    assert first.state[site.url("/map.xml")]["etag"] == '"1"'
    again = _list([site.url("/map.xml")], state=first.state)
    assert again.entries == {} and sum(again.not_modified.values()) == 1
    asked = site.asked("/map.xml")[-1]
    assert asked.headers["if-none-match"] == '"1"'
    assert asked.headers["if-modified-since"] == "Sat, 02 Mar 2024"
    assert again.state[site.url("/map.xml")]["not_modified"] == 1


@pytest.mark.parametrize(
    ("source", "url"),
    [
        ("https://www.lemonde.fr/rss/une.xml", True),
        ("file:///etc/passwd", True),
        ("data/sample", False),
        ("C:\\archives\\2020", False),
        ("./a://b", False),
    ],
)
def test_what_is_a_url(source: str, url: bool) -> None:
    assert is_url(source) is url
