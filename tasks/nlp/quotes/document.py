"""The records the quote rules pass around: the article's text with what they look up
in it, a reporting verb, a source as written, a quote found and a quote resolved."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from tasks.nlp.people import Mention, People
from tasks.nlp.quotes.spans import Coverage


@dataclass(frozen=True)
class Quote:
    """One quote: the quoted words, how it is quoted, and who said it."""

    start: int
    end: int
    kind: str  # direct, partial, indirect
    verb: str | None = None
    speaker: str | None = None
    speaker_start: int | None = None
    speaker_end: int | None = None
    entity: int | None = None
    canonical: str | None = None
    speaker_kind: str = "unknown"  # person, organisation, media, unknown
    speaker_via: str | None = None  # name, pronoun, role, context: how it was resolved
    quote_id: int = 0  # index of the quote's first segment: a continuation shares it


@dataclass(frozen=True)
class Verb:
    """A reporting verb in the text (`a-t-il affirmé`): where it stands, its lemma, and
    its inverted subject."""

    start: int
    end: int
    lemma: str
    pronoun: str | None  # the inverted subject (`a-t-il dit`), if any
    participle_only: bool = False  # a participle without auxiliary (`qualifié de`)
    gerund: bool = False  # a present participle (`, estimant que`): its subject is the clause's
    modal: bool = False  # an infinitive after a modal (`pourrait commenter`)
    pronoun_end: int = 0  # where the inverted subject ends

    def subject(self) -> Source | None:
        """The inverted subject as a source (`-t-elle` of `a-t-elle expliqué`)."""
        if self.pronoun is None:
            return None
        return Source(self.pronoun_end - len(self.pronoun), self.pronoun_end, "pronoun")


@dataclass(frozen=True)
class Source:
    """Who a quote is attributed to, as written: a pronoun, an entity, or a noun phrase."""

    start: int
    end: int
    kind: str  # pronoun, entity, role, unnamed
    entity: int | None = None


@dataclass
class Found:
    """A quote found, its speaker as written, before resolution."""

    start: int
    end: int
    kind: str  # direct, partial, indirect
    position: int  # where the attribution is, for the order of resolution
    verb: Verb | None = None
    source: Source | None = None
    continues: bool = False  # may take the speaker of the quote before


@dataclass
class Text:
    """The article's text with what the rules look up in it."""

    text: str
    mentions: list[Mention]
    people: People
    quoted: list[tuple[int, int]] = field(default_factory=list)  # guillemet spans, marks included
    sentences: list[tuple[int, int]] = field(default_factory=list)
    paragraphs: list[int] = field(default_factory=list)  # start of each paragraph
    verbs: list[Verb] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inside_quote = Coverage(self.quoted)
        self._mention_starts = [m.start for m in self.mentions]
        self._verb_starts = [v.start for v in self.verbs]

    def verbs_between(self, start: int, end: int) -> list[Verb]:
        """The reporting verbs that start in [start, end)."""
        starts = self._verb_starts
        return self.verbs[bisect_left(starts, start) : bisect_left(starts, end)]

    def verb_at(self, position: int) -> Verb | None:
        return next(iter(self.verbs_between(position, position + 1)), None)

    def sentence_of(self, position: int) -> tuple[int, int]:
        at = bisect_right(self.sentences, (position, len(self.text) + 1)) - 1
        if at >= 0 and self.sentences[at][0] <= position < self.sentences[at][1]:
            return self.sentences[at]
        return position, position

    def previous_sentence_start(self, position: int) -> int:
        """Where the sentence before the one at `position` starts."""
        at = bisect_right(self.sentences, (position, len(self.text) + 1)) - 1
        return self.sentences[max(0, at - 1)][0] if at >= 0 else position

    def paragraph_of(self, position: int) -> int:
        return bisect_right(self.paragraphs, position) - 1

    def mentions_in(self, start: int, end: int) -> list[Mention]:
        at = bisect_left(self._mention_starts, start)
        found = []
        for mention in self.mentions[at:]:
            if mention.start >= end:
                break
            if mention.end <= end:
                found.append(mention)
        return found
