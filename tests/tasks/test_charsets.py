"""Reading bytes as text: a charset is believed only when its text reads as text, and
double-encoded UTF-8 is repaired where the garbling is certain, and counted."""

from __future__ import annotations

import codecs

import pytest

from schemas import Rejected
from tasks.text.charsets import decode, repair_mojibake

TEXT = "Le numéro un l’a dit : « déjà l’été », à Noël, l’œuvre de Pâques… 25 €"


def page(meta: str = "") -> str:
    return f"<html><head>{meta}</head><body><p>{TEXT}</p></body></html>"


def garbled(text: str) -> str:
    return text.encode("utf-8").decode("cp1252")


@pytest.mark.parametrize(
    ("data", "declared", "encoding"),
    [
        # UTF-8 served as ISO-8859-1 (its ’ reads as Latin-1 C1 controls)
        (page().encode(), "iso-8859-1", "utf-8"),
        (page().encode(), "latin1", "utf-8"),
        (page().encode(), "windows-1252", "utf-8"),
        # Windows-1252 served as UTF-8, or as ISO-8859-1 (which browsers read as 1252)
        (page().encode("cp1252"), "utf-8", "cp1252"),
        (page().encode("cp1252"), "iso-8859-1", "cp1252"),
        # a <meta> that lies, either way
        (page('<meta charset="iso-8859-1">').encode(), None, "utf-8"),
        (page('<meta charset="utf-8">').encode("cp1252"), None, "cp1252"),
        (page('<meta charset="utf-8">').encode("cp1252"), "utf-8", "cp1252"),
        # a charset no codec knows
        (page().encode(), "x-unknown-charset", "utf-8"),
        # a byte-order mark beats both
        (codecs.BOM_UTF8 + page('<meta charset="iso-8859-1">').encode(), "iso-8859-1", "utf-8-sig"),
        (page().encode("utf-16"), "iso-8859-1", "utf-16"),
    ],
)
def test_a_charset_that_lies_is_not_believed(
    data: bytes, declared: str | None, encoding: str
) -> None:
    decoded = decode(data, "html", declared)
    assert decoded.encoding == encoding
    assert TEXT in decoded.text
    assert decoded.repairs == 0


@pytest.mark.parametrize("declared", [None, "utf-8", "iso-8859-1"])
def test_text_garbled_at_its_source_is_repaired_and_counted(declared: str | None) -> None:
    data = page().replace(TEXT, garbled(TEXT)).encode()
    decoded = decode(data, "html", declared)
    assert TEXT in decoded.text
    assert decoded.encoding == "utf-8"
    assert decoded.repairs == sum(not ch.isascii() for ch in TEXT)


def test_text_garbled_twice_or_in_part_is_repaired() -> None:
    twice = garbled(garbled("numéro"))
    assert repair_mojibake(f"Le {twice} un, l’été") == ("Le numéro un, l’été", 3)
    # Latin-1's reading: ’ as â and two C1 controls
    latin = "l’été".encode().decode("latin-1")
    assert repair_mojibake(latin) == ("l’été", 3)


@pytest.mark.parametrize(
    "text",
    [
        "SÃO PAULO, l’ÉTÉ\u00a0» et l’été\u00a0»",  # Ã and É before a no-break space
        "Âge, château, CHÂTEAU ÂGÉ, ÆSOP Ëmile Åsa «\u00a0Ça\u00a0» Ô Œ",
        f"{TEXT} Le JSON garde U+0085 \u0085 et U+2028 \u2028 tels quels. {TEXT}",
    ],
)
def test_text_that_only_looks_garbled_is_left_as_it_is(text: str) -> None:
    assert repair_mojibake(text) == (text, 0)
    decoded = decode(text.encode(), "wire")
    assert (decoded.text, decoded.encoding, decoded.repairs) == (text, "utf-8", 0)


def test_a_reading_with_c1_controls_is_no_reading() -> None:
    # bytes undefined in Windows-1252 (0x81): Latin-1 would read a control
    data = "Été à Noël ".encode("latin-1") * 20 + b"\x81"
    decoded = decode(data, "wire", "iso-8859-1")
    assert decoded.encoding not in ("cp1252", "iso-8859-1")


def test_a_declared_charset_never_makes_text_of_binary() -> None:
    with pytest.raises(Rejected) as rejected:
        decode(b"\x89PNG\r\n\x1a\n" + bytes(range(1, 30)) * 10, "html", "iso-8859-1")
    assert rejected.value.reason == "binary"
