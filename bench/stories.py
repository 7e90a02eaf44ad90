"""What finding stories costs as the lake grows, and whether it finds them.

    python -m bench.stories [--sizes 2000 8000] [--seed 1]

A lake of N generated articles (300 to 900 words drawn from a vocabulary of 6,000
made-up words, so unrelated articles share no 5-gram, as real ones rarely do) is
built partition by partition (500 articles each) the way the clean stage does it:
read the earlier partitions' signatures from the lake, sign the new articles, give
them their stories, commit the partition's `stories` table with a manifest. One
article in ten republishes an earlier one (from any earlier partition or its own),
lightly edited: a few words changed, a paragraph added. The table gives the time of
the whole lake, per 1,000 articles, of the last partition alone, and how many of the
republications joined their original's story (and how many articles joined a story
that is not theirs).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from schemas import STORIES
from tasks.earlier import earlier_state
from tasks.lake.storage import Lake
from tasks.records import Manifest, PartitionSpec, Status
from tasks.text import stories

PER_PARTITION = 500
SYLLABLES = "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu".split()  # noqa: E501


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randrange(2, 5))))
    return sorted(words)


def articles(n: int, seed: int) -> tuple[list[str], dict[int, int]]:
    """n texts, and for each republication the index of the article it republishes."""
    rng = random.Random(seed)
    words = vocabulary(rng)
    texts: list[str] = []
    copies: dict[int, int] = {}
    for index in range(n):
        if index > 20 and rng.random() < 0.1:
            original = rng.randrange(index)
            while original in copies:  # a republication of an original, not of a copy
                original = rng.randrange(index)
            tokens = texts[original].split()
            for _ in range(len(tokens) // 50):  # 2% of the words changed
                tokens[rng.randrange(len(tokens))] = rng.choice(words)
            tokens += [rng.choice(words) for _ in range(rng.randrange(20, 80))]  # an update
            texts.append(" ".join(tokens))
            copies[index] = original
        else:
            texts.append(" ".join(rng.choice(words) for _ in range(rng.randrange(300, 900))))
    return texts, copies


def build(root: Path, texts: list[str], threshold: float) -> tuple[list[str], float, float]:
    """Every partition's stories, as the clean stage finds and commits them; the
    stories, the seconds of the whole lake and of its last partition."""
    lake = Lake(root)
    now = datetime.now(UTC).isoformat()
    found: list[str] = []
    total = last = 0.0
    for seq, first in enumerate(range(0, len(texts), PER_PARTITION), start=1):
        partition = f"gen-{seq:04d}"
        lake.write_partition(PartitionSpec(partition, seq, [], partition))
        batch = texts[first : first + PER_PARTITION]
        doc_ids = [f"{first + i:016x}" for i in range(len(batch))]
        clock = time.perf_counter()
        earlier = earlier_state(lake, partition).stories()
        signatures = stories.signatures(batch)
        story_ids = stories.assign_stories(doc_ids, signatures, earlier, threshold)
        last = time.perf_counter() - clock
        total += last
        found += story_ids
        rows = {
            "doc_id": doc_ids,
            "story_id": story_ids,
            "minhash": [stories.to_bytes(s) for s in signatures],
        }
        manifest = Manifest("clean", partition, Status.COMMITTED, "", "", {}, now, now)
        with lake.staging("clean", partition) as staging:
            staging.write(STORIES, pa.Table.from_pydict(rows, schema=STORIES.schema))
            lake.commit(staging, manifest)
    return found, total, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    print(
        "| articles | lake (s) | per 1,000 articles (s) | last partition of 500 (s) "
        "| republications found | wrongly joined |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        texts, copies = articles(size, args.seed)
        with tempfile.TemporaryDirectory(prefix="depeche-bench-stories-") as folder:
            found, total, last = build(Path(folder) / "lake", texts, args.threshold)
        ids = [f"{i:016x}" for i in range(size)]
        joined = sum(found[copy] == ids[original] for copy, original in copies.items())
        wrong = sum(
            story != ids[i] and copies.get(i) is None for i, story in enumerate(found)
        ) + sum(found[c] not in (ids[o], ids[c]) for c, o in copies.items())
        print(
            f"| {size:,} | {total:.2f} | {1000 * total / size:.2f} | {last:.2f} "
            f"| {joined}/{len(copies)} | {wrong} |"
        )


if __name__ == "__main__":
    main()
