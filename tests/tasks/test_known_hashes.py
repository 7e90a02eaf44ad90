"""Known hashes: a file hashed once is trusted from its identity until it changes,
however it changes (same size, modification time set back)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tasks.lake import known_hashes
from tasks.lake.files import sha256_file
from tasks.lake.known_hashes import KnownHashes
from tasks.lake.storage import Lake
from tasks.records import OutputFile


@pytest.fixture(autouse=True)
def nothing_is_recent(monkeypatch) -> None:
    # the files here are seconds old at most: trust them as a run trusts older ones
    monkeypatch.setattr(known_hashes, "RECENT_NS", -1)


def hashing(counted: list[Path]):
    def hash_file(path: Path) -> str:
        counted.append(path)
        return sha256_file(path)

    return hash_file


def mart(tmp_path: Path, data: bytes = b"0123456789" * 100) -> tuple[Path, str]:
    path = tmp_path / "marts" / "m" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_a_file_hashed_once_is_trusted_until_it_changes(tmp_path: Path) -> None:
    path, sha = mart(tmp_path)
    read: list[Path] = []
    assert KnownHashes(tmp_path).matches("m", path, sha, hashing(read))
    KnownHashes(tmp_path).save()  # nothing new to save from a fresh object
    first = KnownHashes(tmp_path)
    assert first.matches("m", path, sha, hashing(read))
    first.save()
    assert len(read) == 2
    assert KnownHashes(tmp_path).matches("m", path, sha, hashing(read))
    assert len(read) == 2  # trusted from its identity, not read


def test_a_change_in_place_with_the_same_size_and_mtime_is_found(tmp_path: Path) -> None:
    path, sha = mart(tmp_path)
    known = KnownHashes(tmp_path)
    assert known.matches("m", path, sha, sha256_file)
    known.save()
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[500] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the mtime set back
    assert path.stat().st_size == before.st_size
    assert not KnownHashes(tmp_path).matches("m", path, sha, sha256_file)


def test_a_damaged_record_of_hashes_costs_a_hash_not_a_wrong_answer(tmp_path: Path) -> None:
    path, sha = mart(tmp_path)
    known = KnownHashes(tmp_path)
    assert known.matches("m", path, sha, sha256_file)
    known.save()
    known.path.write_text('{"m": [1, 2', encoding="utf-8")
    read: list[Path] = []
    assert KnownHashes(tmp_path).matches("m", path, sha, hashing(read)) and read == [path]
    assert not KnownHashes(tmp_path).matches("m", path, "0" * 64, sha256_file)


def test_the_lake_checks_a_changed_mart_with_or_without_remembered_hashes(tmp_path: Path) -> None:
    path, sha = mart(tmp_path)
    recorded = [OutputFile("marts/m/part-0.parquet", path.stat().st_size, sha)]
    lake = Lake(tmp_path)
    assert lake.checks.files(recorded, deep=True, remembered=True) == []
    assert (tmp_path / "_index" / "hashes.json").exists()
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    for remembered in (True, False):
        problems = Lake(tmp_path).checks.files(recorded, deep=True, remembered=remembered)
        assert problems == ["marts/m/part-0.parquet changed since it was committed"]
