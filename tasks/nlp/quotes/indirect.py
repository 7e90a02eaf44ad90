"""Indirect quotes: reported speech outside the quotes (`X a affirmé que P`, `P, a
averti X`, `selon X, P`, `C'est ce qu'a annoncé X`)."""

from __future__ import annotations

import re
from bisect import bisect_left

from tasks.nlp.people import DETERMINERS, HUMAN_NOUNS
from tasks.nlp.quotes.document import Found, Source, Text, Verb
from tasks.nlp.quotes.phrases import (
    AFTER_QUOTE,
    after_qui,
    can_speak,
    clause_parts,
    head_noun,
    is_person_like,
    is_the_writer,
    preposition_source,
    source_after,
    speaker_after_preposition,
    verb_subject,
)
from tasks.nlp.quotes.verbs import FINITE
from tasks.nlp.quotes.words import (
    ADVERBS,
    AUXILIARIES,
    OPINION,
    ORG_NOUNS,
    POSSESSIVES,
    READ,
    READ_IN,
    TOKEN,
    WORD,
)

_SELON_INSIDE = re.compile(r"(?:,\s*|\s)(?:selon|d'après|à en croire)\s+")


_ENDS_WITH_COMMA = re.compile(r",\s*$")


_AFTER_MARK = re.compile(r"[»\"]\s*$")


_COMME = re.compile(r"\b[Cc]omme\s+(?:\w+\s+){0,3}$")


_QUE_WORD = re.compile(r"\b(?:que|qu')\b")


_COLON_QUOTE = re.compile(r"\s*:\s*[«\"]")


def indirect_quotes(doc: Text) -> list[Found]:
    """Reported speech outside the quotes."""
    found = [reported for verb in doc.verbs if (reported := _reported_by(doc, verb))]
    found += _prepositional_indirect(doc)
    found += _reported_before(doc)
    found += _read_that(doc)
    found += _views(doc)
    return found


# someone's view told as a noun (`L'hypothèse de Stephen Smith consiste à dire que P`,
# `l'idée de Smith est que P`): P is theirs
_VIEW = re.compile(
    r"\b(?:idée|thèse|hypothèse|argument|position|conviction|raisonnement|analyse)"
    r"\s+(?:de\s+|d'|du\s+|des\s+)(?P<who>[^.,;:!?«»\"\n]{1,60}?)\s+"
    r"(?:est|était|reste|consiste à (?:dire|affirmer|penser)|repose sur l'idée)\s+(?:que\s+|qu')",
    re.I,
)


def _has_views(doc: Text, source: Source) -> bool:
    """Whether a view can be someone's: a name, a person's role, an organisation (not
    `l'analyse des données`)."""
    if source.kind == "entity":
        return True
    head = head_noun(doc.text[source.start : source.end])
    return source.kind == "role" and head in HUMAN_NOUNS | ORG_NOUNS


def _views(doc: Text) -> list[Found]:
    """`L'idée de X est que P`: P, X's."""
    text = doc.text
    found = []
    for view in _VIEW.finditer(text):
        if doc.inside_quote(view.start()):
            continue
        source = source_after(doc, view.start("who"), view.end("who"))
        if source is None or not _has_views(doc, source):
            continue
        sentence_start, sentence_end = doc.sentence_of(view.start())
        end = _clause_end(doc, view.end(), _content_end(text, sentence_start, sentence_end))
        if end > view.end():
            found.append(Found(view.end(), end, "indirect", view.start(), None, source))
    return found


_THAT = re.compile(r"\s(?:que\s+|qu')")


def _read_that(doc: Text) -> list[Found]:
    """`On lit sur Le Point que P`, `on apprend via l'AFP que P`: P, from the medium."""
    text = doc.text
    found = []
    for read in READ.finditer(text):
        where = READ_IN.match(text, read.end())
        if where is None or doc.inside_quote(read.start()):
            continue
        sentence_start, sentence_end = doc.sentence_of(read.start())
        que = _THAT.search(text, where.end(), sentence_end)
        source = source_after(doc, where.end(), que.start()) if que else None
        if source is None:
            continue
        body_end = _content_end(text, sentence_start, sentence_end)
        content = _skip_spaces(text, que.end(), body_end)
        end = _clause_end(doc, content, body_end)
        if end > content:
            found.append(Found(content, end, "indirect", read.start(), None, source))
    return found


