"""Who said what: quotes and their speakers, found in an article's text.

Rules over the normalized text (see tasks/stages/clean.py: `« »` with plain spaces, `"`
for the other double quotes) and the article's entities with their identities
(tasks/nlp/people.py); no parser. `find_quotes` returns, in text order:

- **direct** quotes: the words between guillemets (or straight double quotes),
  a quote reopened at the start of the next paragraph running on; a quote with an
  inserted attribution (`« A, a-t-il dit. B »`) is two quotes of one speaker;
- **partial** quotes: a few quoted words inside the journalist's sentence, when
  that sentence says who said them (`le philosophe dénonce les « commissions
  spéciales »`);
- **indirect** quotes: reported speech — `X a affirmé que P`, `P, a averti X`,
  `selon X, P`, `pour X, P`, `C'est ce qu'a annoncé X`.

A short quoted phrase nobody in its sentence says (a title, a scare-quoted term,
`le mot « infox »`) is not a quote. The speaker is read where the text gives it:
after the quote (`», a assuré Jens Stoltenberg`), inside it (`a-t-elle ajouté`),
before it (`Il poursuit : «`, `Pour elle, «`), or from the quote before (a quote
that follows one of the same person). A pronoun (`a-t-il indiqué`, `il a dit`)
is the person last named or quoted, of the pronoun's gender when the text gives
theirs; a role (`la toxicologue`, `le secrétaire général`) is the person the
article names with that role. An unnamed source (`a-t-on indiqué`, `un proche du
ministre`) and a quote the text attributes to nobody get no speaker.

The rules are in tasks/nlp/quotes/, one concern a module: the word lists
(`words`, data in words.toml), reporting verbs (`verbs`), quotation marks
(`spans`), the records they pass (`document`), speakers as written (`phrases`),
direct and partial quotes (`direct`), reported speech (`indirect`), and speakers
resolved (`speakers`). Here they are put together, and a quote's segments share an
id.
"""

from __future__ import annotations

import re
from dataclasses import replace

from tasks.nlp.people import Mention, People
from tasks.nlp.quotes.direct import quotes_in_span
from tasks.nlp.quotes.document import Found, Quote, Text
from tasks.nlp.quotes.indirect import indirect_quotes, overlaps, overlaps_quotes
from tasks.nlp.quotes.spans import PARAGRAPH, quoted_spans, sentence_spans
from tasks.nlp.quotes.speakers import Resolver
from tasks.nlp.quotes.verbs import reporting_verbs
from tasks.nlp.quotes.words import WORD

__all__ = ["Quote", "find_quotes"]


def find_quotes(text: str, mentions: list[Mention], people: People) -> list[Quote]:
    """Every quote of the article, in text order, with its speaker when the text says."""
    quoted = quoted_spans(text)
    doc = Text(
        text,
        mentions,
        people,
        quoted=quoted,
        sentences=sentence_spans(text, quoted),
        paragraphs=[0] + [m.end() for m in PARAGRAPH.finditer(text)],
        verbs=reporting_verbs(text),
    )
    found: list[Found] = []
    at = 0
    while at < len(quoted):
        # quotes in a row (`« A », « B » selon X`, `« A », ni « B »`) share the attribution
        # after the last
        group_end = at
        while group_end + 1 < len(quoted) and re.fullmatch(
            r"\s*(?:,|et|ou)?\s*(?:ni\s*)?", text[quoted[group_end][1] : quoted[group_end + 1][0]]
        ):
            group_end += 1
        for index in range(at, group_end + 1):
            found += quotes_in_span(doc, quoted[index], quoted[group_end][1])
        at = group_end + 1
    direct = _outermost(sorted(found, key=lambda f: f.start))
    found = list(direct)
    starts = [f.start for f in direct]
    for candidate in indirect_quotes(doc):
        if not WORD.search(text, candidate.start, max(candidate.start, candidate.end)):
            continue  # nothing reported: the rules matched on punctuation alone
        if overlaps_quotes(candidate, direct, starts) or overlaps(candidate, found):
            continue
        found.append(candidate)
    found = _held_by_statements(found)
    resolver = Resolver(doc)
    quotes = [resolver.resolve(f) for f in sorted(found, key=lambda f: (f.position, f.start))]
    return _with_quote_ids(text, sorted(quotes, key=lambda q: (q.start, q.end)))


def _outermost(found: list[Found]) -> list[Found]:
    """The quotes (in text order) that no longer quote holds: words quoted inside a
    quote (`" … pas « anecdotiques » … "`) belong to it."""
    kept: list[Found] = []
    for quote in found:
        if kept and kept[-1].start <= quote.start and quote.end <= kept[-1].end:
            continue
        kept.append(quote)
    return kept


def _held_by_statements(found: list[Found]) -> list[Found]:
    """The quotes without the words quoted inside a reported statement: they belong to
    it (`X a affirmé que la réforme est « historique » pour le pays` is one quote, as a
    reader counts it), as words quoted inside a quote belong to that quote."""
    statements = [f for f in found if f.kind == "indirect"]
    return [
        f
        for f in found
        if f.kind != "partial" or not any(s.start <= f.start and f.end <= s.end for s in statements)
    ]


_INCISE_GAP = re.compile(r"[\s«»\"]*[,–—-]")
_SENTENCE_END = re.compile(r"[.!?…](?=[\s«»\"]|$)")


def _with_quote_ids(text: str, quotes: list[Quote]) -> list[Quote]:
    """The quotes (in text order) with their `quote_id`: a segment that goes on after
    the attribution cutting its quote (`« A », a dit X, « B »`, `« A, dit-elle. B »`)
    has the id of the quote's first segment, so a quote is counted once."""
    linked: list[Quote] = []
    for index, quote in enumerate(quotes):
        before = linked[-1] if linked else None
        if before is not None and _continues(text, before, quote):
            # the segment is said by who said the quote's first: its speaker, resolved or not
            linked.append(replace(before, start=quote.start, end=quote.end, kind=quote.kind))
        else:
            linked.append(replace(quote, quote_id=index))
    return linked


def _continues(text: str, before: Quote, segment: Quote) -> bool:
    """Whether `segment` is the rest of `before`, cut only by before's attribution: no
    attribution but that one, the same speaker, the attribution an incise between them
    in one paragraph."""
    if "indirect" in (before.kind, segment.kind):
        return False
    if segment.speaker is not None and segment.speaker_start != before.speaker_start:
        return False
    if before.speaker_start is None or not before.end <= before.speaker_start < segment.start:
        return False
    gap = text[before.end : segment.start]
    # the attribution opens the gap (`», a dit X, «`, `» explique X, doctorante. «`):
    # no other sentence stands between the two segments
    attribution_first = _INCISE_GAP.match(gap) is not None or (
        before.speaker_start - before.end <= 40 and len(_SENTENCE_END.findall(gap)) <= 1
    )
    # a segment without attribution of its own is the quote's, whoever that resolves to,
    # when only the attribution's sentence ends between them
    same_speaker = before.canonical == segment.canonical or (
        segment.speaker is None and len(_SENTENCE_END.findall(gap)) <= 1
    )
    return same_speaker and "\n\n" not in gap and len(gap) <= 160 and attribution_first
