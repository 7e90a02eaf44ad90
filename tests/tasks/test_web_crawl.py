"""The crawler against real servers on loopback: robots.txt obeyed and read once per
origin, each host asked no faster than its delay and no more at once than allowed,
hosts fetched side by side, and what fails retried only when it may pass.

The timing assertions are lower bounds on the gaps a host sees (politeness), read
from the servers' own request logs; the upper bounds only check that hosts are not
fetched one after the other. Sites listen on 127.0.0.1, 127.0.0.2 and 127.0.0.3.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise

import pytest

import tasks.web.crawl as crawl
from tasks.web.address import AddressPolicy, parse_networks
from tasks.web.client import ClientPolicy
from tasks.web.crawl import Crawler, CrawlPolicy, Hosts, Outcome, Request, describe_status
from tests.websites import (
    AGENT,
    CORPUS_HTML,
    SAMPLE_HTML,
    Answer,
    Asked,
    InFlight,
    Site,
    in_turn,
    page,
    redirect,
    robots,
    site_fixture,
    sites,
)

LOOPBACK = AddressPolicy(allowed=parse_networks(["127.0.0.0/29"]))
ARTICLE = page(CORPUS_HTML / "ledevoir.com.trottinettes.html")
ARTICLES = [page(path) for path in sorted(SAMPLE_HTML.glob("*.html"))]
SLACK = 0.05  # a request's trip through threads and sockets, on a loaded machine


def crawler(hosts: Hosts | None = None, log: list[str] | None = None, **policy: object) -> Crawler:
    """A crawler as quick as a test wants it: delays and backoff given per test."""
    settings: dict = {"min_delay": 0.0, "backoff": 0.1, "max_wait": 5.0, **policy}
    client = ClientPolicy(AGENT, LOOPBACK, max_bytes=1_000_000, connect_timeout=2.0, timeout=3.0)
    return Crawler(
        CrawlPolicy(client=client, **settings),
        log=None if log is None else log.append,
        hosts=hosts,
    )


def fetch(pages: list[str], **policy: object) -> dict[str, Outcome]:
    return crawler(**policy).fetch([Request(url) for url in pages])


def gaps(asked: list[Asked]) -> list[float]:
    """Seconds between the arrivals of consecutive requests."""
    return [later.at - earlier.at for earlier, later in pairwise(asked)]


site = site_fixture("127.0.0.1")


@pytest.fixture
def two_sites() -> Iterator[list[Site]]:
    with sites("127.0.0.2", "127.0.0.3") as started:
        yield started


# --- robots.txt -----------------------------------------------------------------------

MODERN_ROBOTS = """\
User-agent: *
Disallow: /articles/
Disallow: /archives/

