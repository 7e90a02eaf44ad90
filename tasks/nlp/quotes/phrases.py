"""Who is named, as written: the speaker phrase after a verb or a preposition, the
subject before a verb, and the noun a phrase is about."""

from __future__ import annotations

import re

from tasks.nlp.gender import first_names
from tasks.nlp.people import (
    DEMONYMS,
    DETERMINERS,
    GOVERNING,
    HUMAN_NOUNS,
    PARTICLES,
    PREPOSITIONS,
    Identity,
    Mention,
)
from tasks.nlp.quotes.document import Source, Text, Verb
from tasks.nlp.quotes.words import (
    ADVERBS,
    ANAPHORS,
    AUXILIARIES,
    DOCUMENT_NOUNS,
    GROUP_NOUNS,
    INDEFINITE,
    MEDIA_NOUNS,
    OBSERVING,
    ORDINALS,
    ORG_NOUNS,
    POSSESSIVES,
    TOKEN,
    is_medium,
)

_ADVERBIAL = re.compile(
    r"(?:\s*,?\s*(?:quant à (?:elle|lui|eux|elles)|pour (?:sa|leur) part|de (?:son|leur) côté"
    r"|en substance|en conclusion|en outre|d'ailleurs|à (?:son|leur) tour|(?:lui|elle) aussi"
    r"|plus tard|dans la foulée|aujourd'hui|(?:"
    + "|".join(sorted(ADVERBS - {"ne", "n", "pas", "plus", "tout", "même"}))
    + r")(?:\s+(?:matin|soir|après-midi))?)\b)+"
)


_NP_STOP = re.compile(
    r"[.;:!?«»\"()\[\]\n]|,\s+(?=[a-zà-ÿ])|\s(?:qui|que|qu'|dont|lors|dans|devant|sur|pendant|"
    r"avant|après|depuis|lorsqu'|lorsque|tout en|en marge|via|car|mais|au cours|au micro|"
    r"à l'issue|à la|à l'|au|aux|à|en|pour|par|avec|chez)\b"
)


_POUR = re.compile(r"(?<![\w'])(?P<prep>[Pp]our|[Ss]elon|[Dd]'après|[AÀàa] en croire)\s+")


_LEAD_PREPOSITION = re.compile(r"(?:pour|selon|d'après)\s+")


# `selon` of a criterion: before `que`, or after a participle of sorting or varying
_CRITERION = re.compile(
    r"(?:[Ss]elon|[Dd]'après)\s+qu"
    r"|\b(?![Mm]ais\b)\w+(?:é|ée|és|ées|is|ies|ient|ent)\s+(?:selon|d'après)\s+\S*$"
)


_ENDS_WITH_PRONOUN = re.compile(r"(?:^|[\s,])(il|elle|ils|elles|on)\s*$", re.I)

# the pronouns among ANAPHORS, subjects as `elle` is when they open a clause (`Celle-ci a
# affirmé`; not `L'avocat de celle-ci a affirmé`)
DEMONSTRATIVES = frozenset(phrase for phrase in ANAPHORS if " " not in phrase and "'" not in phrase)


_ONE_OF = re.compile(r"\s*(?:l'|l’)?(?:un|une)\s+d(?:es|e)\b")


PHRASE_STOP = re.compile(r"\s(?:à|au|aux|en|pour|sur|chez|avec|dans|par)\s")


AFTER_QUOTE = re.compile(r"[»\"]\s*,\s*$")


# the verb that ends a subject (`Le principal intéressé a rejeté toute faute et`)
_VERB_AFTER_SUBJECT = re.compile(r"\s(?:" + "|".join(sorted(AUXILIARIES)) + r")\s")


_AGENT = re.compile(r"[»\"]?\s*par\s+")


_YEUX = re.compile(
    r"\b[AÀàa](?:ux yeux d[eu']\s*|\s+(?P<pos>ses|son|leur|leurs)\s+(?:yeux|avis|sens))"
)


def _skip_adverbials(text: str, position: int) -> int:
    match = _ADVERBIAL.match(text, position)
    return match.end() if match else position


