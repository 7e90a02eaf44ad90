"""Outlets and placeholder dates in real runs of the CLI: the sample's pages counted by
the names they state, and pages served on loopback that name themselves in each way
(og:site_name, JSON-LD publisher, a news sitemap, nothing at all under an RSS feed
whose pubDate is .NET's "no date")."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.websites import SAMPLE_HTML, Answer, Site, rss

BODY = (
    "<p>Les habitants de Quimper ont découvert samedi matin la nouvelle halle du marché, "
    "rénovée pendant deux ans, où les producteurs du Finistère vendent leurs légumes.</p>"
    "<p>Les commerçants se disent satisfaits de la fréquentation des premiers jours, même "
    "si certains regrettent des loyers plus élevés qu'auparavant près de l'entrée.</p>"
)
PUBLISHER = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "La halle",
    "datePublished": "0001-01-01T00:00:00Z",
    "publisher": {"@type": "NewsMediaOrganization", "name": "L’Écho  de Cornouaille"},
}


def _page(head: str, town: str) -> bytes:
    body = BODY.replace("Quimper", town)
    return f"<html><head>{head}</head><body><article>{body}</article></body></html>".encode()


def _env(tmp_path_factory) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
        "COLUMNS": "200",
    }
    env.pop("PREFECT_LOGGING_LEVEL", None)
    return env


@pytest.fixture(scope="module")
def sample_html_run(depeche, prefect_harness, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("sample-html") / "lake"
    result = depeche("run", str(SAMPLE_HTML), "--lake", str(lake), env=_env(tmp_path_factory))
    assert result.returncode == 0, result.stdout + result.stderr
    return lake


def test_the_sample_pages_are_counted_by_the_names_they_state(sample_html_run) -> None:
    sources = pd.read_parquet(sample_html_run / "marts" / "sources_daily")
    assert set(sources["outlet"]) == {
        "Sud-Ouest Matin",
        "La Voix du Nord-Est",
        "Ouest Actualités",
        "Le Courrier de Bretagne",
        "Les Dernières Nouvelles de l'Est",
    }
    clean = pd.read_parquet(sample_html_run / "clean")
    assert set(clean["outlet_source"]) == {"og_site_name"}
    assert set(clean["url"].str.extract(r"//([^/]+)/")[0]) == {"example.org"}  # one host


@pytest.fixture(scope="module")
def web_run(depeche, prefect_harness, tmp_path_factory):
    site = Site("127.0.0.1")
    site.routes.update(
        {
            "/robots.txt": Answer(404, b"", content_type="text/plain"),
            "/og": Answer(body=_page('<meta property="og:site_name" content="Le Phare">', "Brest")),
            "/jsonld": Answer(
                body=_page(
                    '<script type="application/ld+json">' + json.dumps(PUBLISHER) + "</script>",
                    "Quimper",
                )
            ),
            "/news": Answer(body=_page("", "Morlaix")),
            "/rss": Answer(body=_page("", "Lorient")),
            "/rss.xml": Answer(
                body=rss(site, [("/rss", "Lorient", "Mon, 01 Jan 0001 00:00:00 GMT")]),
                content_type="application/rss+xml",
            ),
            "/news.xml": Answer(
                body=(
                    '<?xml version="1.0"?><urlset '
                    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                    'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                    f"<url><loc>{site.url('/news')}</loc><news:news><news:publication>"
                    "<news:name>Le Télégramme du Léon</news:name><news:language>fr"
                    "</news:language></news:publication><news:publication_date>"
                    "2024-03-04T10:00:00+01:00</news:publication_date>"
                    "<news:title>Morlaix</news:title></news:news></url>"
                    f"<url><loc>{site.url('/og')}</loc></url>"
                    f"<url><loc>{site.url('/jsonld')}</loc></url></urlset>"
                ).encode(),
                content_type="application/xml",
            ),
        }
    )
    lake = tmp_path_factory.mktemp("outlets") / "lake"
    options = ["--allow-private-network", "127.0.0.1/32", "--min-delay", "0", "--lake", str(lake)]
    try:
        result = depeche(
            "run",
            site.url("/news.xml"),
            site.url("/rss.xml"),
            "--since",
            "2020-01-01",
            *options,
            env=_env(tmp_path_factory),
        )
        sources = [site.url("/news.xml"), site.url("/rss.xml")]
        later = depeche("run", *sources, *options, env=_env(tmp_path_factory))
    finally:
        site.close()
    return site, lake, result, later


def test_each_page_is_named_by_its_own_source(web_run) -> None:
    site, lake, result, later = web_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert later.returncode == 0, later.stdout + later.stderr
    clean = pd.read_parquet(lake / "clean").set_index("source_path")
    found = {
        path: tuple(clean.loc[site.url(path), ["outlet", "outlet_source"]])
        for path in ("/og", "/jsonld", "/news", "/rss")
    }
    assert found == {
        "/og": ("Le Phare", "og_site_name"),
        "/jsonld": ("L'Écho de Cornouaille", "jsonld_publisher"),
        "/news": ("Le Télégramme du Léon", "news_sitemap"),
        # the feed's title ("Le Quotidien de test") names the feed; the host names the outlet
        "/rss": (f"127.0.0.1:{site.port}", "host"),
    }
    sources = pd.read_parquet(lake / "marts" / "sources_daily")
    assert set(sources["outlet"]) == {outlet for outlet, _ in found.values()}


def test_a_placeholder_date_neither_dates_nor_drops_an_article(web_run) -> None:
    site, lake, backfill, _ = web_run
    # --since: the news page is dated 2024 and fetched; the three others are undated
    # (the RSS pubDate 0001 is no 2001-01-01, older than --since), left for a later run
    assert "(0 outside the dates, 3 undated)" in backfill.stdout, backfill.stdout
    clean = pd.read_parquet(lake / "clean").set_index("source_path")
    # JSON-LD's year 1 gives way to nothing else stated: the page is undated, not 0001
    assert pd.isna(clean.loc[site.url("/jsonld"), "published_date"])
    # the run without a window fetched it, undated
    rss_page = clean.loc[site.url("/rss")]
    assert pd.isna(rss_page["published_date"]) and pd.isna(rss_page["date_source"])
    raw = pd.read_parquet(lake / "raw").set_index("source_path")
    assert pd.isna(raw.loc[site.url("/rss"), "listed_date"])
    assert str(clean.loc[site.url("/news"), "published_date"]) == "2024-03-04"
