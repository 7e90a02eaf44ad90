"""Direct and partial quotes: the words between quotation marks, cut where an
attribution is inserted, and the attribution after, inside or before them."""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from tasks.nlp.people import HUMAN_NOUNS, PREPOSITIONS
from tasks.nlp.quotes.document import Found, Source, Text, Verb
from tasks.nlp.quotes.phrases import (
    head_noun,
    is_person_like,
    is_the_writer,
    preposition_source,
    source_after,
    verb_subject,
)
from tasks.nlp.quotes.spans import quoted_words
from tasks.nlp.quotes.words import (
    DEFINITE,
    NAMING_DETERMINERS,
    READ,
    READ_IN,
    TOKEN,
    WORD,
    is_medium,
)


class Attribution(NamedTuple):
    """Who the text says a quote is from: the reporting verb and the speaker as written,
    either or both missing."""

    verb: Verb | None = None
    source: Source | None = None

    @property
    def said(self) -> bool:
        return self.verb is not None or self.source is not None


NOBODY = Attribution()


class _Piece(NamedTuple):
    """Quoted words of a span, with the attribution inserted right after them."""

    start: int
    end: int
    attribution: Attribution


# the end of an inserted attribution: a punctuation mark or a dash between spaces
_INCISE_END = re.compile(r"[.,;!?](?=\s)|\s[–—]\s")


def _pieces(doc: Text, start: int, end: int) -> list[_Piece]:
    """The quoted words of a span, cut where an attribution is inserted into them
    (`« A, affirme-t-elle. B »`): each piece with the inserted verb and speaker."""
    text = doc.text
    inner_start, inner_end = quoted_words(text, start, end)
    pieces = []
    cursor = inner_start
    for verb in doc.verbs_between(inner_start + 1, inner_end):
        if verb.start < cursor or verb.gerund:
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
        stop = _incise_end_past_role(text, stop, inner_end)
        piece_end = cursor + len(before.rstrip(",–—- "))
        pieces.append(_Piece(cursor, piece_end, Attribution(verb, source)))
        cursor = stop.end()
        while cursor < inner_end and text[cursor].isspace():
            cursor += 1
    if cursor < inner_end:
        pieces.append(_Piece(cursor, inner_end, NOBODY))
    return pieces


def _incise_end_past_role(text: str, stop: re.Match, inner_end: int) -> re.Match:
    """The end of an inserted attribution, past the speaker's apposition (`« A, rappelle
    X, professeure de sciences politiques. B »`: B starts after the role, not at it)."""
    if stop.group() != ",":
        return stop
    following = _INCISE_END.search(text, stop.end(), inner_end)
    if following is None or following.group() not in (".", ","):
        return stop
    part = text[stop.end() : following.start()]
    if len(WORD.findall(part)) <= 15 and head_noun(part) in HUMAN_NOUNS:
        return following
    return stop


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


_SELON = re.compile(r"(?:selon|d'après)\s")


# `« Un choc », c'est ainsi qu'il a qualifié…`: the verb and its subject come after
_THUS = re.compile(r"c'est (?:ainsi|en ces termes|par ces mots|avec ces mots) qu(?:e\s+|')")


def _attribution_after(doc: Text, close: int, limit: int) -> Attribution:
    """The attribution right after a quote's closing mark: `», a assuré X`, `»,
    a-t-elle expliqué`, `» selon X`, `" par X` (after `qualifié de`), `», c'est ainsi
    qu'il a qualifié`."""
    text = doc.text
    position = close
    while position < limit and text[position] in " ,":
        position += 1
    verb = doc.verb_at(position)
    if verb is not None and not verb.participle_only and not verb.gerund:
        return Attribution(verb, verb.subject() or source_after(doc, verb.end, limit))
    match = _SELON.match(text[position:limit])
    if match:
        return Attribution(None, source_after(doc, position + match.end(), limit))
    thus = _THUS.match(text, position, limit)
    said = doc.verbs_between(thus.end(), limit) if thus else []
    if said:
        return Attribution(said[0], verb_subject(doc, thus.end(), said[0]))
    read = READ.match(text, position, limit)
    if read:
        return Attribution(None, _read_in(doc, read.end(), limit))
    return _credit_after(doc, close)