def is_person_like(doc: Text, mention: Mention) -> bool:
    """Whether a mention names a person: not a publication or broadcaster, whatever the
    model took it for (`Les Echos`, `Brut, le média social`)."""
    identity = doc.people.identity_of[mention.index]
    first_name = mention.normalized.split(" ", 1)[0].casefold() in first_names()
    medium_role = identity.roles & MEDIA_NOUNS and not identity.roles & HUMAN_NOUNS
    if is_medium(mention.normalized) or (medium_role and not first_name):
        return False
    if not _could_be_a_name(mention.normalized):
        return False
    return identity.is_person or misc_name(identity, mention.label, mention.normalized)


def _could_be_a_name(name: str) -> bool:
    """Whether a mention can be a person's name: not a word in lower case (`post-Hulot`)
    nor an adjective of nationality alone (`Africaine`), whatever the model took it for."""
    words = name.split()
    if not words or (words[0][:1].islower() and words[0] not in PARTICLES):
        return False
    return len(words) > 1 or words[0].lower() not in DEMONYMS


def _is_a_role(name: str) -> bool:
    """Whether what the model took for a name is a role (`ministre de la Santé`): it
    opens in lower case on a word for a person."""
    return name[:1].islower() and head_noun(name) in HUMAN_NOUNS


def misc_name(identity: Identity, label: str, name: str) -> bool:
    """A name the model left unclassed that reads like a person's: two or three
    capitalized words (`Tadej Pogačar`), or one that is a first name (`Zineb`) or that
    the text calls by a word for a person (`Antoine, chargé de cours`). One capitalized
    word alone is otherwise a network, a brand or a title (`Facebook ou Twitter`) as
    often as a person."""
    words = name.split()
    if label != "MISC" or not 0 < len(words) <= 3 or not all(w[:1].isupper() for w in words):
        return False
    return (
        len(words) > 1 or words[0].casefold() in first_names() or bool(identity.roles & HUMAN_NOUNS)
    )


# a complement between a verb and its subject: `a déclaré à l'AFP le ministre`
_COMPLEMENT = re.compile(
    r"(?:à|au|aux|dans|devant|sur|via|pendant|en|lors\s+d[eu']|auprès\s+d[eu'])\s*"
)


# the words that open the subject after such a complement, and where its clause ends
_SUBJECT_DETERMINERS = frozenset({"le", "la", "les", "l", "un", "une"})
_CLAUSE_END = re.compile(r"[.;:!?«»\"()\[\]\n,]")


def _past_complement(doc: Text, position: int, limit: int) -> int:
    """Where the subject after a complement starts (`à cette occasion le ministre`, `au
    Monde la directrice`): at the first determiner that does not hang on a preposition,
    or the first person named, before the clause ends; `position` when there is none."""
    text = doc.text
    complement = _COMPLEMENT.match(text, position, limit)
    if complement is None:
        return position
    end = _CLAUSE_END.search(text, complement.end(), limit)
    end = end.start() if end else limit
    people = {m.start for m in doc.mentions_in(complement.end(), end) if is_person_like(doc, m)}
    previous = ""
    for word in TOKEN.finditer(text, complement.end(), end):
        lowered = word.group().lower()
        opens = lowered in _SUBJECT_DETERMINERS and previous not in GOVERNING
        if previous and (opens or word.start() in people):
            return word.start()
        previous = lowered
    return position


