"""One identity per person: canonical names, roles and genders from the article's text."""

from __future__ import annotations

import re

import pytest

from tasks.people import Mention, identities, name_words


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
