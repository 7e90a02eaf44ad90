"""Many URLs over many hosts, politely: robots.txt first, one request at a time per
host (or `per_host`), `min_delay` (or the host's `Crawl-delay`) between the starts
of two requests to a host, at most `max_connections` requests in flight, and
retries with exponential backoff and jitter for what may pass (timeouts, refused
connections, 429 and 5xx), `Retry-After` honoured.

One scheduler thread decides what starts when; a thread pool does the I/O. Hosts are
independent, so ten hosts are fetched side by side while none is asked faster than
its delay allows.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from protego import Protego

from tasks.web.client import TRANSIENT_STATUS, Client, ClientPolicy, FetchFailed, Response

ROBOTS_MAX_BYTES = 500 * 1024  # what RFC 9309 asks a crawler to read at least


@dataclass(frozen=True)
class CrawlPolicy:
    """How politely and how hard to fetch."""

    client: ClientPolicy
    min_delay: float = 1.0  # seconds between the starts of two requests to one host
    max_connections: int = 8  # requests in flight, all hosts together
    per_host: int = 1  # requests in flight to one host
    retries: int = 2  # further tries in this run after a transient failure
    backoff: float = 1.0  # the first retry's wait; doubled at each retry, with jitter
    max_wait: float = 60.0  # a host asking to wait longer is left for a later run

    @property
    def agent(self) -> str:
        """The product token robots.txt rules are matched against (`depeche`)."""
        return self.client.user_agent.split("/")[0].split()[0].strip() or "depeche"


@dataclass(frozen=True)
class Request:
    url: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What became of one request: an answer (any status), or why there is none."""

    url: str
    response: Response | None = None
    failure: FetchFailed | None = None
    tries: int = 0  # requests made for it in this run (0: not asked, e.g. disallowed)


def origin(url: str) -> str:
    """`scheme://host[:port]`: what robots.txt and the politeness delay apply to."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc.rsplit('@', 1)[-1]).lower()}"


@dataclass
class _Host:
    origin: str
    queue: deque[tuple[Request, int]] = field(default_factory=deque)  # this crawl's
    in_flight: int = 0
    next_start: float = 0.0  # when it may be asked again (time.monotonic)
    robots: Protego | FetchFailed | None = None  # None: not read yet
    robots_asked: bool = False
    robots_at: float = 0.0
    crawl_delay: float = 0.0  # robots.txt's Crawl-delay
    slowed: float = 0.0  # the delay a 429 or 503 asked for
    last_sent: float = float("-inf")  # when a request to it last went out
    starting: threading.Lock = field(default_factory=threading.Lock)

    def start(self, policy: CrawlPolicy) -> None:
        """Wait, in the thread about to connect, until the delay since the host's last
        request went out has passed: the scheduler plans the starts, this makes sure
        of them whatever the threads' own delays."""
        with self.starting:
            wait = self.last_sent + self.delay(policy) - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    def sent(self) -> None:
        self.last_sent = time.monotonic()

    def delay(self, policy: CrawlPolicy) -> float:
        return max(policy.min_delay, self.crawl_delay, self.slowed)


ROBOTS_TTL = 1800.0
"""Seconds a host's robots.txt is trusted: one reading serves a whole run (planning
and fetch), and a scheduled run half an hour later reads it again."""


class Hosts:
    """What a process remembers of each host between crawls: its robots.txt (for
    ROBOTS_TTL), the delay it asked for, and when it may be asked next, so that the
    fetch of a run waits after the same run's feed request. Crawls that share it run
    one after the other (the stages of a process do)."""

    def __init__(self) -> None:
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> _Host:
        with self._lock:
            host = self._hosts.get(name)
            # a robots.txt read is trusted for ROBOTS_TTL; one that could not be read is
            # asked again by the next crawl (the fetch after the planning of a run)
            stale = host is not None and (
                isinstance(host.robots, FetchFailed)
                or (host.robots is not None and time.monotonic() - host.robots_at > ROBOTS_TTL)
            )
            if host is None or stale:
                host = _Host(
                    name,
                    next_start=host.next_start if host else 0.0,
                    last_sent=host.last_sent if host else float("-inf"),
                )
                self._hosts[name] = host
            return host


@dataclass
class _Crawl:
    """One call of `Crawler.fetch`: its hosts, the requests in flight, the answers
    coming back from the pool's threads, and the outcomes so far."""

    settle: Callable[[Outcome], Outcome]
    hosts: list[_Host] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    done: queue.Queue[tuple[_Host, Request | None, int, object]] = field(
        default_factory=queue.Queue
    )
    in_flight: int = 0

    def record(self, outcome: Outcome) -> None:
        self.outcomes[outcome.url] = self.settle(outcome)


