"""Planning: the items of a run's sources that no partition of the lake holds yet,
made into new partitions (one, or one per publication month for a backfill, each cut
to at most `partition_size` items), recorded in the lake before any stage runs."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tasks.execution.resources import current
from tasks.lake.storage import Lake
from tasks.records import WEB_ITEM, ItemKey, PartitionSpec
from tasks.settings import Settings
from tasks.sources import Listing, NewItem
from tasks.sources.files import FileSource, discover, read_items
from tasks.sources.rows import Item, sort_key
from tasks.sources.web import WebPlan, plan_web, web_history
from tasks.stages.clean import published_period
from tasks.text.dates import DateWindow, latest_date, plausible
from tasks.web.listing import SourceProblem, is_url


@dataclass
class PlanCounts:
    """What planning found in the sources."""

    found: int = 0
    new: int = 0
    outside_range: int = 0  # dated outside a backfill's window: left for later runs
    undated: int = 0  # no publication date, in a backfill: left for later runs
    retried: int = 0  # web pages that failed for a passing reason, tried again
    not_modified: int = 0  # web sources that answered 304: nothing new there


@dataclass
class Plan:
    """New partitions for the items of the sources that the lake does not hold yet."""

    partitions: list[PartitionSpec]
    counts: PlanCounts = field(default_factory=PlanCounts)
    problems: list[SourceProblem] = field(default_factory=list)  # web sources unread
    web_state: dict[str, dict[str, Any]] | None = None  # to record with the partitions
    not_modified: dict[str, int] = field(default_factory=dict)  # 304s per host


@dataclass(frozen=True)
class _Planned:
    """An item that planning found: its key, and when it was published (read for a
    backfill only: it costs the page's extraction)."""

    key: ItemKey
    period: tuple[date, str] | None


def plan_partitions(
    sources: list[str],
    *,
    known: set[ItemKey],
    max_bytes: int,
    first_seq: int,
    since: str | None = None,
    until: str | None = None,
    exclude: str | Path | None = None,
    web: WebPlan | None = None,
    partition_size: int | None = None,
    now: datetime | None = None,
) -> Plan:
    """The new items of `sources` (but for those under `exclude`), and the web pages
    of `web`, as new partitions: one, or one per publication month when a date range
    is given (items outside the range, or undated, are left for later runs); each
    split, in the items' order, into partitions of at most `partition_size` items.
    Dates are read as clean reads them of items fetched `now` (a placeholder date is
    no date: such an item is undated, never outside the range)."""
    web = web or WebPlan()
    files = FileSource(max_bytes, _item_files(sources, exclude))
    dated = since is not None or until is not None
    new = [_planned(found, now, dated) for found in _new_items([files, web], known)]
    counts = _counts(len(new), files, web)
    groups = _by_month(new, DateWindow.parse(since, until), counts) if dated else _one(new)
    partitions = [
        PartitionSpec(
            partition=_partition_name(sources, month, keys),
            seq=first_seq + offset,
            items=keys,
            fingerprint=_fingerprint(keys),
            sources=list(sources),
            since=since,
            until=until,
            month=month or None,
            **_web_pages(keys, web),
        )
        for offset, (month, keys) in enumerate(_cut(groups, partition_size))
    ]
    return Plan(partitions, counts, web.problems, web.state or None, dict(web.not_modified))


def _counts(planned: int, files: FileSource, web: WebPlan) -> PlanCounts:
    """What the listings found, and how many of the items planned are new (the others
    are web pages tried again)."""
    return PlanCounts(
        found=files.found + web.found,
        new=planned - len(web.attempts),
        retried=len(web.attempts),
        not_modified=sum(web.not_modified.values()),
    )


def _item_files(sources: list[str], exclude: str | Path | None) -> list[Path]:
    """The files of the sources that hold items (a `.urls` file lists web pages)."""
    paths = [source for source in sources if not is_url(source)]
    return [f for f in discover(paths, exclude=exclude) if f.suffix.lower() != ".urls"]


def _new_items(listings: Iterable[Listing], known: set[ItemKey]) -> Iterable[NewItem]:
    for listing in listings:
        yield from listing.new_items(known)


def _planned(found: NewItem, now: datetime | None, dated: bool) -> _Planned:
    """A new item with its publication period: a file's read as clean will read it
    (for a backfill only), a web page's as its listing gave it."""
    if found.item is not None:
        return _Planned(found.key, _item_period(found.item, now) if dated else None)
    return _Planned(found.key, _listed_period(found.listed_date, now))


def _one(new: list[_Planned]) -> dict[str, list[ItemKey]]:
    """Every new item in one group, when no date range is asked."""
    return {"": [planned.key for planned in new]} if new else {}


def _by_month(
    new: list[_Planned], window: DateWindow, counts: PlanCounts
) -> dict[str, list[ItemKey]]:
    """The new items in the window, grouped by their publication month (or year, for
    a date of that precision); the others counted, as undated or outside the range."""
    groups: dict[str, list[ItemKey]] = {}
    for planned in new:
        period = planned.period
        if period is None:
            counts.undated += 1
        elif not window.overlaps(*period):
            counts.outside_range += 1
        else:
            month = period[0].isoformat()[:7] if period[1] != "year" else str(period[0].year)
            groups.setdefault(month, []).append(planned.key)
    return groups


def _cut(groups: dict[str, list[ItemKey]], size: int | None) -> list[tuple[str, list[ItemKey]]]:
    """Each group's keys, in order, in runs of at most `size`: the same items, the
    same partitions."""
    return [
        (month, chunk)
        for month, members in sorted(groups.items())
        for chunk in _chunks(sorted(members, key=sort_key), size)
    ]


def _chunks(keys: list[ItemKey], size: int | None) -> list[list[ItemKey]]:
    """`keys` in runs of at most `size`, in order: the same items, the same chunks."""
    size = size or len(keys) or 1
    return [keys[start : start + size] for start in range(0, len(keys), size)]


def _fingerprint(keys: list[ItemKey]) -> str:
    return hashlib.sha256(json.dumps(keys).encode()).hexdigest()


def _partition_name(sources: list[str], month: str, keys: list[ItemKey]) -> str:
    """The first source's name, the month (for a backfill) and the items' digest."""
    stem, digest = _stem(sources), _fingerprint(keys)[:10]
    return f"{stem}-{month}-{digest}" if month else f"{stem}-{digest}"


def _stem(sources: list[str]) -> str:
    first = sources[0] if sources else "batch"
    if is_url(first):
        first = urlsplit(first).hostname or "web"
    path = Path(first)
    stem = re.sub(r"[^a-z0-9]+", "-", (path.stem or path.name or "batch").lower())
    return stem[:40].strip("-") or "batch"


def _web_pages(keys: list[ItemKey], web: WebPlan) -> dict[str, Any]:
    """What a partition records of its web pages: their hints, and the failures of
    those tried again."""
    urls = [key[0] for key in keys if key[2] == WEB_ITEM]
    return {
        "hints": {url: web.hints[url] for url in urls},
        "attempts": {url: web.attempts[url] for url in urls if url in web.attempts},
    }


def _item_period(item: Item, now: datetime | None) -> tuple[date, str] | None:
    """When a file item was published, read as clean will read it of an item fetched
    `now` (for a backfill: it reads dates as clean will)."""
    if item.rejected is not None:
        return None
    return published_period(item.format, item.text, now)


def _listed_period(published: datetime | None, now: datetime | None) -> tuple[date, str] | None:
    latest = latest_date(now) if now is not None else None
    if published is None or not plausible(published.date(), latest):
        return None
    return published.date(), "day"


def _split_sources(sources: list[str], lake: Lake) -> tuple[list[str], list[str], list[Path]]:
    """The paths, the web sources, and the `.urls` files among the paths' files."""
    paths = [source for source in sources if not is_url(source)]
    urls = [source for source in sources if is_url(source)]
    lists = [f for f in discover(paths, exclude=lake.root) if f.suffix.lower() == ".urls"]
    return paths, urls, lists


def plan_for_lake(
    lake: Lake,
    sources: list[str],
    settings: Settings,
    since: str | None,
    until: str | None,
    *,
    log: Callable[[str], None] | None = None,
) -> Plan:
    """The partitions a run on `sources` would add to the lake (nothing is written but
    web requests are made: feeds and sitemaps are asked what they list); the lake's
    own files are no source, even when it is inside one."""
    _, urls, lists = _split_sources(sources, lake)
    web = None
    if urls or lists or lake.exists():
        start = DateWindow.parse(since, None).start if since else None
        web = plan_web(
            lake,
            urls,
            lists,
            settings,
            hosts=current().web_hosts() if urls else None,  # only a crawl needs them
            since=None if start is None else datetime.combine(start, time(), UTC),
            log=log,
        )
    return plan_partitions(
        sources,
        known=lake.known_items(),
        max_bytes=settings.max_bytes,
        first_seq=lake.next_seq(),
        since=since,
        until=until,
        exclude=lake.root,
        web=web,
        partition_size=settings.partition_size,
        now=datetime.now(UTC),
    )


def count_if_nothing_new(lake: Lake, sources: list[str], settings: Settings) -> PlanCounts | None:
    """What planning would find when the lake holds every item of the sources; None as
    soon as one is new, or when a web source must be asked (or a web page retried)."""
    paths, urls, lists = _split_sources(sources, lake)
    if urls or lists or web_history(lake).waiting(settings.fetch_attempts):
        return None
    known = lake.known_items()
    found = 0
    for file in discover(paths, exclude=lake.root):
        for item in read_items(file, settings.max_bytes):
            if item.key not in known:
                return None
            found += 1
    return PlanCounts(found=found)


def record_plan(lake: Lake, plan: Plan) -> None:
    """Record the planned partitions in the lake, then the web sources' validators: a
    run that dies between the two asks the sources again, and finds their pages
    planned already."""
    for spec in plan.partitions:
        lake.write_partition(spec)
    if plan.web_state is not None:
        lake.web.write_sources(plan.web_state)
