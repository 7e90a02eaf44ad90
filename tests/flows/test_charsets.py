"""Charsets that lie, end to end: `depeche run` (a real subprocess) on pages served by
a real HTTP server on 127.0.0.1 and on files, each the bytes of one encoding labelled
as another, or garbled at its source. Every article comes out as the text it was
written in, or repaired and counted; none as mojibake, none quarantined."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pandas as pd
import pytest

from tests.websites import Answer, Site

CITIES = {
    "latin1": "Quimper",
    "windows": "Brest",
    "meta": "Vannes",
    "garbled": "Lorient",
    "bom": "Morlaix",
    "wire": "Dinan",
}


def article(city: str) -> str:
    """A French article of its own, with the characters charsets garble: é è à ç œ,
    typographic apostrophes and guillemets with no-break spaces."""
    return (
        f"Le numéro un de la pêche à {city} l’a confirmé jeudi : la saison a été "
        f"exceptionnelle. «\u00a0C’est une très bonne année pour nos bateaux\u00a0», a déclaré "
        f"le président du comité, qui s’inquiète pourtant de l’œuvre des tempêtes "
        f"d’hiver sur le port de {city} et de la hausse du prix du gazole.\n\n"
        f"Les pêcheurs de {city} espèrent que la criée sera rénovée avant l’été, "
        "comme la mairie l’avait promis lors de la dernière réunion publique."
    )


def html(city: str, meta: str = "") -> str:
    return (
        f"<html><head>{meta}<title>La pêche à {city}</title></head><body><article>"
        + "".join(f"<p>{p}</p>" for p in article(city).split("\n\n"))
        + "</article></body></html>"
    )


def garbled(text: str) -> str:
    """Text double-encoded: its UTF-8 read as Windows-1252 (`é` → `Ã©`)."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


@pytest.fixture(scope="module")
def run(depeche, prefect_harness, tmp_path_factory):
    from prefect.settings import PREFECT_API_URL

    site = Site("127.0.0.1")
    site.routes.update(
        {
            # UTF-8 served as ISO-8859-1 (with ’, whose bytes read as Latin-1 C1 controls)
            "/latin1": Answer(
                body=html(CITIES["latin1"]).encode("utf-8"),
                content_type="text/html; charset=iso-8859-1",
            ),
            # Windows-1252 served as UTF-8
            "/windows": Answer(
                body=html(CITIES["windows"]).encode("cp1252"),
                content_type="text/html; charset=utf-8",
            ),
            # no charset in the answer, a <meta> that lies
            "/meta": Answer(
                body=html(CITIES["meta"], '<meta charset="iso-8859-1">').encode("utf-8"),
                content_type="text/html",
            ),
            # garbled at the source: UTF-8 bytes of double-encoded text, declared UTF-8
            "/garbled": Answer(body=garbled(html(CITIES["garbled"])).encode("utf-8")),
        }
    )
    folder = tmp_path_factory.mktemp("files")
    # a byte-order mark beats the <meta> that says otherwise
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    (folder / "bom.html").write_bytes(codecs.BOM_UTF8 + html(CITIES["bom"], meta).encode())
    (folder / "wire.txt").write_bytes(article(CITIES["wire"]).encode("cp1252"))
    lake = tmp_path_factory.mktemp("charsets") / "lake"
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
    }
    env.pop("PREFECT_LOGGING_LEVEL", None)
    urls = [site.url(f"/{name}") for name in ("latin1", "windows", "meta", "garbled")]
    options = ["--allow-private-network", "127.0.0.1/32", "--min-delay", "0"]
    try:
        result = depeche("run", *urls, str(folder), "--lake", str(lake), *options, env=env)
    finally:
        site.close()
    return {"result": result, "lake": lake}


def _rows(lake: Path, table: str) -> dict[str, dict]:
    """Rows of `table` by the city their article is about."""
    frame = pd.read_parquet(lake / table)
    rows = {}
    for row in frame.to_dict("records"):
        text = row.get("payload") or row.get("text")
        [city] = [name for name, town in CITIES.items() if town in text]
        rows[city] = row
    return rows


def test_every_page_reads_as_the_text_it_was_written_in(run) -> None:
    result, lake = run["result"], run["lake"]
    assert result.returncode == 0, result.stdout + result.stderr
    rejected = sorted((lake / "quarantine").rglob("*.parquet"))  # a file only where rows are
    assert not rejected, pd.concat(map(pd.read_parquet, rejected))[["source_path", "reason"]]
    raw = _rows(lake, "raw")
    assert set(raw) == set(CITIES)
    assert {city: row["encoding"] for city, row in raw.items()} == {
        "latin1": "utf-8",
        "windows": "cp1252",
        "meta": "utf-8",
        "garbled": "utf-8",
        "bom": "utf-8-sig",
        "wire": "cp1252",
    }
    for city, row in raw.items():
        assert "numéro un de la pêche" in row["payload"], city
        assert "l’œuvre des tempêtes" in row["payload"], city
        assert "Ã" not in row["payload"] and "â€" not in row["payload"], city


def test_text_garbled_at_its_source_is_repaired_and_counted(run) -> None:
    raw = _rows(run["lake"], "raw")
    repairs = {city: row["repairs"] for city, row in raw.items()}
    # the page's own accents, ’, œ, « » with their no-break spaces: each garbled once
    written = sum(not ch.isascii() for ch in html(CITIES["garbled"]))
    assert repairs == {**dict.fromkeys(CITIES, 0), "garbled": written}


def test_the_articles_are_french_and_clean(run) -> None:
    clean = _rows(run["lake"], "clean")
    assert set(clean) == set(CITIES)
    for city, row in clean.items():
        assert "Le numéro un de la pêche" in row["text"], city
        assert "« C'est une très bonne année pour nos bateaux »" in row["text"], city
        assert row["language"] == "fr"