def _reported_by(doc: Text, verb: Verb) -> Found | None:
    """What a reporting verb outside the quotes reports: `X a affirmé que P` or `P, a
    averti X`."""
    if doc.inside_quote(verb.start) or verb.participle_only:
        return None
    text = doc.text
    before = text[doc.sentence_of(verb.start)[0] : verb.start]
    que = _QUE.match(text, verb.end)
    if que and _relative(text, que.end()):
        que = None  # `l'influence qu'a pu obtenir X`: a relative clause, not what was said
    if que and _NE_BEFORE.search(before) and not _NEGATION.search(text, verb.end, que.end()):
        return None
    if que and verb.lemma not in ("demander",):
        return _that_clause(doc, verb, que.end())
    colon = _COLON_STATEMENT.match(text, verb.end)
    # not after a quote: `Une « ruée » écrit-il : P` is the quote's attribution, and P
    # the writer's comment on it
    # nor after a comma, but for the one closing the subject's apposition
    after_comma = _ENDS_WITH_COMMA.search(before) and not _named_in_apposition(doc, verb)
    if colon and not after_comma and not _AFTER_MARK.search(before):
        return _after_colon(doc, verb, colon.end())
    if verb.lemma in OPINION and verb.pronoun is None:
        return None
    if _ENDS_WITH_COMMA.search(before) and not AFTER_QUOTE.search(before) and not verb.gerund:
        return _before_comma(doc, verb)
    return None


# a colon after the verb (and a time or an adverb: `a averti mardi :`, not an object: `a
# écrit trois livres :`) that opens words not quoted (`Sophie Binet prévient : la grève
# sera longue`)
_COLON_STATEMENT = re.compile(
    r"(?:\s+(?:" + "|".join(sorted(ADVERBS)) + r")){0,2}\s*:\s*(?:[-–—]\s*)?(?=[^\s«\"])"
)

# a clause, not a noun phrase (`a annoncé : trois mesures pour les familles qui ont…`): a
# finite verb among its first words, before any relative pronoun, not the noun `l'est`,
# `nord-est`
_CLAUSE_VERB = re.compile(
    r"(?<![-'])\b(?:est|sont|a|ont|était|étaient|avait|avaient|sera|seront|serait|seraient|va|"
    r"vont|doit|doivent|devra|peut|peuvent|pourra|faut|faudra|faudrait|fallait|"
    r"[a-zà-ÿ]{2,}(?:era|eront|erait|eraient|ira|iront|irait))\b"
)
# a comma and a finite verb: the clause around a relative one resumes
_RESUMED = re.compile(r",\s+(?=" + _CLAUSE_VERB.pattern + ")")


_RELATIVE_PRONOUN = re.compile(r"\b(?:qui|que|qu'|dont|où|lequel|laquelle)")
_CLAUSE_WORDS = 6  # the most words before a clause's verb


def _resumed(text: str, content: int, end: int) -> int:
    """Where a statement reported in a relative clause ends: at a comma and a finite verb
    once the statement has its own (`qui a affirmé que la mesure était injuste, votera
    contre`), not at its subject's apposition (`que la réforme, contestée, sera adoptée`)."""
    for resumed in _RESUMED.finditer(text, content, end):
        statement = text[content : resumed.start()]
        main = _CLAUSE_VERB.search(statement)
        if main and not _RELATIVE_PRONOUN.search(statement, 0, main.start()):
            return resumed.start()
    return end


def _named_in_apposition(doc: Text, verb: Verb) -> bool:
    """Whether the comma before a verb closes its subject's apposition (`Sophie Binet,
    secrétaire générale de la CGT, prévient`): the sentence opens with the name the
    verb's subject is."""
    sentence_start = doc.sentence_of(verb.start)[0]
    before = doc.text[sentence_start : verb.start]
    opening = sentence_start + len(before) - len(before.lstrip())
    source = verb_subject(doc, sentence_start, verb)
    return source is not None and source.kind == "entity" and source.start == opening


