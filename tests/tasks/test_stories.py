"""Stories: near-duplicate articles share a story_id, in a partition and across them."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tasks.text import stories
from tasks.text.stories import Earlier, assign_stories, signatures

WORDS = (
    "gouvernement réforme retraites syndicats grève ministre député vote budget région "
    "transport métro hôpital école université recherche climat énergie prix salaire "
    "entreprise usine emploi chômage marché export port accord sommet traité frontière "
    "élection campagne candidat sondage tribunal procès juge police enquête incendie "
    "tempête récolte vignoble festival musée théâtre concert match stade équipe victoire"
).split()


def story(seed: int, words: int = 400) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def edited(text: str, seed: int, changes: int) -> str:
    """The text with `changes` words replaced: a lightly edited republication."""
    rng = random.Random(seed)
    words = text.split()
    for _ in range(changes):
        words[rng.randrange(len(words))] = "modifié"
    return " ".join(words)


def ids(n: int, prefix: str = "a") -> list[str]:
    return [f"{prefix}{i:015x}" for i in range(n)]


def test_near_duplicates_share_a_story_and_others_do_not() -> None:
    original = story(1)
    texts = [original, story(2), edited(original, 3, 10), original + " " + story(4, 60)]
    doc_ids = ids(len(texts))
    found = assign_stories(doc_ids, signatures(texts), Earlier.none(), 0.5)
    assert found == [doc_ids[0], doc_ids[1], doc_ids[0], doc_ids[0]]


def test_the_threshold_decides_how_similar_is_one_story() -> None:
    original = story(1)
    texts = [original, edited(original, 5, 40)]  # about half of its 5-grams changed
    doc_ids = ids(2)
    similar = stories.similarity(*signatures(texts))
    assert 0.2 < similar < 0.9
    low = assign_stories(doc_ids, signatures(texts), Earlier.none(), similar - 0.1)
    high = assign_stories(doc_ids, signatures(texts), Earlier.none(), min(1.0, similar + 0.1))
    assert low == [doc_ids[0], doc_ids[0]]
    assert high == doc_ids


def test_an_earlier_partition_gives_its_story_and_the_result_is_stable() -> None:
    first = [story(10), story(11)]
    earlier_ids = ids(2, "e")
    earlier = Earlier(earlier_ids, [earlier_ids[0], earlier_ids[1]], signatures(first))
    texts = [edited(first[1], 12, 5), story(13)]
    doc_ids = ids(2)
    found = assign_stories(doc_ids, signatures(texts), earlier, 0.5)
    assert found == [earlier_ids[1], doc_ids[1]]
    again = assign_stories(doc_ids, signatures(texts), earlier, 0.5)
    assert again == found


def test_signatures_round_trip_through_bytes() -> None:
    rows = signatures([story(1), story(2)])
    assert rows.dtype == np.uint32 and rows.shape == (2, stories.NUM_PERM)
    blobs = [stories.to_bytes(row) for row in rows]
    assert all(len(blob) == 4 * stories.NUM_PERM for blob in blobs)
    assert np.array_equal(stories.from_bytes(blobs), rows)
    assert stories.from_bytes([]).shape == (0, stories.NUM_PERM)


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_bands_are_datasketch_s_for_the_threshold(threshold: float) -> None:
    from datasketch import MinHashLSH

    bands, rows = stories.bands_for(threshold)
    lsh = MinHashLSH(threshold=threshold, num_perm=stories.NUM_PERM)
    assert (bands, rows) == (lsh.b, lsh.r)
    assert bands * rows <= stories.NUM_PERM
