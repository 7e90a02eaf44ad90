"""Speakers resolved: a pronoun, a role or a name as written becomes the person,
organisation or medium it stands for, in text order."""

from __future__ import annotations

from dataclasses import dataclass

from tasks.nlp.gender import AGREEMENT, FEMALE, MALE, PRONOUN, Cue, by_first_name
from tasks.nlp.people import (
    DETERMINERS,
    FEMININE_DETERMINERS,
    GOVERNING,
    HUMAN_NOUNS,
    MASCULINE_DETERMINERS,
    PREPOSITIONS,
    Identity,
    Mention,
)
from tasks.nlp.quotes.document import Found, Quote, Source, Text
from tasks.nlp.quotes.phrases import (
    DEMONSTRATIVES,
    PHRASE_STOP,
    head_noun,
    is_person_like,
    misc_name,
)
from tasks.nlp.quotes.words import (
    ANAPHORS,
    DOCUMENT_NOUNS,
    GROUP_NOUNS,
    MEDIA_NOUNS,
    NAMED_BY_KIND,
    ORG_NOUNS,
    PLURAL_PRONOUNS,
    POSSESSIVES,
    TOKEN,
    is_medium,
)


def _pronoun_cue(text: str, start: int, word: str) -> Cue:
    """The gender a speaker's pronoun gives: the attribution agrees with the speaker
    when the pronoun is inverted (`a-t-elle expliqué`), else it is a pronoun resolved
    to them (`elle a expliqué`)."""
    inverted = text[max(0, start - 1) : start] == "-"
    return Cue(FEMALE if word == "elle" else MALE, AGREEMENT if inverted else PRONOUN)


