"""A synthetic corpus of French wire stories for the benchmarks.

`wire_stories(n, seed)` gives n unique stories in the wire format, 300 to 900 words
each, with a header (date and dateline), an agency byline, a photo caption, named
people, places and organizations, and quotes with their speakers. The same n and
seed give the same stories; no two are equal once normalized.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

FIRST = """Jean Marie Claire Philippe Nathalie Olivier Sophie Laurent Isabelle Thomas Camille
Nicolas Julie François Hélène Antoine Élodie Mathieu Aurélie Pierre Amandine Sébastien
Léa Vincent Chloé Guillaume Manon Julien Inès Hugo""".split()
LAST = """Martin Bernard Dubois Durand Lefebvre Moreau Laurent Simon Michel Leroy Roux David
Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent Muller
Lefèvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier Tremblay Gagnon Côté""".split()
CITIES = """Paris Lyon Marseille Toulouse Bordeaux Lille Nantes Strasbourg Montréal Québec
Bruxelles Genève Dakar Abidjan Rabat Tunis Ottawa Lausanne Liège Rennes Grenoble Nice""".split()
ORGS = [
    "l'Assemblée nationale",
    "le Sénat",
    "la Commission européenne",
    "l'Organisation mondiale de la santé",
    "la Banque centrale européenne",
    "le Conseil constitutionnel",
    "l'Union africaine",
    "la Cour des comptes",
    "Radio-Canada",
    "la SNCF",
    "l'Unesco",
    "le Fonds monétaire international",
]
ROLES = [
    "la ministre de la Santé",
    "le ministre de l'Économie",
    "le maire",
    "la présidente de la région",
    "le porte-parole du gouvernement",
    "la secrétaire générale du syndicat",
    "le directeur de l'hôpital",
    "la députée",
    "le préfet",
    "l'ambassadrice",
]
AGENCIES = ["Agence France-Presse", "La Presse canadienne", "Reuters", "Associated Press"]
SPEECH = ["a déclaré", "a affirmé", "a assuré", "a estimé", "a expliqué", "a indiqué", "a souligné"]
PRONOUN_SPEECH = ["a-t-il ajouté", "a-t-elle précisé", "a-t-il insisté", "a-t-elle indiqué"]
SUBJECTS = [
    "Le projet de loi",
    "La réforme des retraites",
    "Le plan de relance",
    "La grève des transports",
    "Le budget de l'État",
    "La campagne de vaccination",
    "Le chantier du tramway",
    "La hausse des prix de l'énergie",
    "Le sommet sur le climat",
    "La rénovation des écoles",
]
PREDICATES = [
    "a suscité de vives réactions parmi les élus de l'opposition",
    "doit être examiné en commission dans les prochaines semaines",
    "a été présenté mardi en conseil des ministres",
    "inquiète les associations de consommateurs",
    "devrait coûter plusieurs centaines de millions d'euros",
    "a pris du retard en raison de difficultés d'approvisionnement",
    "fait l'objet d'une large concertation avec les syndicats",
    "a été salué par les organisations patronales",
    "sera soumis au vote des parlementaires avant l'été",
    "a provoqué des manifestations dans plusieurs villes du pays",
]
CONTEXT = [
    "Selon les chiffres publiés par {org}, la situation s'est nettement améliorée depuis le "
    "début de l'année, même si de fortes disparités demeurent entre les régions.",
    "Les discussions se poursuivront la semaine prochaine à {city}, où doivent se réunir les "
    "représentants des collectivités locales et des entreprises concernées.",
    "{org} a rappelé que les engagements pris l'an dernier n'avaient été tenus qu'en partie, "
    "faute de moyens suffisants.",
    "Plusieurs experts interrogés par les journalistes jugent le calendrier trop ambitieux et "
    "réclament une évaluation indépendante des mesures annoncées.",
    "À {city}, les habitants rencontrés sur le marché se disent partagés entre l'espoir d'une "
    "amélioration rapide et la crainte de nouvelles dépenses.",
    "Le texte prévoit également la création d'un comité de suivi chargé de publier un rapport "
    "chaque trimestre, sous le contrôle de {org}.",
]
QUOTES = [
    "Nous devons agir vite et ensemble pour répondre aux attentes des citoyens",
    "Ce n'est pas une décision facile, mais elle est nécessaire pour l'avenir du pays",
    "Les familles ne peuvent plus attendre, il faut des réponses concrètes",
    "Nous resterons vigilants sur la mise en œuvre de ces engagements",
    "Il s'agit d'une étape importante, mais le chemin est encore long",
    "Personne ne doit être laissé de côté dans cette transition",
]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _capitalized(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _paragraph(rng: random.Random, serial: int, index: int) -> str:
    speaker = _person(rng)
    parts = [
        f"{rng.choice(SUBJECTS)} {rng.choice(PREDICATES)}, selon {rng.choice(ROLES)}, "
        f"{speaker}, qui s'exprimait à {rng.choice(CITIES)}.",
        _capitalized(rng.choice(CONTEXT).format(org=rng.choice(ORGS), city=rng.choice(CITIES))),
        f"« {rng.choice(QUOTES)} », {rng.choice(SPEECH)} {speaker}.",
        f"« Le dossier {serial}-{index} sera suivi de près », {rng.choice(PRONOUN_SPEECH)}.",
    ]
    rng.shuffle(parts)
    return " ".join(parts)


def wire_story(serial: int, seed: int = 0) -> str:
    """One story: deterministic from (serial, seed); its serial makes it unique."""
    rng = random.Random(seed * 1_000_003 + serial)
    target = rng.randint(300, 900)
    year, month, day = rng.randint(2018, 2024), rng.randint(1, 12), rng.randint(1, 28)
    header = f"date {year}-{month:02d}-{day:02d} ({rng.choice(CITIES)})"
    agency = rng.choice(AGENCIES)
    credit = f"{rng.choice(FIRST).upper()} {rng.choice(LAST).upper()}, {agency.upper()}"
    caption = f"PHOTO {credit} Des habitants rassemblés devant la mairie de {rng.choice(CITIES)}."

    def story(paragraphs: list[str]) -> str:
        body = [paragraphs[0], agency, *paragraphs[1:2], caption, *paragraphs[2:]]
        return header + "\n\n" + "\n\n".join(body) + "\n"

    paragraphs = [_paragraph(rng, serial, 0)]
    while len(story(paragraphs).split()) < target:
        paragraphs.append(_paragraph(rng, serial, len(paragraphs)))
    while len(story(paragraphs).split()) > 900:
        paragraphs.pop()
    return story(paragraphs)


def wire_stories(n: int, seed: int = 0) -> Iterator[str]:
    for serial in range(n):
        yield wire_story(serial, seed)


def write_corpus(folder: Path, n: int, seed: int = 0) -> Path:
    """n stories as `<serial>.txt` files in `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    for serial, story in enumerate(wire_stories(n, seed)):
        (folder / f"{serial:06d}.txt").write_text(story, encoding="utf-8")
    return folder