User-agent: depeche
Disallow: /*.pdf$
Disallow: /prive/
Allow: /prive/public$
Disallow: /archives/
Allow: /archives/2024/
"""

# path: may depeche fetch it? (the `*` group, which depeche does not read, would
# refuse /articles/ and all of /archives/)
DEPECHE_MAY = {
    "/articles/tramway.html": True,
    "/docs/rapport.pdf": False,  # `$`: ends in .pdf
    "/docs/rapport.pdf.html": True,  # `$`: does not end in .pdf
    "/docs/2024/budget.pdf": False,  # `*` spans slashes
    "/prive/notes.html": False,
    "/prive/public": True,  # Allow is longer than Disallow: /prive/
    "/prive/public/suite": False,  # `$`: the Allow stops at /prive/public
    "/archives/2023/vendanges.html": False,
    "/archives/2024/vendanges.html": True,  # longest match wins
}


def test_robots_txt_rules_of_the_depeche_group_decide_and_nothing_disallowed_is_asked(
    site: Site,
) -> None:
    site.routes["/robots.txt"] = robots(MODERN_ROBOTS)
    for path in DEPECHE_MAY:
        site.routes[path] = ARTICLE

    outcomes = fetch([site.url(path) for path in DEPECHE_MAY])

    for path, allowed in DEPECHE_MAY.items():
        outcome = outcomes[site.url(path)]
        if allowed:
            assert outcome.response is not None and outcome.response.status == 200, path
            assert outcome.tries == 1
        else:
            assert outcome.failure is not None and outcome.failure.reason == "robots_disallowed"
            assert (outcome.tries, outcome.failure.transient) == (0, False), path
    assert site.paths()[0] == "/robots.txt"
    assert sorted(site.paths()[1:]) == sorted(p for p, allowed in DEPECHE_MAY.items() if allowed)
    assert site.asked("/robots.txt")[0].headers["user-agent"] == AGENT


def test_robots_txt_is_read_once_per_origin_by_crawls_that_share_their_hosts(
    site: Site, two_sites: list[Site]
) -> None:
    everywhere = [site, *two_sites]
    for each in everywhere:
        each.routes.update({"/robots.txt": robots("User-agent: *\nAllow: /\n"), "/a": ARTICLE})
        each.routes["/b"] = ARTICLE
    hosts = Hosts()

    crawler(hosts).fetch([Request(each.url("/a")) for each in everywhere])
    crawler(hosts).fetch([Request(each.url("/b")) for each in everywhere])

    for each in everywhere:
        assert each.paths() == ["/robots.txt", "/a", "/b"]
    # a crawler that remembers nothing asks again
    crawler().fetch([Request(site.url("/a"))])
    assert len(site.asked("/robots.txt")) == 2


def test_robots_txt_is_read_again_once_its_reading_is_stale(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.routes.update({"/robots.txt": robots("User-agent: *\nAllow: /\n"), "/a": ARTICLE})
    monkeypatch.setattr(crawl, "ROBOTS_TTL", 0.0)
    hosts = Hosts()

    crawler(hosts).fetch([Request(site.url("/a"))])
    crawler(hosts).fetch([Request(site.url("/a"))])

    assert site.paths() == ["/robots.txt", "/a", "/robots.txt", "/a"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_robots_txt_missing_or_forbidden_allows_everything(site: Site, status: int) -> None:
    site.routes["/robots.txt"] = Answer(status, b"non", content_type="text/plain")
    site.routes["/prive/notes.html"] = ARTICLE

    outcomes = fetch([site.url("/prive/notes.html")])

    assert outcomes[site.url("/prive/notes.html")].response.status == 200  # type: ignore[union-attr]
    assert site.paths() == ["/robots.txt", "/prive/notes.html"]


@pytest.mark.parametrize(
    ("status", "reason"), [(500, "server_error"), (503, "server_error"), (429, "rate_limited")]
)
def test_robots_txt_that_cannot_be_read_stops_the_host_with_a_transient_failure(
    site: Site, status: int, reason: str
) -> None:
    site.routes["/robots.txt"] = Answer(status, b"panne", content_type="text/plain")
    pages = [site.url("/a"), site.url("/b")]

    outcomes = fetch(pages, retries=2)

    for url in pages:
        failure = outcomes[url].failure
        assert failure is not None and (failure.reason, failure.transient) == (reason, True)
        assert outcomes[url].tries == 0
    assert site.paths() == ["/robots.txt"]


def test_a_host_that_does_not_answer_is_a_transient_failure_for_each_page() -> None:
    with sites("127.0.0.1") as (gone,):
        pages = [gone.url("/a"), gone.url("/b")]
    started = time.monotonic()

    outcomes = fetch(pages)

    assert time.monotonic() - started < 2.0
    for url in pages:
        failure = outcomes[url].failure
        assert failure is not None and (failure.reason, failure.transient) == (
            "connection_failed",
            True,
        )


def test_robots_txt_behind_a_redirect_is_followed(site: Site) -> None:
    site.routes["/robots.txt"] = redirect("/regles.txt", 301)
    site.routes["/regles.txt"] = robots("User-agent: depeche\nDisallow: /prive/\n")
    site.routes["/public"] = ARTICLE

    outcomes = fetch([site.url("/prive/x"), site.url("/public")])

    assert outcomes[site.url("/prive/x")].failure.reason == "robots_disallowed"  # type: ignore[union-attr]
    assert outcomes[site.url("/public")].response.status == 200  # type: ignore[union-attr]
    assert site.paths() == ["/robots.txt", "/regles.txt", "/public"]


def test_a_url_that_is_not_http_is_refused_without_asking_anything(site: Site) -> None:
    pages = [f"ftp://127.0.0.1:{site.port}/a", "file:///etc/passwd", "mailto:redaction@x.fr"]

    outcomes = fetch(pages)

    for url in pages:
        failure = outcomes[url].failure
        assert failure is not None and failure.reason == "unsupported_scheme", url
        assert outcomes[url].tries == 0
    assert site.asked() == []


# --- delays between the requests to one host -----------------------------------------


def test_crawl_delay_in_robots_txt_spaces_the_requests_beyond_min_delay(site: Site) -> None:
    site.routes["/robots.txt"] = robots("User-agent: depeche\nCrawl-delay: 1\nAllow: /\n")
    pages = [f"/page{n}" for n in range(3)]
    for path, article in zip(pages, ARTICLES, strict=False):
        site.routes[path] = article

    outcomes = fetch([site.url(path) for path in pages], min_delay=0.1)

    assert all(outcome.response.status == 200 for outcome in outcomes.values())  # type: ignore[union-attr]
    asked = [a for a in site.asked() if a.path != "/robots.txt"]
    assert [a.path for a in asked] == pages
    assert min(gaps(asked)) >= 1.0 - SLACK


def test_min_delay_spaces_each_host_while_the_hosts_are_fetched_side_by_side(
    two_sites: list[Site],
) -> None:
    for each in two_sites:
        each.routes["/robots.txt"] = robots("User-agent: *\nAllow: /\n")
        for n, article in enumerate(ARTICLES[:4]):
            each.routes[f"/page{n}"] = article
    pages = [each.url(f"/page{n}") for n in range(4) for each in two_sites]

    started = time.monotonic()
    outcomes = fetch(pages, min_delay=0.4)
    wall = time.monotonic() - started

    assert all(outcome.response.status == 200 for outcome in outcomes.values())  # type: ignore[union-attr]
    for each in two_sites:
        asked = each.asked()
        assert len(asked) == 5  # robots.txt and four pages
        assert min(gaps(asked)) >= 0.4 - SLACK
    first, second = (each.asked() for each in two_sites)
    assert max(first[0].at, second[0].at) < min(first[-1].at, second[-1].at)  # overlap
    one_after_the_other = 2 * 5 * 0.4
    assert wall < one_after_the_other - 0.8


def test_hosts_shared_between_crawls_keep_the_delay_across_them(site: Site) -> None:
    site.routes.update({"/robots.txt": robots("User-agent: *\nAllow: /\n"), "/a": ARTICLE})
    site.routes["/b"] = ARTICLE
    hosts = Hosts()

    crawler(hosts, min_delay=0.5).fetch([Request(site.url("/a"))])
    crawler(hosts, min_delay=0.5).fetch([Request(site.url("/b"))])

    assert site.paths() == ["/robots.txt", "/a", "/b"]
    assert site.asked("/b")[0].at - site.asked("/a")[0].at >= 0.5 - SLACK


@pytest.mark.parametrize("per_host", [1, 3])
def test_no_more_requests_in_flight_to_a_host_than_per_host(site: Site, per_host: int) -> None:
    held = InFlight(ARTICLE, hold=0.3)
    for n in range(4):
        site.routes[f"/page{n}"] = held

    outcomes = fetch([site.url(f"/page{n}") for n in range(4)], per_host=per_host)

    assert all(outcome.response.status == 200 for outcome in outcomes.values())  # type: ignore[union-attr]
    assert held.most == per_host  # at most per_host; and that many when they may


def test_no_more_requests_in_flight_overall_than_max_connections(
    site: Site, two_sites: list[Site]
) -> None:
    held = InFlight(ARTICLE, hold=0.3)
    everywhere = [site, *two_sites]
    for each in everywhere:
        each.routes.update({"/a": held, "/b": held})
    pages = [each.url(path) for each in everywhere for path in ("/a", "/b")]

    outcomes = fetch(pages, per_host=2, max_connections=2)

    assert all(outcome.response.status == 200 for outcome in outcomes.values())  # type: ignore[union-attr]
    assert held.most == 2


# --- retries ---------------------------------------------------------------------------


def test_a_429_is_asked_again_after_its_retry_after(site: Site) -> None:
    site.routes["/page"] = in_turn(
        Answer(429, b"trop vite", headers={"Retry-After": "1"}), ARTICLES[0]
    )
    lines: list[str] = []

    outcome = crawler(log=lines).fetch([Request(site.url("/page"))])[site.url("/page")]

    assert (outcome.response.status, outcome.tries) == (200, 2)  # type: ignore[union-attr]
    first, second = site.asked("/page")
    assert second.at - first.at >= 1.0 - SLACK
    assert lines[-2:] == [f"GET {site.url('/page')} -> 429", f"GET {site.url('/page')} -> 200"]


def test_a_retry_after_longer_than_max_wait_leaves_the_page_for_a_later_run(
    site: Site,
) -> None:
    # 4 s, not an hour: a crawler that ignored max_wait would fail here, not hang
    site.routes["/page"] = Answer(503, b"maintenance", headers={"Retry-After": "4"})

    started = time.monotonic()
    outcome = fetch([site.url("/page")], max_wait=1.0)[site.url("/page")]

    assert time.monotonic() - started < 1.0
    assert (outcome.response.status, outcome.tries) == (503, 1)  # type: ignore[union-attr]
    failure = describe_status(outcome.response)  # type: ignore[arg-type]
    assert failure is not None and failure.retry_after == 4.0 and failure.transient
    assert site.paths().count("/page") == 1


def test_a_server_error_is_retried_with_growing_waits_then_given_up(site: Site) -> None:
    site.routes["/page"] = Answer(500, b"erreur")

    outcome = fetch([site.url("/page")], retries=2, backoff=0.2)[site.url("/page")]

    assert (outcome.response.status, outcome.tries) == (500, 3)  # type: ignore[union-attr]
    failure = describe_status(outcome.response)  # type: ignore[arg-type]
    assert failure is not None and (failure.reason, failure.transient) == ("server_error", True)
    asked = site.asked("/page")
    assert len(asked) == 3
    first, second = gaps(asked)
    assert first >= 0.2 - SLACK and second >= 0.4 - SLACK  # backoff, doubled


def test_a_timeout_is_retried(site: Site) -> None:
    site.routes["/page"] = in_turn(Answer(body=b"<html>tard</html>", delay=2.0), ARTICLES[0])
    policy = ClientPolicy(AGENT, LOOPBACK, connect_timeout=1.0, timeout=0.5)
    retrying = Crawler(CrawlPolicy(client=policy, min_delay=0.0, backoff=0.1))

    outcome = retrying.fetch([Request(site.url("/page"))])[site.url("/page")]

    assert (outcome.response.status, outcome.tries) == (200, 2)  # type: ignore[union-attr]


@pytest.mark.parametrize(("status", "reason"), [(404, "http_404"), (410, "http_410")])
def test_a_page_that_is_not_there_is_not_retried(site: Site, status: int, reason: str) -> None:
    site.routes["/disparu"] = Answer(status, b"parti")

    outcome = fetch([site.url("/disparu")], retries=2)[site.url("/disparu")]

    assert (outcome.response.status, outcome.tries) == (status, 1)  # type: ignore[union-attr]
    assert site.paths().count("/disparu") == 1
    failure = describe_status(outcome.response)  # type: ignore[arg-type]
    assert failure is not None and (failure.reason, failure.transient) == (reason, False)


def test_a_503_slows_the_host_down_for_the_rest_of_the_crawl(site: Site) -> None:
    site.routes["/occupe"] = in_turn(Answer(503, b"occupe"), ARTICLES[0])
    site.routes["/b"] = ARTICLES[1]
    site.routes["/c"] = ARTICLES[2]

    fetch([site.url(path) for path in ("/occupe", "/b", "/c")], min_delay=0.3)

    asked = site.asked()
    slowed = asked[[a.path for a in asked].index("/occupe") :]
    assert len(slowed) == 4  # the 503, its retry, /b and /c
    assert min(gaps(slowed)) >= 2 * 0.3 - SLACK
