"""The gender of the people an article names, as the text presents them, with its evidence.

Cues, strongest first: a title (`M.`, `Mme`), a gendered role or apposition (`la
ministre`, `le maire`, `professeure`), agreement in the attribution (`a-t-elle
expliqué`, `s'est dite déçue`), a pronoun resolved to the person (`elle a dit`),
then the first name. Textual cues that disagree leave the person `unknown`
(`gender_source` = `conflict`); the first name answers only when the text gives
no cue. A surname never answers.

First names: INSEE's *Fichier des prénoms* (Licence Ouverte / Etalab 2.0) as
aggregated by the GenderedNews project, shipped in tasks/nlp/reference/ with its
attribution. A name answers when at least `NAME_SHARE` of its bearers are of one
sex: at most 5% of the people a name answers for are then misread by it, the error
the gender figures may carry; `Camille` (27% male), `Claude` (88%) and absent names
answer nothing.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from schemas.tables import GENDER_SOURCES, GENDERS
from tasks.text.folding import folded

FEMALE, MALE, UNKNOWN = GENDERS
TITLE, ROLE, AGREEMENT, PRONOUN, FIRST_NAME, CONFLICT = GENDER_SOURCES
# shipped inside the package, so an installed depeche has it too
FIRST_NAMES = Path(__file__).resolve().parent / "reference" / "prenoms-insee.csv"
NAME_SHARE = 0.95


@dataclass(frozen=True)
class Cue:
    """One piece of evidence of a person's gender: what it says, and what kind it is."""

    gender: str  # female or male
    source: str  # one of GENDER_SOURCES but conflict


@dataclass(frozen=True)
class Verdict:
    gender: str  # female, male or unknown
    source: str | None  # the strongest cue's kind; conflict; None without any cue


NO_CUE = Verdict(UNKNOWN, None)


@functools.cache
def _bearers(path: Path = FIRST_NAMES) -> Mapping[str, tuple[float, int]]:
    """First name (lower case, and without accents) → (its male bearers, all its
    bearers)."""
    counts: dict[str, tuple[float, int]] = {}
    with path.open(encoding="utf-8", newline="") as rows:
        for row in csv.DictReader(rows, delimiter=";"):
            name, share, bearers = row["preusuel"], float(row["sexratio_prenom"]), int(row["n"])
            for key in dict.fromkeys((name, folded(name))):
                male, total = counts.get(key, (0.0, 0))
                counts[key] = (male + share * bearers, total + bearers)
    return counts


# a first name borne by fewer is too rare to tell a name from a word (`Alerte`)
COMMON_NAME_BEARERS = 1000


def is_common_first_name(word: str) -> bool:
    """Whether a word is a first name at least `COMMON_NAME_BEARERS` people bear."""
    return _bearers().get(word.lower(), (0.0, 0))[1] >= COMMON_NAME_BEARERS


@functools.cache
def first_names(path: Path = FIRST_NAMES) -> Mapping[str, str]:
    """First name (lower case, and without accents) → gender, for the names at least
    `NAME_SHARE` of whose bearers are of one sex."""
    genders: dict[str, str] = {}
    for key, (male, total) in _bearers(path).items():
        if male >= NAME_SHARE * total:
            genders[key] = MALE
        elif male <= (1 - NAME_SHARE) * total:
            genders[key] = FEMALE
    return genders


def by_first_name(name: str, names: Mapping[str, str] | None = None) -> str | None:
    """The gender the first word of a person's name gives (`Jean-Paul Delevoye` →
    male), or None; a single word is taken for a surname and gives nothing."""
    words = name.split()
    if len(words) < 2:
        return None
    names = first_names() if names is None else names
    first = words[0].casefold()
    for key in (first, folded(first), first.split("-")[0]):
        if key in names:
            return names[key]
    return None


def decide(cues: Iterable[Cue], name: str, names: Mapping[str, str] | None = None) -> Verdict:
    """One person's gender from every cue the text gives of them, else from the first
    name: the strongest kind of cue answers; cues of the text that disagree, nothing."""
    found = list(cues)
    if {cue.gender for cue in found} == {FEMALE, MALE}:
        return Verdict(UNKNOWN, CONFLICT)
    if found:
        strongest = min(found, key=lambda cue: GENDER_SOURCES.index(cue.source))
        return Verdict(strongest.gender, strongest.source)
    gender = by_first_name(name, names)
    return NO_CUE if gender is None else Verdict(gender, FIRST_NAME)


# A participle after the name agrees with the person (`Anne X s'est dite déçue`,
# `Gérald Darmanin s'est rendu à`), an apposition between them allowed.
_AGREEMENT = re.compile(
    r"(?:\s*,[^,.;:«»]{1,80},)?\s+(?:s'est|est|a été|était|avait été|sera)\s+"
    r"(?:dit|montré|déclaré|réjoui|félicité|inquiété|rendu|exprimé|élu|nommé|arrivé|"
    r"venu|allé|né|mort|décédé|interrogé|entendu|retrouvé|engagé|présenté|opposé)"
    r"(e?)\b"
)


def agreement(text: str, end: int) -> str | None:
    """The gender a participle agreeing with the name that ends at `end` gives."""
    match = _AGREEMENT.match(text, end)
    if match is None:
        return None
    return FEMALE if match.group(1) else MALE