def source_after(doc: Text, position: int, limit: int) -> Source | None:
    """The speaker named from `position` on (after a verb or `selon`): a pronoun, a
    person, an entity that opens the phrase, or the noun phrase itself. A complement
    before the speaker is passed over (`a déclaré à l'AFP le ministre`)."""
    text = doc.text
    position = _skip_adverbials(text, position)
    while position < limit and text[position] == " ":
        position += 1
    lead = _LEAD_PREPOSITION.match(text[position:limit])
    if lead:
        position += lead.end()
    else:
        position = _past_complement(doc, position, limit)
    word = TOKEN.match(text, position)
    if word is None or position >= limit:
        return None
    first = word.group().lower()
    if first in ("il", "elle", "ils", "elles", "on", "lui", "eux") or first in DEMONSTRATIVES:
        return Source(position, word.end(), "pronoun")
    stop = _NP_STOP.search(text, position, limit)
    phrase_end = stop.start() if stop else limit
    phrase = text[position:phrase_end].rstrip(" ,")
    if not phrase:
        return None
    if first in INDEFINITE or text.startswith("d'", position):
        return Source(position, position + len(phrase), "unnamed")
    return _phrase_source(doc, position, phrase, _named_end(doc, position, phrase_end, limit))


def _named_end(doc: Text, position: int, phrase_end: int, limit: int) -> int:
    """Where the phrase from `position` ends with the name that follows it: a name after
    a comma goes on a role (`l'ambassadrice des États-Unis, Kay Hutchison`), not on a
    time or a circumstance (`la première fois du quinquennat, Emmanuel Macron`)."""
    phrase = doc.text[position:phrase_end].rstrip(" ,")
    role = head_noun(phrase) in HUMAN_NOUNS or not TOKEN.match(phrase).group()[:1].islower()
    window_end = phrase_end
    for mention in doc.mentions_in(position, limit):
        if role and mention.start <= window_end + 2 and is_person_like(doc, mention):
            window_end = max(window_end, mention.end)
    return window_end


def _phrase_source(doc: Text, position: int, phrase: str, window_end: int) -> Source:
    """Who a noun phrase from `position` names (with the name apposed to it, up to
    `window_end`): a person in it, an entity that opens it, the author of a document,
    else the phrase itself, a role."""
    text = doc.text
    inside = [m for m in doc.mentions_in(position, window_end) if m.start < window_end]
    persons = [m for m in inside if is_person_like(doc, m)]
    if not persons and head_noun(phrase) in HUMAN_NOUNS:
        # the name after a role, whatever the model took it for: `le président, Damien Castelain`
        persons = [m for m in inside if text[max(position, m.start - 2) : m.start] == ", "]
    if persons:
        return Source(position, persons[0].end, "entity", persons[0].index)
    leading = [
        m
        for m in inside
        if len(TOKEN.findall(text[position : m.start])) <= 1 and not _is_a_role(m.normalized)
    ]
    if leading:
        return Source(position, leading[0].end, "entity", leading[0].index)
    if head_noun(phrase) in DOCUMENT_NOUNS and inside:
        return Source(position, inside[-1].end, "entity", inside[-1].index)
    return Source(position, position + len(phrase), "role")


# the nouns a phrase is about when it holds one: people, organisations, documents, media
_HEAD_NOUNS = HUMAN_NOUNS | ORG_NOUNS | DOCUMENT_NOUNS | MEDIA_NOUNS


def head_noun(phrase: str) -> str:
    """The noun a noun phrase is about: `la jeune femme` → `femme`, `le dernier rapport du
    Forum` → `rapport`."""
    words = [w.lower() for w in TOKEN.findall(phrase)]
    while words and (words[0] in DETERMINERS or words[0] in POSSESSIVES or words[0] == "les"):
        words = words[1:]
    head = ""
    for at, word in enumerate(words):
        if word in GOVERNING:
            break
        head = word
        if word in ORDINALS and at + 1 < len(words) and words[at + 1] not in PREPOSITIONS:
            continue  # `la première fois`, not `la première`
        if word in _HEAD_NOUNS:
            return word
    return head


