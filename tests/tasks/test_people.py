"""One identity per person: canonical names, roles and genders from the article's text."""

from __future__ import annotations

import re

import pytest

from tasks.gender import FEMALE, MALE, ROLE, Cue
from tasks.people import Mention, identities, name_words, role_cue


def mentions(text: str, names: list[tuple[str, str]]) -> list[Mention]:
    """The mentions of `names` (normalized form, label), found in order in the text."""
    found, position = [], 0
    for name, label in names:
        match = re.compile(re.escape(name)).search(text, position)
        assert match is not None, name
        found.append(Mention(len(found), match.start(), match.end(), name, label))
        position = match.end()
    return found


@pytest.mark.parametrize(
    ("text", "names", "canonical"),
    [
        (
            "Jens Stoltenberg est à Bruxelles. M. Stoltenberg a parlé. Stoltenberg est reparti.",
            [("Jens Stoltenberg", "PER"), ("Bruxelles", "LOC"), ("M. Stoltenberg", "PER"),
             ("Stoltenberg", "PER")],
            ["Jens Stoltenberg", "Bruxelles", "Jens Stoltenberg", "Jens Stoltenberg"],
        ),
        (
            "M. Trump a reçu le président. Donald Trump a ensuite parlé.",
            [("M. Trump", "PER"), ("Donald Trump", "PER")],
            ["Donald Trump", "Donald Trump"],
        ),
        (
            # a first name alone, whatever label the model gave it
            "Marie-Pierre Dausse enseigne. Marie-Pierre ne fait plus cours.",
            [("Marie-Pierre Dausse", "PER"), ("Marie-Pierre", "LOC")],
            ["Marie-Pierre Dausse", "Marie-Pierre Dausse"],
        ),
        (
            "L'Organisation du traité de l'Atlantique nord (OTAN) se réunit. L'OTAN décidera.",
            [("Organisation du traité de l'Atlantique nord", "ORG"), ("OTAN", "ORG"),
             ("OTAN", "ORG")],
            ["Organisation du traité de l'Atlantique nord"] * 3,
        ),
        (
            # a bracket that is no acronym of the name before it stays apart
            "Domdidier (FR) a réagi. FR est un canton.",
            [("Domdidier", "LOC"), ("FR", "LOC"), ("FR", "LOC")],
            ["Domdidier", "FR", "FR"],
        ),
        (
            # of two people with one last name, the one named last before
            "Emmanuel Macron et Brigitte Macron sont arrivés. Brigitte Macron a salué. "
            "Macron a souri.",
            [("Emmanuel Macron", "PER"), ("Brigitte Macron", "PER"), ("Brigitte Macron", "PER"),
             ("Macron", "PER")],
            ["Emmanuel Macron", "Brigitte Macron", "Brigitte Macron", "Brigitte Macron"],
        ),
        (
            # a full name the model left unclassed, then part of it tagged as a person
            "L'assassinat du général iranien Qassem Soleimani a choqué. Soleimani était visé.",
            [("Qassem Soleimani", "MISC"), ("Soleimani", "PER")],
            ["Qassem Soleimani", "Qassem Soleimani"],
        ),
        (
            # but a place is never a part of an unclassed name
            "Le Paris Saint-Germain a joué à Paris.",
            [("Paris Saint-Germain", "MISC"), ("Paris", "LOC")],
            ["Paris Saint-Germain", "Paris"],
        ),
    ],
)  # fmt: skip
def test_canonical_names(text: str, names, canonical) -> None:
    people = identities(text, mentions(text, names))
    assert people.canonical == canonical
    assert all(name.strip() for name in people.canonical)


def test_roles_and_genders_are_read_around_the_names() -> None:
    text = (
        "L'ambassadrice des États-Unis à l'OTAN, Kay Bailey Hutchison, est arrivée. Son "
        "secrétaire général Jens Stoltenberg l'attendait, avec Zineb, étudiante en droit, et "
        "M. Dupont. Devant le bâtiment B2, Marie Curie parlait."
    )
    names = [
        ("États-Unis", "LOC"),
        ("OTAN", "ORG"),
        ("Kay Bailey Hutchison", "PER"),
        ("Jens Stoltenberg", "PER"),
        ("Zineb", "MISC"),
        ("M. Dupont", "PER"),
        ("Marie Curie", "PER"),
    ]
    people = identities(text, mentions(text, names)).identities
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
        "L'étudiante Zineb Alami est venue avec M. Fip. Le film Âge d'or passait. "
        "À Bruxelles, le ministre a parlé."
    )
    names = [("Zineb Alami", "MISC"), ("M. Fip", "ORG"), ("Âge d'or", "MISC"), ("Bruxelles", "LOC")]
    people = identities(text, mentions(text, names)).identities
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