class Crawler:
    """Fetches lists of URLs under one policy. `hosts` is what it remembers of the
    hosts (a process keeps one: tasks/execution/resources.py); `log`, when given, receives a
    line per request made."""

    def __init__(
        self,
        policy: CrawlPolicy,
        log: Callable[[str], None] | None = None,
        hosts: Hosts | None = None,
    ) -> None:
        self.policy = policy
        self.client = Client(policy.client)
        self._robots_client = Client(
            ClientPolicy(
                user_agent=policy.client.user_agent,
                addresses=policy.client.addresses,
                max_bytes=ROBOTS_MAX_BYTES,
                connect_timeout=policy.client.connect_timeout,
                timeout=policy.client.timeout,
                max_redirects=policy.client.max_redirects,
                truncate=True,  # RFC 9309: at least 500 KiB read, the rest ignored
            )
        )
        self._log = log or (lambda line: None)
        self._hosts = hosts or Hosts()

    def fetch(
        self, requests: Iterable[Request], *, settle: Callable[[Outcome], Outcome] | None = None
    ) -> dict[str, Outcome]:
        """An outcome for every request (keyed by URL), each host fetched politely.
        `settle` is handed each outcome as it comes, and what it returns is kept: a
        caller that stores the answers elsewhere keeps no body in memory."""
        crawl = _Crawl(settle or (lambda outcome: outcome))
        for request in requests:
            self._enqueue(crawl, request)
        with ThreadPoolExecutor(max_workers=self.policy.max_connections) as pool:
            while crawl.in_flight or any(host.queue for host in crawl.hosts):
                now = time.monotonic()
                self._start_due(crawl, pool, now)
                timeout = self._next_wait(crawl, now)
                if crawl.in_flight == 0 and timeout is None:
                    continue
                self._take_answer(crawl, timeout)
        return crawl.outcomes

    def _enqueue(self, crawl: _Crawl, request: Request) -> None:
        """Queue `request` at its host; a URL that is not http(s) has its outcome at once."""
        if not request.url.lower().startswith(("http://", "https://")):
            scheme = request.url.split(":", 1)[0] if ":" in request.url else request.url
            crawl.record(
                Outcome(
                    request.url,
                    failure=FetchFailed(
                        "unsupported_scheme", f"{request.url}: {scheme!r} is not http or https"
                    ),
                )
            )
            return
        host = self._hosts.get(origin(request.url))
        host.queue.append((request, 0))
        if host not in crawl.hosts:
            crawl.hosts.append(host)

    def _start_due(self, crawl: _Crawl, pool: ThreadPoolExecutor, now: float) -> None:
        """Start what each host may be asked now (its robots.txt first), within the
        limits on requests in flight; a request robots.txt refuses is settled here."""
        for host in crawl.hosts:
            while (
                host.queue
                and crawl.in_flight < self.policy.max_connections
                and host.in_flight < self.policy.per_host
                and host.next_start <= now
            ):
                if host.robots is None:
                    if host.robots_asked:
                        break  # wait for robots.txt before anything else
                    host.robots_asked = True
                    job: tuple[Request | None, int] = (None, 0)
                else:
                    request, tries = host.queue.popleft()
                    refusal = self._refusal(host, request.url) or self._too_slow(host)
                    if refusal is not None:
                        crawl.record(Outcome(request.url, failure=refusal))
                        continue
                    job = (request, tries)
                host.in_flight += 1
                crawl.in_flight += 1
                host.next_start = now + host.delay(self.policy)
                pool.submit(self._run, host, *job, crawl.done)

    def _next_wait(self, crawl: _Crawl, now: float) -> float | None:
        """Seconds until a waiting host may be asked again; None when only an answer
        can let anything start."""
        if crawl.in_flight >= self.policy.max_connections:
            return None  # every connection is busy: the next answer frees one
        waits = [
            host.next_start - now
            for host in crawl.hosts
            if host.queue and host.in_flight < self.policy.per_host and host.robots is not None
        ]
        return max(0.0, min(waits)) if waits else None

    def _take_answer(self, crawl: _Crawl, timeout: float | None) -> None:
        """The next answer taken in (robots.txt read, or the request settled or queued
        again), unless `timeout` seconds pass first: a waiting host may be asked then."""
        try:
            host, request, tries, result = crawl.done.get(
                timeout=None if timeout is None else max(timeout, 0.001)
            )
        except queue.Empty:
            return
        host.in_flight -= 1
        crawl.in_flight -= 1
        if request is None:
            self._read_robots(host, result)
            return
        outcome = self._settle(host, request, tries + 1, result)
        if outcome is not None:
            crawl.record(outcome)

    def _run(self, host: _Host, request: Request | None, tries: int, done: queue.Queue) -> None:
        url = request.url if request is not None else host.origin + "/robots.txt"
        client = self.client if request is not None else self._robots_client
        host.start(self.policy)
        try:
            result: object = client.get(
                url,
                request.headers if request else None,
                on_send=host.sent,
                may_follow=None if request is None else self._may_follow(host),
            )
        except FetchFailed as error:
            result = error
        except Exception as error:  # a bug must not hang the scheduler
            result = FetchFailed("connection_failed", f"{type(error).__name__}: {error}")
        status = result.status if isinstance(result, Response) else result.reason  # type: ignore[union-attr]
        self._log(f"GET {url} -> {status}")
        done.put((host, request, tries, result))

    def _read_robots(self, host: _Host, result: object) -> None:
        """RFC 9309: rules when robots.txt is there, no rules when it is missing (4xx),
        nothing fetched from the host when it cannot be read (5xx, no connection)."""
        host.robots_at = time.monotonic()
        if isinstance(result, Response):
            if 200 <= result.status < 300:
                text = result.body.decode("utf-8-sig", "replace")
                host.robots = Protego.parse(text)
                host.crawl_delay = float(host.robots.crawl_delay(self.policy.agent) or 0.0)
            elif 400 <= result.status < 500 and result.status != 429:
                host.robots = Protego.parse("")
            else:
                host.robots = FetchFailed(
                    _status_reason(result.status),
                    f"{host.origin}/robots.txt answered {result.status}: "
                    "nothing is fetched from the host until it can be read",
                    transient=True,
                )
        else:
            assert isinstance(result, FetchFailed)
            host.robots = FetchFailed(
                result.reason,
                f"{host.origin}/robots.txt could not be read ({result.detail}): "
                "nothing is fetched from the host until it can be read",
                transient=result.transient,
            )

    def _refusal(self, host: _Host, url: str) -> FetchFailed | None:
        if isinstance(host.robots, FetchFailed):
            return host.robots
        assert host.robots is not None
        if not host.robots.can_fetch(url, self.policy.agent):
            return FetchFailed(
                "robots_disallowed",
                f"{host.origin}/robots.txt disallows {url} for {self.policy.agent}",
            )
        return None

    def _too_slow(self, host: _Host) -> FetchFailed | None:
        """A host whose robots.txt asks more than `max_wait` between requests gets one
        request a crawl; the rest wait for a later run."""
        delay = host.delay(self.policy)
        if delay <= self.policy.max_wait or host.last_sent == float("-inf"):
            return None
        if time.monotonic() - host.last_sent >= delay:
            return None
        return FetchFailed(
            "rate_limited",
            f"{host.origin} asks {delay:g} s between requests (robots.txt Crawl-delay): "
            "left for a later run",
            transient=True,
        )

    def _may_follow(self, host: _Host) -> Callable[[str], FetchFailed | None]:
        """The robots.txt check of a redirect hop on the same host (another host's
        robots.txt is not read for a redirect: see docs/sources.md)."""

        def check(url: str) -> FetchFailed | None:
            return self._refusal(host, url) if origin(url) == host.origin else None

        return check

    def _settle(self, host: _Host, request: Request, tries: int, result: object) -> Outcome | None:
        """The outcome of a request, or None when it goes back in its host's queue."""
        failure = result if isinstance(result, FetchFailed) else None
        response = result if isinstance(result, Response) else None
        transient = (failure is not None and failure.transient) or (
            response is not None and response.status in TRANSIENT_STATUS
        )
        if not transient:
            return Outcome(request.url, response, failure, tries)
        wait = failure.retry_after if failure else response.retry_after  # type: ignore[union-attr]
        if response is not None and response.status in (429, 503):
            # asked to slow down: twice the delay for the rest of the crawl
            host.slowed = min(self.policy.max_wait, 2 * host.delay(self.policy))
        backoff = self.policy.backoff * 2 ** (tries - 1) * (1 + random.random() / 2)
        wait = max(wait or 0.0, backoff)
        if tries > self.policy.retries or wait > self.policy.max_wait:
            return Outcome(request.url, response, failure, tries)
        host.next_start = max(host.next_start, time.monotonic() + wait)
        host.queue.appendleft((request, tries))
        return None


def _status_reason(status: int) -> str:
    """The quarantine reason of an HTTP status that is no page."""
    if status in (401, 403, 404, 410, 451):
        return f"http_{status}"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "http_error"


def describe_status(response: Response) -> FetchFailed | None:
    """Why a final answer gives no page (a 4xx, a 5xx, a 304 outside a conditional
    request), or None for a 2xx."""
    if 200 <= response.status < 300:
        return None
    transient = response.status in TRANSIENT_STATUS
    return FetchFailed(
        _status_reason(response.status),
        f"{response.final_url} answered HTTP {response.status}",
        transient=transient,
        retry_after=response.retry_after,
        redirects=response.redirects,
    )
