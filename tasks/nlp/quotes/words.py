"""The words the quote rules look for: reporting verbs, nouns of people, groups,
documents and media, and the small words around them, read from words.toml beside
this module (data, not code: a list grows there)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tasks.text.folding import folded

WORDS_FILE = "words.toml"
_LISTS = tomllib.loads(Path(__file__).with_name(WORDS_FILE).read_text(encoding="utf-8"))


def _word_set(name: str) -> frozenset[str]:
    """A list of words of words.toml: one string, split on white space."""
    return frozenset(_LISTS[name].split())


FIRST_GROUP: list[str] = _LISTS["first_group"].split()  # in order: a form's lemma is its last
PRESENT_STEMS: dict[str, str] = _LISTS["present_stems"]
IRREGULAR: dict[str, list[str]] = _LISTS["irregular"]  # lemma: [finite forms, participle]
SUBJECTS: tuple[str, ...] = tuple(_LISTS["subjects"].split())
OPINION = _word_set("opinion")
QUALIFYING = _word_set("qualifying")
OBSERVING = _word_set("observing")
BEFORE_OBJECT_PRONOUN = _word_set("before_object_pronoun")
AUXILIARIES = _word_set("auxiliaries")
ADVERBS = _word_set("adverbs")
INDEFINITE = _word_set("indefinite")
POSSESSIVES = _word_set("possessives")
PLURAL_PRONOUNS = _word_set("plural_pronouns")
DEFINITE = _word_set("definite")
NAMING_DETERMINERS = _word_set("naming_determiners")
ORDINALS = _word_set("ordinals")
ORG_NOUNS = _word_set("org_nouns")
NAMED_BY_KIND = _word_set("named_by_kind")
DOCUMENT_NOUNS = _word_set("document_nouns")
GROUP_NOUNS = _word_set("group_nouns")
MEDIA_NOUNS = _word_set("media_nouns")
MEDIA_NAMES = frozenset(_LISTS["media_names"])
ANAPHORS: dict[str, str] = {
    **{phrase: "m" for phrase in _LISTS["anaphors_masculine"]},
    **{phrase: "f" for phrase in _LISTS["anaphors_feminine"]},
}


_MEDIA_KEYS = frozenset(folded(name) for name in MEDIA_NAMES)


def is_medium(name: str) -> bool:
    """Whether a name is a publication or broadcaster's (`Le Monde`, `l'AFP`, `Les
    Echos` as often without its accent, `Radio Kaléidoscope`)."""
    key = re.sub(r"^(?:l'|le |la |les )", "", name.strip().lower())
    first = key.split(" ", 1)[0]
    # a name that says what it is: `Radio Kaléidoscope`, `Journal de Montréal`
    return folded(key) in _MEDIA_KEYS or (first != key and first in MEDIA_NOUNS)


# what was read somewhere: `peut-on lire (dans X)`, `on apprend (via X)`
READ = re.compile(
    r"(?:(?:peut|pouvait)-on|[Oo]n (?:peut|pouvait))\s+lire"
    r"|lit-on|[Oo]n lit|apprend-on|[Oo]n apprend"
)
READ_IN = re.compile(r"\s+(?:dans|sur|via|par|chez)\s+")
TOKEN = re.compile(r"\w+(?:-\w+)*")  # a word, hyphenated ones whole (`a-t-il`)
WORD = re.compile(r"\w+")  # a word as counted