def clause_parts(segment: str) -> list[tuple[int, str]]:
    """The comma-separated parts of a clause with their offsets (brackets kept whole)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(segment):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append((start, segment[start:i]))
            start = i + 1
    parts.append((start, segment[start:]))
    return parts


_TRAILING = re.compile(
    r"(?:\s+(?:ne|n'|se|s'|l'|le|la|les|lui|leur|en|y|et|aussi|encore|ainsi|également|bien|"
    r"quant à (?:elle|lui|eux|elles)|pour (?:sa|leur) part|lui-même|elle-même)|n'|s'|l')\s*$"
)


_RELATIVE = re.compile(r"(?<!\w)(?:que\s+|qu')")
_QUI = re.compile(r"(?:^|[\s,])qui\s*$")
_OPENS_RELATIVE = re.compile(
    r"\s*(?:(?:(?:" + "|".join(sorted(PREPOSITIONS)) + r")\s+)?(?:qui|lequel|laquelle|lesquels|"
    r"lesquelles)|(?:ce\s+)?(?:dont|que|qu')|où|auquel|auxquels|auxquelles|duquel|desquels|"
    r"desquelles)\b"
)
# the words a noun phrase opens with (`le`, `sa`, `les`, `des`, `un`)
_PHRASE_OPENERS = DETERMINERS | POSSESSIVES | {"les"} | INDEFINITE
# what joins a noun phrase to the one before it: a complement, a second of two
_JOINING = frozenset({"de", "du", "des", "d", "et"})
# `c'est elle qui`: the pronoun a cleft puts before `qui`
_CLEFT_PRONOUN = re.compile(r"\b[Cc]'est\s+(lui|elle)\s*$|\b[Cc]e sont\s+(eux|elles)\s*$")


def after_qui(text: str, floor: int, position: int) -> bool:
    """Whether the verb at `position` follows a relative `qui` (`Le maire, qui a affirmé
    que P, votera contre`): its clause ends where the sentence's own verb resumes."""
    return bool(_QUI.search(_without_trailing(text[floor:position])))


def _without_trailing(segment: str) -> str:
    """The words before a verb without the clitics and adverbs next to it (`qui ne l'`
    → `qui`)."""
    while True:
        trimmed = _TRAILING.sub("", segment)
        if trimmed == segment:
            return segment
        segment = trimmed


def _antecedent(doc: Text, floor: int, end: int) -> Source | None:
    """What a relative `qui` ending at `end` stands for: the noun phrase right before it,
    even after a preposition (`critiquée par les syndicats, qui`), from its head, not
    its complement (`l'avocat de Marie Durand, qui`) nor a second of two (`Jean Dupont
    et Marie Durand, qui`): a name, else the phrase from its determiner."""
    text = doc.text
    end = floor + len(text[floor:end].rstrip(" ,"))
    cleft = _CLEFT_PRONOUN.search(text, floor, end)
    if cleft:
        group = 1 if cleft.group(1) else 2
        return Source(cleft.start(group), cleft.end(group), "pronoun")
    start = _phrase_start(doc, floor, end)
    while start is not None:
        # `des comptes` in `la Cour des comptes` is joined by its own article
        first = TOKEN.match(text, start).group().lower()
        joined = [TOKEN.match(text, start)] if first in ("du", "des") else []
        joined = joined or list(TOKEN.finditer(text, floor, start))[-1:]
        if not joined or joined[0].group().lower() not in _JOINING:
            break
        before = _phrase_start(doc, floor, joined[0].start())
        if before is None:
            break
        start = before
    if start is None:
        return None
    named = [m for m in doc.mentions_in(start, end) if m.start == start]
    if named:
        return Source(named[0].start, named[0].end, "entity", named[0].index)
    word = TOKEN.match(text, start).group().lower()
    return Source(start, end, "unnamed" if word in INDEFINITE else "role")


def _phrase_start(doc: Text, floor: int, end: int) -> int | None:
    """Where the noun phrase ending at `end` starts: a name ending there, else its
    determiner among the few words before (None past an auxiliary: a clause)."""
    text = doc.text
    end = floor + len(text[floor:end].rstrip(" ,"))
    named = [m for m in doc.mentions_in(floor, end) if m.end == end]
    if named:
        return named[-1].start
    words = list(TOKEN.finditer(text, floor, end))[-6:]
    for word in reversed(words):
        lowered = word.group().lower()
        if lowered in AUXILIARIES:
            return None
        if lowered in _PHRASE_OPENERS:
            return word.start()
    return None


