"""The web as a source: which URLs a run plans, and what each became.

Planning lists the run's web sources (tasks/web/listing.py) and keeps the article
URLs no partition holds yet, plus those whose earlier fetches failed for a passing
reason fewer than `fetch_attempts` times. The fetch stage asks for them all at once,
politely (tasks/web/crawl.py), and turns each answer into an `Item`: the page, or
why not. Pages are kept in the lake as they came, so fetch redone reads them again
from there, not from the web.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas import Rejected
from tasks.lake.storage import Lake
from tasks.records import WEB_ITEM, ItemKey, PartitionSpec, Status
from tasks.settings import Settings
from tasks.sources import NewItem
from tasks.sources.rows import Item, page_item
from tasks.web.address import AddressPolicy, parse_networks
from tasks.web.client import ClientPolicy, Response
from tasks.web.crawl import Crawler, CrawlPolicy, Hosts, Outcome, Request, describe_status
from tasks.web.feeds import Entry, parse_url_list, sniff
from tasks.web.listing import Listed, SourceProblem, list_sources
from tasks.web.urls import canonical_url, host_of

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})


def crawl_policy(settings: Settings) -> CrawlPolicy:
    """The politeness and safety of a run's web requests, from its settings."""
    return CrawlPolicy(
        client=ClientPolicy(
            user_agent=settings.user_agent,
            addresses=AddressPolicy(allowed=parse_networks(settings.allow_private_network)),
            max_bytes=settings.max_bytes,
            timeout=settings.timeout,
            connect_timeout=min(10.0, settings.timeout),
        ),
        min_delay=settings.min_delay,
        max_connections=settings.max_connections,
        per_host=settings.per_host_connections,
        retries=settings.retries,
    )


OUTCOMES = ("fetched", "not_modified", "disallowed", "failed", "waiting")
"""What became of a web page (or, `not_modified`, of a source asked again): fetched;
disallowed by robots.txt; failed for good; failed for a passing reason and waiting
for a later run."""


@dataclass
class WebHistory:
    """What earlier runs made of the lake's web pages."""

    failures: Counter[str] = field(default_factory=Counter)  # passing failures, per URL
    hints: dict[str, dict[str, Any]] = field(default_factory=dict)  # as last planned
    latest: dict[str, str] = field(default_factory=dict)  # each URL's latest outcome

    def waiting(self, attempts: int) -> dict[str, int]:
        """URLs to try again, with the failures they had."""
        return {
            url: self.failures[url]
            for url, outcome in self.latest.items()
            if outcome == "waiting" and self.failures[url] < attempts
        }


def web_history(lake: Lake) -> WebHistory:
    """The fate of every web page of the lake, from its partitions' records and the
    outcomes their fetch manifests list."""
    history = WebHistory()
    for spec in lake.partitions():
        if not spec.urls:
            continue
        manifest = lake.read_manifest("fetch", spec.partition)
        if manifest is None or manifest.status != Status.COMMITTED:
            continue
        outcomes = (manifest.details.get("web") or {}).get("outcomes") or {}
        for url in spec.urls:
            history.hints[url] = spec.hints.get(url, {})
            outcome = outcomes.get(url, "failed")
            history.latest[url] = outcome
            if outcome == "waiting":
                history.failures[url] += 1
    return history


def by_host(outcomes: dict[str, str], not_modified: dict[str, int] | None = None) -> dict:
    """Outcomes counted per host: {host: {outcome: n}}, hosts and outcomes in order."""
    books: dict[str, Counter[str]] = {}
    for url, outcome in outcomes.items():
        books.setdefault(_host(url), Counter())[outcome] += 1
    for host, n in (not_modified or {}).items():
        books.setdefault(host, Counter())["not_modified"] += n
    return {
        host: {name: books[host][name] for name in OUTCOMES if books[host][name]}
        for host in sorted(books)
    }


def web_counts(counts: dict[str, int]) -> str:
    """A host's counts in words: `3 fetched, 1 not modified, 1 waiting`."""
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items())


def web_status(lake: Lake) -> dict[str, dict[str, int]]:
    """Per host, where the lake's web pages stand (each URL's latest outcome) and how
    many times its sources answered 304 Not Modified."""
    not_modified: Counter[str] = Counter()
    for url, record in lake.web.sources().items():
        not_modified[_host(url)] += int(record.get("not_modified", 0))
    return by_host(web_history(lake).latest, dict(not_modified))


@dataclass
class WebPlan:
    """The web pages a run plans: new or to retry, with their hints."""

    hints: dict[str, dict[str, Any]] = field(default_factory=dict)  # canonical URL → hints
    attempts: dict[str, int] = field(default_factory=dict)  # earlier failures
    published: dict[str, datetime | None] = field(default_factory=dict)
    found: int = 0
    problems: list[SourceProblem] = field(default_factory=list)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_modified: Counter[str] = field(default_factory=Counter)

    def new_items(self, known: set[ItemKey]) -> Iterator[NewItem]:
        """The pages planned (new, or to try again), in their URLs' order: listing
        kept none that the lake holds already, and a page to retry is one it holds."""
        for url in sorted(self.hints):
            yield NewItem((url, None, WEB_ITEM), listed_date=self.published.get(url))


