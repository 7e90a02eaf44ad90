"""What fetching from the web costs: the fetch stage against its politeness floor,
memory next to a gzip bomb, and what a rerun on unchanged feeds asks.

    python -m bench.web [--pages 400] [--hosts 8] [--latency 0.1] [--delay 0.5]

Every host is a real HTTP server on its own loopback address (127.0.0.1, 127.0.0.2,
…: tests/websites.py) that answers after `--latency` seconds and lists its pages in
one RSS feed with an ETag. The pages are the French pages of data/sample/html and
the shared corpus, each with a paragraph of its own so that none is a duplicate.

1. `depeche run <feeds>` (the whole pipeline, a subprocess): the fetch stage's
   seconds from its manifest against the politeness floor, the busiest host's pages
   times `--delay`; the pages fetched (raw rows); the servers' logs for the shortest
   gap between two requests to one host.
2. The same `depeche run` again: what the servers were asked (feeds with their
   validators, answered 304; no page).
3. Planning and the fetch stage alone, each in a fresh process (two side by side),
   once on the feeds and once with a 1 GiB gzip bomb (about 1 MB on the wire, made
   once and kept in the temporary folder) listed among the pages: the processes'
   peak resident memory (VmHWM) and what became of the bomb. Then the client alone
   on the bomb, its Python allocations traced, against its `max_bytes` cap.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # tests/websites.py: the loopback servers of the tests

from tests.websites import Answer, Asked, Site, gzip_bomb, rss  # noqa: E402

if TYPE_CHECKING:
    from bench.__main__ import Row
    from tasks.records import Manifest

DEPECHE = str(Path(sys.executable).with_name("depeche"))
PAGE_FOLDERS = (PROJECT / "data" / "sample" / "html", PROJECT.parent / "shared" / "corpus" / "html")
FEED, BOMB_FEED, BOMB, ROBOTS = "/rss.xml", "/rss-bombe.xml", "/bombe.html", "/robots.txt"
ALLOWED = "127.0.0.0/8"
MIB = 2**20
# Seconds a server may note a request late, or early, on a busy machine: the client's
# and the server's threads wait for the GIL and the cores before the request is logged.
JITTER = 0.05


# -- the sites -----------------------------------------------------------------------


def page_templates() -> list[bytes]:
    return [p.read_bytes() for folder in PAGE_FOLDERS for p in sorted(folder.glob("*.html"))]


def unique_page(template: bytes, host: int, number: int) -> bytes:
    """The page with a paragraph of its own at the end of the article, so that clean
    keeps every page (no two texts alike)."""
    note = (
        f"<p>Précision de la rédaction (dépêche {host}-{number}) : cet article a été "
        f"complété le {number % 28 + 1} mai à {number % 24} h {number % 60:02d}, après "
        f"vérification auprès de la préfecture du département {10 + host}.</p>"
    ).encode()
    for mark in (b"</article>", b"</main>", b"</body>"):
        at = template.rfind(mark)
        if at >= 0:
            return template[:at] + note + template[at:]
    return template + note


def cached_bomb(size: int) -> bytes:
    """`size` bytes of zeros, gzip-compressed: made once, kept in the temporary folder."""
    path = Path(tempfile.gettempdir()) / f"depeche-bench-bomb-{size >> 20}m.gz"
    if path.exists():
        with gzip.open(path, "rb") as check:  # a torn file is made again
            check.seek(size - 1)
            if check.read(1) == b"\0":
                return path.read_bytes()
    bomb = gzip_bomb(size)
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(bomb)
    partial.replace(path)
    return bomb


def feed_route(body: bytes, etag: str, latency: float) -> Callable[[Asked], Answer]:
    """A feed answering 304 to a request that carries its ETag, after `latency` s."""
    modified = formatdate(0, usegmt=True)

    def answer(asked: Asked) -> Answer:
        if asked.headers.get("if-none-match") == etag:
            return Answer(304, headers={"ETag": etag}, delay=latency, content_type=None)
        return Answer(
            body=body,
            headers={"ETag": etag, "Last-Modified": modified},
            delay=latency,
            content_type="application/rss+xml; charset=utf-8",
        )

    return answer


class Newsroom:
    """`hosts` sites sharing `pages` pages round robin, each with its robots.txt and
    its feed; the first also lists a gzip bomb in a second feed."""

    def __init__(self, pages: int, hosts: int, latency: float, bomb: bytes) -> None:
        self.sites = [Site(f"127.0.0.{n}") for n in range(1, hosts + 1)]
        self.pages: dict[str, list[str]] = {site.host: [] for site in self.sites}
        templates = page_templates()
        robots = b"User-agent: *\nDisallow: /prive/\n"
        for index in range(pages):
            site, number = self.sites[index % hosts], index // hosts
            path = f"/2026/05/depeche-{number:04d}.html"
            body = unique_page(templates[index % len(templates)], index % hosts + 1, number)
            site.routes[path] = Answer(body=body, delay=latency)
            self.pages[site.host].append(path)
        for n, site in enumerate(self.sites):
            site.routes[ROBOTS] = Answer(body=robots, delay=latency, content_type="text/plain")
            links = [
                (path, f"Dépêche {k} de {site.host}", formatdate(1_777_000_000 + 600 * k))
                for k, path in enumerate(self.pages[site.host])
            ]
            site.routes[FEED] = feed_route(rss(site, links), f'"feed-{n}"', latency)
            if n == 0:
                bomb_link = (BOMB, "Une page qui explose", formatdate(1_777_000_000))
                site.routes[BOMB_FEED] = feed_route(
                    rss(site, [*links, bomb_link]), f'"feed-bomb-{n}"', latency
                )
                site.routes[BOMB] = Answer(
                    body=bomb, headers={"Content-Encoding": "gzip"}, delay=latency
                )

    def feeds(self, *, bomb: bool = False) -> list[str]:
        return [
            site.url(BOMB_FEED if bomb and n == 0 else FEED) for n, site in enumerate(self.sites)
        ]

    def mark(self) -> list[int]:
        """Where each site's log stands, to read what one run asked."""
        return [len(site.asked()) for site in self.sites]

    def asked_since(self, mark: list[int]) -> dict[str, list[Asked]]:
        pairs = zip(self.sites, mark, strict=True)
        return {site.host: site.asked()[start:] for site, start in pairs}

    def close(self) -> None:
        for site in self.sites:
            site.close()