def _source_before(doc: Text, floor: int, position: int) -> Source | None:
    """The subject of a verb at `position`, in its clause from `floor`: a pronoun, the
    first entity or noun phrase of the last part that is not an apposition
    (`Marie-Pierre Dausse, professeur d'histoire, défend` → Marie-Pierre Dausse)."""
    text = doc.text
    segment = _without_trailing(text[floor:position])
    qui = _QUI.search(segment)
    if qui:  # `critiquée par les syndicats, qui affirment`: what `qui` stands for
        return _antecedent(doc, floor, floor + qui.start())
    relative = list(_RELATIVE.finditer(segment))
    # `des chiffres que le quotidien, mardi, estime`: the relative clause's subject; not
    # that of one closed with its own verb before this one (`Jean Dupont, que le juge a
    # entendu, a déclaré`)
    inside = TOKEN.findall(segment[relative[-1].end() :].lower()) if relative else []
    relative_closed = segment.rstrip().endswith(",") and bool(AUXILIARIES.intersection(inside))
    if relative and not relative_closed:
        floor += relative[-1].end()
        segment = segment[relative[-1].end() :]
    pronoun = _ENDS_WITH_PRONOUN.search(segment)
    if pronoun:
        start = floor + pronoun.start(1)
        return Source(start, start + len(pronoun.group(1)), "pronoun")
    parts = [(floor + offset, part) for offset, part in clause_parts(segment) if part.strip()]
    for at in range(len(parts) - 1, -1, -1):
        start, part = parts[at]
        closed = "," in text[start + len(part) : position]
        if at and closed and _OPENS_RELATIVE.match(part):
            # a relative clause closed before the verb (`Jean Dupont, qui dirige la
            # région, a affirmé`) tells of the part before; not one the verb is in
            # (`Antonin, dont Alain Bauer dira`)
            continue
        source = _subject_of_part(doc, start, start + len(part))
        if source is None:
            continue
        named = _named_before_apposition(doc, parts[:at], part)
        return named or source
    return None


def _named_before_apposition(doc: Text, earlier: list[tuple[int, str]], part: str) -> Source | None:
    """The person a role stands in apposition to (`Guillaume Goubert, directeur du
    journal La Croix, commentait`): the name the part before it is, when it is one."""
    if not earlier or head_noun(part) not in HUMAN_NOUNS:
        return None
    start, named = earlier[-1]
    mentions = doc.mentions_in(start, start + len(named))
    if len(mentions) == 1 and is_person_like(doc, mentions[0]):
        mention = mentions[0]
        if not named.replace(doc.text[mention.start : mention.end], "").strip():
            return Source(mention.start, mention.end, "entity", mention.index)
    return None


def _subject_of_part(doc: Text, start: int, end: int) -> Source | None:
    text = doc.text
    part = text[start:end]
    words = [(m.start() + start, m.group()) for m in TOKEN.finditer(part)]
    if not words:
        return None
    lead = words[0][1].lower()
    if lead in ("il", "elle", "ils", "elles", "on") or lead in DEMONSTRATIVES:
        return Source(words[0][0], words[0][0] + len(words[0][1]), "pronoun")
    if _ONE_OF.match(part):
        return None  # an apposition: `une des agences de l'OMS`

    def governed(mention: Mention) -> bool:  # `du Premier ministre X`: not the subject
        preceding = TOKEN.findall(text[start : mention.start])
        return bool(preceding) and preceding[-1].lower() in GOVERNING

    subjects = [mention for mention in doc.mentions_in(start, end) if not governed(mention)]
    # a person over the role before their name (`le ministre de l'Intérieur Jan Hamáček`)
    persons = [m for m in subjects if is_person_like(doc, m)]
    if subjects:
        mention = (persons or subjects)[0]
        return Source(mention.start, mention.end, "entity", mention.index)
    for at, (word_start, word) in enumerate(words):
        lowered = word.lower()
        if lowered in _PHRASE_OPENERS:
            if at and words[at - 1][1].lower() in PREPOSITIONS:
                continue
            phrase = text[word_start:end].strip()
            stop = PHRASE_STOP.search(phrase) or _VERB_AFTER_SUBJECT.search(phrase)
            phrase = phrase[: stop.start()] if stop else phrase
            kind = "unnamed" if lowered in INDEFINITE else "role"
            return Source(word_start, word_start + len(phrase), kind)
    return None


