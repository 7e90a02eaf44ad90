"""What the web sources of a run list: their article links, with the hints that come
with them, and the validators that make the next look at an unchanged source cost
one `304 Not Modified`.

A source URL is asked with `If-None-Match` / `If-Modified-Since` from its last
answer (kept in the lake). Its kind is read from the answer's content, never from
its name or content type: an RSS, RSS 1.0 or Atom feed, a sitemap (its index
followed down to `sitemap_depth` levels, gzip or not, Google News or not), a list
of URLs, or an article page. A source that cannot be read is a problem reported by
name; the others go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tasks.web.client import Response
from tasks.web.crawl import Crawler, Outcome, Request, describe_status
from tasks.web.feeds import Entry, NotAListing, parse_listing, parse_url_list, sniff
from tasks.web.urls import canonical_url, host_of


def is_url(source: str) -> bool:
    """Whether a source is a URL (anything with a scheme but a Windows drive letter)
    rather than a path: `file:` and `ftp:` sources are URLs, refused by the check."""
    scheme, sep, _ = source.partition("://")
    return bool(sep) and scheme.isalpha() and len(scheme) > 1


@dataclass(frozen=True)
class SourceProblem:
    """A source that gave nothing this run, and why."""

    source: str
    reason: str
    detail: str


@dataclass
class Listed:
    """The article links of a run's web sources, keyed by canonical URL."""

    entries: dict[str, Entry] = field(default_factory=dict)
    listed_in: dict[str, str] = field(default_factory=dict)  # canonical URL → its source
    problems: list[SourceProblem] = field(default_factory=list)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # per source URL
    not_modified: Counter[str] = field(default_factory=Counter)  # 304s per host
    since_skipped: int = 0  # listed with a date before `since`

    def problem(self, source: str, reason: str, detail: str) -> None:
        """Note that `source` gave nothing this run, and why."""
        self.problems.append(SourceProblem(source, reason, detail))


def _conditional(state: dict[str, Any] | None) -> dict[str, str]:
    headers = {}
    if state and state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state and state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def list_sources(
    sources: list[str],
    crawler: Crawler,
    state: dict[str, dict[str, Any]],
    *,
    known: set[str],
    since: datetime | None = None,
    max_bytes: int,
    sitemap_depth: int = 2,
) -> Listed:
    """Ask every source (a level of sitemap indexes at a time, all hosts side by side)
    and gather what they list. `known` canonical URLs are not asked for again when
    given directly as a source; `since` drops entries dated before it."""
    listed = Listed(state={url: dict(value) for url, value in state.items()})
    level = [(source, 0) for source in dict.fromkeys(sources)]
    seen: set[str] = set()
    while level:
        asked = []
        for url, depth in level:
            if url in seen:
                continue
            seen.add(url)
            if canonical_url(url) in known:  # an article given directly, fetched before
                continue
            asked.append((url, depth))
        outcomes = crawler.fetch(
            Request(url, _conditional(listed.state.get(url))) for url, _ in asked
        )
        level = []
        for url, depth in asked:
            level += _read(url, depth, outcomes[url], listed, since, max_bytes, sitemap_depth)
    return listed


def _read(
    url: str,
    depth: int,
    outcome: Outcome,
    listed: Listed,
    since: datetime | None,
    max_bytes: int,
    sitemap_depth: int,
) -> list[tuple[str, int]]:
    """Take one source's answer into `listed`; the child sitemaps to ask next."""
    response = _answer(url, outcome, listed)
    if response is None:
        return []
    kind = sniff(response.body)
    if kind == "html":
        _add(listed, Entry(url=response.final_url, hint_source="page"), url, since)
        return []
    if kind == "urls":
        text = response.body.decode("utf-8", "replace")
        for link in parse_url_list(text, base=response.final_url):
            _add(listed, Entry(url=link, hint_source="list"), url, since)
        return []
    if kind not in ("xml", "gzip"):
        listed.problem(url, "not_a_feed", f"{url} is no feed, sitemap, URL list or page ({kind})")
        return []
    try:
        found = parse_listing(response.body, response.final_url, max_bytes=max_bytes)
    except NotAListing as error:
        listed.problem(url, error.reason, error.detail)
        return []
    for entry in found.entries:
        _add(listed, entry, url, since)
    return _child_sitemaps(found.sitemaps, depth, listed, since, sitemap_depth)


def _answer(url: str, outcome: Outcome, listed: Listed) -> Response | None:
    """A source's answer to read, its validators kept for the next look; None when
    there is nothing to read: a failure or an error status (a problem of the source),
    or a `304 Not Modified` (counted)."""
    response = outcome.response
    if response is None:
        assert outcome.failure is not None
        listed.problem(url, outcome.failure.reason, outcome.failure.detail)
        return None
    if response.status == 304:
        listed.not_modified[host_of(url)] += 1
        record = listed.state.setdefault(url, {})
        record.update(checked_at=_now(), status=304)
        record["not_modified"] = int(record.get("not_modified", 0)) + 1
        return None
    problem = describe_status(response)
    if problem is not None:
        listed.problem(url, problem.reason, problem.detail)
        return None
    listed.state[url] = {
        "etag": response.etag,
        "last_modified": response.last_modified,
        "checked_at": _now(),
        "status": response.status,
        "not_modified": int(listed.state.get(url, {}).get("not_modified", 0)),
    }
    return response


def _child_sitemaps(
    sitemaps: Iterable[tuple[str, datetime | None]],
    depth: int,
    listed: Listed,
    since: datetime | None,
    sitemap_depth: int,
) -> list[tuple[str, int]]:
    """The sitemaps a sitemap index at `depth` lists that are worth asking: modified
    since `since` and no deeper than `sitemap_depth` (deeper ones are a problem)."""
    children = []
    for child, lastmod in sitemaps:
        if since is not None and lastmod is not None and lastmod < since:
            continue  # a sitemap not modified since: none of its pages is newer
        if depth + 1 > sitemap_depth:
            listed.problem(child, "too_deep", f"sitemap index deeper than {sitemap_depth}")
            continue
        children.append((child, depth + 1))
    return children


def _add(listed: Listed, entry: Entry, source: str, since: datetime | None) -> None:
    if since is not None and entry.published is not None and entry.published < since:
        listed.since_skipped += 1
        return
    key = canonical_url(entry.url)
    if key not in listed.entries:
        listed.entries[key] = entry
        listed.listed_in[key] = source


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
