"""depeche's gender of people and countries of places against gold (bench/gold/voices/).

    python -m bench.voices [--show-misses]

Each set's texts go through depeche's own fetch, clean and annotate (as in
bench.quotes); then, per set:

- **gender**, over the gold people whose gender the text or their name tells:
  accuracy on the people depeche gives a gender (`gender` of the entities bearing
  their name), coverage (the share it gives one), the same for the people quoted,
  and the same figures for a baseline that reads the first name only (INSEE's
  first names, tasks/nlp/gender.py's threshold);
- **places**, over the gold `LOC` mentions: the share of places with a country
  given the right `country`, coverage, and the share of demonyms and non-places
  given no country (kept out).

The targets, on the test part: gender accuracy ≥ 0.95, coverage of quoted speakers
≥ 0.85; country right ≥ 0.95, non-places kept out ≥ 0.9.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field

from bench.quotes import CORPUS, PROJECT, by_source, depeche_tables, texts_of
from tasks.execution.resources import Resources
from tasks.nlp.gender import UNKNOWN, by_first_name

GOLD = PROJECT / "bench" / "gold" / "voices"
# each part's texts (bench/gold/voices/README.md): the split the quote gold had when
# this gold was written; the quote gold's sets have moved on since
FOLDERS = {
    "development": (CORPUS / "wire", CORPUS / "html", CORPUS / "more-html"),
    "test": (CORPUS / "extra-html", PROJECT / "data" / "sample"),
}


@dataclass
class Tally:
    total: int = 0
    answered: int = 0
    right: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, gold: str, found: str | None, what: str) -> None:
        self.total += 1
        if found is None or found == UNKNOWN:
            self.misses.append(f"none    {what}: {gold}")
            return
        self.answered += 1
        self.right += found == gold
        if found != gold:
            self.misses.append(f"wrong   {what}: {found} for {gold}")

    @property
    def accuracy(self) -> float:
        return self.right / self.answered if self.answered else 0.0

    @property
    def coverage(self) -> float:
        return self.answered / self.total if self.total else 0.0


def _key(name: str) -> str:
    return re.sub(r"\W+", " ", name).strip().casefold()


def read(name: str) -> list[dict]:
    rows = (json.loads(line) for line in (GOLD / f"{name}.jsonl").open(encoding="utf-8"))
    return list(rows)


def genders_found(entities: dict[str, list[dict]]) -> dict[tuple[str, str], str]:
    """(source, canonical name) → the gender depeche gives that person."""
    found = {}
    for source, rows in entities.items():
        for row in rows:
            gender = row.get("gender")
            if gender is not None:
                found[(source, _key(row["canonical"]))] = gender
    return found


def score_people(gold: list[dict], entities: dict[str, list[dict]]) -> dict[str, Tally]:
    found = genders_found(entities)
    tallies = {name: Tally() for name in ("people", "quoted", "people, first name only")}
    tallies["quoted, first name only"] = Tally()
    for person in gold:
        if person["gender"] == UNKNOWN:
            continue
        what = f"{person['source']}: {person['name']}"
        ours = found.get((person["source"], _key(person["name"])))
        baseline = by_first_name(person["name"])
        tallies["people"].add(person["gender"], ours, what)
        tallies["people, first name only"].add(person["gender"], baseline, what)
        if person["quoted"]:
            tallies["quoted"].add(person["gender"], ours, what)
            tallies["quoted, first name only"].add(person["gender"], baseline, what)
    return tallies


def score_places(gold: list[dict], entities: dict[str, list[dict]]) -> dict[str, Tally]:
    found = {
        (source, row["start_char"], row["end_char"]): row.get("country")
        for source, rows in entities.items()
        for row in rows
    }
    tallies = {"places": Tally(), "demonyms and non-places": Tally()}
    for mention in gold:
        what = f"{mention['source']}: {mention['text']!r}"
        ours = found.get((mention["source"], mention["start_char"], mention["end_char"]))
        if mention["kind"] == "place" and mention["country"] is not None:
            tallies["places"].add(mention["country"], ours, what)
        elif mention["kind"] != "place":
            # kept out: no country is the right answer
            tallies["demonyms and non-places"].add("out", "out" if ours is None else ours, what)
    return tallies


def evaluate(which: str, resources: Resources) -> tuple[dict[str, Tally], list[str]]:
    """Every tally of one set, and the sources whose text drifted from the gold's."""
    result, names, hashes = depeche_tables(texts_of(FOLDERS[which]), resources)
    entities = by_source(result.entities, names)
    people = [p for p in read("people") if p["set"] == which]
    places = [p for p in read("places") if p["set"] == which]
    drifted = sorted(
        {g["source"] for g in people + places if hashes.get(g["source"]) != g["text_sha256"]}
    )
    return {**score_people(people, entities), **score_places(places, entities)}, drifted


def table(tallies: dict[str, Tally]) -> str:
    lines = [
        "| scored | gold | answered | coverage | right | accuracy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, t in tallies.items():
        lines.append(
            f"| {name} | {t.total} | {t.answered} | {t.coverage:.3f} | {t.right} "
            f"| {t.accuracy:.3f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--show-misses", action="store_true", help="list every miss of the development part"
    )
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"reference corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    resources = Resources()
    for which in FOLDERS:
        tallies, drifted = evaluate(which, resources)
        if drifted:
            print(f"{which}: gold drifted from the texts of: {', '.join(drifted)}", file=sys.stderr)
            return 1
        print(f"\n{which}")
        print(table(tallies))
        if args.show_misses and which == "development":  # the test part is never tuned on
            for name, t in tallies.items():
                print("\n".join(f"{name}: {miss}" for miss in t.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
