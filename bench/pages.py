"""Memory against the number of large pages in a partition.

    python -m bench.pages [--small 4] [--large 16] [--megabytes 4.6]

Two `depeche run`s (the whole pipeline, each a fresh subprocess into a lake of its
own) on a folder of HTML pages of about `--megabytes` MB each, as news sites serve
them: a short French article among megabytes of inline scripts and navigation. The
peak resident memory (PSS) of every process of the run, `--small` pages against
`--large` pages, in one partition: the run holds one page at a time, so the
difference stays under 100 MiB whatever the number of pages.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from bench.__main__ import DEPECHE, Row, _env, machine, measured_command, print_table

MIB = 2**20
TARGET_MIB = 100

_SENTENCES = (
    "Le conseil municipal de {city} a voté mardi soir un budget de {n} millions d'euros "
    "pour la rénovation des écoles.",
    "« Nous devons agir maintenant », a déclaré la maire, Claire Martin, devant les élus.",
    "Les travaux commenceront au printemps et dureront près de {n} mois, selon la mairie.",
    "L'opposition a dénoncé un calendrier trop serré et demandé une consultation des parents.",
    "Les enseignants de {city} attendent ces travaux depuis plusieurs années.",
    "Le département participera au financement à hauteur de {n} pour cent.",
)
_CITIES = ("Lille", "Rennes", "Nantes", "Bordeaux", "Strasbourg", "Lyon", "Dijon", "Metz")


def article(index: int) -> str:
    """A short French article of its own (no two pages are duplicates)."""
    rng = random.Random(index)
    city = _CITIES[index % len(_CITIES)]
    paragraphs = [
        " ".join(s.format(city=city, n=rng.randint(2, 90)) for s in rng.sample(_SENTENCES, 4))
        for _ in range(4)
    ]
    paragraphs.append(f"Cet article porte le numéro {index} de la série consacrée à {city}.")
    return "\n".join(f"<p>{p}</p>" for p in paragraphs)


def page(index: int, size: int) -> str:
    """An article page of about `size` bytes: inline scripts (a CMS's state, trackers)
    and navigation menus around the article."""
    rng = random.Random(1000 + index)
    links = "".join(
        f'<li><a href="/rubrique/{rng.randrange(10**6)}">Rubrique {i}</a></li>' for i in range(2000)
    )
    nav = f"<nav class='menu'><ul>{links}</ul></nav>"
    body = article(index)
    state = {"items": []}
    script_size = size - 2 * len(nav) - len(body) - 1000
    item = 0
    while item * 60 < script_size // 4:  # an item is about 60 bytes of JSON
        state["items"].append({"id": rng.randrange(10**9), "label": f"élément {rng.random()}"})
        item += 1
    blob = json.dumps(state, ensure_ascii=False)
    scripts = "".join(f"<script>window.__STATE_{k}__ = {blob};</script>" for k in range(4))
    return (
        "<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'>"
        f"<title>Budget des écoles, épisode {index}</title>{scripts}</head><body>{nav}"
        f"<article><h1>Budget des écoles, épisode {index}</h1>{body}</article>{nav}</body></html>"
    )


def write_pages(folder: Path, count: int, size: int) -> Path:
    folder.mkdir(parents=True)
    for index in range(count):
        (folder / f"page-{index:03d}.html").write_text(page(index, size), encoding="utf-8")
    return folder


def peak_of_run(work: Path, count: int, size: int) -> int:
    """Peak memory of every process of a `depeche run` on `count` pages."""
    pages = write_pages(work / f"pages-{count}", count, size)
    args = [DEPECHE, "run", str(pages), "--lake", str(work / f"lake-{count}")]
    return measured_command(args, _env(work)).peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=4, help="pages of the baseline run")
    parser.add_argument("--large", type=int, default=16, help="pages of the measured run")
    parser.add_argument("--megabytes", type=float, default=4.6, help="size of a page, in MB")
    args = parser.parse_args()
    size = int(args.megabytes * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="depeche-bench-pages-") as folder:
        work = Path(folder)
        peak_of_run(work, 1, size)  # warms the Prefect home, not measured
        small = peak_of_run(work, args.small, size)
        large = peak_of_run(work, args.large, size)
    growth = (large - small) / MIB
    rows = [
        Row(
            f"peak memory, {args.large} vs {args.small} pages of {args.megabytes:g} MB",
            f"{large / MIB:.0f} MiB",
            f"{small / MIB:.0f} MiB",
            large / small,
            f"≤ +{TARGET_MIB} MiB",
            growth <= TARGET_MIB,
        ),
    ]
    for key, value in machine():
        print(f"{key}: {value}")
    print(f"growth: {growth:+.0f} MiB for {args.large - args.small} more pages")
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
