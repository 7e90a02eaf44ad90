"""Sources as users and cron jobs give them: `depeche run` in a real subprocess, from
other working folders, with odd file names, with the lake inside its own sources."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import run_python, wire_stories

PROJECT = Path(__file__).resolve().parents[2]
FRENCH = (
    "Le conseil municipal de Lyon a voté mardi soir le budget de la ville, a annoncé "
    "le maire, qui a salué un effort sans précédent pour les écoles du quartier."
)
OTHER = (
    "À Marseille, les pêcheurs du Vieux-Port ont manifesté jeudi contre la hausse du "
    "prix du gazole, a indiqué la préfecture des Bouches-du-Rhône."
)
ODD = (
    "Le tribunal de Rennes a rendu vendredi sa décision dans l'affaire des terres "
    "agricoles, a précisé l'avocat des éleveurs bretons devant la presse."
)


def depeche(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_python(
        ["-c", "from flows.cli import main; main()", *args], code=PROJECT, cwd=cwd, env=env
    )


def read(lake: Path, table: str) -> list[dict]:
    files = sorted((lake / table).glob("batch=*/*.parquet"))
    return [row for file in files for row in pq.read_table(file).to_pylist()]


@pytest.fixture
def wire(sample: Path, tmp_path: Path) -> Path:
    return wire_stories(sample, tmp_path / "depeches", "0[1-3]-*.txt")


def test_a_run_from_another_folder_finds_nothing_new(harness_env, wire, tmp_path) -> None:
    # the issue: `cd /tmp && depeche run /abs/sample --lake /abs/lake` (cron) took every
    # item in again, all duplicates; clean failed on an empty output, every run exit 1
    lake = tmp_path / "lake"
    first = depeche("run", "depeches", "--lake", "lake", cwd=tmp_path, env=harness_env)
    assert first.returncode == 0, first.stdout + first.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = depeche("run", str(wire), "--lake", str(lake), cwd=elsewhere, env=harness_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 items found, 0 new" in again.stdout
    raw = read(lake, "raw")
    assert len(raw) == 3
    assert all(Path(r["source_path"]).is_absolute() for r in raw)
    assert {Path(r["source_path"]) for r in raw} == {p.resolve() for p in wire.iterdir()}


def test_a_partition_of_duplicates_only_commits_empty(harness_env, wire, tmp_path) -> None:
    lake = tmp_path / "lake"
    first = depeche("run", str(wire), "--lake", str(lake), cwd=tmp_path, env=harness_env)
    assert first.returncode == 0, first.stdout + first.stderr
    copies = tmp_path / "copies"
    shutil.copytree(wire, copies)
    again = depeche("run", str(copies), "--lake", str(lake), cwd=tmp_path, env=harness_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 new" in again.stdout and "duplicate=3" in again.stdout
    assert "4 committed" in again.stdout and "failed" not in again.stderr
    quarantined = read(lake, "quarantine/clean")
    assert [q["reason"] for q in quarantined] == ["duplicate"] * 3
    assert len(read(lake, "annotated/documents")) == 3
    third = depeche("run", str(copies), "--lake", str(lake), cwd=tmp_path, env=harness_env)
    assert third.returncode == 0, third.stdout + third.stderr


def test_an_odd_file_name_does_not_take_its_partition_down(harness_env, tmp_path) -> None:
    # the issue: one name that is not UTF-8 failed the partition for good
    source = tmp_path / "articles"
    source.mkdir()
    (source / "lyon.txt").write_text(FRENCH, encoding="utf-8")
    (source / "marseille.txt").write_text(OTHER, encoding="utf-8")
    odd = os.fsencode(source) + b"/caf\xe9.txt"
    with open(odd, "w", encoding="utf-8") as handle:
        handle.write(ODD)
    lake = tmp_path / "lake"
    result = depeche("run", str(source), "--lake", str(lake), cwd=tmp_path, env=harness_env)
    assert result.returncode == 0, result.stdout + result.stderr
    raw = read(lake, "raw")
    assert sorted(Path(r["source_path"]).name for r in raw) == [
        "caf\\xe9.txt",
        "lyon.txt",
        "marseille.txt",
    ]
    assert len(read(lake, "annotated/documents")) == 3
    again = depeche("run", str(source), "--lake", str(lake), cwd=tmp_path, env=harness_env)
    assert again.returncode == 0 and "3 items found, 0 new" in again.stdout, again.stdout


def test_a_lake_inside_its_sources_does_not_take_itself_in(harness_env, tmp_path) -> None:
    # the issue: `depeche run D --lake D/lake` read its own files; from the second
    # run on, every run exited 1 and the lake grew
    source = tmp_path / "D"
    source.mkdir()
    (source / "lyon.txt").write_text(FRENCH, encoding="utf-8")
    for _ in range(2):
        result = depeche("run", "D", "--lake", "D/lake", cwd=tmp_path, env=harness_env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "1 items found, 0 new" in result.stdout
    assert len(list((source / "lake" / "_partitions").glob("*.json"))) == 1


def test_a_partition_of_unsupported_formats_only_commits(harness_env, tmp_path) -> None:
    source = tmp_path / "bureautique"
    source.mkdir()
    (source / "rapport.pdf").write_bytes(b"%PDF-1.4")
    (source / "note.docx").write_bytes(b"PK\x03\x04")
    lake = tmp_path / "lake"
    result = depeche("run", str(source), "--lake", str(lake), cwd=tmp_path, env=harness_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unsupported_format=2" in result.stdout
    assert [q["reason"] for q in read(lake, "quarantine/fetch")] == ["unsupported_format"] * 2
    assert read(lake, "raw") == []


def test_a_file_over_the_cap_says_so(harness_env, tmp_path) -> None:
    # the issue: it reported only "fetch gate failed: stage_does_not_empty_its_input"
    source = tmp_path / "gros"
    source.mkdir()
    (source / "long.txt").write_text(FRENCH * 10, encoding="utf-8")
    lake = tmp_path / "lake"
    args = ("run", str(source), "--lake", str(lake), "--max-bytes", "100")
    result = depeche(*args, cwd=tmp_path, env=harness_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stage_does_not_empty_its_input" in result.stderr
    assert "too_large=1" in result.stderr and "--max-bytes" in result.stderr
    assert "over the cap of 100" in result.stderr
