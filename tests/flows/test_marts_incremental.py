"""The marts of a lake made by several runs, each refresh reading only the files that
changed and making again only the months they touched (tasks/analytics/mart_state.py),
equal row for row to the marts computed from every published file; also after
compaction, with their state lost, damaged or older than the marts, and after a run
killed between the marts' commit and their state's."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.marts import MARTS
from tasks.analytics import mart_state
from tasks.analytics.marts import (
    DAILY,
    MartInputs,
    build_marts,
    gate_days,
    published_inputs,
)
from tasks.lake.published import mart_files, published_partitions
from tasks.lake.storage import Lake
from tests.flows.test_compaction import THIS_MONTH, partitions
from tests.flows.test_crash import DEPECHE, PROJECT, kill_when_paused, start


def committed_marts(lake: Path) -> dict[str, list[dict]]:
    """The rows of each mart the lake's last refresh committed."""
    store = Lake(lake)
    return {
        mart.name: pa.concat_tables(
            [mart.schema.empty_table(), *(pq.read_table(lake / f) for f in mart_files(store, mart))]
        ).to_pylist()
        for mart in MARTS
    }


def recomputed_marts(lake: Path) -> dict[str, list[dict]]:
    """The rows of each mart computed again from every published file of the lake."""
    store = Lake(lake).indexed()
    published = published_inputs(store, published_partitions(store)[0])
    inputs = MartInputs(
        **{name: [lake / file for file in files] for name, files in published.items()},
        gate_days=gate_days(store),
    )
    return {mart.name: rows.to_pylist() for mart, rows in build_marts(inputs).items()}


def daily_files(lake: Path) -> dict[str, int]:
    """Each file of the marts by day, with its inode: the same inode, the same file."""
    store = Lake(lake)
    return {file: (lake / file).stat().st_ino for mart in DAILY for file in mart_files(store, mart)}


def state_file(lake: Path) -> Path:
    return lake / "_index" / mart_state.STATE_FILE


def add_story(sample: Path, source: Path, index: int) -> None:
    shutil.copy(sorted((sample / "wire").glob("*.txt"))[index], source)


@pytest.fixture(scope="module")
def runs(prefect_harness, sample: Path, tmp_path_factory) -> Path:
    """A lake made by three runs, a few articles each (one empty file quarantined)."""
    from flows.pipeline import depeche_pipeline

    root = tmp_path_factory.mktemp("incremental")
    source, lake = root / "source", root / "lake"
    source.mkdir()
    stories = sorted((sample / "wire").glob("*.txt"))[:6]
    for run, batch in enumerate((stories[:2], stories[2:4], stories[4:])):
        for path in batch:
            shutil.copy(path, source / path.name)
        if run == 1:
            (source / "vide.txt").write_text("", encoding="utf-8")
        assert depeche_pipeline(sources=[str(source)], lake=str(lake)).ok
    return lake


def run_again(lake: Path, sample: Path, tmp_path: Path, index: int = 6) -> None:
    """One more run on the lake, of one more article."""
    from flows.pipeline import depeche_pipeline

    later = tmp_path / f"later-{index}"
    later.mkdir()
    add_story(sample, later, index)
    assert depeche_pipeline(sources=[str(later)], lake=str(lake)).ok


def test_marts_of_several_runs_equal_a_full_recompute(runs: Path) -> None:
    assert len(partitions(runs)) == 3
    assert state_file(runs).is_file()
    committed = committed_marts(runs)
    assert committed == recomputed_marts(runs)
    assert all(committed[mart.name] for mart in MARTS), "every mart has rows"
    # a file per month of the articles' periods, and one for the undated
    sources = Lake(runs)
    names = {Path(file).stem for file in mart_files(sources, MARTS[0])}
    assert len(names) > 2 and all(n == "undated" or n[4] == "-" for n in names), names