def _hints(entry: Entry, listed_in: str) -> dict[str, Any]:
    return {
        "listed_by": entry.hint_source,
        "listed_in": listed_in,
        "listed_title": entry.title,
        "listed_date": entry.published.isoformat() if entry.published else None,
        "listed_author": entry.author,
        "listed_site": entry.site_name,
    }


def plan_web(
    lake: Lake,
    urls: list[str],
    lists: list[Path],
    settings: Settings,
    *,
    hosts: Hosts | None = None,
    since: datetime | None = None,
    log: Callable[[str], None] | None = None,
) -> WebPlan:
    """The web pages to fetch: listed by `urls` (feeds, sitemaps, pages) and the
    `.urls` files `lists`, not yet in the lake; and those to try again. `hosts`: what
    this process's crawls remember of each host (robots.txt, delays)."""
    known = {key[0] for key in lake.known_items() if key[2] == WEB_ITEM}
    listed = Listed()
    if urls:
        listed = list_sources(
            urls,
            Crawler(crawl_policy(settings), log=log, hosts=hosts),
            lake.web.sources(),
            known=known,
            since=since,
            max_bytes=settings.max_bytes,
            sitemap_depth=settings.sitemap_depth,
        )
    _add_url_lists(listed, lists)
    plan = WebPlan(
        found=len(listed.entries),
        problems=listed.problems,
        state=listed.state,
        not_modified=listed.not_modified,
    )
    for key, entry in sorted(listed.entries.items()):
        if key not in known:
            plan.hints[key] = _hints(entry, listed.listed_in[key])
            plan.published[key] = entry.published
    _add_retries(plan, web_history(lake), settings.fetch_attempts)
    return plan


def _add_url_lists(listed: Listed, lists: list[Path]) -> None:
    """The links of the `.urls` files, as listed entries (a link a feed or sitemap
    listed already keeps what they said of it)."""
    for path in lists:
        for link in parse_url_list(path.read_text(encoding="utf-8", errors="replace")):
            key = canonical_url(link)
            if key not in listed.entries:
                listed.entries[key] = Entry(url=link, hint_source="list")
                listed.listed_in[key] = path.resolve().as_posix()


def _add_retries(plan: WebPlan, history: WebHistory, attempts: int) -> None:
    """The pages that failed for a passing reason fewer than `attempts` times, planned
    again with the hints they had."""
    for url, failures in sorted(history.waiting(attempts).items()):
        plan.hints.setdefault(url, history.hints.get(url, {}))
        plan.attempts[url] = failures
        plan.published.setdefault(url, _when(history.hints.get(url, {})))


def _when(hints: dict[str, Any]) -> datetime | None:
    stamp = hints.get("listed_date")
    return datetime.fromisoformat(stamp) if stamp else None


# -- the fetch stage ------------------------------------------------------------------


@dataclass
class Page:
    """One web page's fate in the fetch stage."""

    url: str
    answer: dict[str, Any] | None = None  # the raw row's web columns, for a page
    body: bytes | None = None
    rejected: Rejected | None = None
    transient: bool = False


def _answer(response: Response) -> dict[str, Any]:
    return {
        "final_url": response.final_url,
        "redirects": list(response.redirects),
        "http_status": response.status,
        "content_type": response.content_type,
        "charset": _charset(response.headers.get("content-type", "")),
        "etag": response.etag,
        "last_modified": response.last_modified,
        "fetched_at": response.fetched_at.isoformat(),
        "sha256": hashlib.sha256(response.body).hexdigest(),
    }


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


def _fate(url: str, outcome: Outcome) -> Page:
    response = outcome.response
    failure = outcome.failure
    if response is not None:
        failure = describe_status(response)
        if failure is None:
            kind = sniff(response.body)
            if response.content_type not in HTML_TYPES or kind not in ("html", "other"):
                what = response.content_type or kind
                return Page(url, rejected=Rejected("not_html", f"{url} is {what}, not a page"))
            return Page(url, answer=_answer(response), body=response.body)
    assert failure is not None
    return Page(url, rejected=Rejected(failure.reason, failure.detail), transient=failure.transient)