def is_page(path: str) -> bool:
    return path not in (FEED, BOMB_FEED, ROBOTS)


def shortest_gap(asked: dict[str, list[Asked]]) -> float:
    """The shortest time between two requests to one host, as the servers saw them."""
    gaps = [
        later.at - earlier.at
        for requests in asked.values()
        for earlier, later in itertools.pairwise(requests)
    ]
    return min(gaps) if gaps else float("inf")


# -- the runs ------------------------------------------------------------------------


def depeche_run(feeds: list[str], lake: Path, delay: float, env: dict[str, str]) -> float:
    """`depeche run` on the feeds: its wall time; its output when it fails."""
    args = [
        DEPECHE, "run", *feeds, "--lake", str(lake),
        "--allow-private-network", ALLOWED, "--min-delay", str(delay),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        args, cwd=PROJECT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"depeche run exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return seconds


def fetch_manifest(lake: Path) -> tuple[Manifest, int]:
    """The fetch stage's manifest of the lake's only partition, and its raw rows."""
    from schemas import RAW
    from tasks.lake.storage import Lake

    store = Lake(lake)
    [spec] = store.partitions()
    manifest = store.read_manifest("fetch", spec.partition)
    assert manifest is not None, f"no fetch manifest for {spec.partition}"
    return manifest, store.read(RAW, spec.partition).num_rows


def fetch_alone(lake: Path, feeds: list[str], delay: float) -> dict[str, object]:
    """Planning and the fetch stage in this process (as `depeche run` does them), and
    what they came to: peak memory, the quarantine's reasons, raw rows, seconds."""
    from tasks import planning
    from tasks.contract import run_stage
    from tasks.execution.resources import current
    from tasks.lake.storage import Lake
    from tasks.settings import Settings
    from tasks.stages.registry import BY_NAME

    store = Lake(lake)
    settings = Settings(min_delay=delay, allow_private_network=[ALLOWED])
    plan = planning.plan_for_lake(store, feeds, settings, None, None)
    planning.record_plan(store, plan)
    [spec] = plan.partitions
    stage = BY_NAME["fetch"]
    key = stage.key(store, spec.partition, settings)
    report = run_stage(store, stage, spec.partition, settings, key, current())
    manifest = store.read_manifest("fetch", spec.partition)
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return {
        "peak_bytes": peak * 1024,
        "status": str(report.status),
        "raw_rows": report.rows_out,
        "reasons": manifest.quarantine_reasons if manifest else {},
        "seconds": report.seconds,
        "gate_seconds": manifest.gate_seconds if manifest else 0.0,
    }


def bomb_traced(url: str) -> tuple[int, str, int]:
    """The client alone on the bomb, in this process: the Python memory it allocates
    (tracemalloc's peak), its quarantine reason, and its cap."""
    from tasks.settings import Settings
    from tasks.sources.web import crawl_policy
    from tasks.web.client import Client, FetchFailed

    policy = crawl_policy(Settings(allow_private_network=[ALLOWED])).client
    client = Client(policy)
    tracemalloc.start()
    try:
        client.get(url)
        reason = "accepted"
    except FetchFailed as failure:
        reason = failure.reason
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, reason, policy.max_bytes


def fetch_alone_side_by_side(
    work: Path, runs: dict[str, list[str]], delay: float, env: dict[str, str]
) -> dict[str, dict]:
    """`fetch_alone` for each named list of feeds, each in a fresh process, all at once."""

    def start(name: str, feeds: list[str]) -> subprocess.Popen:
        lake = str(work / f"lake-{name}")
        args = [sys.executable, "-m", "bench.web", "--fetch-alone", lake, "--delay", str(delay)]
        return subprocess.Popen(
            [*args, *feeds],
            cwd=PROJECT, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    processes = {name: start(name, feeds) for name, feeds in runs.items()}
    results = {}
    for name, process in processes.items():
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"fetch alone ({name}) failed:\n{out}\n{err}")
        results[name] = json.loads(out.strip().splitlines()[-1])
    return results


# -- the measures --------------------------------------------------------------------


@dataclass
class Seen:
    """What the runs came to: the servers' logs of the first run and of the rerun
    (per host), their wall times, planning and fetch alone without and with the bomb,
    and the client alone on the bomb."""

    first: dict[str, list[Asked]]
    again: dict[str, list[Asked]]
    first_seconds: float
    again_seconds: float
    alone: dict[str, dict]
    traced: int  # tracemalloc's peak, bytes
    traced_reason: str
    cap: int  # the client's max_bytes

    @property
    def first_pages(self) -> Counter[tuple[str, str]]:
        """The requests of the first run per (host, page)."""
        return Counter(
            (host, a.path) for host, asked in self.first.items() for a in asked if is_page(a.path)
        )

    @property
    def again_paths(self) -> Counter[str]:
        """The requests of the rerun per path."""
        return Counter(a.path for requests in self.again.values() for a in requests)


def observe(args: argparse.Namespace, work: Path, newsroom: Newsroom) -> Seen:
    """Two `depeche run`s on the newsroom's feeds (into work/lake), planning and fetch
    alone side by side, then the client alone on the bomb."""
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    lake = work / "lake"
    first_mark = newsroom.mark()
    first_seconds = depeche_run(newsroom.feeds(), lake, args.delay, env)
    first = newsroom.asked_since(first_mark)
    second_mark = newsroom.mark()
    again_seconds = depeche_run(newsroom.feeds(), lake, args.delay, env)
    again = newsroom.asked_since(second_mark)
    alone = fetch_alone_side_by_side(
        work,
        {"feeds": newsroom.feeds(), "bomb": newsroom.feeds(bomb=True)},
        args.delay,
        env,
    )
    traced, traced_reason, cap = bomb_traced(newsroom.sites[0].url(BOMB))
    return Seen(first, again, first_seconds, again_seconds, alone, traced, traced_reason, cap)


def print_runs(seen: Seen, manifest: Manifest) -> None:
    """What each run did, in words, before the table."""
    first, first_pages = seen.first, seen.first_pages
    print(
        f"depeche run (whole pipeline): first {seen.first_seconds:.0f} s, "
        f"rerun {seen.again_seconds:.0f} s"
    )
    print(
        f"fetch stage: {manifest.status}, {manifest.rows_in} in, {manifest.rows_out} out, "
        f"quarantine {manifest.quarantine_reasons or 'empty'}; "
        f"{manifest.seconds:.1f} s of which gate {manifest.gate_seconds:.1f} s"
    )
    print(
        f"first run asked: {sum(first_pages.values())} pages ({len(first_pages)} distinct), "
        f"robots.txt {sum(1 for r in first.values() for a in r if a.path == ROBOTS)}, "
        f"feeds {sum(1 for r in first.values() for a in r if a.path == FEED)}"
    )
    print(f"rerun asked: {dict(seen.again_paths)}")
    for name, result in seen.alone.items():
        print(
            f"plan + fetch stage alone ({name}): {result['status']}, {result['raw_rows']} raw "
            f"rows, quarantine {result['reasons'] or 'empty'}, {result['seconds']:.1f} s (gate, "
            f"GX loaded cold: {result['gate_seconds']:.1f} s), "
            f"VmHWM {result['peak_bytes'] / MIB:.0f} MiB"
        )
    print()


def measure(args: argparse.Namespace, work: Path) -> list[Row]:
    bomb = cached_bomb(args.bomb_mib * MIB)
    newsroom = Newsroom(args.pages, args.hosts, args.latency, bomb)
    try:
        seen = observe(args, work, newsroom)
    finally:
        newsroom.close()
    manifest, raw_rows = fetch_manifest(work / "lake")
    busiest = max(len(paths) for paths in newsroom.pages.values())
    print_runs(seen, manifest)
    return [
        *fetch_rows(args, seen, manifest, raw_rows, busiest),
        *politeness_rows(args, seen),
        *memory_rows(args, seen, len(bomb)),
        *rerun_rows(args, seen),
    ]


def row(measure: str, depeche: str, baseline: str, ratio: float, target: str, met: bool) -> Row:
    """A row of the table."""
    # bench.__main__ loads spaCy for its baseline: the --fetch-alone child, whose peak
    # memory is measured, must not
    from bench.__main__ import Row

    return Row(measure, depeche, baseline, ratio, target, met)


def fetch_rows(
    args: argparse.Namespace, seen: Seen, manifest: Manifest, raw_rows: int, busiest: int
) -> list[Row]:
    """The first run's fetch stage: its seconds against the politeness floor (the
    busiest host's pages × the delay), and the pages it fetched."""
    floor = busiest * args.delay
    return [
        row(
            f"fetch stage, seconds ({args.pages} pages, {args.hosts} hosts, "
            f"{args.latency:g} s latency, {args.delay:g} s delay)",
            f"{manifest.seconds:.1f}",
            f"{floor:.1f} floor ({busiest} pages × {args.delay:g} s)",
            manifest.seconds / floor,
            "≤ 1.2",
            manifest.seconds / floor <= 1.2,
        ),
        row(
            "pages fetched (raw rows)",
            f"{raw_rows}",
            f"{args.pages} listed",
            raw_rows / args.pages,
            f"= {args.pages}",
            raw_rows == args.pages,
        ),
    ]


def politeness_rows(args: argparse.Namespace, seen: Seen) -> list[Row]:
    """How the first run asked: each page once, no host faster than the delay."""
    first_pages = seen.first_pages
    most = max(first_pages.values(), default=0)
    gap = shortest_gap(seen.first)
    return [
        row(
            "first run, requests per page",
            f"{most} at most",
            "1",
            most,
            "= 1",
            len(first_pages) == args.pages and max(first_pages.values()) == 1,
        ),
        row(
            "shortest gap between two requests to one host (server clock)",
            f"{gap:.3f} s",
            f"{args.delay:g} s min_delay",
            gap / args.delay,
            f"≥ {args.delay - JITTER:g} s",
            gap >= args.delay - JITTER,
        ),
    ]


def memory_rows(args: argparse.Namespace, seen: Seen, bomb_bytes: int) -> list[Row]:
    """Memory next to the bomb: planning and fetch alone with it listed against
    without, and the client alone against its cap."""
    with_bomb, without = seen.alone["bomb"], seen.alone["feeds"]
    extra = (with_bomb["peak_bytes"] - without["peak_bytes"]) / MIB
    refused = with_bomb["reasons"].get("too_large", 0) == 1
    traced, cap = seen.traced, seen.cap
    return [
        row(
            f"peak RSS (VmHWM), plan + fetch stage alone, with a {args.bomb_mib} MiB gzip "
            f"bomb ({bomb_bytes / MIB:.1f} MiB) listed: refused as too_large",
            f"{with_bomb['peak_bytes'] / MIB:.0f} MiB, {'yes' if refused else 'NO'}",
            f"{without['peak_bytes'] / MIB:.0f} MiB without",
            with_bomb["peak_bytes"] / without["peak_bytes"],
            "≤ +50 MiB, too_large",
            refused and extra <= 50,
        ),
        row(
            "client alone, Python memory while refusing the bomb (tracemalloc peak)",
            f"{traced / MIB:.1f} MiB, {seen.traced_reason}",
            f"{cap / MIB:.1f} MiB max_bytes",
            traced / cap,
            "≤ max_bytes + 1 MiB",
            seen.traced_reason == "too_large" and traced <= cap + MIB,
        ),
    ]


def rerun_rows(args: argparse.Namespace, seen: Seen) -> list[Row]:
    """The rerun on unchanged feeds: no page asked again, each feed answered 304 to
    its ETag, robots.txt read at most once per host."""
    again_paths = seen.again_paths
    first_total = sum(seen.first_pages.values())
    again_pages = sum(n for path, n in again_paths.items() if is_page(path))
    feeds_304 = sum(
        1
        for n, requests in enumerate(seen.again.values())
        for a in requests
        if a.path == FEED and a.headers.get("if-none-match") == f'"feed-{n}"'
    )
    return [
        row(
            "rerun on unchanged feeds, page requests",
            f"{again_pages}",
            f"{first_total} first run",
            again_pages / max(1, first_total),
            "= 0",
            again_pages == 0,
        ),
        row(
            "rerun, feeds asked with their ETag (answered 304)",
            f"{feeds_304} of {again_paths[FEED]}",
            f"{args.hosts} feeds",
            feeds_304 / args.hosts,
            f"= {args.hosts}",
            feeds_304 == again_paths[FEED] == args.hosts,
        ),
        row(
            "rerun, robots.txt requests",
            f"{again_paths[ROBOTS]}",
            f"{args.hosts} hosts",
            again_paths[ROBOTS] / args.hosts,
            "≤ 1 per host",
            again_paths[ROBOTS] <= args.hosts,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--hosts", type=int, default=8, help="at most 254")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--delay", type=float, default=0.5, help="--min-delay of the runs")
    parser.add_argument("--bomb-mib", type=int, default=1024, help="the bomb, decompressed")
    parser.add_argument("--fetch-alone", metavar="LAKE", help=argparse.SUPPRESS)
    parser.add_argument("feeds", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fetch_alone:  # the child process of fetch_alone_side_by_side
        print(json.dumps(fetch_alone(Path(args.fetch_alone), args.feeds, args.delay)))
        return

    from bench.__main__ import print_report  # loads spaCy: see `row`

    with tempfile.TemporaryDirectory(prefix="depeche-bench-web-") as folder:
        rows = measure(args, Path(folder))
    print_report(rows)


if __name__ == "__main__":
    main()