def _after_colon(doc: Text, verb: Verb, start: int) -> Found | None:
    """`X prévient : P`: P, said by the verb's subject, when it is a clause."""
    text = doc.text
    sentence_start, sentence_end = doc.sentence_of(verb.start)
    end = _clause_end(doc, start, _content_end(text, sentence_start, sentence_end))
    source = verb_subject(doc, sentence_start, verb)
    finite = _CLAUSE_VERB.search(text, start, end)
    if (
        source is None
        or is_the_writer(doc, verb, source)
        or finite is None
        or _RELATIVE_PRONOUN.search(text, start, finite.start())
        or len(WORD.findall(text[start : finite.start()])) > _CLAUSE_WORDS
    ):
        return None
    return Found(start, end, "indirect", verb.start, verb, source)


def _that_clause(doc: Text, verb: Verb, que_end: int) -> Found | None:
    """`X a affirmé que P`: P, said by the verb's subject, or by `pour X` between the
    verb and `que`."""
    text = doc.text
    sentence_start, sentence_end = doc.sentence_of(verb.start)
    body_end = _content_end(text, sentence_start, sentence_end)
    content = _skip_spaces(text, que_end, body_end)
    end = _clause_end(doc, content, body_end)
    if after_qui(text, sentence_start, verb.start):
        end = _resumed(text, content, end)
    source = preposition_source(doc, verb.end, que_end)
    if source is None:
        source = verb_subject(doc, sentence_start, _clause_verb(doc, sentence_start, verb))
    if end > content and source is not None and not is_the_writer(doc, verb, source):
        return Found(content, end, "indirect", verb.start, verb, source)
    return None


def _clause_verb(doc: Text, sentence_start: int, verb: Verb) -> Verb:
    """The verb whose subject says what `verb` reports: a present participle's
    (`Il a qualifié la réunion de « choc », estimant que P`) is the sentence's verb
    before it."""
    if not verb.gerund:
        return verb
    earlier = [v for v in doc.verbs_between(sentence_start, verb.start) if not v.gerund]
    return earlier[-1] if earlier else verb


def _before_comma(doc: Text, verb: Verb) -> Found | None:
    """`P, a averti X`: the words of the sentence before the comma, said by who the
    verb names after it."""
    text = doc.text
    sentence_start, sentence_end = doc.sentence_of(verb.start)
    before = text[sentence_start : verb.start]
    if _COMME.search(before):
        return None  # `, comme le rappelle X` is read by _reported_before
    source = verb.subject() or source_after(doc, verb.end, sentence_end)
    content_end = len(before.rstrip(" ,")) + sentence_start
    if (
        source is None
        or not can_speak(doc, source)
        or _apposition_before(doc, sentence_start, content_end)
    ):
        return None
    start = _content_start(text, sentence_start, content_end)
    if len(WORD.findall(text[start:content_end])) < 3:
        return None
    return Found(start, content_end, "indirect", verb.start, verb, source)


def _skip_spaces(text: str, position: int, end: int) -> int:
    while position < end and text[position] == " ":
        position += 1
    return position


def _apposition_before(doc: Text, start: int, comma: int) -> bool:
    """`Le maire de Paris, Anne Hidalgo, a annoncé…`: the comma before the verb closes a
    name (or a participle phrase: `présidée par X,`) in apposition to its subject, not
    reported words."""
    offset, part = clause_parts(doc.text[start:comma])[-1]
    part_start = start + offset
    words = [w for w in TOKEN.finditer(part) if w.group().lower() not in ("et", "ou", "de", "d")]
    if not words:
        return False
    covered = [
        w for w in words if any(m.start <= part_start + w.start() < m.end for m in doc.mentions)
    ]
    participle = words[0].group().lower().endswith(("ée", "ées", "és", "é", "ie", "is"))
    return len(covered) == len(words) or (participle and len(words) <= 5)


