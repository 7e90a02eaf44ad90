"""Upgrade in place: a lake made by the depeche before the state index, taken up by the
first run of this one. The earlier depeche is its real code, taken from the project's
history, run as a real subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from schemas import STAGES
from tasks.analytics import mart_state
from tasks.lake.storage import Lake
from tasks.records import Status

PROJECT = Path(__file__).resolve().parents[2]
DEPECHE = str(Path(sys.executable).with_name("depeche"))
PREVIOUS = "5726ea9"  # the last depeche whose lake had no state index


@pytest.fixture(scope="module")
def previous_code(tmp_path_factory) -> Path:
    """The source of the previous depeche, as committed, in a folder of its own."""
    folder = tmp_path_factory.mktemp("previous-depeche")
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", PREVIOUS], capture_output=True, check=False
    )
    assert archive.returncode == 0, f"the project's history lacks {PREVIOUS}: {archive.stderr}"
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    assert not (folder / "tasks" / "lake_index.py").exists()
    return folder


def run(lake: Path, source: Path, env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(lake)], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_a_lake_of_the_previous_depeche_is_upgraded_by_the_first_run(
    previous_code, source, sample, uninterrupted, same_tables, harness_env, tmp_path
):
    lake = tmp_path / "lake"
    # the previous code first on the path: its own modules, not this checkout's
    run(lake, source, {**harness_env, "PYTHONPATH": str(previous_code)}, previous_code)
    assert not (lake / "_index").exists()
    # its tables are its own (columns added since are not in them): only the new code's
    # run must give this one's tables
    assert len(list((lake / "_manifests").glob("*/*.json"))) == len(STAGES)

    run(lake, source, harness_env, PROJECT)
    same_tables(lake, uninterrupted)
    store = Lake(lake)
    [partition] = [spec.partition for spec in store.partitions()]
    assert all(row.status == Status.COMMITTED for row in store.status(STAGES))
    assert not any(store.verify(store.read_manifest(s, partition), deep=True) for s in STAGES)
    indexed = {p.name for p in (lake / "_index").iterdir()}
    records = {"_partitions.json", *(f"_manifests-{s}.json" for s in STAGES)}
    assert records <= indexed
    # besides the records' index, only states derived from the lake's files
    marts = mart_state.STATE_FILE  # what the marts read
    assert indexed - records <= {"schemas.json", "hashes.json", "earlier.parquet", marts}

    # and it goes on: an article it already holds, arriving again, is a duplicate
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(sorted(source.glob("*.txt"))[0], again / "copy-of-the-first.txt")
    run(lake, again, harness_env, PROJECT)
    newest = store.partitions()[-1].partition
    assert store.read_manifest("clean", newest).quarantine_reasons == {"duplicate": 1}
