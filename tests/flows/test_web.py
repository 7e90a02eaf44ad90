"""`depeche run` on web sources, end to end: real HTTP servers on loopback addresses,
the real CLI in subprocesses, hour after hour.

Three hosts: 127.0.0.1 (a daily: robots.txt, an RSS feed that lists good pages and
every kind of trouble, a billion-laughs feed), 127.0.0.3 (an outlet with an Atom
feed, a sitemap index over a gzipped sitemap, a Google News sitemap, a page given
directly) and 127.0.0.2, outside the allowed ranges, which must never be asked. The
servers log every request: the tests assert on what was asked, when and how.
"""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import free_port
from tests.websites import Answer, Asked, Site, gzip_bomb, page

PROJECT = Path(__file__).resolve().parents[2]
SAMPLE_HTML = PROJECT / "data" / "sample" / "html"
DELAY = 0.3  # --min-delay of these runs

PLAIN_PAGE = (
    "<html><body><article>"
    "<p>Les habitants de Quimper ont découvert samedi matin la nouvelle halle du marché, "
    "rénovée pendant deux ans, où les producteurs du Finistère vendent désormais leurs "
    "légumes, leurs poissons et leurs fromages sous une charpente de chêne.</p>"
    "<p>Les commerçants se disent satisfaits de la fréquentation des premiers jours, même "
    "si certains regrettent des loyers plus élevés qu'auparavant pour les emplacements "
    "situés près de l'entrée principale de la halle.</p>"
    "</article></body></html>"
).encode()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>
<rss version="2.0"><channel><title>&lol2;</title></channel></rss>"""

FEED_DATE = datetime(2024, 3, 5, 8, 30, tzinfo=UTC)


def _rss(items: list[tuple[str, str]], site: Site) -> bytes:
    """An RSS 2.0 feed of (link, title); links that start with / are on `site`."""
    entries = "".join(
        f"<item><title>{title}</title>"
        f"<link>{escape(site.url(link) if link.startswith('/') else link)}</link>"
        f"<pubDate>{format_datetime(FEED_DATE)}</pubDate>"
        "<dc:creator>Anne Le Bihan</dc:creator></item>"
        for link, title in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Le Télégramme de test</title>{entries}</channel></rss>"
    ).encode()


class Feed:
    """A feed whose items the test changes between runs; conditional requests get 304
    while it is unchanged."""

    def __init__(self, site: Site, items: list[tuple[str, str]]) -> None:
        self.site, self.items = site, items

    def __call__(self, asked: Asked) -> Answer:
        etag = f'"v{len(self.items)}"'
        if asked.headers.get("if-none-match") == etag:
            return Answer(304, headers={"ETag": etag}, content_type=None)
        return Answer(
            body=_rss(self.items, self.site),
            headers={"ETag": etag},
            content_type="application/rss+xml",
        )


def since_modified(body: bytes, modified: str):
    """A sitemap that answers 304 to If-Modified-Since its Last-Modified."""

    def answer(asked: Asked) -> Answer:
        if asked.headers.get("if-modified-since") == modified:
            return Answer(304, content_type=None)
        return Answer(body=body, headers={"Last-Modified": modified}, content_type="text/xml")

    return answer


class TooBusy:
    """429 with Retry-After: 1 at the first request, the page after."""

    def __init__(self, body: bytes) -> None:
        self.body, self.calls = body, 0

    def __call__(self, asked: Asked) -> Answer:
        self.calls += 1
        if self.calls == 1:
            return Answer(429, b"trop de demandes", headers={"Retry-After": "1"})
        return Answer(body=self.body)


@pytest.fixture(scope="module")
def web(corpus: Path):
    daily, outlet, outside = Site("127.0.0.1"), Site("127.0.0.3"), Site("127.0.0.2")
    outside.routes["/article"] = page(SAMPLE_HTML / "rennes-budget-participatif.html")
    daily.routes.update(
        {
            "/robots.txt": Answer(
                body=b"User-agent: *\nDisallow: /\n\nUser-agent: depeche\nDisallow: /prive/\n"
                b"Disallow: /*.pdf$\nAllow: /\n",
                content_type="text/plain",
            ),
            "/bordeaux": page(SAMPLE_HTML / "bordeaux-vendanges.html"),
            "/lille": page(SAMPLE_HTML / "lille-tramway.html"),
            "/nantes": page(SAMPLE_HTML / "nantes-universite.html"),
            "/quimper": Answer(body=PLAIN_PAGE),
            "/prive/secret": page(SAMPLE_HTML / "strasbourg-parlement-session.html"),
            "/rapport.pdf": Answer(body=b"%PDF-1.4 ...", content_type="application/pdf"),
            "/image": Answer(body=b"\x89PNG\r\n\x1a\n....", content_type="image/png"),
            "/disparu": Answer(410, b"parti"),
            "/panne": Answer(500, b"erreur"),
            "/occupe": TooBusy((SAMPLE_HTML / "strasbourg-parlement-session.html").read_bytes()),
            "/bombe": Answer(body=gzip_bomb(64 << 20), headers={"Content-Encoding": "gzip"}),
            "/ailleurs": Answer(301, headers={"Location": outside.url("/article")}),
            "/rires.xml": Answer(body=BILLION_LAUGHS, content_type="application/rss+xml"),
        }
    )
    feed = Feed(
        daily,
        [
            ("/bordeaux?utm_source=rss&utm_medium=flux", "Vendanges"),
            ("/lille#commentaires", "Tramway"),
            ("/quimper", "La halle de Quimper rouvre ses portes"),
            ("/prive/secret", "Réservé"),
            ("/rapport.pdf", "Le rapport"),
            ("/image", "Une image"),
            ("/disparu", "Disparu"),
            ("/introuvable", "Introuvable"),
            ("/panne", "En panne"),
            ("/occupe", "Occupé"),
            ("/bombe", "Bombe"),
            ("/ailleurs", "Ailleurs"),
            ("file:///etc/passwd", "Mots de passe"),
        ],
    )
    daily.routes["/rss.xml"] = feed
    pages = {
        "/devoir": corpus / "html" / "ledevoir.com.trottinettes.html",
        "/opinion": corpus / "html" / "lopinion.fr.glyphosate.html",
        "/bondy": corpus / "html" / "bondyblog.fr.paris-8.html",
        "/culture": corpus / "more-html" / "franceculture.fr.idees.html",
        "/tdg": corpus / "more-html" / "tdg.ch.chlorothalonil.html",
    }
    for path, file in pages.items():
        outlet.routes[path] = page(file)
    urlset = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{outlet.url('/devoir')}</loc><lastmod>2024-03-01</lastmod></url>"
        f"<url><loc>{outlet.url('/opinion')}</loc><lastmod>2024-03-02</lastmod></url>"
        "</urlset>"
    ).encode()
    outlet.routes.update(
        {
            "/robots.txt": Answer(404, b"", content_type="text/plain"),
            "/sitemap_index.xml": since_modified(
                (
                    '<?xml version="1.0"?><sitemapindex '
                    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    f"<sitemap><loc>{outlet.url('/sitemap-pages.xml.gz')}</loc></sitemap>"
                    f"<sitemap><loc>{outlet.url('/news.xml')}</loc></sitemap></sitemapindex>"
                ).encode(),
                "Tue, 05 Mar 2024 08:00:00 GMT",
            ),
            "/sitemap-pages.xml.gz": Answer(
                body=gzip.compress(urlset), content_type="application/x-gzip"
            ),
            "/news.xml": Answer(
                body=(
                    '<?xml version="1.0"?><urlset '
                    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                    'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
                    f"<url><loc>{outlet.url('/bondy')}</loc><news:news><news:publication>"
                    "<news:name>Bondy Blog</news:name><news:language>fr</news:language>"
                    "</news:publication><news:publication_date>2024-03-04T10:00:00+01:00"
                    "</news:publication_date><news:title>Paris 8</news:title></news:news>"
                    "</url></urlset>"
                ).encode(),
                content_type="application/xml",
            ),
            "/atom.xml": Answer(
                body=(
                    '<?xml version="1.0" encoding="utf-8"?>'
                    '<feed xmlns="http://www.w3.org/2005/Atom"><title>Culture</title>'
                    f'<entry><title>Idées</title><link href="{outlet.url("/culture")}"/>'
                    "<updated>2024-03-03T09:00:00Z</updated></entry></feed>"
                ).encode(),
                content_type="application/atom+xml",
            ),
        }
    )
    yield {"daily": daily, "outlet": outlet, "outside": outside, "feed": feed}
    for site in (daily, outlet, outside):
        site.close()


@pytest.fixture(scope="module")
def web_lake(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("web") / "lake"


def _sources(web: dict, dead: int) -> list[str]:
    daily, outlet = web["daily"], web["outlet"]
    return [
        daily.url("/rss.xml"),
        daily.url("/rires.xml"),
        f"http://127.0.0.1:{dead}/flux.xml",
        outlet.url("/sitemap_index.xml"),
        outlet.url("/atom.xml"),
        outlet.url("/tdg"),
    ]


OPTIONS = [
    "--allow-private-network",
    "127.0.0.1/32",
    "--allow-private-network",
    "127.0.0.3/32",
    "--min-delay",
    str(DELAY),
    "--retries",
    "1",
    "--timeout",
    "10",
    "--fetch-attempts",
    "3",
    "--max-bytes",
    "3000000",
    "--user-agent",
    "depeche/0.1 (+https://newsroom.example/bot)",
]


def _table(lake: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(lake / name)


def _fetch_manifests(lake: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((lake / "_manifests" / "fetch").glob("*"))]


@pytest.fixture(scope="module")
def first_run(web, web_lake, depeche, prefect_harness, tmp_path_factory):
    from prefect.settings import PREFECT_API_URL

    env = {
        **__import__("os").environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
        "COLUMNS": "200",
    }
    env.pop("PREFECT_LOGGING_LEVEL", None)
    dead = free_port()
    result = depeche("run", *_sources(web, dead), "--lake", str(web_lake), *OPTIONS, env=env)
    return {"result": result, "env": env, "dead": dead}


def test_every_url_of_the_first_run_ends_as_a_page_or_a_quarantine_row(first_run, web, web_lake):
    result = first_run["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    raw = _table(web_lake, "raw")
    daily, outlet = web["daily"], web["outlet"]
    fetched = set(raw["source_path"])
    assert fetched == {
        daily.url("/bordeaux"),  # canonical: tracking parameters and fragment dropped
        daily.url("/lille"),
        daily.url("/quimper"),
        daily.url("/occupe"),  # 429 first, then the page
        outlet.url("/devoir"),
        outlet.url("/opinion"),
        outlet.url("/bondy"),
        outlet.url("/culture"),
        outlet.url("/tdg"),
    }
    quarantine = _table(web_lake, "quarantine")
    fetch = quarantine[quarantine["stage"] == "fetch"].set_index("source_path")["reason"]
    assert fetch.to_dict() == {
        daily.url("/prive/secret"): "robots_disallowed",
        daily.url("/rapport.pdf"): "robots_disallowed",  # Disallow: /*.pdf$
        daily.url("/image"): "not_html",
        daily.url("/disparu"): "http_410",
        daily.url("/introuvable"): "http_404",
        daily.url("/panne"): "server_error",
        daily.url("/bombe"): "too_large",
        daily.url("/ailleurs"): "blocked_address",
        "file:///etc/passwd": "unsupported_scheme",
    }
    # the books balance: every planned URL is a raw row or a quarantine row
    (manifest,) = _fetch_manifests(web_lake)
    assert manifest["rows_in"] == len(raw) + len(fetch) == 18
    assert manifest["details"]["web"]["outcomes"][daily.url("/panne")] == "waiting"


def test_refused_urls_are_never_requested_and_robots_is_read_once_per_host(first_run, web):
    daily, outlet, outside = web["daily"], web["outlet"], web["outside"]
    assert outside.asked() == []  # the redirect's target is outside the allowed ranges
    paths = daily.paths()
    assert "/prive/secret" not in paths and "/rapport.pdf" not in paths
    assert paths.count("/robots.txt") == 1 and outlet.paths().count("/robots.txt") == 1
    assert paths.count("/occupe") == 2 and paths.count("/panne") == 2  # retried once
    busy = daily.asked("/occupe")
    assert busy[1].at - busy[0].at >= 1.0  # Retry-After: 1
    for asked in daily.asked() + outlet.asked():
        assert asked.headers["user-agent"] == "depeche/0.1 (+https://newsroom.example/bot)"


def test_no_host_is_asked_faster_than_the_delay(first_run, web):
    # The times are the server's: when each request's handler thread read it. On a
    # loaded machine one handler can start tens of milliseconds late, which shortens
    # one gap by what it lengthens the next. So the pace is read over the whole run
    # (the first and last request), and no gap may be a burst (a request sent without
    # waiting arrives milliseconds after the one before).
    for site in (web["daily"], web["outlet"]):
        starts = [asked.at for asked in site.asked()]
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert len(gaps) >= 3, gaps
        assert starts[-1] - starts[0] >= len(gaps) * DELAY - 0.05, gaps
        assert min(gaps) >= DELAY / 2, gaps


def test_the_summary_names_the_unread_sources_and_counts_pages_per_host(first_run, web):
    result = first_run["result"]
    daily = web["daily"]
    assert f"{daily.url('/rires.xml')}: xml_entities_refused" in result.stderr
    assert f"127.0.0.1:{first_run['dead']}/flux.xml: connection_failed" in result.stderr
    host = f"127.0.0.1:{daily.port}"
    row = next(line for line in result.stdout.splitlines() if host in line and "│" in line)
    # host | fetched | not modified | disallowed | failed | waiting
    assert [cell.strip() for cell in row.split("│")[1:7]] == [host, "4", "0", "2", "5", "1"]
    # the file: URL has no host: counted apart, failed
    row = next(line for line in result.stdout.splitlines() if "(no host)" in line)
    assert [cell.strip() for cell in row.split("│")[1:7]] == ["(no host)", "0", "0", "0", "1", "0"]


def test_clean_takes_from_the_feed_what_the_page_does_not_say(first_run, web, web_lake):
    clean = _table(web_lake, "clean").set_index("source_path")
    daily, outlet = web["daily"], web["outlet"]
    plain = clean.loc[daily.url("/quimper")]
    assert plain["title"] == "La halle de Quimper rouvre ses portes"
    assert plain["author"] == "Anne Le Bihan"
    assert plain["date_source"] == "feed" and str(plain["published_date"]) == "2024-03-05"
    # the feed's title names the feed, not the outlet: a page that names nothing is its host's
    assert (plain["outlet"], plain["outlet_source"]) == (f"127.0.0.1:{daily.port}", "host")
    assert plain["url"] == daily.url("/quimper")
    # a page that states its own metadata keeps it: the feed's title "Vendanges" loses
    own = clean.loc[daily.url("/bordeaux")]
    assert own["title"] != "Vendanges" and own["date_source"] in ("jsonld", "meta")
    assert own["url"] == "https://example.org/gironde/vendanges-precoces"  # its canonical
    raw = _table(web_lake, "raw").set_index("source_path")
    news = raw.loc[outlet.url("/bondy")]
    assert news["listed_by"] == "sitemap" and news["listed_site"] == "Bondy Blog"
    assert news["listed_title"] == "Paris 8"
    assert news["listed_in"] == outlet.url("/news.xml")
    assert raw.loc[outlet.url("/tdg"), "listed_by"] == "page"
    assert raw.loc[daily.url("/occupe"), "http_status"] == 200


def _next_hour(depeche, first_run: dict, web: dict, lake: Path):
    """The same `depeche run` an hour later; it succeeds."""
    result = depeche(
        "run", *_sources(web, first_run["dead"]), "--lake", str(lake), *OPTIONS,
        env=first_run["env"],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_next_hour_asks_conditionally_and_fetches_only_what_is_new(
    first_run, web, web_lake, depeche
):
    daily, outlet, feed = web["daily"], web["outlet"], web["feed"]
    feed.items = [("/nantes", "Université"), *feed.items]  # one new entry
    before_daily, before_outlet = len(daily.asked()), len(outlet.asked())
    result = _next_hour(depeche, first_run, web, web_lake)
    asked_daily = daily.asked()[before_daily:]
    asked_outlet = outlet.asked()[before_outlet:]
    # pages: the new one, and the one waiting since its 500; nothing fetched before
    pages = [a.path for a in asked_daily if a.path not in ("/robots.txt", "/rss.xml", "/rires.xml")]
    assert sorted(pages) == ["/nantes", "/panne", "/panne"]
    # unchanged sources answered 304 to their validators; the changed feed, 200
    sitemap = next(a for a in asked_outlet if a.path == "/sitemap_index.xml")
    assert sitemap.headers["if-modified-since"] == "Tue, 05 Mar 2024 08:00:00 GMT"
    assert next(a for a in asked_daily if a.path == "/rss.xml").headers["if-none-match"] == '"v13"'
    assert [a.path for a in asked_outlet if a.path not in ("/robots.txt",)] == [
        "/sitemap_index.xml",
        "/atom.xml",
    ]  # the direct page is known; the index answered 304, so its children are not asked
    assert (
        "sources: " in result.stdout and "1 new" in result.stdout and "1 retried" in result.stdout
    )
    raw = _table(web_lake, "raw")
    assert raw["source_path"].is_unique and daily.url("/nantes") in set(raw["source_path"])


def test_a_passing_failure_is_tried_again_until_its_attempts_run_out(
    first_run, web, web_lake, depeche
):
    daily = web["daily"]
    for _ in range(2):
        _next_hour(depeche, first_run, web, web_lake)
    # runs 1, 2 and 3 tried /panne (twice each: one retry within the run); run 4 did not
    assert daily.paths().count("/panne") == 6
    quarantine = _table(web_lake, "quarantine")
    panne = quarantine[quarantine["source_path"] == daily.url("/panne")]
    assert sorted(panne["detail"].str.extract(r"\((attempt \d of 3[^)]*)\)")[0]) == [
        "attempt 1 of 3: a later run tries again",
        "attempt 2 of 3: a later run tries again",
        "attempt 3 of 3: given up",
    ]
    status = depeche("status", "--lake", str(web_lake), env=first_run["env"])
    host = f"127.0.0.1:{daily.port}"
    row = next(line for line in status.stdout.splitlines() if host in line and "│" in line)
    cells = [cell.strip() for cell in row.split("│")[1:7]]
    assert cells[0] == host and cells[5] == "0"  # nothing waits any more
    assert int(cells[2]) >= 2  # the feed's 304s


def test_fetch_redone_reads_the_pages_from_the_lake_not_the_web(first_run, web, web_lake, depeche):
    before = _table(web_lake, "raw").drop(columns=["batch"]).sort_values("item_id")
    asked = len(web["daily"].asked()) + len(web["outlet"].asked())
    result = depeche("rerun", "--from", "fetch", "--lake", str(web_lake), env=first_run["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(web["daily"].asked()) + len(web["outlet"].asked()) == asked
    after = _table(web_lake, "raw").drop(columns=["batch"]).sort_values("item_id")
    pd.testing.assert_frame_equal(
        before.reset_index(drop=True), after.reset_index(drop=True), check_dtype=False
    )


def test_kept_pages_of_the_wrong_shape_are_fetched_again(
    first_run, web, web_lake, depeche, tmp_path
):
    """Valid JSON that is not what fetch kept is taken like a truncated file: the page
    is asked again, never a TypeError."""
    import shutil

    from tasks.lake.storage import Lake
    from tasks.sources.web import _landing_key

    copy = tmp_path / "lake"
    shutil.copytree(web_lake, copy)
    partition = next(s.partition for s in Lake(copy).partitions() if s.urls)  # the first run's
    daily = web["daily"]

    def wrong_types(answer: dict) -> dict:
        return {**answer, "http_status": "200", "redirects": [1], "fetched_at": 3}

    shapes = {
        "/lille": lambda answer: [1, 2],  # valid JSON, not an object
        "/bordeaux": lambda answer: {"final_url": answer["final_url"]},  # fields missing
        "/quimper": wrong_types,
        "/disparu": lambda answer: {"failure": "gone"},  # a failure (410) that is not one
    }
    before = _table(copy, "raw").set_index("source_path")
    asked = {path: len(daily.asked(path)) for path in shapes}
    for path, shape in shapes.items():
        key = _landing_key(partition, daily.url(path))
        landed = next(copy.glob(f"_web/pages/*/{key}.json"))
        landed.write_text(json.dumps(shape(json.loads(landed.read_text()))), encoding="utf-8")
    result = depeche("rerun", "--from", "fetch", "--lake", str(copy), env=first_run["env"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Error" not in result.stdout + result.stderr  # no TypeError, no KeyError
    after = _table(copy, "raw").set_index("source_path")
    for path in shapes:
        assert len(daily.asked(path)) == asked[path] + 1, path  # asked again, once
    for path in ("/lille", "/bordeaux", "/quimper"):
        row = after.loc[daily.url(path)]
        was = before.loc[daily.url(path)]
        assert row["content_sha256"] == was["content_sha256"] and row["http_status"] == 200
    assert len(after) == len(before)
    gone = _table(copy, "quarantine/fetch").set_index("source_path").loc[daily.url("/disparu")]
    assert gone["reason"] == "http_410", gone


def test_the_hourly_ingest_deployment_takes_feeds_as_sources(web, prefect_harness, tmp_path):
    from flows.deployments import ingest
    from tasks.settings import SettingsGiven

    daily = web["daily"]
    daily.routes["/brest"] = page(SAMPLE_HTML / "rennes-budget-participatif.html")
    watch = tmp_path / "veille.urls"  # a list of article URLs kept by hand
    watch.write_text(f"# à suivre\n{daily.url('/brest')}  # Brest\n", encoding="utf-8")
    settings = SettingsGiven(
        allow_private_network=["127.0.0.1/32"], min_delay=0.1, retries=0, max_bytes=3_000_000
    )
    summary = ingest(
        sources=[daily.url("/rss.xml"), str(watch)], lake=str(tmp_path / "lake"), settings=settings
    )
    assert [report.status for report in summary.reports] == ["committed"] * 4
    fetched = summary.hosts[f"127.0.0.1:{daily.port}"]["fetched"]
    raw = pd.read_parquet(tmp_path / "lake" / "raw").set_index("source_path")
    assert fetched == len(raw) >= 4
    listed = raw.loc[daily.url("/brest")]
    assert listed["listed_by"] == "list" and listed["listed_in"] == watch.resolve().as_posix()