def _relative(text: str, position: int) -> bool:
    """Whether the `que` before `position` opens a relative clause (a verb right after
    it), not reported content (a subject after it)."""
    word = TOKEN.match(text, position + (1 if text[position : position + 1] == " " else 0))
    return word is not None and (word.group().lower() in AUXILIARIES or word.group() in FINITE)


def _content_start(text: str, start: int, end: int) -> int:
    """Where reported content starts in a sentence: after a leading `Ainsi,`."""
    lead = re.match(
        r"(?:Ainsi|Mais|Et|Or|De plus|En outre|Enfin|Cependant|Pourtant),\s*", text[start:end]
    )
    return start + lead.end() if lead else start


def _content_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " .!?…\n":
        end -= 1
    return end


def _clause_end(doc: Text, start: int, end: int) -> int:
    """The end of reported content: the sentence, without a colon that opens a quote or
    an attribution after it (`…, a déclaré son porte-parole`)."""
    text = doc.text
    colon = _COLON_QUOTE.search(text, start, end)
    if colon:
        end = colon.start()
    for verb in doc.verbs_between(start + 1, end):
        if verb.gerund or verb.modal:
            continue  # not an attribution: `P, estimant X`, `le maire, qui doit annoncer X,`
        if _ENDS_WITH_COMMA.search(text[start : verb.start]):
            tail = text[verb.end : end]
            if not _QUE_WORD.search(tail):
                end = len(text[start : verb.start].rstrip(" ,")) + start
                break
    return end


# a sentence that opens on whose view it gives: `Selon X,`, `Pour X,`, `À ses yeux,`, `À en
# croire X,`, after a linking adverb (`Cependant, pour les auteurs,`)
_LEAD = re.compile(
    r"(?:(?:Mais|Et|Or)\s+|(?:Mais|Or|Cependant|Pourtant|Toutefois|Néanmoins|En revanche"
    r"|Ainsi|Enfin|Par ailleurs|De plus|En outre|Du reste),\s*)?"
    r"(?:[Ss]elon|[Dd]'après|[Pp]our|[AÀ] en croire|[Aa]ux yeux d[eu']\s*"
    r"|[AÀàa] (?:ses|son|leur|leurs) (?:yeux|avis))\s*"
)


def _prepositional_indirect(doc: Text) -> list[Found]:
    """`Selon X, P`, `Pour X, P`, `À ses yeux, P`, `P, selon X`, `P selon X`."""
    found = []
    for sentence_start, sentence_end in doc.sentences:
        body_end = _content_end(doc.text, sentence_start, sentence_end)
        lead = _LEAD.match(doc.text[sentence_start:body_end])
        if lead:
            reported = _after_lead(doc, sentence_start, body_end, lead.end())
        else:
            reported = _around_selon(doc, sentence_start, body_end)
        if reported is not None:
            found.append(reported)
    return found


def _after_lead(doc: Text, sentence_start: int, body_end: int, lead_end: int) -> Found | None:
    """`Selon X, P`: P, from the comma that ends the lead to the end of the clause."""
    text = doc.text
    comma = _top_level_comma(text[sentence_start:body_end], lead_end)
    if comma is None:
        return None
    source = preposition_source(doc, sentence_start, sentence_start + comma)
    content = _skip_spaces(text, sentence_start + comma + 1, body_end)
    if source is not None:
        content, source = _past_apposition(doc, source, content, body_end)
    if source is None or text[content : content + 1] in '«"':
        return None
    if _verb_infinitive_after(text, sentence_start + lead_end):
        return None
    end = _clause_end(doc, content, body_end)
    return Found(content, end, "indirect", content, None, source)


def _around_selon(doc: Text, sentence_start: int, body_end: int) -> Found | None:
    """`P, selon X` or `P selon X, Q`: the sentence, or what comes before `selon` when
    nothing follows its speaker."""
    text = doc.text
    for match in _SELON_INSIDE.finditer(text[sentence_start:body_end]):
        at = sentence_start + match.start()
        if doc.inside_quote(at):
            continue
        source = speaker_after_preposition(doc, at, sentence_start + match.end(), body_end)
        if source is None:
            continue
        tail = text[source.end : body_end].strip(" ,")
        head = text[sentence_start:at].rstrip(" ,")
        if not head or head[-1] in '»"' or not WORD.search(head):
            continue  # `« … » selon X`: the quote's attribution
        if tail.startswith(":") or not tail:
            start = _content_start(text, sentence_start, at)
            return Found(start, at, "indirect", at, None, source)
        return Found(sentence_start, body_end, "indirect", at, None, source)
    return None


