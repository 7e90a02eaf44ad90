"""The edges of the web client and crawler a first version got wrong: a body dribbled
past the deadline, a robots.txt with a byte-order mark or over 500 KiB, a redirect
into a disallowed path. Real servers on loopback, as in test_web_client.py and
test_web_crawl.py.
"""

from __future__ import annotations

import time

import pytest

from tasks.web.address import AddressPolicy, parse_networks
from tasks.web.client import Client, ClientPolicy, FetchFailed
from tasks.web.crawl import Crawler, CrawlPolicy, Request
from tests.websites import AGENT, SAMPLE_HTML, Answer, Site, page, redirect, robots, site_fixture

LOOPBACK = AddressPolicy(allowed=parse_networks(["127.0.0.1/32"]))
ARTICLE = page(SAMPLE_HTML / "lille-tramway.html")


site = site_fixture("127.0.0.1")


def crawler() -> Crawler:
    client = ClientPolicy(AGENT, LOOPBACK, connect_timeout=2.0, timeout=3.0)
    return Crawler(CrawlPolicy(client=client, min_delay=0.0, backoff=0.1))


# client.py, _Watchdog: http.client hands the socket to the response and sets
# `connection.sock` to None as soon as the headers are read (the answer says
# `Connection: close`), so at the deadline the watchdog finds no socket to shut down
# and a body that comes a byte at a time holds the caller for as long as it lasts
# (a 3 kB page at 0.2 s a byte: ten minutes). A close-delimited body, once the
# socket is shut, also ends early as if complete: the truncated page is returned.
@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_dribbling_body_cannot_hold_the_client_past_its_deadline(
    site: Site, framing: str
) -> None:
    body = b"<html><p>goutte</p></html>"  # 26 bytes: 5.2 s if the deadline fails
    site.routes["/goutte"] = Answer(body=body, dribble=0.2, framing=framing)  # type: ignore[arg-type]
    client = Client(ClientPolicy(AGENT, LOOPBACK, connect_timeout=1.0, timeout=1.5))

    started = time.monotonic()
    with pytest.raises(FetchFailed) as caught:
        client.get(site.url("/goutte"))
    elapsed = time.monotonic() - started

    assert (caught.value.reason, caught.value.transient) == ("timeout", True)
    assert elapsed < 3.0


# crawl.py, Crawler._read_robots: the body is decoded as "utf-8", which keeps a
# leading byte order mark, and Protego then reads "\ufeffUser-agent: *" as no
# user-agent line: the whole first group is lost and its Disallow rules with it.
def test_robots_txt_starting_with_a_byte_order_mark_is_obeyed(site: Site) -> None:
    site.routes["/robots.txt"] = Answer(
        body="\ufeffUser-agent: *\nDisallow: /prive/\n".encode(), content_type="text/plain"
    )
    site.routes["/prive/notes.html"] = ARTICLE

    outcomes = crawler().fetch([Request(site.url("/prive/notes.html"))])

    failure = outcomes[site.url("/prive/notes.html")].failure
    assert failure is not None and failure.reason == "robots_disallowed"
    assert site.paths() == ["/robots.txt"]


# crawl.py, ROBOTS_MAX_BYTES and _read_robots: RFC 9309 section 2.5 makes 500 KiB the
# least a crawler parses, not the most a robots.txt may weigh; here a longer file
# fails the robots.txt request with too_large (not transient), and nothing is ever
# fetched from the host.
def test_robots_txt_longer_than_500_kib_is_read_up_to_the_limit(site: Site) -> None:
    padding = "# " + "x" * 78 + "\n"
    rules = "User-agent: *\nDisallow: /prive/\n" + padding * 8000  # 640 kB
    site.routes["/robots.txt"] = robots(rules)
    site.routes["/article"] = ARTICLE

    outcomes = crawler().fetch([Request(site.url("/article")), Request(site.url("/prive/a"))])

    assert outcomes[site.url("/article")].response is not None
    assert outcomes[site.url("/prive/a")].failure.reason == "robots_disallowed"  # type: ignore[union-attr]


# crawl.py/client.py: robots.txt is consulted for the URL asked, and the client then
# follows redirects on its own, so a page that redirects into a disallowed path
# makes the crawler request that path.
def test_a_redirect_into_a_disallowed_path_is_not_followed(site: Site) -> None:
    site.routes["/robots.txt"] = robots("User-agent: *\nDisallow: /prive/\n")
    site.routes["/public"] = redirect("/prive/notes.html")
    site.routes["/prive/notes.html"] = ARTICLE

    outcomes = crawler().fetch([Request(site.url("/public"))])

    assert "/prive/notes.html" not in site.paths()
    failure = outcomes[site.url("/public")].failure
    assert failure is not None and failure.reason == "robots_disallowed"


def test_the_connection_goes_to_the_address_that_was_checked(site: Site) -> None:
    """DNS rebinding: a name that answers an allowed address when checked and another
    one after is looked up once, and the request goes to the checked address."""
    site.routes["/article"] = ARTICLE
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return next(answers)

    policy = AddressPolicy(allowed=parse_networks(["127.0.0.1/32"]), resolver=resolver)
    client = Client(ClientPolicy(AGENT, policy, connect_timeout=2.0, timeout=3.0))
    response = client.get(f"http://nouvelles.example:{site.port}/article")
    assert response.status == 200 and asked == ["nouvelles.example"]
    (request,) = site.asked("/article")
    assert request.headers["host"] == f"nouvelles.example:{site.port}"
