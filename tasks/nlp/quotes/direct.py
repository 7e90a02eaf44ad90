"""Direct and partial quotes: the words between quotation marks, cut where an
attribution is inserted, and the attribution after, inside or before them."""

from __future__ import annotations

import re

from tasks.nlp.quotes.document import Found, Source, Text, Verb
from tasks.nlp.quotes.phrases import (
    is_person_like,
    is_the_writer,
    preposition_source,
    source_after,
    verb_subject,
)
from tasks.nlp.quotes.spans import quoted_words
from tasks.nlp.quotes.words import DEFINITE, NAMING_DETERMINERS, TOKEN, WORD
from tasks.people import (
    PREPOSITIONS,
)

_MENTION_WORDS = re.compile(
    r"\b(?:mot|mots|terme|termes|slogan|nom|titre|intitulé|intitulée|hashtag|poncif|vocable|"
    r"expression|expressions|qualificatif|formule|baptisée?s?|surnommée?s?|appelée?s?|"
    r"dénommée?s?|nommée?s?|celui de|celle de|ceux de|(?<!s'est )(?<!se )dit|dite)\s*$",
    re.I,
)


_SELON = re.compile(r"(?:selon|d'après)\s")


_LEADING_PRONOUN = re.compile(r"\s*(Il|Elle)\b")


_LINK_WORDS = re.compile(r"\b(?:de|d'|comme|que|qu'|:)")


_INCISE_END = re.compile(r"[.,;!?](?=\s)|\s[–—]\s")


def _pieces(doc: Text, start: int, end: int) -> list[tuple[int, int, Verb | None, Source | None]]:
    """The quoted words of a span, cut where an attribution is inserted into them
    (`« A, affirme-t-elle. B »`): each piece with the inserted verb and speaker."""
    text = doc.text
    inner_start, inner_end = quoted_words(text, start, end)
    pieces = []
    cursor = inner_start
    for verb in doc.verbs_between(inner_start + 1, inner_end):
        if verb.start < cursor:
            continue
        before = text[cursor : verb.start].rstrip()
        if not before or before[-1] not in ",–—-":
            continue
        if verb.pronoun is None and not re.match(
            r"\s+(?:[A-ZÀ-Ý]|l[ea] |l')", text[verb.end : verb.end + 4]
        ):
            continue
        stop = _INCISE_END.search(text, verb.end, inner_end)
        if stop is None:
            continue
        source = verb.subject() or source_after(doc, verb.end, stop.start())
        piece_end = cursor + len(before.rstrip(",–—- "))
        pieces.append((cursor, piece_end, verb, source))
        cursor = stop.end()
        while cursor < inner_end and text[cursor].isspace():
            cursor += 1
    if cursor < inner_end:
        pieces.append((cursor, inner_end, None, None))
    return pieces


def _kind(text: str, start: int, words: int, after_colon: bool) -> str:
    """`direct` for a quoted sentence (or more), `partial` for quoted words inside the
    journalist's sentence."""
    before = text[max(0, start - 200) : start].rstrip(' «"')
    starts_sentence = not before or before[-1] in ".!?:\n" or before.endswith("»")
    if text[start : start + 1].isupper() or (starts_sentence and (words >= 6 or not after_colon)):
        return "direct"
    if before.endswith(",") and words >= 7:
        return "direct"
    return "partial"


def _attribution_after(doc: Text, close: int, limit: int) -> tuple[Verb | None, Source | None]:
    """The attribution right after a quote's closing mark: `», a assuré X`, `»,
    a-t-elle expliqué`, `» selon X`, `" par X` (after `qualifié de`)."""
    text = doc.text
    position = close
    while position < limit and text[position] in " ,":
        position += 1
    verb = doc.verb_at(position)
    if verb is not None and not verb.participle_only:
        return verb, verb.subject() or source_after(doc, verb.end, limit)
    match = _SELON.match(text[position:limit])
    if match:
        return None, source_after(doc, position + match.end(), limit)
    return None, None