def _past_apposition(doc: Text, source: Source, content: int, body_end: int) -> tuple[int, Source]:
    """Where `Pour X, P` reports from, and who X is, past an apposition to X that the
    comma opens: a role (`Pour Laurent Berger, le secrétaire général de la CFDT, P`) or
    the name of the person X is (`Selon la ministre de la Santé, Agnès Buzyn, P`)."""
    text = doc.text
    comma = _top_level_comma(text[:body_end], content)
    if comma is None or comma - content > 80:
        return content, source
    part = text[content:comma]
    after = _skip_spaces(text, comma + 1, body_end)
    if not WORD.search(text, after, body_end):
        return content, source
    first = TOKEN.match(part)
    lead = first.group().lower() if first else ""
    # a role, with its determiner or one alone (`Jean Dupont, maire de Lyon, P`); not the
    # start of the statement (`Pour le syndicat, salariés, retraités et chômeurs…`,
    # `Selon lui, député ou non, chacun…`)
    alone = (
        lead in HUMAN_NOUNS
        and not lead.endswith(("s", "x"))
        and not re.search(r"\b(?:et|ou|ni)\b", part)
    )
    if (lead in DETERMINERS | POSSESSIVES or alone) and head_noun(part) in HUMAN_NOUNS:
        return after, source
    names = doc.mentions_in(content, comma)
    named = len(names) == 1 and is_person_like(doc, names[0])
    if named and not part.replace(text[names[0].start : names[0].end], "").strip():
        return after, Source(names[0].start, names[0].end, "entity", names[0].index)
    return content, source


def _verb_infinitive_after(text: str, position: int) -> bool:
    """`Pour prendre une image,`: a purpose, not a speaker."""
    word = TOKEN.match(text, position)
    return (
        bool(word)
        and word.group().lower().endswith(("er", "ir", "re"))
        and not word.group()[:1].isupper()
        and word.group().lower() not in DETERMINERS | POSSESSIVES | {"les", "lui", "eux"}
    )


def _top_level_comma(sentence: str, start: int) -> int | None:
    depth = 0
    for i in range(start, len(sentence)):
        if sentence[i] == "(":
            depth += 1
        elif sentence[i] == ")":
            depth -= 1
        elif sentence[i] == "," and depth <= 0:
            return i
        elif sentence[i] in '«":':
            return None
    return None


# a verb, up to a few words (`a déclaré mardi à la presse`, `confirme pour X`) or an incise
# between two commas (`dira à la télévision, sans peur du ridicule,`), then `que` (one comma
# alone ends a noun phrase: `a félicité le chancelier, qu'il recevra` is a relative clause);
# not the `que` of a conjunction (`tandis que`, `alors que`)
_QUE = re.compile(
    r"\s*(?:[^.,;:!?«»\"]{0,60}?\s|[^.,;:!?«»\"]{0,40}?,[^.,;:!?«»\"]{1,40}?,\s)??"
    r"(?<!tandis )(?<!alors )(?<!parce )(?<!bien )(?<!ainsi )"
    r"(?<!dès )(?<!avant )(?<!après )(?<!pour )(?<!sans )(?<!afin )(?<!même )"
    r"(?:que(?=\s)|qu'(?=\w))"  # the word `que`, not the start of `quelques`
)


# `n'en mentionnent que deux`: `ne … que` is `only`, not what was said, unless a
# negation of its own sits between (`ne dit pas que`)
_NE_BEFORE = re.compile(r"\b(?:ne|n')\s*(?:(?:en|y|le|la|les|lui|leur|l')\s*)?$", re.I)


_NEGATION = re.compile(r"\b(?:pas|plus|jamais|guère|point|rien|personne)\b")


