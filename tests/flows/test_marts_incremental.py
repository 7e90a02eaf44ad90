"""The marts of a lake made by several runs, each reading only the files it changed
(tasks/analytics/mart_rows.py), equal row for row to the marts computed from every
published file; also after compaction, and with their carried state lost or damaged."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from schemas.marts import MARTS
from tasks.analytics import mart_rows
from tasks.analytics.marts import ALL, build_marts, mart_inputs, refresh_marts
from tasks.lake.published import published_partitions
from tasks.lake.storage import Lake
from tests.flows.test_compaction import THIS_MONTH, partitions


def committed_marts(lake: Path) -> dict[str, list[dict]]:
    """The rows of each mart the lake's last refresh committed."""
    store = Lake(lake)
    return {mart.name: pq.read_table(store.committed_file(mart, ALL)).to_pylist() for mart in MARTS}


def recomputed_marts(lake: Path) -> dict[str, list[dict]]:
    """The rows of each mart computed again from every published file of the lake."""
    store = Lake(lake).indexed()
    inputs = mart_inputs(store, published_partitions(store)[0])
    built = build_marts(dataclasses.replace(inputs, rows=None))  # the files, every one read
    return {mart.name: rows.to_pylist() for mart, rows in built.items()}


def states(lake: Path) -> list[Path]:
    return sorted((lake / "_index").glob("marts-*.parquet"))


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


def test_marts_of_several_runs_equal_a_full_recompute(runs: Path) -> None:
    assert len(partitions(runs)) == 3
    assert {path.name for path in states(runs)} == {f"marts-{n}.parquet" for n in mart_rows.INPUTS}
    assert committed_marts(runs) == recomputed_marts(runs)
    assert sum(len(rows) for rows in committed_marts(runs).values()) > 0


def test_a_refresh_reads_only_the_files_it_has_not_read(runs: Path, tmp_path: Path) -> None:
    lake = shutil.copytree(runs, tmp_path / "lake")
    store = Lake(lake).indexed()
    before = {path.name: path.stat().st_mtime_ns for path in states(lake)}
    mart_inputs(store, published_partitions(store)[0])
    assert {path.name: path.stat().st_mtime_ns for path in states(lake)} == before


def test_a_lost_or_damaged_state_is_made_again_from_the_files(
    runs: Path, tmp_path: Path, suites
) -> None:
    lake = shutil.copytree(runs, tmp_path / "lake")
    expected = committed_marts(lake)
    index = lake / "_index"
    (index / "marts-documents.parquet").unlink()
    entities = index / "marts-entities.parquet"
    entities.write_bytes(entities.read_bytes()[:100])  # truncated: a kill, a full disk
    # a state without the identities of its files (an older or foreign one)
    quotes = pq.read_table(index / "marts-quotes.parquet")
    pq.write_table(quotes.slice(0, 1).replace_schema_metadata(None), index / "marts-quotes.parquet")
    assert refresh_marts(Lake(lake), suites, force=True).ok
    assert committed_marts(lake) == expected == recomputed_marts(lake)
    for name in ("documents", "entities", "quotes"):  # made again, whole
        state = pq.read_table(index / f"marts-{name}.parquet")
        assert state.schema.metadata[mart_rows.FILES_KEY] and state.num_rows > 1, name


def test_marts_after_compaction_equal_a_full_recompute(
    runs: Path, tmp_path: Path, sample: Path, prefect_harness
) -> None:
    from flows.pipeline import depeche_pipeline
    from tasks.compaction import Horizon, compact
    from tasks.settings import Settings

    lake = shutil.copytree(runs, tmp_path / "lake")
    compact(Lake(lake), Settings(), Horizon(THIS_MONTH))
    assert len(partitions(lake)) == 1
    later = tmp_path / "later"
    later.mkdir()
    shutil.copy(sorted((sample / "wire").glob("*.txt"))[6], later)
    assert depeche_pipeline(sources=[str(later)], lake=str(lake)).ok  # marts refreshed
    assert committed_marts(lake) == recomputed_marts(lake)
    assert committed_marts(lake)["sources_daily"] != committed_marts(runs)["sources_daily"]


def test_a_lake_without_published_files_keeps_empty_states(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    con = duckdb.connect()
    for name in mart_rows.INPUTS:
        assert mart_rows.carried(con, lake, name, {}).num_rows == 0
    made = {path.name: path.stat().st_mtime_ns for path in states(lake.root)}
    assert len(made) == len(mart_rows.INPUTS)
    for name in mart_rows.INPUTS:  # kept as they are: nothing to read, nothing written
        assert mart_rows.carried(con, lake, name, {}).num_rows == 0
    assert {path.name: path.stat().st_mtime_ns for path in states(lake.root)} == made