def test_a_refresh_makes_again_only_the_months_it_touched(
    runs: Path, sample: Path, tmp_path: Path, prefect_harness
) -> None:
    lake = shutil.copytree(runs, tmp_path / "lake", copy_function=shutil.copy2)
    before = daily_files(lake)
    run_again(lake, sample, tmp_path)
    after = daily_files(lake)
    assert committed_marts(lake) == recomputed_marts(lake)
    kept = {file for file, inode in after.items() if before.get(file) == inode}
    made = set(after) - kept
    # the new article's month only: every other month's file is the one committed before
    assert made and kept, (made, kept)
    assert len({Path(file).stem for file in made}) == 1, made
    assert set(before) - set(after) == set()  # no month lost


def test_a_lost_damaged_or_older_state_is_made_again_from_the_files(
    runs: Path, sample: Path, tmp_path: Path, prefect_harness
) -> None:
    lake = shutil.copytree(runs, tmp_path / "lake")
    older = state_file(runs).read_bytes()
    run_again(lake, sample, tmp_path, 6)
    # an older state (restored from a copy): it did not make these marts, so it is
    # brought up to date from the files and every month is made again from it
    state_file(lake).write_bytes(older)
    run_again(lake, sample, tmp_path, 7)
    assert committed_marts(lake) == recomputed_marts(lake)
    # damaged (truncated: a full disk), then lost
    state = state_file(lake).read_bytes()
    state_file(lake).write_bytes(state[: len(state) // 3])
    run_again(lake, sample, tmp_path, 8)
    assert committed_marts(lake) == recomputed_marts(lake)
    state_file(lake).unlink()
    run_again(lake, sample, tmp_path, 9)
    assert committed_marts(lake) == recomputed_marts(lake)
    assert state_file(lake).is_file()


def test_marts_after_compaction_equal_a_full_recompute(
    runs: Path, tmp_path: Path, sample: Path, prefect_harness
) -> None:
    from tasks.compaction import Horizon, compact
    from tasks.settings import Settings

    lake = shutil.copytree(runs, tmp_path / "lake")
    compact(Lake(lake), Settings(), Horizon(THIS_MONTH))
    assert len(partitions(lake)) == 1
    run_again(lake, sample, tmp_path)  # marts refreshed
    assert committed_marts(lake) == recomputed_marts(lake)
    assert committed_marts(lake)["sources_daily"] != committed_marts(runs)["sources_daily"]


def test_a_run_killed_between_the_marts_and_their_state_leaves_marts_made_again_whole(
    runs: Path, sample: Path, harness_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGKILL once the marts are committed and their state's update is not: the
    state is as it was, it did not make those marts, and the next refresh makes
    every month again from it."""
    lake = shutil.copytree(runs, tmp_path / "lake")
    source = tmp_path / "source"
    source.mkdir()
    add_story(sample, source, 6)
    marker = tmp_path / "paused"
    env = {**harness_env, "DEPECHE_PAUSE_AT": "marts:made", "DEPECHE_PAUSE_FILE": str(marker)}
    killed = start(["run", str(source), "--lake", str(lake)], env)
    assert kill_when_paused(killed, marker) == "marts:made"
    con = mart_state.open_state(state_file(lake))
    assert mart_state.made_for(con) != Lake(lake).read_marts_manifest().output_fingerprint
    con.close()

    add_story(sample, source, 7)
    again = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(lake)],
        cwd=PROJECT, env=harness_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert committed_marts(lake) == recomputed_marts(lake)
    con = mart_state.open_state(state_file(lake))
    assert mart_state.made_for(con) == Lake(lake).read_marts_manifest().output_fingerprint
    con.close()


def test_an_empty_lake_gives_empty_marts_and_an_empty_state(tmp_path: Path) -> None:
    for mart, rows in build_marts(MartInputs([], [], [], [])).items():
        assert rows.num_rows == 0 and rows.schema.equals(mart.schema), mart.name
    con = mart_state.open_state(tmp_path / "state.duckdb")
    assert mart_state.update(con, tmp_path, {name: {} for name in mart_state.INPUTS}) == set()
    assert mart_state.settle(con) == set() and mart_state.every_segment(con) == set()
    con.close()