_REPORTED = re.compile(r"\b[Cc]'est (?:du moins |bien |en tout cas )?ce qu(?:e\s+|')")


_AS_SAID = re.compile(r",\s*comme\s+(?:(?:nous|me|vous|l'|le|la|les|l'a|l'ont|lui)\s*)*$")


# `Comme l'a rappelé X, P`, `Comme le souligne X, P`; not `Comme il l'avait promis, X s'est
# rendu à Kiev` (the pronoun is X, and P what X did)
_AS_SAID_FIRST = re.compile(r"(?:(?:Et|Mais|Or)\s+)?[Cc]omme\s+(?:l'|le\s+|la\s+)?")


def _as_said_first(doc: Text, verb: Verb, sentence: tuple[int, int]) -> Found | None:
    """`Comme l'a rappelé X, P`: P, said by X."""
    text = doc.text
    sentence_start, sentence_end = sentence
    lead = _AS_SAID_FIRST.fullmatch(text, sentence_start, verb.start)
    if lead is None:
        return None
    body_end = _content_end(text, sentence_start, sentence_end)
    comma = _top_level_comma(text[:body_end], verb.end)
    if comma is None:
        return None
    source = verb.subject() or source_after(doc, verb.end, comma)
    if source is None:
        return None
    # past an apposition: `Comme le souligne Jean Dupont, maire de Lyon, P`
    content, source = _past_apposition(
        doc, source, _skip_spaces(text, comma + 1, body_end), body_end
    )
    end = _clause_end(doc, content, body_end)
    if len(WORD.findall(text[content:end])) < 3:
        return None
    return Found(content, end, "indirect", verb.start, verb, source)


def _reported_before(doc: Text) -> list[Found]:
    """`C'est ce qu'a annoncé X` (the sentence before is what X said), `P, comme le
    rappelle X` and `Comme l'a rappelé X, P`."""
    text = doc.text
    found = []
    sentences = doc.sentences
    for verb in doc.verbs:
        sentence_start, sentence_end = doc.sentence_of(verb.start)
        first = _as_said_first(doc, verb, (sentence_start, sentence_end))
        if first is not None:
            found.append(first)
            continue
        before = text[sentence_start : verb.start]
        reported = _REPORTED.search(before)
        as_said = None if reported else _AS_SAID.search(before)
        if not (reported and reported.end() == len(before)) and as_said is None:
            continue
        source = verb.subject() or source_after(doc, verb.end, sentence_end)
        if source is None:
            continue
        if as_said is None:
            index = sentences.index((sentence_start, sentence_end))
            if index == 0:
                continue
            previous_start, previous_end = sentences[index - 1]
            end = _content_end(text, previous_start, previous_end)
            found.append(Found(previous_start, end, "indirect", verb.start, verb, source))
        else:
            end = sentence_start + as_said.start()
            if len(WORD.findall(text[sentence_start:end])) >= 3:
                found.append(Found(sentence_start, end, "indirect", verb.start, verb, source))
    return found


def overlaps_quotes(candidate: Found, quotes: list[Found], starts: list[int]) -> bool:
    """Whether reported content is mostly quoted words already found (`quotes` in text
    order, `starts` their starts)."""
    length = max(1, candidate.end - candidate.start)
    covered = 0
    for quote in quotes[: bisect_left(starts, candidate.end)]:
        if quote.end > candidate.start:
            covered += min(candidate.end, quote.end) - max(candidate.start, quote.start)
    return covered / length >= 0.6


def overlaps(candidate: Found, found: list[Found]) -> bool:
    """Whether another reading of the same reported content was kept already."""
    for other in found:
        if other.kind != "indirect":
            continue
        overlap = min(candidate.end, other.end) - max(candidate.start, other.start)
        if overlap > 0.5 * min(candidate.end - candidate.start, other.end - other.start):
            if (
                candidate.source
                and candidate.source.kind == "entity"
                and (other.source is None or other.source.kind != "entity")
            ):
                other.start, other.end, other.source = (
                    candidate.start,
                    candidate.end,
                    candidate.source,
                )
                other.verb = candidate.verb
            return True
    return False
