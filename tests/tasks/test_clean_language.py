"""French or not: the identifier's first language, and French's lead over the second,
never an absolute probability; the reason of a rejection never says French."""

from __future__ import annotations

import pytest

from tasks.stages.clean import LANGUAGE_MARGIN, clean_items, detect_language, extract_html
from tests.tasks.test_clean_dates import _raw

# A match sheet and a minute-by-minute live report: short lines of names and numbers
# where French comes first but at well under 0.5 over the identifier's 97 languages.
MATCH_SHEET = [
    "Lens-Lille : 2-0.",
    "Buts : Sotoca (51e), Openda (85e).",
    "Avertissements : Sotoca (88e), André (60e).",
    "Lens : Samba - Gradit, Danso, Medina - Frankowski, Abdulhamid, Diouf, Machado - "
    "Sotoca, Openda, Fofana.",
    "Lille : Chevalier - Diakité, Alexsandro, Ribeiro - Cabella, André, David, Zhegrova, Yazici.",
    "Arbitre : M. Turpin.",
    "Spectateurs : 37 705.",
]
LIVE = [
    "90e+3 Fin",
    "88e Jaune Sotoca",
    "85e But Openda 2-0",
    "80e David Yazici",
    "76e Fofana",
    "71e Samba",
    "65e VAR",
    "51e But Sotoca 1-0",
    "46e Reprise",
    "45e+2 Pause",
    "12e Corner Lille",
    "1re Coup d'envoi",
]
# Real news text in other languages, and French's neighbours
OTHERS = {
    "en": "The European Commission said on Tuesday that it would propose new rules for the "
    "bloc's energy market, after months of talks with member states about prices.",
    "es": "El Gobierno aprobó este martes un nuevo plan de vivienda que prevé la construcción "
    "de miles de pisos de alquiler asequible en las principales ciudades del país.",
    "it": "Il governo ha approvato martedì un nuovo piano per la casa che prevede la "
    "costruzione di migliaia di appartamenti in affitto nelle principali città del paese.",
    "ca": "El Govern ha aprovat aquest dimarts un nou pla d'habitatge que preveu la "
    "construcció de milers de pisos de lloguer assequible a les principals ciutats del país.",
}


def _page(lines: list[str]) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in lines)
    return (
        f"<html><body><article><h1>Lens - Lille en direct</h1>{paragraphs}</article></body></html>"
    )


@pytest.mark.parametrize("lines", [MATCH_SHEET, LIVE], ids=["match-sheet", "live"])
def test_a_short_line_french_page_is_french(language, lines) -> None:
    page = extract_html(_page(lines))
    assert page is not None
    ranking = language.rank(page["text"])
    assert ranking[0][0] == "fr" and ranking[0][1] < 0.5  # what an absolute bound refused
    result = clean_items(_raw({"payload": _page(lines)}), identifier=language)
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()
    (article,) = result.articles.to_pylist()
    assert article["language"] == "fr"
    assert article["language_score"] == pytest.approx(ranking[0][1], rel=1e-5)


@pytest.mark.parametrize("code", sorted(OTHERS))
def test_other_languages_are_refused_by_name(language, code) -> None:
    result = clean_items(_raw({"payload": OTHERS[code], "format": "wire"}), identifier=language)
    (row,) = result.quarantine.to_pylist()
    assert row["reason"] == "not_french"
    assert row["detail"].startswith(f"detected language {code} (p=")
    assert "French p=0.0" in row["detail"]


def test_a_bilingual_page_is_french_when_french_leads_it(language) -> None:
    french = (
        "Le Premier ministre a annoncé mardi un nouveau plan d'aide pour les ménages "
        "les plus modestes, financé par une taxe sur les profits des énergéticiens."
    )
    english = "The Prime Minister announced a new plan on Tuesday."
    assert detect_language(language, f"{french}\n\n{english}").not_french is None
    mostly_english = f"{english} {OTHERS['en']}\n\nLe plan prévoit des aides."
    reason = detect_language(language, mostly_english).not_french
    assert reason is not None and reason.startswith("detected language en")


@pytest.mark.parametrize("text", ["Lens bat Lille 2-0.", "Mi-temps.", "Le match est reporté."])
def test_a_very_short_text_gets_a_reason_that_never_says_french(language, text) -> None:
    found = detect_language(language, text)
    ranking = language.rank(text)
    if found.not_french is None:
        assert ranking[0][0] == "fr" and ranking[0][1] >= LANGUAGE_MARGIN * ranking[1][1]
        return
    assert not found.not_french.startswith("detected language fr")
    if ranking[0][0] == "fr":  # first, but not clearly: the reason says so
        assert "not clearly ahead of" in found.not_french


def test_french_too_close_to_its_neighbour_is_refused_with_both_named(language) -> None:
    # a margin no text can reach: French first is then never enough
    text = "Les ministres se sont réunis mardi à Bruxelles pour discuter du budget."
    reason = detect_language(language, text, margin=10**9).not_french
    second = language.rank(text)[1][0]
    assert reason.startswith("French (p=") and f"not clearly ahead of {second} (p=" in reason