def _read_in(doc: Text, position: int, limit: int) -> Source | None:
    """Where words quoted were read (`», peut-on lire dans Les Échos`): the medium
    named after, else the medium named last (`Mediapart révèle… : « … », peut-on lire`)."""
    where = READ_IN.match(doc.text, position, limit)
    if where:
        return source_after(doc, where.end(), limit)
    for mention in reversed(doc.mentions_in(0, position)):
        if is_medium(mention.normalized) and not doc.inside_quote(mention.start):
            return Source(mention.start, mention.end, "entity", mention.index)
    return None


def _credit_after(doc: Text, close: int) -> Attribution:
    """The name a quote standing alone is credited to, right after it (a pull quote:
    `« … » Olivier Truchot, journaliste, au sujet de…`)."""
    text = doc.text
    opening = text.rfind("\n", 0, close)
    quote_start = doc.quoted[bisect_right(doc.quoted, (close,)) - 1][0] if doc.quoted else close
    if text[opening + 1 : quote_start].strip(' «"'):
        return NOBODY  # the quote does not open its paragraph
    position = close
    while position < len(text) and text[position] in ' .»"\n' and position - close < 6:
        position += 1
    for mention in doc.mentions_in(position, position + 80):
        named = mention.start == position and text[mention.end : mention.end + 1] == ","
        if named and is_person_like(doc, mention):
            return Attribution(None, Source(mention.start, mention.end, "entity", mention.index))
        break
    return NOBODY


def quotes_in_span(doc: Text, span: tuple[int, int], group_end: int) -> list[Found]:
    """The quotes of one quoted span, attributed if the text says by whom."""
    text = doc.text
    start, end = span
    sentence_start, sentence_end = doc.sentence_of(start)
    pieces = _pieces(doc, start, end)
    # the clause before the quote: from the last quote or sentence start
    floor = max([sentence_start, *(e for s, e in doc.quoted if e <= start and e > sentence_start)])
    before, colon = _attribution_before(doc, floor, start)
    # a piece without its own attribution takes the first inserted one, else the one
    # after the quote (or after the last quote of its group), else the one before
    inserted = next((p.attribution for p in pieces if p.attribution.said), NOBODY)
    after = _attribution_after(doc, group_end, max(sentence_end, group_end))
    found = []
    kind = None  # the pieces of one quotation are of one kind, the first's
    for piece in pieces:
        words = len(WORD.findall(text[piece.start : piece.end]))
        chosen = next((a for a in (piece.attribution, inserted, after, before) if a.said), NOBODY)
        if is_the_writer(doc, chosen.verb, chosen.source):
            chosen = NOBODY
        if words == 0 or not _is_speech(doc, (floor, start), words, chosen, before):
            continue
        kind = kind or _kind(text, piece.start, words, colon)
        continues = not chosen.said and not colon and not _is_heading(text, span)
        position = chosen.source.start if chosen.source else piece.start
        found.append(
            Found(piece.start, piece.end, kind, position, chosen.verb, chosen.source, continues)
        )
    return found


def _is_speech(
    doc: Text, clause: tuple[int, int], words: int, chosen: Attribution, before: Attribution
) -> bool:
    """Whether quoted words (after the clause `clause`) are someone's, rather than a
    term, a title or a scare quote."""
    text = doc.text
    floor, start = clause
    said_right_after = chosen.verb is not None and chosen.verb.start > start
    if _names_a_thing(text, start, text[floor:start], words, said_right_after):
        return False
    if not chosen.said:
        in_brackets = text.count("(", floor, start) > text.count(")", floor, start)
        return words >= 7 and not in_brackets
    if words >= 7:
        return True
    if chosen.source is None:
        return False  # a verb nobody said: `les revues classées « top »`
    # `qu'il y a, pour eux, à être nominés : toute revue « nouvelle »`
    return (
        chosen.verb is not None
        or chosen.source is not before.source
        or _opens_or_introduces(doc, floor, chosen.source, start)
    )


