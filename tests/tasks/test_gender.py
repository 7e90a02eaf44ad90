"""Gender of people and speakers: the cues of the text, the first names, and the columns
annotate writes, with the real French model."""

from __future__ import annotations

from pathlib import Path

import pytest

import tasks
from tasks.nlp.gender import (
    FIRST_NAMES,
    NAME_SHARE,
    Cue,
    Verdict,
    agreement,
    by_first_name,
    decide,
    first_names,
)
from tasks.stages.annotate import annotate_articles
from tests.tasks.test_annotate import articles


def test_first_names_answer_only_past_the_share(tmp_path: Path) -> None:
    table = tmp_path / "names.csv"
    table.write_text(
        '"preusuel";"sexratio_prenom";"n";"sexe_prenom"\n'
        '"jean";0.99;1000;"Homme"\n"camille";0.27;1000;"Epicene"\n'
        '"claude";0.88;1000;"Homme"\n"éloïse";0.01;1000;"Femme"\n',
        encoding="utf-8",
    )
    names = first_names.__wrapped__(table)
    assert names == {"jean": "male", "éloïse": "female", "eloise": "female"}
    assert by_first_name("Éloïse Martin", names) == "female"
    assert by_first_name("Jean-Pierre Dupont", names) == "male"  # its first part answers
    assert by_first_name("Camille Durand", names) is None
    assert by_first_name("Claude Bernard", names) is None  # 88% is under the share
    assert by_first_name("Jean", names) is None  # one word may be a surname


def test_the_shipped_first_names_are_insee_s() -> None:
    names = first_names()
    assert FIRST_NAMES.is_relative_to(Path(tasks.__file__).parent)  # ships with the package
    assert (FIRST_NAMES.parent / "prenoms-insee.md").exists()  # its licence and origin
    assert names["valérie"] == "female" and names["eric"] == "male"
    assert "camille" not in names and "dominique" not in names
    assert NAME_SHARE == 0.95


@pytest.mark.parametrize(
    ("cues", "name", "verdict"),
    [
        ([], "Valérie Plante", Verdict("female", "first_name")),
        ([], "Kay Bailey Hutchison", Verdict("unknown", None)),  # absent from INSEE's names
        ([], "Macron", Verdict("unknown", None)),  # a surname alone never answers
        ([Cue("male", "pronoun"), Cue("male", "title")], "X Y", Verdict("male", "title")),
        ([Cue("female", "role")], "Claude Dupont", Verdict("female", "role")),
        # the text overrides a first name, and conflicting cues leave it unknown
        ([Cue("female", "agreement")], "Jean Martin", Verdict("female", "agreement")),
        (
            [Cue("female", "role"), Cue("male", "pronoun")],
            "Anne Dupont",
            Verdict("unknown", "conflict"),
        ),
    ],
)
def test_the_strongest_cue_decides_and_conflicts_say_nothing(cues, name, verdict) -> None:
    assert decide(cues, name) == verdict


@pytest.mark.parametrize(
    ("after", "gender"),
    [
        (" s'est dite déçue", "female"),
        (" s'est dit « déçu »", "male"),
        (", ministre de l'Intérieur, s'est rendu à Lille", "male"),
        (" est arrivée mardi", "female"),
        (" a déclaré", None),
        (" et son frère sont venus", None),
    ],
)
def test_a_participle_after_the_name_agrees_with_the_person(after: str, gender) -> None:
    text = "Claude Martin" + after
    assert agreement(text, len("Claude Martin")) == gender


STORY = (
    "« Nous allons en parler », a assuré Mme Dupont lors d'un point de presse. "
    "La ministre de la Santé, Claude Bernard, a répondu. « Je reste prudente », a-t-elle "
    "expliqué. Le maire Dominique Martin s'est dit déçu. "
    "« Le calendrier tiendra », a affirmé Valérie Lemoine. Kay Durand était présente."
)


def test_annotate_gives_people_and_speakers_their_gender_and_its_source(nlp) -> None:
    result = annotate_articles(articles([STORY]), nlp)
    people = {
        row["canonical"]: (row["gender"], row["gender_source"])
        for row in result.entities.to_pylist()
        if row["gender"] is not None
    }
    assert people["Dupont"] == ("female", "title")
    assert people["Claude Bernard"] == ("female", "role")
    assert people["Dominique Martin"] == ("male", "role")
    assert people["Valérie Lemoine"] == ("female", "first_name")
    assert people["Kay Durand"] == ("unknown", None)
    speakers = {
        row["speaker_canonical"]: (row["speaker_gender"], row["speaker_gender_source"])
        for row in result.quotes.to_pylist()
    }
    assert speakers["Dupont"] == ("female", "title")
    assert speakers["Claude Bernard"] == ("female", "role")
    assert speakers["Valérie Lemoine"] == ("female", "first_name")
    places = [row for row in result.entities.to_pylist() if row["label"] == "LOC"]
    assert all(row["gender"] is None for row in places)


def test_speakers_the_model_does_not_tag_as_persons_get_their_gender(nlp) -> None:
    stories = [
        # `Zineb` is left unclassed by the model: as a quote's speaker, a person
        "« Il faut agir », glisse Zineb. « Les cours continuent sans nous », a ajouté la "
        "jeune femme.",
        # `Camille`, a name of both sexes, answers nothing: the role she speaks by does
        "Camille Berthier enseigne les lettres à Lyon depuis dix ans. « Les cours continuent "
        "sans nous », a ajouté la jeune femme.",
        # speakers the article names by their role only
        "« Nous ne céderons pas », a déclaré la porte-parole du gouvernement. « Rien n'est "
        "décidé », a ajouté un dirigeant du parti.",
        # the full name unclassed, the last name a person: one person
        "L'OTAN discutera de l'Irak après l'assassinat à Bagdad du général iranien Qassem "
        "Soleimani. L'assassinat du général Soleimani par une frappe américaine a choqué.",
    ]
    result = annotate_articles(articles(stories), nlp)
    quotes = result.quotes.to_pylist()
    speakers = [
        (q["speaker"], q["speaker_canonical"], q["speaker_gender"], q["speaker_gender_source"])
        for q in quotes
    ]
    assert speakers == [
        ("Zineb", "Zineb", "female", "role"),
        ("la jeune femme", "Zineb", "female", "role"),
        ("la jeune femme", "Camille Berthier", "female", "role"),
        ("la porte-parole du gouvernement", None, "female", "role"),
        ("un dirigeant du parti", None, "male", "role"),
    ]
    people = {
        (row["label"], row["canonical"]): (row["gender"], row["gender_source"])
        for row in result.entities.to_pylist()
        if row["label"] in ("PER", "MISC")
    }
    assert people[("MISC", "Zineb")] == ("female", "role")
    assert people[("PER", "Camille Berthier")] == ("female", "role")
    assert people[("MISC", "Qassem Soleimani")] == ("male", "role")
    assert people[("PER", "Qassem Soleimani")] == ("male", "role")
