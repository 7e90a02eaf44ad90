"""The HTTP client against real servers on loopback: who it says it is, which
redirects it follows, where it refuses to go, and that no answer (a bomb, a lying
length, a slow server) costs it more memory or time than its policy allows.

Servers listen on 127.0.0.1 and, standing for another host, 127.0.0.2; nothing here
connects outside 127.0.0.0/8.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import brotli
import pytest

from tasks.web.address import AddressPolicy, parse_networks
from tasks.web.client import Client, ClientPolicy, FetchFailed
from tests.websites import (
    AGENT,
    CORPUS_HTML,
    SAMPLE_HTML,
    Answer,
    Site,
    brotli_bomb,
    conditional,
    deflate_bomb,
    gzip_bomb,
    page,
    redirect,
    site_fixture,
)

ONLY_FIRST = AddressPolicy(allowed=parse_networks(["127.0.0.1/32"]))
CAP = 1_000_000
PAGES = sorted(SAMPLE_HTML.glob("*.html")) + sorted(CORPUS_HTML.glob("*.html"))
ARTICLE = CORPUS_HTML / "lopinion.fr.glyphosate.html"
GIGABYTE = 1 << 30


def client(**policy: object) -> Client:
    settings: dict = {
        "user_agent": AGENT,
        "addresses": ONLY_FIRST,
        "max_bytes": CAP,
        "connect_timeout": 2.0,
        "timeout": 3.0,
    }
    return Client(ClientPolicy(**{**settings, **policy}))


def failure(url: str, **policy: object) -> FetchFailed:
    with pytest.raises(FetchFailed) as caught:
        client(**policy).get(url)
    return caught.value


site = site_fixture("127.0.0.1")
elsewhere = site_fixture("127.0.0.2")  # another host, outside what ONLY_FIRST allows


@contextlib.contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The most memory Python allocated inside the block (client and server threads
    together), in bytes: the list holds it once the block is over."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def dead_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- who asks, and what comes back --------------------------------------------------


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_a_page_comes_back_as_served_asked_for_with_the_configured_user_agent(
    site: Site, path: Path
) -> None:
    site.routes["/article"] = page(path)

    response = client().get(site.url("/article"))

    assert response.status == 200
    assert response.body == path.read_bytes()
    assert response.content_type == "text/html"
    assert (response.final_url, response.redirects) == (site.url("/article"), ())
    (asked,) = site.asked()
    assert asked.headers["user-agent"] == AGENT
    assert asked.headers["host"] == f"127.0.0.1:{site.port}"


def test_the_callers_headers_go_out_and_a_304_comes_back_as_an_answer(site: Site) -> None:
    site.routes["/fil.xml"] = conditional(b"<rss/>", '"v1"', "application/rss+xml")
    fetcher = client()

    first = fetcher.get(site.url("/fil.xml"))
    again = fetcher.get(site.url("/fil.xml"), {"If-None-Match": first.etag or ""})

    assert (first.status, first.etag, first.body) == (200, '"v1"', b"<rss/>")
    assert (again.status, again.body, again.etag) == (304, b"", '"v1"')
    assert [asked.headers.get("if-none-match") for asked in site.asked()] == [None, '"v1"']


@pytest.mark.parametrize(
    ("answer", "status", "wait"),
    [
        (Answer(404, b"introuvable"), 404, None),
        (Answer(503, b"en maintenance", headers={"Retry-After": "120"}), 503, 120.0),
        (Answer(429, b"trop vite", headers={"Retry-After": "7"}), 429, 7.0),
    ],
    ids=["404", "503-retry-after", "429-retry-after"],
)
def test_an_error_status_is_an_answer_with_its_retry_after(
    site: Site, answer: Answer, status: int, wait: float | None
) -> None:
    site.routes["/page"] = answer

    response = client().get(site.url("/page"))

    assert (response.status, response.retry_after) == (status, wait)
    assert response.body == b""  # the body of an error page is not read


def test_a_retry_after_written_as_a_date_is_read_as_seconds_from_now(site: Site) -> None:
    site.routes["/page"] = Answer(503, headers={"Retry-After": formatdate(time.time() + 60)})

    response = client().get(site.url("/page"))

    assert response.status == 503
    assert response.retry_after is not None and 55 <= response.retry_after <= 60


def test_nothing_listening_is_a_transient_connection_failure() -> None:
    started = time.monotonic()
    refused = failure(f"http://127.0.0.1:{dead_port()}/article")

    assert (refused.reason, refused.transient) == ("connection_failed", True)
    assert time.monotonic() - started < 1.0


# --- redirects ----------------------------------------------------------------------


def test_redirects_are_followed_and_recorded_in_order(site: Site) -> None:
    site.routes.update(
        {
            "/ancien": redirect(site.url("/r1"), 301),  # absolute
            "/r1": redirect("/r2", 307),  # relative to the host
            "/r2": redirect("article", 308),  # relative to the path
            "/article": page(ARTICLE),
        }
    )

    response = client().get(site.url("/ancien"))

    assert response.redirects == (site.url("/r1"), site.url("/r2"), site.url("/article"))
    assert (response.url, response.final_url) == (site.url("/ancien"), site.url("/article"))
    assert response.body == ARTICLE.read_bytes()
    assert site.paths() == ["/ancien", "/r1", "/r2", "/article"]
    assert {asked.headers["user-agent"] for asked in site.asked()} == {AGENT}


def _chain(site: Site, hops: int) -> None:
    for hop in range(hops):
        site.routes[f"/hop{hop}"] = redirect(site.url(f"/hop{hop + 1}"))
    site.routes[f"/hop{hops}"] = page(ARTICLE)


def test_five_redirects_are_followed(site: Site) -> None:
    _chain(site, 5)

    response = client(max_redirects=5).get(site.url("/hop0"))

    assert (response.status, len(response.redirects)) == (200, 5)
    assert site.paths()[-1] == "/hop5"


def test_a_sixth_redirect_is_refused_before_it_is_followed(site: Site) -> None:
    _chain(site, 6)

    refused = failure(site.url("/hop0"), max_redirects=5)

    assert (refused.reason, refused.transient) == ("too_many_redirects", False)
    assert refused.redirects == tuple(site.url(f"/hop{hop}") for hop in range(1, 6))
    assert "/hop6" not in site.paths()


def test_a_redirect_to_another_host_outside_the_allowed_networks_never_reaches_it(
    site: Site, elsewhere: Site
) -> None:
    elsewhere.routes["/article"] = page(ARTICLE)
    site.routes["/dehors"] = redirect(elsewhere.url("/article"))

    refused = failure(site.url("/dehors"))

    assert (refused.reason, refused.transient) == ("blocked_address", False)
    assert refused.redirects == (elsewhere.url("/article"),)
    assert "127.0.0.2" in refused.detail
    assert elsewhere.asked() == []
    # the same redirect, 127.0.0.2 allowed: the other host was there to be reached
    allowed = AddressPolicy(allowed=parse_networks(["127.0.0.1/32", "127.0.0.2/32"]))
    assert client(addresses=allowed).get(site.url("/dehors")).body == ARTICLE.read_bytes()
    assert elsewhere.paths() == ["/article"]


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/pub/", "gopher://127.0.0.1:70/1"]
)
def test_a_redirect_to_a_scheme_other_than_http_is_refused(site: Site, location: str) -> None:
    site.routes["/piege"] = redirect(location)

    refused = failure(site.url("/piege"))

    assert (refused.reason, refused.transient) == ("unsupported_scheme", False)
    assert refused.redirects == (location,)
    assert "root:" not in refused.detail


# --- what the body may cost -----------------------------------------------------------


def test_a_body_of_exactly_the_cap_passes_and_one_byte_more_does_not(site: Site) -> None:
    site.routes["/juste"] = Answer(body=b"a" * CAP)
    site.routes["/trop"] = Answer(body=b"a" * (CAP + 1), framing="chunked")

    assert len(client().get(site.url("/juste")).body) == CAP
    assert failure(site.url("/trop")).reason == "too_large"


@pytest.mark.parametrize(
    ("encoding", "bomb"),
    [
        ("gzip", lambda: gzip_bomb(GIGABYTE)),
        ("deflate", lambda: deflate_bomb(GIGABYTE)),
        ("br", lambda: brotli_bomb(GIGABYTE)),
        ("gzip, gzip", lambda: gzip.compress(gzip_bomb(GIGABYTE))),
    ],
    ids=["gzip", "deflate", "brotli", "gzip-twice"],
)
def test_a_compressed_gigabyte_stops_at_the_cap_without_the_memory_following(
    site: Site, encoding: str, bomb: object
) -> None:
    body = bomb()  # type: ignore[operator]
    assert len(body) < 2 * CAP  # what goes over the wire is small
    site.routes["/bombe"] = Answer(body=body, headers={"Content-Encoding": encoding})

    started = time.monotonic()
    with peak_memory() as peak:
        refused = failure(site.url("/bombe"))

    assert (refused.reason, refused.transient) == ("too_large", False)
    assert time.monotonic() - started < 2.0
    assert peak[0] < 10 * CAP


@pytest.mark.parametrize("framing", ["chunked", "close"])
def test_a_body_of_unannounced_length_stops_at_the_cap(site: Site, framing: str) -> None:
    site.routes["/fleuve"] = Answer(body=b"x" * (5 * CAP), framing=framing)  # type: ignore[arg-type]

    with peak_memory() as peak:
        refused = failure(site.url("/fleuve"))

    assert refused.reason == "too_large"
    assert peak[0] < 3 * CAP  # not the 5 MB sent


def test_a_content_length_that_lies_low_is_taken_at_its_word(site: Site) -> None:
    sent = ARTICLE.read_bytes() * (5 * CAP // len(ARTICLE.read_bytes()) + 1)
    site.routes["/menteur"] = Answer(body=sent, headers={"Content-Length": "10"})

    with peak_memory() as peak:
        response = client().get(site.url("/menteur"))

    assert response.body == sent[:10]  # the message ends where its length says
    assert peak[0] < 3 * CAP


def test_a_content_length_over_the_cap_is_refused_before_the_body_is_read(
    site: Site,
) -> None:
    site.routes["/annonce"] = Answer(body=b"x" * 100, headers={"Content-Length": str(5 * CAP)})

    started = time.monotonic()
    refused = failure(site.url("/annonce"))

    assert refused.reason == "too_large"
    assert str(5 * CAP) in refused.detail
    assert time.monotonic() - started < 1.0  # not waiting for 5 MB that never come


# --- decoding ---------------------------------------------------------------------------


def _encoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return brotli.compress(body)


@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_a_compressed_page_decodes_to_the_original_bytes(
    site: Site, encoding: str, framing: str
) -> None:
    original = ARTICLE.read_bytes()
    site.routes["/article"] = Answer(
        body=_encoded(original, encoding),
        headers={"Content-Encoding": encoding},
        framing=framing,  # type: ignore[arg-type]
    )

    response = client().get(site.url("/article"))

    assert response.body == original
    accepted = {part.strip() for part in site.asked()[0].headers["accept-encoding"].split(",")}
    assert {"gzip", "deflate", "br"} <= accepted


def test_a_body_that_is_not_what_its_encoding_says_is_undecodable(site: Site) -> None:
    site.routes["/faux"] = Answer(body=ARTICLE.read_bytes(), headers={"Content-Encoding": "gzip"})

    refused = failure(site.url("/faux"))

    assert (refused.reason, refused.transient) == ("undecodable", False)


# --- time -------------------------------------------------------------------------------


def test_a_server_slow_to_answer_is_a_transient_timeout_at_the_deadline(site: Site) -> None:
    site.routes["/lent"] = Answer(body=b"<html>enfin</html>", delay=3.0)

    started = time.monotonic()
    refused = failure(site.url("/lent"), timeout=1.0)
    elapsed = time.monotonic() - started

    assert (refused.reason, refused.transient) == ("timeout", True)
    assert 0.9 <= elapsed < 2.0


def test_a_slow_redirect_chain_shares_one_deadline(site: Site) -> None:
    site.routes.update(
        {
            "/r0": Answer(302, headers={"Location": "/r1"}, delay=0.6, content_type=None),
            "/r1": Answer(302, headers={"Location": "/r2"}, delay=0.6, content_type=None),
            "/r2": Answer(body=b"<html>trop tard</html>", delay=0.6),
        }
    )

    started = time.monotonic()
    refused = failure(site.url("/r0"), timeout=1.0)

    assert (refused.reason, refused.transient) == ("timeout", True)
    assert time.monotonic() - started < 2.0  # not 1 s per hop
    assert refused.redirects == (site.url("/r1"),)