_MENTION_WORDS = re.compile(
    r"\b(?:mot|mots|terme|termes|slogan|nom|titre|intitulé|intitulée|hashtag|poncif|vocable|"
    r"expression|expressions|qualificatif|formule|baptisée?s?|surnommée?s?|appelée?s?|"
    r"dénommée?s?|nommée?s?|celui de|celle de|ceux de|questions? du|questions? de la|"
    r"(?<!s'est )(?<!se )dit|dite)\s*$",
    re.I,
)


# a headline or a title given (`Le Monde continuait de titrer, Violences policières : «`)
_TITLING = re.compile(r"\b(?:titr(?:er|ait|aient|ent|ant|ée?s?)|intitulée?s?)\b", re.I)


# the name of a charge: `pour « … »`, `pour des soupçons de « … »`, `du chef de « … »` after
# words of a case (`mis en examen`, `une enquête`, `porté plainte`, `le parquet`)
_CHARGE_BEFORE = re.compile(
    r"\b(?:pour|du chef d[e']|des chefs d[e'])\s*(?:des?\s+soupçons?\s+d[e']\s*)?$"
)
_JUDICIAL = re.compile(
    r"\b(?:examen|enquêtes?|information judiciaire|plaintes?|poursuivie?s?|condamnée?s?|"
    r"inculpée?s?|accusée?s?|soupçonnée?s?|parquet|procès|jugée?s?|garde à vue|mise?s? en cause)\b",
    re.I,
)


def _names_a_thing(text: str, start: int, clause: str, words: int, said: bool) -> bool:
    """Whether the quote names something rather than quotes someone: `le mot « infox »`,
    `un « mais »`, a headline; not a word someone is said to use right after it (`Une
    « ruée », écrit-il`)."""
    if _MENTION_WORDS.search(clause.rstrip(' «"')) or _TITLING.search(clause):
        return True
    if _CHARGE_BEFORE.search(clause.rstrip(' «"')) and _JUDICIAL.search(clause):
        return True  # a charge: `mis en examen pour « détournement de fonds publics »`
    before = [w.lower() for w in TOKEN.findall(text[max(0, start - 12) : start])]
    if not before or said:
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


_LINK_WORDS = re.compile(r"\b(?:de|d'|comme|que|qu'|:)")
_LEADING_PRONOUN = re.compile(r"\s*(Il|Elle)\b")


def _attribution_before(doc: Text, floor: int, start: int) -> tuple[Attribution, bool]:
    """The attribution in the clause before a quote: a verb and its subject (`Il
    poursuit : «`, `Elle affirme «`), `pour X,` / `selon X :`, or a person named
    before a colon. Also says whether a colon introduces the quote."""
    text = doc.text
    clause = text[floor:start]
    colon = clause.rstrip(' «"').endswith(":")
    verbs = [v for v in doc.verbs_between(floor, start) if v.end <= start and not v.gerund]
    last = verbs[-1] if verbs else None
    ends_with_verb = last is not None and not re.search(
        r"\w", _LINK_WORDS.sub("", text[last.end : start])
    )
    if last is not None and ends_with_verb:
        return Attribution(last, verb_subject(doc, floor, last)), colon
    prepositional = preposition_source(doc, floor, start)
    # `pour X` after the verb is its complement (`elle s'inquiète pour les étudiants : «`)
    if prepositional is not None and (last is None or prepositional.start < last.start):
        return Attribution(None, prepositional), colon
    if last is not None:
        return Attribution(last, verb_subject(doc, floor, last)), colon
    if colon:
        for mention in doc.mentions_in(floor, start):
            preceding = TOKEN.findall(text[floor : mention.start])
            if is_person_like(doc, mention) and (
                not preceding or preceding[-1].lower() not in PREPOSITIONS | {"du", "des"}
            ):
                source = Source(mention.start, mention.end, "entity", mention.index)
                return Attribution(None, source), colon
        lead = _LEADING_PRONOUN.match(clause)
        if lead:
            source = Source(floor + lead.start(1), floor + lead.end(1), "pronoun")
            return Attribution(None, source), colon
    return NOBODY, colon


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
