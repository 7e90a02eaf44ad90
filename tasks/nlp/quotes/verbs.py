"""Reporting verbs: their conjugated forms, and where they stand in a text (`affirme`,
`a affirmé`, `affirme-t-elle`, `s'est dit`, `qualifié`)."""

from __future__ import annotations

from tasks.nlp.people import DETERMINERS
from tasks.nlp.quotes.document import Verb
from tasks.nlp.quotes.words import (
    ADVERBS,
    AUXILIARIES,
    BEFORE_OBJECT_PRONOUN,
    FIRST_GROUP,
    IRREGULAR,
    OPINION,
    PRESENT_STEMS,
    QUALIFYING,
    SUBJECTS,
    TOKEN,
)


def _first_group_forms(lemma: str) -> tuple[list[str], str]:
    stem = lemma[:-2]
    present = PRESENT_STEMS.get(lemma, stem)
    if stem.endswith("c"):
        past = stem[:-1] + "ç"  # il annonçait, il annonça
    elif stem.endswith("g"):
        past = stem + "e"  # il jugeait
    else:
        past = stem
    finite = [present + "e", present + "ent", past + "ait", past + "aient", past + "a"]
    finite += [lemma + "a", lemma + "ont"]  # the future (`ajoutera X`) reports speech too
    return finite, stem + "é"


def _verb_forms() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """(finite 3rd-person forms → lemma, past participles → lemma, inverted forms →
    (lemma, pronoun)) of every reporting verb."""
    finite: dict[str, str] = {}
    participles: dict[str, str] = {}
    inverted: dict[str, tuple[str, str]] = {}
    conjugated = {lemma: _first_group_forms(lemma) for lemma in FIRST_GROUP}
    conjugated |= {lemma: (forms.split(), pp) for lemma, (forms, pp) in IRREGULAR.items()}
    conjugated["mettre"] = (["met", "mettait"], "mis")
    for lemma, (forms, pp) in conjugated.items():
        for form in forms:
            if lemma != "mettre":
                finite[form] = lemma
            link = "-t-" if form[-1] in "ae" else "-"
            for pronoun in SUBJECTS:
                inverted[f"{form}{link}{pronoun}"] = (lemma, pronoun)
        for ending in ("", "e", "s", "es"):
            if not (pp.endswith("s") and ending.startswith("s")):
                participles[pp + ending] = lemma
    return finite, participles, inverted


FINITE, PARTICIPLES, INVERTED = _verb_forms()


def _present_participles() -> dict[str, str]:
    """The present participles of the reporting verbs (`estimant`, `annonçant`,
    `jugeant`, `disant`) → lemma, on the stem of their imperfect: `, estimant que P`
    reports P."""
    finite = {lemma: _first_group_forms(lemma)[0] for lemma in FIRST_GROUP}
    finite |= {lemma: forms.split() for lemma, (forms, _) in IRREGULAR.items()}
    forms = {}
    for lemma, conjugated in finite.items():
        imperfect = next((f for f in conjugated if f.endswith("ait")), None)
        if imperfect:
            forms[imperfect[:-3] + "ant"] = lemma
    # `now`, and the adjectives (`le plus inquiétant étant que`, `un chiffre alarmant`)
    for word in ("maintenant", "inquiétant", "étonnant", "amusant", "alarmant", "indignant"):
        forms.pop(word, None)
    return forms


PRESENT_PARTICIPLES = _present_participles()
# an infinitive after a modal (`pourrait commenter X`, `tente d'expliquer X`)
_INFINITIVES = frozenset(FIRST_GROUP).union(IRREGULAR) - OPINION - QUALIFYING
_MODALS = frozenset("peut pourrait pouvait veut voulait doit devait semble semblait va".split())
_TRYING = frozenset("tente tentait essaie essayait".split())


# reporting phrases of several words: the forms of their verb, and the words after it
_FAIRE = "fait font faisait faisaient fera faisant".split()
_PHRASES = {
    "faire savoir": (_FAIRE, "fait", ["savoir"]),
    "faire valoir": (_FAIRE, "fait", ["valoir"]),
    "mettre en garde": ("met mettent mettait mettaient mettant".split(), "mis", ["en", "garde"]),
}
_PHRASE_FORMS = frozenset(form for forms, _, _ in _PHRASES.values() for form in forms)


def _phrase(words: list[str], at: int, *, participle: bool) -> tuple[str, int] | None:
    """The reporting phrase whose verb (or participle) is the word `at`: its lemma and
    the index of its last word."""
    for lemma, (forms, past, rest) in _PHRASES.items():
        verb = words[at] == past if participle else words[at] in forms
        if verb and words[at + 1 : at + 1 + len(rest)] == rest:
            return lemma, at + len(rest)
    return None


_INVERTED_AUX: dict[str, str] = {
    f"{aux}{'-t-' if aux[-1] in 'ae' else '-'}{pronoun}": pronoun
    for aux in ("a", "ont", "avait", "avaient", "aurait", "auraient", "est", "sont", "était")
    for pronoun in SUBJECTS
}


