"""Stories across outlets: near-duplicate articles grouped under one `story_id`.

The same wire story lightly edited by several sites, or a story updated later, has
a different text (so a different `doc_id`, and no `duplicate` quarantine) but most
of its word 5-grams in common with the first version. Each article gets a MinHash
signature of its 5-grams (datasketch: 128 permutations, seed 1; the 5-grams hashed
with CRC-32, twice as fast as datasketch's SHA-1 and no less accurate here);
locality-sensitive hashing cuts the signatures into bands as datasketch's
`MinHashLSH` does for the similarity threshold, so only articles sharing a band are
compared; an article whose estimated Jaccard similarity with an earlier one
reaches the threshold takes that article's story, else it starts its own
(`story_id` = its `doc_id`).

"Earlier" is a fixed order: the articles of the partitions made before this one
(their signatures and stories, committed by the clean stage with their articles in
the `stories` table), then this partition's in article order. So the same input
gives the same stories, and redoing a partition changes no other partition's.
Finding candidates costs one vectorized pass over the earlier signatures' bands
per partition, so the work grows with the lake, not with its square.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SEED = 1
SHINGLE = 5
_WORD = re.compile(r"\w+")
_MIX = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime: folds a band's values into one key


@dataclass(frozen=True)
class Earlier:
    """The articles already in the lake, in order: their ids, stories and signatures."""

    doc_ids: list[str]
    story_ids: list[str]
    signatures: np.ndarray  # (n, NUM_PERM) uint32

    @staticmethod
    def none() -> Earlier:
        return Earlier([], [], np.empty((0, NUM_PERM), dtype=np.uint32))


def shingles(text: str) -> list[bytes]:
    """The article's word 5-grams, lower-cased (its few words for a shorter text)."""
    words = _WORD.findall(text.lower())
    if len(words) <= SHINGLE:
        return [" ".join(words).encode()]
    return [" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)]


def signatures(texts: list[str]) -> np.ndarray:
    """MinHash signatures of the texts, one row each."""
    if not texts:
        return np.empty((0, NUM_PERM), dtype=np.uint32)
    hashes = MinHash.bulk(
        (shingles(text) for text in texts), num_perm=NUM_PERM, seed=SEED, hashfunc=zlib.crc32
    )
    return np.vstack([h.hashvalues for h in hashes]).astype(np.uint32)


def to_bytes(signature: np.ndarray) -> bytes:
    return signature.astype("<u4").tobytes()


def from_bytes(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.empty((0, NUM_PERM), dtype=np.uint32)
    return np.frombuffer(b"".join(blobs), dtype="<u4").reshape(len(blobs), NUM_PERM)


@cache
def bands_for(threshold: float) -> tuple[int, int]:
    """(bands, rows per band) datasketch's MinHashLSH chooses for the threshold."""
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return lsh.b, lsh.r


def band_keys(rows: np.ndarray, bands: int, per_band: int) -> np.ndarray:
    """One 64-bit key per band of each signature: equal bands, equal keys."""
    keys = np.zeros((rows.shape[0], bands), dtype=np.uint64)
    wide = rows.astype(np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            key = np.full(rows.shape[0], 0xCBF29CE484222325, dtype=np.uint64)
            for column in range(band * per_band, (band + 1) * per_band):
                key = (key ^ wide[:, column]) * _MIX
            keys[:, band] = key
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


def assign_stories(
    doc_ids: list[str], new: np.ndarray, earlier: Earlier, threshold: float
) -> list[str]:
    """The story of each new article: that of its most similar earlier article (the
    first in order on a tie) when the similarity reaches `threshold`, else its own id."""
    if not doc_ids:
        return []
    bands, per_band = bands_for(threshold)
    new_keys = band_keys(new, bands, per_band)
    old_keys = band_keys(earlier.signatures, bands, per_band)
    # earlier articles sharing a band with some new one: the only ones worth comparing
    shared = np.zeros(len(earlier.doc_ids), dtype=bool)
    for band in range(bands):
        shared |= np.isin(old_keys[:, band], new_keys[:, band])
    rows = [(int(i), earlier.signatures[i], earlier.story_ids[i]) for i in np.flatnonzero(shared)]
    by_band: list[dict[int, list[int]]] = [{} for _ in range(bands)]
    for position, (row, _, _) in enumerate(rows):
        for band in range(bands):
            by_band[band].setdefault(int(old_keys[row, band]), []).append(position)
    stories: list[str] = []
    for index, doc_id in enumerate(doc_ids):
        candidates: set[int] = set()
        for band in range(bands):
            candidates.update(by_band[band].get(int(new_keys[index, band]), ()))
        best: tuple[float, int] | None = None
        for position in sorted(candidates):
            score = similarity(new[index], rows[position][1])
            if score >= threshold and (best is None or score > best[0]):
                best = (score, position)
        stories.append(rows[best[1]][2] if best is not None else doc_id)
        # this article is now an earlier one for the articles after it
        position = len(rows)
        rows.append((-1, new[index], stories[-1]))
        for band in range(bands):
            by_band[band].setdefault(int(new_keys[index, band]), []).append(position)
    return stories