def quotes_in_span(doc: Text, span: tuple[int, int], group_end: int) -> list[Found]:
    """The quotes of one quoted span, attributed if the text says by whom."""
    text = doc.text
    start, end = span
    sentence_start, sentence_end = doc.sentence_of(start)
    limit = max(sentence_end, group_end)
    pieces = _pieces(doc, start, end)
    after_verb, after_source = _attribution_after(doc, group_end, limit)
    # the clause before the quote: from the last quote or sentence start
    floor = max([sentence_start, *(e for s, e in doc.quoted if e <= start and e > sentence_start)])
    clause = text[floor:start]
    before_verb, before_source, colon = _attribution_before(doc, floor, start)
    found = []
    inserted = next(((v, s) for _, _, v, s in pieces if v is not None), (None, None))
    kind = None  # the pieces of one quotation are of one kind, the first's
    for piece_start, piece_end, verb, source in pieces:
        words = len(WORD.findall(text[piece_start:piece_end]))
        if words == 0:
            continue
        chosen_verb, chosen = (verb, source) if verb is not None else inserted
        if chosen_verb is None and chosen is None:
            chosen_verb, chosen = (after_verb, after_source)
        if chosen_verb is None and chosen is None:
            chosen_verb, chosen = before_verb, before_source
        if is_the_writer(doc, chosen_verb, chosen):
            chosen_verb, chosen = None, None
        attributed = chosen is not None or chosen_verb is not None
        naming = _names_a_thing(text, start, clause, words)
        if naming:
            continue
        in_brackets = clause.count("(") > clause.count(")")
        if not attributed and (words < 7 or in_brackets):
            continue  # a term, a title, a scare quote: not a quote
        if words < 7 and chosen is None:
            continue  # a verb nobody said: `les revues classées « top »`
        if (
            words < 7
            and chosen_verb is None
            and chosen is before_source
            and not _opens_or_introduces(doc, floor, chosen, start)
        ):
            continue  # `qu'il y a, pour eux, à être nominés : toute revue « nouvelle »`
        kind = kind or _kind(text, piece_start, words, colon)
        found.append(
            Found(
                piece_start,
                piece_end,
                kind,
                verb=chosen_verb,
                source=chosen,
                continues=not attributed and not colon and not _is_heading(text, span),
                position=(chosen.start if chosen else piece_start),
            )
        )
    return found


def _names_a_thing(text: str, start: int, clause: str, words: int) -> bool:
    """Whether the quote names something rather than quotes someone: `le mot « infox »`,
    `un « mais »`."""
    if _MENTION_WORDS.search(clause.rstrip(' «"')):
        return True
    before = [w.lower() for w in TOKEN.findall(text[max(0, start - 12) : start])]
    if not before:
        return False
    # a definite article right before the guillemets makes a few quoted words a noun
    # phrase of the journalist's own sentence, something named (`pour décerner la
    # « qualification aux fonctions de… »`), not words quoted from a speaker
    return (words == 1 and before[-1] in NAMING_DETERMINERS) or before[-1] in DEFINITE


def _is_heading(text: str, span: tuple[int, int]) -> bool:
    """A quoted paragraph without final punctuation: a pull quote, not speech."""
    start, end = span
    paragraph_start = text.rfind("\n\n", 0, start)
    paragraph_start = 0 if paragraph_start < 0 else paragraph_start + 2
    paragraph_end = text.find("\n\n", end)
    paragraph_end = len(text) if paragraph_end < 0 else paragraph_end
    inner = text[start:end].strip('«»" ')
    alone = not text[paragraph_start:start].strip() and not text[end:paragraph_end].strip(" .")
    return alone and not inner.endswith((".", "!", "?", "…"))


def _attribution_before(
    doc: Text, floor: int, start: int
) -> tuple[Verb | None, Source | None, bool]:
    """The attribution in the clause before a quote: a verb and its subject (`Il
    poursuit : «`, `Elle affirme «`), `pour X,` / `selon X :`, or a person named
    before a colon. Also says whether a colon introduces the quote."""
    text = doc.text
    clause = text[floor:start]
    colon = clause.rstrip(' «"').endswith(":")
    verbs = [v for v in doc.verbs_between(floor, start) if v.end <= start]
    last = verbs[-1] if verbs else None
    ends_with_verb = last is not None and not re.search(
        r"\w", _LINK_WORDS.sub("", text[last.end : start])
    )
    if last is not None and ends_with_verb:
        return last, verb_subject(doc, floor, last), colon
    prepositional = preposition_source(doc, floor, start)
    if prepositional is not None:
        return None, prepositional, colon
    if last is not None:
        return last, verb_subject(doc, floor, last), colon
    if colon:
        for mention in doc.mentions_in(floor, start):
            preceding = TOKEN.findall(text[floor : mention.start])
            if is_person_like(doc, mention) and (
                not preceding or preceding[-1].lower() not in PREPOSITIONS | {"du", "des"}
            ):
                return None, Source(mention.start, mention.end, "entity", mention.index), colon
        lead = _LEADING_PRONOUN.match(clause)
        if lead:
            return None, Source(floor + lead.start(1), floor + lead.end(1), "pronoun"), colon
    return None, None, colon


def _opens_or_introduces(doc: Text, floor: int, source: Source, start: int) -> bool:
    """Whether `pour X,` opens the clause (`Pour elle, … « »`) or comes right before the
    quote (`…, pour lui, « »`), rather than sitting inside the sentence (`les enjeux qu'il
    y a, pour eux, à être nominés : toute revue « nouvelle »`: for them, not in their
    words: a few quoted words there are a term). `selon X` names a source anywhere."""
    text = doc.text
    if not re.search(r"\b[Pp]our\s+$", text[max(floor, source.start - 6) : source.start]):
        return True
    lead = TOKEN.findall(text[floor : source.start])
    opens = len(lead) <= 2 and (len(lead) < 2 or lead[0].lower() in ("mais", "et", "or"))
    return opens or not re.sub(r"[\s,:«\"]", "", text[source.end : start])