@dataclass
class Resolver:
    """Resolves speakers in text order, remembering who spoke last."""

    doc: Text
    last: tuple[int, Identity, int] | None = None  # position, identity, entity index

    def compatible(self, identity: Identity, gender: str | None) -> bool:
        """Whether a pronoun of `gender` can stand for `identity`: the gender the text
        gives them, else their first name's (`elle` is not Paul Girard)."""
        if gender is None:
            return True
        said = identity.gender
        if said is None and identity.is_person:
            said = {FEMALE: "f", MALE: "m"}.get(by_first_name(identity.canonical) or "")
        return said in (None, gender)

    def person_before(
        self,
        position: int,
        gender: str | None,
        *,
        roles: set[str] | None = None,
        floor: int = 0,
        subject: bool = False,
    ) -> tuple[Identity, int] | None:
        """The person named last before `position` (outside quotes, from `floor` on), of
        that gender, with those `roles`, as a `subject` (not after a preposition) if
        asked."""
        doc = self.doc
        inside = doc.inside_quote
        candidates = [
            m
            for m in doc.mentions
            if floor <= m.start
            and m.end <= position
            and not inside(m.start)
            and is_person_like(doc, m)
            and (not subject or _is_subject(doc, m))
        ]
        for mention in reversed(candidates):
            identity = doc.people.identity_of[mention.index]
            if not self.compatible(identity, gender):
                continue
            if roles is not None and not roles <= identity.roles:
                continue
            return identity, mention.index
        return None

    def pronoun(self, source: Source, position: int) -> tuple[Identity, int] | None:
        word = self.doc.text[source.start : source.end].lower()
        if word in PLURAL_PRONOUNS:
            return None
        if word in POSSESSIVES:
            return (self.last[1], self.last[2]) if self.last else None
        gender = "f" if word == "elle" else "m" if word in ("il", "lui") else None
        # who spoke in this sentence or the one before is who `il` most likely is
        if (
            self.last is not None
            and self.last[0] >= self.doc.previous_sentence_start(position)
            and self.compatible(self.last[1], gender)
            and self.last[1].is_person
        ):
            return self.last[1], self.last[2]
        # a subject of the sentence or the one before over a name after a preposition
        found = self.person_before(
            source.start, gender, floor=self.doc.previous_sentence_start(position), subject=True
        ) or self.person_before(source.start, gender)
        if found is None and self.last is not None and self.compatible(self.last[1], gender):
            return self.last[1], self.last[2]
        return found

    def role(self, source: Source) -> tuple[Identity, int] | None:
        doc = self.doc
        phrase = doc.text[source.start : source.end]
        words = [w.lower() for w in TOKEN.findall(phrase)]
        if not words:
            return None
        determiner = words[0]
        gender = (
            "f"
            if determiner in FEMININE_DETERMINERS
            else "m"
            if determiner in MASCULINE_DETERMINERS
            else None
        )
        head = head_noun(phrase)
        if determiner in POSSESSIVES and head in DOCUMENT_NOUNS:
            return self._owner(source.start, plural=determiner in ("leur", "leurs"))
        if determiner in POSSESSIVES or determiner == "les":
            return None
        # the words that name whom the phrase is about (`ministre`, `santé`)
        content = {w for w in words[1:] if w not in PREPOSITIONS and w not in DETERMINERS}
        content -= {"du", "des", "au", "aux", "les"}
        if head in ORG_NOUNS or head in MEDIA_NOUNS:
            return self._organisation_before(source.start, head, content | {head})
        if head in DOCUMENT_NOUNS or head not in HUMAN_NOUNS:
            return None
        if content == {head}:
            # a bare role (`la ministre`) is whom the paragraph is about, when it names her
            paragraph = doc.paragraphs[doc.paragraph_of(source.start)]
            matched = self.person_before(source.start, gender, floor=paragraph)
            if matched is not None:
                return matched
        matched = self.person_before(source.start, gender, roles=content)
        if matched is None:
            matched = self._role_after(source.start, gender, content)
        if matched is not None:
            return matched
        has_complement = any(w in ("de", "du", "des", "d") for w in words[1:])
        if has_complement:
            return None  # `le conseiller du président`: someone the article does not name
        return self.person_before(source.start, gender)

    def _named_last(self, position: int, gender: str) -> tuple[Identity, int] | None:
        """Who `ce dernier`, `celle-ci` at `position` stand for: the person of that gender
        named last, unless something of that gender that can be meant is named after
        them, outside quotes (`reçu par le ministre de l'Intérieur. Ce dernier`, `un
        contrat avec le PSG. Celui-ci`: nobody); not their apposition (`Jean Dupont, le
        maire, …`), a predicate (`élu maire`), a plural (`des journalistes`) or a noun of
        the other gender (`interrogé par la juge. Ce dernier`)."""
        doc = self.doc
        found = self.person_before(position, gender)
        if found is None:
            return None
        named = next(m for m in doc.mentions if m.index == found[1])
        after = named.end
        if doc.text.startswith(",", after):  # past the apposition
            closing = doc.text.find(",", after + 1, position)
            after = position if closing < 0 else closing + 1
        for mention in doc.mentions_in(after, position):
            if mention.label in ("PER", "LOC") or doc.inside_quote(mention.start):
                continue  # a person since is of the other gender; a place seldom speaks
            if _determiner_gender(doc.text, mention.start) in (None, gender):
                return None
        tokens = list(TOKEN.finditer(doc.text, after, position))
        words = [token.group().lower() for token in tokens]
        for at in range(1, len(words)):
            # `le ministre`, not the complement `président du conseil`, `de la région`
            if (
                words[at] in _WHAT_CAN_BE_MEANT
                and _GENDER_OF.get(words[at - 1]) == gender
                and words[at - 1] not in ("du", "au")
                and (at < 2 or words[at - 2] not in ("de", "d"))
                and not doc.inside_quote(tokens[at].start())
            ):
                return None
        return found

    def _owner(self, position: int, *, plural: bool) -> tuple[Identity, int] | None:
        """Whose `son rapport`, `leur étude` at `position` is: who spoke last, when no
        other person or organisation is named since (`L'Insee a publié une note. Selon
        son étude` is not theirs), at most a paragraph parts them, and a `plural`
        owner (`leur`) is not one person."""
        if self.last is None:
            return None
        doc = self.doc
        since, identity, index = self.last
        if plural and identity.is_person:
            return None
        if doc.paragraph_of(position) - doc.paragraph_of(since) > 1:
            return None
        for mention in self._named_since(position):
            if mention.label == "ORG" or is_person_like(doc, mention):
                return None
        return identity, index

    def _named_since(self, position: int) -> list[Mention]:
        """The names outside quotes after who spoke last and before `position`, of
        someone else."""
        doc = self.doc
        since, identity = (self.last[0], self.last[1]) if self.last else (-1, None)
        return [
            m
            for m in doc.mentions_in(since + 1, position)
            if doc.people.identity_of[m.index] is not identity and not doc.inside_quote(m.start)
        ]

    def _organisation_before(
        self, position: int, head: str, words: set[str]
    ) -> tuple[Identity, int] | None:
        """`l'agence`, `le quotidien`: the last name with its `words` in it (`la
        préfecture du Rhône` for `la préfecture`, not for `la préfecture du Nord`),
        else the organisation (or medium) named last; but an organisation named by
        its kind (`la préfecture`, `le ministère`: NAMED_BY_KIND) is only ever one
        named with those words, and a role the model took for an organisation
        (`ministre de l'Intérieur`) is none."""
        doc = self.doc
        before = [m for m in doc.mentions if m.end <= position and not doc.inside_quote(m.start)]
        # whatever the model took it for (`préfecture du Rhône` is a LOC)
        with_the_word = [
            m
            for m in before
            if m.label != "PER" and words <= set(TOKEN.findall(m.normalized.lower()))
        ]
        if with_the_word or head in NAMED_BY_KIND:
            named = with_the_word
        else:
            named = [
                m
                for m in before
                if (m.label == "ORG" or (head in MEDIA_NOUNS and is_medium(m.normalized)))
                and head_noun(doc.text[m.start : m.end]) not in HUMAN_NOUNS
            ]
        return (doc.people.identity_of[named[-1].index], named[-1].index) if named else None

    def _role_after(
        self, position: int, gender: str | None, roles: set[str]
    ) -> tuple[Identity, int] | None:
        for mention in self.doc.mentions:
            if mention.start <= position:
                continue
            identity = self.doc.people.identity_of[mention.index]
            if identity.is_person and self.compatible(identity, gender) and roles <= identity.roles:
                return identity, mention.index
        return None

    def resolve(self, found: Found) -> Quote:
        """The quote with its speaker resolved; a speaker the text names (a name, a
        pronoun, a role) is remembered as who spoke last."""
        source = found.source
        if source is not None:
            resolved = self._named(source, found.position)
            if resolved is not None:
                self.last = (found.position, resolved[0], resolved[1])
        else:
            resolved = self._continued(found) if found.continues else None
        return _quote(self.doc, found, resolved)

    def _named(self, source: Source, position: int) -> tuple[Identity, int] | None:
        """Who a source as written stands for: its entity, the person a pronoun or a
        role refers to. A resolved `il` or `elle` is a cue of that person's gender."""
        doc = self.doc
        if source.kind == "entity":
            return doc.people.identity_of[source.entity], source.entity
        anaphor = ANAPHORS.get(doc.text[source.start : source.end].lower())
        if anaphor is not None:  # `ce dernier`: the person named last, not who spoke last
            return self._named_last(source.start, anaphor)
        if source.kind == "role":
            return self.role(source)
        if source.kind != "pronoun":
            return None
        resolved = self.pronoun(source, position)
        word = doc.text[source.start : source.end].lower()
        if resolved is not None and word in ("il", "elle"):
            resolved[0].cues.append(_pronoun_cue(doc.text, source.start, word))
            if resolved[0].gender is None:
                resolved[0].gender = "f" if word == "elle" else "m"  # read from the pronoun
        return resolved

    def _continued(self, found: Found) -> tuple[Identity, int] | None:
        """The speaker of a quote without attribution: who spoke last, when no other
        person is named between as a subject and at most two paragraphs part them; else
        the one person named since as a subject (`Mathieu Rigouste s'interroge sur…
        « … »`), in the paragraph before or this one."""
        doc = self.doc
        others = [m for m in self._named_since(found.start) if is_person_like(doc, m)]
        subjects = [m for m in others if _is_subject(doc, m)]
        if not subjects:  # none named but after a preposition (`depuis Nicolas Sarkozy`)
            if self.last is None:
                return None
            position, identity, index = self.last
            paragraphs = doc.paragraph_of(found.start) - doc.paragraph_of(position)
            return (identity, index) if paragraphs <= 2 else None
        identities = {id(doc.people.identity_of[m.index]) for m in subjects}
        near = doc.paragraph_of(found.start) - doc.paragraph_of(subjects[-1].start) <= 1
        if len(identities) == 1 and near:
            return doc.people.identity_of[subjects[-1].index], subjects[-1].index
        return None


