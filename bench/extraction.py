"""depeche's page extraction against trafilatura's defaults, measured on gold.

    python -m bench.extraction

On every page with gold (the reference corpus's html/ and more-html/ beside the
project, and the project's own small pages in tests/fixtures/pages/), both sides
are scored: the `with` segments found in the text, the `without` segments wrongly
present, the titles and dates right. depeche is scored through the function its
clean stage runs on an HTML item (`article_from_item`); trafilatura through
`trafilatura.extract` and `trafilatura.extract_metadata` with their defaults. Both
texts are normalized the same way before looking for segments.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

from schemas import Rejected
from tasks.stages.clean import article_from_item, normalize_text

PROJECT = Path(__file__).resolve().parents[1]
GOLD_FOLDERS = (
    PROJECT.parent / "shared" / "corpus" / "html",
    PROJECT.parent / "shared" / "corpus" / "more-html",
    PROJECT / "tests" / "fixtures" / "pages",
)


@dataclass(frozen=True)
class Page:
    path: Path
    gold: dict


def gold_pages(folders: tuple[Path, ...] = GOLD_FOLDERS) -> list[Page]:
    """Every page named in a gold.json of the folders (folders without one are skipped)."""
    pages = []
    for folder in folders:
        gold_file = folder / "gold.json"
        if not gold_file.is_file():
            continue
        for entry in json.loads(gold_file.read_text(encoding="utf-8")).values():
            pages.append(Page(folder / entry["file"], entry))
    return pages


@dataclass
class Found:
    """What one side extracted from one page."""

    text: str
    title: str | None
    date: str | None


def depeche(html: str) -> Found:
    try:
        article = article_from_item({"format": "html", "payload": html})
    except Rejected:
        return Found("", None, None)
    published = article["published_date"]
    return Found(article["text"], article["title"], published and published.isoformat())


def baseline(html: str) -> Found:
    text = trafilatura.extract(html) or ""
    meta = trafilatura.extract_metadata(html)
    title = meta.title if meta is not None else None
    published = meta.date if meta is not None else None
    return Found(normalize_text(text), title and normalize_text(title), published)


@dataclass
class Count:
    """Of `total` checks of one kind, how many came out `hits`."""

    hits: int = 0
    total: int = 0

    def add(self, hit: bool) -> bool:
        self.total += 1
        self.hits += hit
        return hit

    def __str__(self) -> str:
        return f"{self.hits}/{self.total}"


@dataclass
class Score:
    """One extractor on the pages: what it found of the gold, and its misses."""

    with_found: Count = field(default_factory=Count)
    without_present: Count = field(default_factory=Count)
    titles_right: Count = field(default_factory=Count)
    dates_right: Count = field(default_factory=Count)
    misses: list[str] = field(default_factory=list)

    def add(self, page: Page, found: Found) -> None:
        name, gold = page.path.name, page.gold
        for segment in gold.get("with", []):
            if not self.with_found.add(normalize_text(segment) in found.text):
                self.misses.append(f"{name}: missing {segment!r}")
        for segment in gold.get("without", []):
            if self.without_present.add(normalize_text(segment) in found.text):
                self.misses.append(f"{name}: has {segment!r}")
        title = gold.get("title")
        if title and not self.titles_right.add(found.title == normalize_text(title)):
            self.misses.append(f"{name}: title {found.title!r}")
        date = gold.get("date")
        if date and not self.dates_right.add(found.date == date):
            self.misses.append(f"{name}: date {found.date!r}, not {date}")

    def cells(self) -> list[str]:
        counts = (self.with_found, self.without_present, self.titles_right, self.dates_right)
        return [str(count) for count in counts]

    def at_least_as_good_as(self, other: Score) -> bool:
        return (
            self.with_found.hits >= other.with_found.hits
            and self.without_present.hits <= other.without_present.hits
            and self.titles_right.hits >= other.titles_right.hits
            and self.dates_right.hits >= other.dates_right.hits
        )

    @property
    def perfect(self) -> bool:
        return (
            self.with_found.hits == self.with_found.total
            and self.without_present.hits == 0
            and self.titles_right.hits == self.titles_right.total
            and self.dates_right.hits == self.dates_right.total
        )


def score(pages: list[Page]) -> tuple[Score, Score]:
    ours, theirs = Score(), Score()
    for page in pages:
        html = page.path.read_text(encoding="utf-8")
        ours.add(page, depeche(html))
        theirs.add(page, baseline(html))
    return ours, theirs


def table(ours: Score, theirs: Score) -> str:
    header = ["", "`with` found", "`without` present", "titles right", "dates right"]
    rows = [header, ["---"] * len(header)]
    rows.append(["depeche", *ours.cells()])
    rows.append([f"trafilatura {trafilatura.__version__} defaults", *theirs.cells()])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main() -> int:
    pages = gold_pages()
    if not pages:
        print("no page with gold found", file=sys.stderr)
        return 1
    groups = {
        "reference corpus (html/, more-html/)": [p for p in pages if PROJECT not in p.path.parents],
        "depeche's own pages (tests/fixtures/pages/)": [
            p for p in pages if PROJECT in p.path.parents
        ],
    }
    met = True
    for name, group in groups.items():
        if not group:
            continue
        ours, theirs = score(group)
        print(f"{name}: {len(group)} pages\n")
        print(table(ours, theirs))
        for side, found in (("depeche", ours), ("trafilatura", theirs)):
            if found.misses:
                print(f"\n{side} misses:")
                print("\n".join(f"  {miss}" for miss in found.misses))
        print()
        met = met and ours.perfect and ours.at_least_as_good_as(theirs)
    print(f"target (all right, at least as good as trafilatura on each count): {met}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