def speaker_after_preposition(doc: Text, preposition: int, after: int, limit: int) -> Source | None:
    """Who `selon`, `d'après`, `pour` at `preposition` names (from `after`), when it is
    someone who can speak: not a criterion (`selon qu'il s'agit`, `classés selon la
    source`, `selon les domaines`), not a time (`pour la première fois`)."""
    text = doc.text
    if _CRITERION.search(text[max(0, preposition - 30) : after + 3]):
        return None
    # what comes before a comma must be able to speak on its own: `la première fois du
    # quinquennat, Emmanuel Macron` is a time and then the sentence's subject
    comma = text.find(",", after, limit)
    if comma > after:
        alone = source_after(doc, after, comma)
        if alone is None or not can_speak(doc, alone):
            return None
    source = source_after(doc, after, limit)
    return source if source is not None and can_speak(doc, source) else None


def preposition_source(doc: Text, start: int, end: int) -> Source | None:
    """`pour X`, `selon X`, `d'après X`, `à ses yeux` in text[start:end]: X, when X
    can be a speaker (a pronoun, an entity, a person's noun phrase)."""
    text = doc.text
    yeux = _YEUX.search(text, start, end)
    if yeux and yeux.group("pos"):
        return Source(yeux.start("pos"), yeux.end("pos"), "pronoun")
    for match in _POUR.finditer(text, start, end):
        after = match.end()
        source = speaker_after_preposition(doc, match.start(), after, end)
        if source is None:
            continue
        word = TOKEN.match(text, after).group().lower() if TOKEN.match(text, after) else ""
        if match.group("prep").lower() == "pour":
            if source.kind == "unnamed":
                continue
            if source.kind == "role" and head_noun(text[source.start : source.end]) in (
                DOCUMENT_NOUNS
            ):
                continue  # `pour ce rapport`: what it is for, not who says
            if source.kind == "pronoun" and word not in ("lui", "elle", "eux", "elles"):
                continue
        return source
    return None


def verb_subject(doc: Text, floor: int, verb: Verb) -> Source | None:
    """Who a verb's subject is: its inverted pronoun, the agent of a participle
    (`qualifié de « … » par X`), a postposed speaker (`, a assuré X, «`), or the
    subject before it."""
    text = doc.text
    if verb.pronoun is not None:
        return verb.subject()
    if verb.participle_only:
        sentence_end = doc.sentence_of(verb.start)[1]
        agent = _AGENT.search(text, verb.end, sentence_end)
        return source_after(doc, agent.end(), sentence_end) if agent else None
    if AFTER_QUOTE.search(text[floor : verb.start]) or not text[floor : verb.start].strip(" ,"):
        return source_after(doc, verb.end, doc.sentence_of(verb.start)[1])
    return _source_before(doc, floor, verb.start)


def is_the_writer(doc: Text, verb: Verb | None, source: Source | None) -> bool:
    """`on note que`, `nous constatons`: the writer's own observation, not a quote."""
    if verb is None or source is None or source.kind != "pronoun":
        return False
    word = doc.text[source.start : source.end].lower()
    return word in ("on", "nous") and verb.lemma in OBSERVING


def can_speak(doc: Text, source: Source) -> bool:
    """Whether a phrase after a verb can be its speaker (`, a averti Jens Stoltenberg`)
    rather than its object (`a annoncé la fermeture des commerces`)."""
    if source.kind in ("pronoun", "entity"):
        return True
    head = head_noun(doc.text[source.start : source.end])
    return head in HUMAN_NOUNS | ORG_NOUNS | DOCUMENT_NOUNS | GROUP_NOUNS | MEDIA_NOUNS