# the nouns of what `ce dernier`, `celle-ci` may stand for besides a person named, and the
# singular determiners that tell their gender
_WHAT_CAN_BE_MEANT = HUMAN_NOUNS | ORG_NOUNS | DOCUMENT_NOUNS | MEDIA_NOUNS | GROUP_NOUNS
_GENDER_OF = {
    **{word: "m" for word in MASCULINE_DETERMINERS - POSSESSIVES},
    **{word: "f" for word in FEMININE_DETERMINERS - POSSESSIVES},
}


def _determiner_gender(text: str, start: int) -> str | None:
    """The gender the word before a name gives it (`le PSG`, `la Cour`), if any."""
    before = TOKEN.findall(text[max(0, start - 8) : start])
    return _GENDER_OF.get(before[-1].lower()) if before else None


def _is_subject(doc: Text, mention: Mention) -> bool:
    """Whether a name may be its clause's subject: not after a preposition (`depuis
    Nicolas Sarkozy`, `pour Les Echos`)."""
    preceding = TOKEN.findall(doc.text[max(0, mention.start - 20) : mention.start])
    return not preceding or preceding[-1].lower() not in GOVERNING


def _quote(doc: Text, found: Found, resolved: tuple[Identity, int] | None) -> Quote:
    """A quote found, as published: its words, verb and speaker as written, and who the
    speaker is."""
    verb, source = found.verb, found.source
    return Quote(
        start=found.start,
        end=found.end,
        kind=found.kind,
        verb=doc.text[verb.start : verb.end] if verb is not None else None,
        speaker=doc.text[source.start : source.end] if source is not None else None,
        speaker_start=source.start if source is not None else None,
        speaker_end=source.end if source is not None else None,
        entity=resolved[1] if resolved else None,
        canonical=resolved[0].canonical if resolved else None,
        speaker_kind=_speaker_kind(doc, source, resolved[0] if resolved else None),
        speaker_via=_via(source) if resolved else None,
    )


