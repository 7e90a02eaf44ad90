"""One identity per person: canonical names, roles and genders from the article's text."""

from __future__ import annotations

import re

import pytest

from tasks.nlp.gender import FEMALE, MALE, ROLE, Cue
from tasks.nlp.people import Mention, identities, name_words, role_cue

MARK = re.compile(r"\[(?P<name>[^\]]+)\]\((?P<label>[A-Z]+)\)")


def marked(text: str) -> tuple[str, list[Mention]]:
    """A text with its mentions marked `[name](LABEL)`: the plain text, and the mentions
    (each one's normalized form is the name as written)."""
    plain, found, position = "", [], 0
    for mark in MARK.finditer(text):
        plain += text[position : mark.start()]
        name = mark["name"]
        found.append(Mention(len(found), len(plain), len(plain) + len(name), name, mark["label"]))
        plain += name
        position = mark.end()
    return plain + text[position:], found


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (
            "[Jens Stoltenberg](PER) est à [Bruxelles](LOC). [M. Stoltenberg](PER) a parlé. "
            "[Stoltenberg](PER) est reparti.",
            ["Jens Stoltenberg", "Bruxelles", "Jens Stoltenberg", "Jens Stoltenberg"],
        ),
        (
            "[M. Trump](PER) a reçu le président. [Donald Trump](PER) a ensuite parlé.",
            ["Donald Trump", "Donald Trump"],
        ),
        # a first name alone, whatever label the model gave it
        (
            "[Marie-Pierre Dausse](PER) enseigne. [Marie-Pierre](LOC) ne fait plus cours.",
            ["Marie-Pierre Dausse", "Marie-Pierre Dausse"],
        ),
        (
            "L'[Organisation du traité de l'Atlantique nord](ORG) ([OTAN](ORG)) se réunit. "
            "L'[OTAN](ORG) décidera.",
            ["Organisation du traité de l'Atlantique nord"] * 3,
        ),
        # a bracket that is no acronym of the name before it stays apart
        (
            "[Domdidier](LOC) ([FR](LOC)) a réagi. [FR](LOC) est un canton.",
            ["Domdidier", "FR", "FR"],
        ),
        # of two people with one last name, the one named last before
        (
            "[Emmanuel Macron](PER) et [Brigitte Macron](PER) sont arrivés. "
            "[Brigitte Macron](PER) a salué. [Macron](PER) a souri.",
            ["Emmanuel Macron", "Brigitte Macron", "Brigitte Macron", "Brigitte Macron"],
        ),
        # a full name the model left unclassed, then part of it tagged as a person
        (
            "L'assassinat du général iranien [Qassem Soleimani](MISC) a choqué. "
            "[Soleimani](PER) était visé.",
            ["Qassem Soleimani", "Qassem Soleimani"],
        ),
        # but a place is never a part of an unclassed name
        ("Le [Paris Saint-Germain](MISC) a joué à [Paris](LOC).", ["Paris Saint-Germain", "Paris"]),
    ],
)
def test_canonical_names(text: str, canonical) -> None:
    people = identities(*marked(text))
    assert people.canonical == canonical
    assert all(name.strip() for name in people.canonical)


def test_roles_and_genders_are_read_around_the_names() -> None:
    text = (
        "L'ambassadrice des [États-Unis](LOC) à l'[OTAN](ORG), [Kay Bailey Hutchison](PER), est "
        "arrivée. Son secrétaire général [Jens Stoltenberg](PER) l'attendait, avec [Zineb](MISC), "
        "étudiante en droit, et [M. Dupont](PER). Devant le bâtiment B2, [Marie Curie](PER) "
        "parlait."
    )
    people = identities(*marked(text)).identities
    assert people["Kay Bailey Hutchison"].gender == "f"
    assert "ambassadrice" in people["Kay Bailey Hutchison"].roles
    assert people["Jens Stoltenberg"].gender == "m"
    assert {"secrétaire", "général"} <= people["Jens Stoltenberg"].roles
    assert people["Zineb"].gender == "f"
    assert people["Dupont"].gender == "m"
    # `le bâtiment` is no role of hers: the text says nothing of her gender
    assert people["Marie Curie"].gender is None


def test_name_words_drop_titles_and_marks() -> None:
    assert name_words("M. Trump") == ["Trump"]
    assert name_words("Pr Joly-Gomez") == ["Joly-Gomez"]
    assert name_words("Antoine*") == ["Antoine"]
    assert name_words("Mme") == ["Mme"]  # a title alone stays what it is


def test_a_name_of_another_label_that_a_title_or_role_presents_is_a_person() -> None:
    text = (
        "L'étudiante [Zineb Alami](MISC) est venue avec [M. Fip](ORG). Le film [Âge d'or](MISC) "
        "passait. À [Bruxelles](LOC), le ministre a parlé."
    )
    people = identities(*marked(text)).identities
    assert people["Zineb Alami"].is_person and people["Zineb Alami"].gender == "f"
    # what the model calls an organisation stays one; `le film` names no person
    assert not people["Fip"].is_person
    assert not people["Âge d'or"].is_person and people["Âge d'or"].cues == []
    # the words after a place open the next clause: they say nothing of it
    assert not people["Bruxelles"].is_person and people["Bruxelles"].cues == []


@pytest.mark.parametrize(
    ("phrase", "cue"),
    [
        ("la jeune femme", Cue(FEMALE, ROLE)),
        ("un dirigeant du parti", Cue(MALE, ROLE)),
        ("la porte-parole du gouvernement", Cue(FEMALE, ROLE)),
        ("l'ambassadrice", Cue(FEMALE, ROLE)),
        ("le porte-parole", Cue(MALE, ROLE)),
        ("la chef du service", None),  # the determiner and the noun disagree: no answer
        ("le rapport", None),  # no person
        ("la Commission", None),
        ("elle", None),  # a pronoun: resolved to a person, not read as a role
        ("", None),
    ],
)
def test_a_role_naming_a_speaker_gives_its_gender(phrase: str, cue: Cue | None) -> None:
    assert role_cue(phrase) == cue