def fetch_pages(
    lake: Lake,
    partition: str,
    urls: Iterable[str],
    settings: Settings,
    *,
    hosts: Hosts | None = None,
    log: Callable[[str], None] | None = None,
) -> Iterator[Page]:
    """Every URL's page (or why not), one at a time in the URLs' order: as this
    partition's fetch kept it when it ran before, else from the web. A URL tried again
    by a later partition is asked anew. A page fetched is kept in the lake as soon as
    it comes, and read back from there when its turn comes: the pages of a partition
    are never all in memory."""
    urls = sorted(set(urls))
    # never asked, or what was kept is not whole (truncated, of a foreign shape): asked again
    wanted = [url for url in urls if _kept(partition, url, lake) is None]
    if wanted:

        def land(outcome: Outcome) -> Outcome:
            page = _fate(outcome.url, outcome)
            key = _landing_key(partition, outcome.url)
            if page.rejected is None:
                lake.web.land(key, page.answer or {}, page.body)
            else:
                failure = {
                    "reason": page.rejected.reason,
                    "detail": page.rejected.detail,
                    "transient": page.transient,
                }
                lake.web.land(key, {"failure": failure})
            return Outcome(outcome.url, tries=outcome.tries)  # the body is in the lake

        crawler = Crawler(crawl_policy(settings), log=log, hosts=hosts)
        crawler.fetch((Request(url) for url in wanted), settle=land)
    for url in urls:
        yield _kept(partition, url, lake) or _lost_page(url)


def _kept(partition: str, url: str, lake: Lake) -> Page | None:
    return _kept_page(url, lake.web.landed(_landing_key(partition, url)))


def _lost_page(url: str) -> Page:
    """A page landed a moment ago, and gone or damaged since: a later run asks again."""
    lost = Rejected("connection_failed", f"{url}: the page kept in the lake is unreadable")
    return Page(url, rejected=lost, transient=True)


class _KeptAnswer(BaseModel):
    """What `land` keeps of a page's answer (`_answer`), as `web_columns`
    (tasks/sources/rows.py) reads it; strict: a kept record is as `land` wrote it, or
    it is not used."""

    model_config = ConfigDict(strict=True)

    final_url: str
    redirects: list[str]
    http_status: int
    content_type: str | None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: str
    sha256: str


class _KeptFailure(BaseModel):
    model_config = ConfigDict(strict=True)

    reason: str
    detail: str
    transient: bool


def _kept_page(url: str, kept: tuple[dict[str, Any], bytes | None] | None) -> Page | None:
    """The page `land` kept for `url`, or None when there is none or it is not of the
    shape `land` writes (a damaged or foreign file): the page is then fetched again,
    as when the file is truncated."""
    if kept is None:
        return None
    answer, body = kept
    try:
        if body is None:
            failure = _KeptFailure.model_validate(answer.get("failure"))
            rejected = Rejected(failure.reason, failure.detail)
            return Page(url, rejected=rejected, transient=failure.transient)
        datetime.fromisoformat(_KeptAnswer.model_validate(answer).fetched_at)
    except ValueError:  # pydantic's ValidationError is one
        return None
    return Page(url, answer=answer, body=body)


def _host(url: str) -> str:
    try:
        return host_of(url)
    except ValueError:
        return "(no host)"


def _landing_key(partition: str, url: str) -> str:
    return hashlib.sha256(f"{partition}\0{url}".encode()).hexdigest()


def attempt_note(failures: int, attempts: int) -> str:
    """What a passing failure means for the URL's next runs."""
    attempt = failures + 1
    if attempt >= attempts:
        return f"attempt {attempt} of {attempts}: given up"
    return f"attempt {attempt} of {attempts}: a later run tries again"


def outcome_of(page: Page, failures: int, attempts: int) -> str:
    """A page's outcome, given its earlier passing failures and the attempts allowed."""
    if page.rejected is None:
        return "fetched"
    if page.rejected.reason == "robots_disallowed":
        return "disallowed"
    return "waiting" if page.transient and failures + 1 < attempts else "failed"


# -- the source ------------------------------------------------------------------------


class WebSource:
    """The web pages of a run: those its plan lists, and those of a partition, fetched
    (or read back from the lake when fetched before)."""

    def __init__(
        self,
        lake: Lake,
        settings: Settings,
        hosts: Hosts | None = None,
        plan: WebPlan | None = None,
    ) -> None:
        self.lake = lake
        self.settings = settings
        self.hosts = hosts
        self.plan = plan or WebPlan()
        self.found = self.plan.found

    def new_items(self, known: set[ItemKey]) -> Iterator[NewItem]:
        return self.plan.new_items(known)

    def read(self, spec: PartitionSpec, details: dict[str, Any]) -> Iterator[Item]:
        """The web pages of a partition as items, one at a time; once they are all
        read, the books of the fetch in `details["web"]`: each URL's outcome
        (`waiting`: a later run tries it again), and their counts per host."""
        if not spec.urls:
            return
        attempts = self.settings.fetch_attempts
        outcomes: dict[str, str] = {}
        pages = fetch_pages(self.lake, spec.partition, spec.urls, self.settings, hosts=self.hosts)
        for page in pages:
            failures = spec.attempts.get(page.url, 0)
            outcomes[page.url] = outcome_of(page, failures, attempts)
            note = attempt_note(failures, attempts)
            yield page_item(page, spec.hints.get(page.url, {}), note)
        details["web"] = {"outcomes": outcomes, "hosts": by_host(outcomes)}