def _via(source: Source | None) -> str:
    """How a resolved speaker was found: named, a pronoun's, a role's, or from the
    quotes and names around an unattributed quote."""
    if source is None:
        return "context"
    return "name" if source.kind == "entity" else source.kind


def _speaker_kind(doc: Text, source: Source | None, identity: Identity | None) -> str:
    """What the speaker is: a person, an organisation (a group of people too), a
    publication or broadcaster (`media`: `Mediapart révèle que…`), or `unknown` (no
    speaker, `on`, a document of nobody named)."""
    phrase = doc.text[source.start : source.end] if source is not None else ""
    head = head_noun(phrase)
    nouns = set(TOKEN.findall(PHRASE_STOP.split(phrase.lower())[0]))
    if (identity is not None and is_medium(identity.canonical)) or head in MEDIA_NOUNS:
        return "media"  # `le tabloïd Blesk`, whatever the model took the name for
    if identity is not None and (
        identity.is_person or misc_name(identity, identity.label, identity.canonical)
    ):
        return "person"
    if head in HUMAN_NOUNS:
        return "person"
    if identity is not None or head in ORG_NOUNS or nouns & GROUP_NOUNS:
        return "organisation"
    # `celle-ci` resolved to nobody may be a court or a law
    unsaid = ("on", "nous", *DEMONSTRATIVES)
    if source is not None and source.kind == "pronoun" and phrase.lower() not in unsaid:
        return "person"
    return "unknown"
