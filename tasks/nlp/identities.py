"""What an article says of the people and places its entities name: each entity's
canonical name (tasks/nlp/people.py), gender (tasks/nlp/gender.py) and place
(tasks/nlp/places.py), and the quotes with their speakers (tasks/nlp/quotes/). All are read
from the text and its entities: none needs more of the model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.nlp import gender, people, places, quotes


@dataclass(frozen=True)
class Reading:
    """One article's people, quotes, genders (by identity) and places (by entity index)."""

    who: people.People
    said: list[quotes.Quote]
    genders: dict[int, gender.Verdict]
    located: dict[int, places.Place]


def read_article(text: str, entities: list[dict[str, Any]]) -> Reading:
    """Who the entities of `text` (its entity rows) are, and who says its quotes."""
    mentions = [
        people.Mention(
            e["entity_index"], e["start_char"], e["end_char"], e["normalized"], e["label"]
        )
        for e in entities
    ]
    who = people.identities(text, mentions)
    found = quotes.find_quotes(text, mentions, who)  # reads pronouns' genders too
    return Reading(who, found, _genders(who, found, mentions), _places(entities, who))


def identified(entities: list[dict[str, Any]], reading: Reading) -> list[dict[str, Any]]:
    """The entity rows with their canonical name, gender and place."""
    rows = []
    for entity, canonical in zip(entities, reading.who.canonical, strict=True):
        verdict = reading.genders.get(id(reading.who.identity_of[entity["entity_index"]]))
        place = reading.located.get(entity["entity_index"])
        rows.append(
            {
                **entity,
                "canonical": canonical,
                "gender": verdict and verdict.gender,
                "gender_source": verdict and verdict.source,
                "place_kind": place and place.kind,
                "place_id": place and (place.place_id or None),
                "country": place and place.country,
                "lat": place and place.lat,
                "lon": place and place.lon,
            }
        )
    return rows


def quote_rows(doc_id: str, text: str, reading: Reading) -> list[dict[str, Any]]:
    """The rows of the article's quotes, each with its speaker."""
    return [
        {
            "doc_id": doc_id,
            "quote_index": index,
            "start_char": quote.start,
            "end_char": quote.end,
            "text": text[quote.start : quote.end],
            "kind": quote.kind,
            "verb": quote.verb,
            "speaker": quote.speaker,
            "speaker_start": quote.speaker_start,
            "speaker_end": quote.speaker_end,
            "speaker_entity_index": quote.entity,
            "speaker_canonical": quote.canonical,
            "speaker_kind": quote.speaker_kind,
            "speaker_via": quote.speaker_via,
            "quote_id": quote.quote_id,
            **_speaker_gender(quote, reading.who, reading.genders),
        }
        for index, quote in enumerate(reading.said)
    ]


def _genders(
    who: people.People, found: list[quotes.Quote], mentions: list[people.Mention]
) -> dict[int, gender.Verdict]:
    """Each person of the article (by identity) and their gender, from every cue: the
    model's persons, and the names quoted as a person whatever the model took them for
    (`Pasiphae`, unclassed, then `dit-elle`)."""
    speaking = _speakers(found, who, mentions)
    return {
        id(identity): gender.decide(identity.cues, identity.canonical)
        for identity in who.identities.values()
        if identity.is_person or id(identity) in speaking
    }


def _speakers(
    found: list[quotes.Quote], who: people.People, mentions: list[people.Mention]
) -> set[int]:
    """The identities (by id) that speak as persons; one named by a role where it speaks
    (`« … », s'inquiète la jeune femme`) takes the role's gender as a cue (its name's
    own roles are read where it is named)."""
    speaking = set()
    for quote in found:
        if quote.speaker_kind != "person" or quote.entity is None:
            continue
        identity = who.identity_of[quote.entity]
        if identity.label == "ORG":
            continue
        speaking.add(id(identity))
        named = mentions[quote.entity]  # an entity's index is its place in the list
        start, end = quote.speaker_start, quote.speaker_end
        by_role = start is not None and end is not None and not start <= named.start < end
        cue = people.role_cue(quote.speaker) if quote.speaker and by_role else None
        identity.cues.extend([] if cue is None else [cue])
    return speaking


def _places(entities: list[dict[str, Any]], who: people.People) -> dict[int, places.Place]:
    """The place each `LOC` entity stands for (a person the model took for a place is
    none), by entity index."""
    located = [
        e
        for e in entities
        if e["label"] == "LOC" and not who.identity_of[e["entity_index"]].is_person
    ]
    if not located:
        return {}
    found = places.resolve([e["normalized"] for e in located])
    return {e["entity_index"]: p for e, p in zip(located, found, strict=True) if p is not None}


def _speaker_gender(
    quote: quotes.Quote, who: people.People, genders: dict[int, gender.Verdict]
) -> dict[str, str | None]:
    """The speaker's gender when the speaker is a person (unknown when the text does
    not say which), else nulls."""
    verdict = None
    if quote.speaker_kind == "person" and quote.entity is not None:
        verdict = genders.get(id(who.identity_of[quote.entity]), gender.NO_CUE)
    elif quote.speaker_kind == "person":
        # a person the text names by a role only (`a déclaré la porte-parole`)
        cue = people.role_cue(quote.speaker or "")
        verdict = gender.NO_CUE if cue is None else gender.decide([cue], "")
    return {
        "speaker_gender": verdict and verdict.gender,
        "speaker_gender_source": verdict and verdict.source,
    }
