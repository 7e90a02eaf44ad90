"""Which spans of the model are entities, and where they start: entities are re-cut
when a title or portfolio word was swallowed into a name (`Défense Mark Esper` →
`Mark Esper`) or a name was cut short of its first name or surname (`Marine [Le
Pen]`, `[Bruno] Le Maire`), normalized (`l'OTAN` → `OTAN`), and spans that are not entities are
dropped, with the reason."""

from __future__ import annotations

import re

from spacy.tokens import Span

from tasks.nlp.gender import is_common_first_name

# Titles and portfolios that the model tends to fold into a person's name.
ROLE_WORDS = frozenset(
    """
    président présidente général générale ministre premier première secrétaire chef
    maire sénateur sénatrice député députée juge docteur dr m. mme mgr monsieur madame
    pape roi reine prince princesse colonel capitaine lieutenant commandant ambassadeur
    ambassadrice porte-parole directeur directrice patron patronne candidat candidate
    chancelier chancelière gouverneur gouverneure défense intérieur justice santé économie
    finances culture travail éducation
    """.split()
)
NOT_ENTITIES = frozenset({"photo", "photos", "vidéo", "video", "crédit", "archives"})
_ELIDED_ARTICLE = re.compile(r"^(?:[lLdD]|[qQ]u|[jJ]usqu|[lL]orsqu|[pP]uisqu)'\s*")
_BARE_ELISION = re.compile(r"^\w{1,7}'$")
_OUTER_PUNCT = " \"'«»()[]{},.;:!?-–—…"


def normalize_entity(surface: str) -> str:
    """The entity without outer punctuation or elided article: `l'OTAN` → `OTAN`."""
    text = " ".join(surface.split()).strip(_OUTER_PUNCT)
    text = _ELIDED_ARTICLE.sub("", text)
    return text.strip(_OUTER_PUNCT)


def drop_reason(surface: str, normalized: str) -> str | None:
    """Why a span is not an entity, or None when it is one."""
    if not any(ch.isalnum() for ch in surface):
        return "punctuation"
    if _BARE_ELISION.match(surface.strip()):
        return "bare_elision"
    if sum(ch.isalpha() for ch in normalized) <= 1:
        return "single_letter"
    if normalized.lower() in NOT_ENTITIES:
        return "not_an_entity"
    if all(word.lower() in ROLE_WORDS for word in normalized.split()):
        return "title_only"
    if not any(ch.isupper() for ch in normalized):
        return "no_capital_letter"
    return None


def refine_span(span: Span) -> tuple[Span, str]:
    """Cut leading titles off a name: `Président Trump` → `Trump` (PER);
    `Défense Mark Esper` (MISC) → `Mark Esper` (PER)."""
    cut = 0
    while cut < len(span) - 1 and span[cut].lower_ in ROLE_WORDS:
        cut += 1
    if cut == 0:
        return span, span.label_
    rest = span[cut:]
    if not all(token.text[:1].isupper() for token in rest):
        return span, span.label_
    if span.label_ == "PER":
        return rest, "PER"
    if span.label_ == "MISC" and len(rest) >= 2:
        return rest, "PER"
    return span, span.label_


# the capitalised particles a surname may open with (`Le Maire`, `De Gaulle`)
_SURNAME_PARTICLES = frozenset("Le La De Du Des Van Von Di Da El Al Ben".split())


def whole_name(span: Span, label: str) -> Span:
    """A person's name with the first name or surname the model left out beside it:
    `Marine` before `Le Pen` (`Jean-Luc` too), `Le Maire` or `Dupont-Aignan` after
    `Bruno` (capitalised words outside any other entity, a common first name on the
    left)."""
    if label != "PER":
        return span
    doc = span.doc
    start, end = span.start, span.end

    def free(i: int) -> bool:
        return 0 <= i < len(doc) and doc[i].ent_iob_ == "O" and doc[i].text[:1].isupper()

    def word(i: int) -> bool:
        return doc[i].text.replace("-", "").isalpha()

    if free(start - 1) and word(start - 1) and is_common_first_name(doc[start - 1].text):
        start -= 1
    if end - start == 1 and is_common_first_name(doc[start].text):
        after = end + (1 if free(end) and doc[end].text in _SURNAME_PARTICLES else 0)
        if free(after) and word(after) and doc[after].text not in _SURNAME_PARTICLES:
            end = after + 1
            # `Dupont-Aignan`, cut at its hyphen by the tokenizer
            while end + 1 < len(doc) and doc[end - 1].whitespace_ == "" and doc[end].text == "-":
                if doc[end].whitespace_ or not free(end + 1):
                    break
                end += 2
    return doc[start:end]