# the words a reporting verb can start with
_KEYWORDS = (
    frozenset(FINITE)
    | frozenset(INVERTED)
    | frozenset(_INVERTED_AUX)
    | AUXILIARIES
    | frozenset(p for p, lemma in PARTICIPLES.items() if lemma in QUALIFYING)
    | frozenset(PRESENT_PARTICIPLES)
    | frozenset(_INFINITIVES)
    | _PHRASE_FORMS
)


def reporting_verbs(text: str) -> list[Verb]:
    """Every reporting verb of the text: `affirme`, `a affirmé`, `affirme-t-elle`,
    `a-t-il affirmé`, `s'est dit`, `qualifié` (a participle alone)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer (İ): keep offsets
        lowered = "".join(ch.lower()[0] for ch in text)
    words = TOKEN.findall(lowered)
    candidates = [at for at, word in enumerate(words) if word in _KEYWORDS]
    if not candidates:
        return []
    spans = [m.span() for m in TOKEN.finditer(lowered)]
    found: list[Verb] = []
    for at in candidates:
        if found and spans[at][0] < found[-1].end:
            continue  # the participle of a compound tense read with its auxiliary
        verb = _verb_at(lowered, words, spans, at)
        if verb is not None:
            found.append(verb)
    return found


def _verb_at(text: str, words: list[str], spans: list[tuple[int, int]], at: int) -> Verb | None:
    """The reporting verb that starts at the word `at` (of `words`, at `spans` in the
    text), if that word starts one there."""
    word, (start, end) = words[at], spans[at]
    before = words[at - 1] if at else ""
    earlier = words[at - 2] if at > 1 else ""
    if word in INVERTED:
        lemma, pronoun = INVERTED[word]
        return Verb(start, end, lemma, pronoun, pronoun_end=end)
    if word in AUXILIARIES or word in _INVERTED_AUX:
        return _compound_tense(words, spans, at, _past_incise(text, spans, at))
    if word in FINITE:
        if (
            before in DETERMINERS or before in ("les", "des", "de", "d", "une", "ses", "ces", "en")
        ) and earlier not in BEFORE_OBJECT_PRONOUN:
            return None  # a noun: `une note`, `la demande`, `l'estime`; not `comme le dit`
        return Verb(start, end, FINITE[word], None)
    if word in PARTICIPLES and PARTICIPLES[word] in QUALIFYING and before not in AUXILIARIES:
        return Verb(start, end, PARTICIPLES[word], None, participle_only=True)
    if word in _INFINITIVES and (
        before in _MODALS or (before in ("de", "d") and earlier in _TRYING)
    ):
        first = at - 1 if before in _MODALS else at - 2
        return Verb(spans[first][0], end, word, None, modal=True)
    if word in PRESENT_PARTICIPLES and before not in DETERMINERS:
        return Verb(start, end, PRESENT_PARTICIPLES[word], None, gerund=True)
    phrase = _phrase(words, at, participle=False) if word in _PHRASE_FORMS else None
    if phrase is not None:
        lemma, last = phrase
        return Verb(start, spans[last][1], lemma, None, gerund=word.endswith("ant"))
    return None


# the most words an incise between an auxiliary and its participle holds
_INCISE_WORDS = 6


def _past_incise(text: str, spans: list[tuple[int, int]], at: int) -> int:
    """The word after an incise between commas that follows the word `at` (`avait, de
    son côté, déclaré`), or the word right after `at` when no incise follows it."""
    if at + 1 >= len(spans) or text[spans[at][1] : spans[at + 1][0]].strip() != ",":
        return at + 1
    for follow in range(at + 2, min(at + 2 + _INCISE_WORDS, len(spans))):
        gap = text[spans[follow - 1][1] : spans[follow][0]].strip()
        if gap == ",":
            return follow
        if gap not in ("", "'", "’"):
            break
    return at + 1


def _compound_tense(
    words: list[str], spans: list[tuple[int, int]], at: int, follow: int
) -> Verb | None:
    """The reporting verb whose auxiliary is the word `at`, its participle from the word
    `follow` on: `a affirmé`, `a-t-il déclaré`, `a aussi souligné`, `s'est félicité`,
    `a, de son côté, déclaré`; not a passive (`est considéré`)."""
    first_word = follow
    while follow < len(words) and words[follow] in ADVERBS and follow - first_word < 3:
        follow += 1
    word, (start, end) = words[at], spans[at]
    phrase = _phrase(words, follow, participle=True) if follow < len(words) else None
    if phrase is not None and word not in ("est", "sont", "était"):
        lemma, last = phrase
        return Verb(start, spans[last][1], lemma, _INVERTED_AUX.get(word), pronoun_end=end)
    if follow >= len(words) or words[follow] not in PARTICIPLES:
        return None
    reflexive = at > 0 and words[at - 1] in ("s", "se")
    if word in ("est", "sont", "était") and not reflexive:
        return None  # a passive (`est considéré`), not a reporting verb
    first = spans[at - 1][0] if reflexive else start  # `s'est félicité`
    lemma = PARTICIPLES[words[follow]]
    return Verb(first, spans[follow][1], lemma, _INVERTED_AUX.get(word), pronoun_end=end)
