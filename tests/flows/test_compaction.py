"""Compaction: `depeche compact` as a real subprocess, killed (SIGKILL) at its named
points, read by another process while it runs; then the lake's runs, reruns and
checks on the compacted partition."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from schemas import CLEAN, STAGES
from tasks.lake.storage import Lake
from tests.conftest import SNAPSHOT_TABLES
from tests.flows.test_crash import kill_when_paused, start

THIS_MONTH = datetime.now(UTC).strftime("%Y-%m")  # the lake's partitions are fetched now
TABLES = [*SNAPSHOT_TABLES, "stories", "quarantine", "reports/checks"]


def rows(lake: Path, tables: list[str] = TABLES) -> dict[str, list[str]]:
    """Each table's rows, in a stable order, without what names the partition (the
    `batch` folder) or differs between runs (fetch time)."""
    found = {}
    for name in tables:
        if not any((lake / name).rglob("*.parquet")):  # no rows anywhere: no file (quarantine)
            found[name] = []
            continue
        frame = pd.read_parquet(lake / name).drop(columns=["batch", "fetched_at"], errors="ignore")
        found[name] = sorted(map(repr, frame.itertuples(index=False)))
    return found


def reasons(lake: Path) -> Counter:
    """How many rows the lake quarantined, by reason."""
    files = (lake / "quarantine").rglob("*.parquet")
    return Counter(r for f in files for r in pq.read_table(f)["reason"].to_pylist())


def partitions(lake: Path) -> list[str]:
    return [spec.partition for spec in Lake(lake).partitions()]


def no_intents(lake: Path) -> bool:
    """Whether no compaction is left half done (rolled back or collected)."""
    intents = lake / "_compacting"
    return not intents.exists() or not any(intents.iterdir())


def all_committed(lake: Path) -> bool:
    rows_ = Lake(lake).status(STAGES, deep=True) + Lake(lake).derived.status(deep=True)
    return {str(row.status) for row in rows_} == {"committed"}


@pytest.fixture(scope="module")
def three_partitions(prefect_harness, source: Path, tmp_path_factory) -> Path:
    """A lake of the six wire stories in three partitions of two, never compacted."""
    from flows.pipeline import depeche_pipeline
    from tasks.settings import SettingsGiven

    lake = tmp_path_factory.mktemp("three") / "lake"
    given = SettingsGiven(partition_size=2)
    assert depeche_pipeline(sources=[str(source)], lake=str(lake), settings=given).ok
    assert len(partitions(lake)) == 3  # this month's: the automatic policy left them
    return lake


@pytest.fixture(scope="module")
def uncompacted(three_partitions: Path) -> dict[str, list[str]]:
    return rows(three_partitions)


def copy(lake: Path, tmp_path: Path) -> Path:
    target = tmp_path / "lake"
    shutil.copytree(lake, target)
    return target


@pytest.fixture(scope="module")
def compacted(three_partitions: Path, depeche, tmp_path_factory) -> Path:
    """The three partitions compacted by `depeche compact` (which starts no Prefect)."""
    lake = copy(three_partitions, tmp_path_factory.mktemp("compacted"))
    env = {**os.environ, "PREFECT_HOME": str(lake.parent / "prefect-home"), "COLUMNS": "200"}
    done = depeche("compact", "--lake", str(lake), "--until", THIS_MONTH, env=env)
    assert done.returncode == 0, done.stderr
    assert "compacted 3 partitions into compacted-" in done.stdout
    return lake


def test_compact_merges_a_month_into_one_partition_of_the_same_rows(
    compacted, uncompacted, depeche, harness_env, source
):
    from flows.pipeline import depeche_pipeline

    [merged] = partitions(compacted)
    assert merged.startswith(f"compacted-{THIS_MONTH}-")
    assert rows(compacted) == uncompacted
    # one file per table of the month (the folders of the old partitions collected)
    for table in ("raw", "clean", "annotated/entities", "reports/checks/clean"):
        files = [path.relative_to(compacted / table) for path in (compacted / table).rglob("*.*")]
        assert files == [Path(f"batch={merged}/part-0.parquet")], table
    # the quarantine has a file where rows were rejected, the merged partition's only
    assert {p.parent.name for p in (compacted / "quarantine").rglob("*.*")} <= {f"batch={merged}"}
    assert no_intents(compacted)
    status = depeche("status", "--verify", "--lake", str(compacted), env=harness_env)
    assert status.returncode == 0, status.stdout
    assert "damaged" not in status.stdout and all_committed(compacted)
    again = depeche("compact", "--lake", str(compacted), "--until", THIS_MONTH, env=harness_env)
    assert again.returncode == 0 and f"nothing to compact up to {THIS_MONTH}" in again.stdout
    # the compacted partition is current: a run redoes nothing
    summary = depeche_pipeline(sources=[str(source)], lake=str(compacted))
    assert summary.ok and {report.status for report in summary.reports} == {"skipped"}


def test_a_later_duplicate_is_caught_against_compacted_data(
    compacted, source, tmp_path, prefect_harness
):
    from flows.pipeline import depeche_pipeline

    lake = copy(compacted, tmp_path)
    [merged] = partitions(lake)
    later = tmp_path / "later"
    later.mkdir()
    first = sorted(source.glob("*.txt"))[0]
    shutil.copy(first, later / "repris.txt")  # the same story, filed again
    summary = depeche_pipeline(sources=[str(later)], lake=str(lake))
    assert summary.ok
    clean = pd.read_parquet(lake / "quarantine" / "clean")
    [duplicate] = clean[clean["source_path"].str.endswith("repris.txt")].to_dict("records")
    assert duplicate["reason"] == "duplicate"
    assert f"partition {merged}" in duplicate["detail"]


@pytest.mark.parametrize("how", ["from-clean", "failed"])
def test_a_compacted_partition_is_rerun(how, compacted, uncompacted, tmp_path, prefect_harness):
    from flows.pipeline import depeche_pipeline

    lake = copy(compacted, tmp_path)
    [merged] = partitions(lake)
    if how == "failed":  # a published file lost: validate is damaged, rerun --failed redoes it
        (lake / "annotated" / "entities" / f"batch={merged}" / "part-0.parquet").unlink()
        assert not all_committed(lake)
        summary = depeche_pipeline(lake=str(lake), rerun_failed=True)
    else:
        summary = depeche_pipeline(lake=str(lake), from_stage="clean")
    assert summary.ok, summary
    ran = {report.stage for report in summary.reports if report.ran}
    assert ran == ({"validate"} if how == "failed" else {"clean", "annotate", "validate"})
    assert partitions(lake) == [merged]
    # the same articles, annotations and reasons (a duplicate's detail now names its twin
    # in the same partition)
    published = [name for name in SNAPSHOT_TABLES if name != "raw"]
    assert rows(lake, published) == {name: uncompacted[name] for name in published}
    assert reasons(lake) == reasons(compacted)
    assert all_committed(lake)


@pytest.mark.parametrize(
    ("point", "switched"),
    [
        ("compact:place", False),  # one merged folder in place, the others still staged
        ("compact:switched", True),  # the merged record written, nothing collected
        ("compact:collect", True),  # one old folder collected, the others not
    ],
)
def test_a_compaction_killed_at_any_point_then_a_run_gives_the_uncompacted_tables(
    point, switched, three_partitions, uncompacted, source, harness_env, tmp_path
):
    from flows.pipeline import depeche_pipeline

    lake = copy(three_partitions, tmp_path)
    marker = tmp_path / "paused"
    env = {**harness_env, "DEPECHE_PAUSE_AT": point, "DEPECHE_PAUSE_FILE": str(marker)}
    killed = start(["compact", "--lake", str(lake), "--until", THIS_MONTH], env)
    assert kill_when_paused(killed, marker) == point
    before = partitions(lake)
    assert len(before) == (1 if switched else 3)
    summary = depeche_pipeline(sources=[str(source)], lake=str(lake))
    assert summary.ok
    assert partitions(lake) == before
    assert not any(report.ran for report in summary.reports)  # nothing redone
    assert rows(lake) == uncompacted
    assert all_committed(lake)
    for table in ("raw", "annotated/documents", "reports/checks/fetch"):
        folders = sorted(path.name for path in (lake / table).iterdir())
        assert folders == [f"batch={name}" for name in sorted(before)], table
    assert no_intents(lake)


READER = """
import json, sys, time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from schemas import DOCUMENTS, ENTITIES
from tasks.analytics.marts import PUBLISHER, connect_catalog
from tasks.lake.storage import Lake

lake, log, stop = (Path(arg) for arg in sys.argv[1:4])
with open(log, "w") as out:
    while not stop.exists():
        try:
            con = connect_catalog(lake / "depeche.duckdb")
            catalog = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("documents", "entities")]
            con.close()
            store = Lake(lake)
            names = [spec.partition for spec in store.partitions()]
            direct = [sum(pq.ParquetFile(store.root / path).metadata.num_rows
                          for path in store.published(table, names, PUBLISHER))
                      for table in (DOCUMENTS, ENTITIES)]
        except (OSError, duckdb.Error) as error:  # a file collected as it was opened
            out.write(json.dumps({"vanished": str(error)}) + "\\n")
            continue
        line = {"catalog": catalog, "direct": direct, "partitions": names}
        out.write(json.dumps(line) + "\\n")
        out.flush()
"""


def test_a_reader_never_sees_a_partial_table_during_compaction(
    three_partitions, harness_env, depeche, tmp_path
):
    """A separate process reads the catalog's views and the published Parquet files
    (as the partition records and manifests name them) in a loop while `depeche compact`
    runs, pausing a second at each of its points so the reader sees each state."""
    lake = copy(three_partitions, tmp_path)  # its catalog read through connect_catalog
    full = [
        len(pd.read_parquet(lake / "annotated" / "documents")),
        len(pd.read_parquet(lake / "annotated" / "entities")),
    ]
    log, stop = tmp_path / "reads.jsonl", tmp_path / "stop"
    script = tmp_path / "reader.py"
    script.write_text(READER, encoding="utf-8")
    reader = subprocess.Popen(
        [sys.executable, str(script), str(lake), str(log), str(stop)],
        cwd=Path(__file__).resolve().parents[2],
        env=harness_env,
    )
    try:
        time.sleep(3)  # the reader's imports, and reads of the lake before
        # paused a moment when staged, at each merged folder placed, before and after
        # the switch; the collection after it is read unpaused
        points = "compact:staged,compact:place,compact:switch,compact:switched"
        env = {
            **harness_env,
            "DEPECHE_PAUSE_AT": points,
            "DEPECHE_PAUSE_FILE": str(tmp_path / "paused"),
            "DEPECHE_PAUSE_SECONDS": "0.3",
        }
        done = depeche("compact", "--lake", str(lake), "--until", THIS_MONTH, env=env)
        assert done.returncode == 0, done.stderr
        time.sleep(1)  # reads of the lake after
    finally:
        stop.touch()
        reader.wait(timeout=60)
    reads = [json.loads(line) for line in log.read_text().splitlines()]
    counted = [read for read in reads if "catalog" in read]
    assert all(read["catalog"] == full and read["direct"] == full for read in counted), [
        read for read in counted if read["catalog"] != full or read["direct"] != full
    ]
    seen = {len(read["partitions"]) for read in counted}
    assert seen == {3, 1}  # before the switch and after it
    assert len(counted) > 10 * max(1, len(reads) - len(counted))


def test_a_run_compacts_the_months_that_have_ended(
    three_partitions, uncompacted, source, tmp_path, prefect_harness
):
    """The policy is on by default: partitions fetched in a month that has ended (their
    fetch manifests say so) are merged by the next run, and collected by it."""
    from flows.pipeline import depeche_pipeline

    lake = copy(three_partitions, tmp_path)
    for path in (lake / "_manifests" / "fetch").glob("*.json"):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["started_at"] = "2020-01-31T23:00:00+00:00"  # fetched in January 2020
        path.write_text(json.dumps(manifest), encoding="utf-8")
    summary = depeche_pipeline(sources=[str(source)], lake=str(lake))
    assert summary.ok
    assert not any(report.ran for report in summary.reports)  # compacted, not redone
    [merged] = partitions(lake)
    assert merged.startswith("compacted-2020-01-")
    assert summary.compaction is not None and summary.compaction.merged == {merged: 3}
    assert rows(lake) == uncompacted
    assert all_committed(lake) and no_intents(lake)
    assert sorted(path.name for path in (lake / "clean").iterdir()) == [f"batch={merged}"]


def fetched_at(lake: Path, times: list[str]) -> None:
    """Date the lake's partitions, in plan order, to these fetch times (their fetch
    manifests' start, what compaction reads)."""
    for spec, when in zip(Lake(lake).partitions(), times, strict=True):
        path = lake / "_manifests" / "fetch" / f"{spec.partition}.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["started_at"] = f"{when}+00:00"
        path.write_text(json.dumps(manifest), encoding="utf-8")


def dated(lake: Path, months: list[str]) -> None:
    """Date the lake's partitions, in plan order, to the middle of these months."""
    fetched_at(lake, [f"{month}-15T12:00:00" for month in months])


@pytest.mark.parametrize(
    ("target", "made"),
    [
        (None, [3]),  # the default packs both small months into one partition
        ("0", [2, 1]),  # 0: each month its own (February's one partition stays as it is)
    ],
)
def test_months_that_have_ended_are_packed_while_under_the_target(
    target, made, three_partitions, uncompacted, depeche, harness_env, tmp_path
):
    lake = copy(three_partitions, tmp_path)
    dated(lake, ["2020-01", "2020-01", "2020-02"])
    last = partitions(lake)[-1]
    options = () if target is None else ("--compact-target-mb", target)
    done = depeche("compact", "--lake", str(lake), "--until", "2020-02", *options, env=harness_env)
    assert done.returncode == 0, done.stderr
    merged = [int(n) for n in re.findall(r"compacted (\d+) partitions into", done.stdout)]
    assert merged == made[:1]
    found = partitions(lake)
    assert len(found) == len(made) and found[0].startswith("compacted-2020-01-")
    if len(made) == 2:
        assert found[1] == last
    assert rows(lake) == uncompacted
    assert all_committed(lake) and no_intents(lake)


def test_a_compacted_month_is_packed_again_with_the_next_month(
    three_partitions, uncompacted, source, depeche, harness_env, tmp_path
):
    """January compacted when it ended; once February ends, the merged January and
    February's partition are merged into one: the same rows, nothing redone, no file of
    the first merge left behind."""
    from flows.pipeline import depeche_pipeline

    lake = copy(three_partitions, tmp_path)
    dated(lake, ["2020-01", "2020-01", "2020-02"])
    first = depeche("compact", "--lake", str(lake), "--until", "2020-01", env=harness_env)
    assert "compacted 2 partitions into compacted-2020-01-" in first.stdout, first.stderr
    january = partitions(lake)[0]
    second = depeche("compact", "--lake", str(lake), "--until", "2020-02", env=harness_env)
    assert "compacted 2 partitions into compacted-2020-01-" in second.stdout, second.stderr
    [merged] = partitions(lake)
    assert merged != january
    assert rows(lake) == uncompacted
    assert not list(lake.rglob(f"*{january}*"))  # its files, manifests and record collected
    assert all_committed(lake) and no_intents(lake)
    summary = depeche_pipeline(sources=[str(source)], lake=str(lake))
    assert summary.ok and not any(report.ran for report in summary.reports)
    assert partitions(lake) == [merged]


def at(when: str) -> datetime:
    return datetime.fromisoformat(when).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "month", "day"),
    [
        ("2026-12-05T00:30", "2026-11", "2026-12-03"),  # the 4th ended half an hour ago
        ("2026-12-05T01:30", "2026-11", "2026-12-04"),
        ("2026-12-01T00:30", "2026-10", "2026-11-29"),  # November too
        ("2026-12-01T01:30", "2026-11", "2026-11-30"),
        ("2027-01-01T00:30", "2026-11", "2026-12-30"),
    ],
)
def test_a_period_counts_as_ended_an_hour_after_its_end(now, month, day):
    from tasks.compaction import Horizon, ended_periods

    assert ended_periods(at(now)) == Horizon(month, day)
    assert ended_periods(at(now), days=False) == Horizon(month, None)
    assert ended_periods(at(now), months=False) == Horizon(None, day)
    assert not ended_periods(at(now), months=False, days=False)  # nothing is merged


def test_until_a_day_is_the_periods_ended_when_it_ends():
    """A day of its month's end ends the month; an ended month takes its days, the
    days after it go one by one, a period not ended goes nowhere."""
    from tasks.compaction import Horizon

    assert Horizon.parse("2026-11") == Horizon("2026-11", None)
    assert Horizon.parse("2026-12-03") == Horizon("2026-11", "2026-12-03")
    assert Horizon.parse("2026-11-30") == Horizon("2026-11", "2026-11-30")
    horizon = Horizon("2026-11", "2026-12-03")
    assert horizon.period("2026-11-30T23:59:59+00:00") == "2026-11"
    assert horizon.period("2026-12-03T23:59:59+00:00") == "2026-12-03"
    assert horizon.period("2026-12-04T00:00:00+00:00") is None
    assert Horizon("2026-11").period("2026-12-01T00:00:00+00:00") is None


def run_at(monkeypatch, when: str, lake: Path, source: Path, **settings):
    """A run whose clock says `when` (the automatic compaction reads no other)."""
    import flows.pipeline
    from flows.pipeline import depeche_pipeline
    from tasks.settings import SettingsGiven

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # the flow asks for UTC
            return at(when)

    monkeypatch.setattr(flows.pipeline, "datetime", Clock)
    given = SettingsGiven(**settings)
    summary = depeche_pipeline(sources=[str(source)], lake=str(lake), settings=given)
    assert summary.ok
    assert not any(report.ran for report in summary.reports)  # compacted, not redone
    return summary


# two partitions fetched on the 10th of January 2020, one on the 11th
JANUARY = ["2020-01-10T09:00:00", "2020-01-10T10:00:00", "2020-01-11T09:00:00"]


def test_a_run_compacts_each_day_that_has_ended_then_its_month(
    three_partitions, uncompacted, source, tmp_path, prefect_harness, monkeypatch
):
    """In the month in progress each day that has ended becomes one partition (days
    are not packed together); once the month has ended, its day-partitions and its
    other partitions become one."""
    lake = copy(three_partitions, tmp_path)
    fetched_at(lake, JANUARY)
    last = partitions(lake)[-1]
    summary = run_at(monkeypatch, "2020-01-12T01:30:00", lake, source)
    tenth, eleventh = partitions(lake)
    assert tenth.startswith("compacted-2020-01-10-") and eleventh == last
    assert summary.compaction is not None and summary.compaction.merged == {tenth: 2}
    assert rows(lake) == uncompacted
    assert all_committed(lake) and no_intents(lake)
    assert sorted(path.name for path in (lake / "clean").iterdir()) == sorted(
        [f"batch={tenth}", f"batch={last}"]
    )
    summary = run_at(monkeypatch, "2020-02-01T01:30:00", lake, source)
    [january] = partitions(lake)
    assert re.fullmatch(r"compacted-2020-01-[0-9a-f]{10}", january)  # the month's name
    assert summary.compaction is not None and summary.compaction.merged == {january: 2}
    assert rows(lake) == uncompacted
    assert not list(lake.rglob(f"*{tenth}*"))  # the day's partition collected
    assert all_committed(lake) and no_intents(lake)


def test_compact_days_off_leaves_the_days_alone(
    three_partitions, source, tmp_path, prefect_harness, monkeypatch
):
    lake = copy(three_partitions, tmp_path)
    fetched_at(lake, JANUARY)
    before = partitions(lake)
    summary = run_at(monkeypatch, "2020-01-12T01:30:00", lake, source, compact_days=False)
    assert partitions(lake) == before
    assert summary.compaction is not None and summary.compaction.merged == {}


def test_only_the_partitions_of_ended_days_to_merge_are_asked_whether_current(
    three_partitions, tmp_path, monkeypatch
):
    """What the check of a run with nothing new pays: no decision for the partitions of
    a day not ended, nor for a day already one partition."""
    from tasks import compaction
    from tasks.settings import SettingsGiven, resolve_settings

    lake = copy(three_partitions, tmp_path)
    fetched_at(lake, JANUARY)
    asked: list[str] = []
    real = compaction._not_current

    def not_current(store, partition, settings):
        asked.append(partition)
        return real(store, partition, settings)

    monkeypatch.setattr(compaction, "_not_current", not_current)
    store = Lake(lake)
    settings = resolve_settings(store.last_settings(), SettingsGiven())
    assert not compaction.has_work(store, settings, compaction.Horizon("2019-12", "2020-01-09"))
    assert asked == []
    assert compaction.has_work(store, settings, compaction.Horizon("2019-12", "2020-01-11"))
    assert asked == partitions(lake)[:2]  # the 10th's two; the 11th is one partition


def test_compact_until_a_day_compacts_the_days_up_to_it(
    three_partitions, uncompacted, depeche, harness_env, tmp_path
):
    lake = copy(three_partitions, tmp_path)
    fetched_at(lake, ["2020-01-10T09:00:00", "2020-01-11T09:00:00", "2020-01-11T10:00:00"])
    first = partitions(lake)[0]
    before = depeche("compact", "--lake", str(lake), "--until", "2020-01-10", env=harness_env)
    assert before.returncode == 0, before.stderr  # the 10th is one partition already
    assert "nothing to compact up to 2020-01-10" in before.stdout
    done = depeche("compact", "--lake", str(lake), "--until", "2020-01-11", env=harness_env)
    assert done.returncode == 0, done.stderr
    assert "compacted 2 partitions into compacted-2020-01-11-" in done.stdout
    assert partitions(lake)[0] == first and partitions(lake)[1].startswith("compacted-2020-01-11-")
    assert rows(lake) == uncompacted
    assert all_committed(lake) and no_intents(lake)
    wrong = depeche("compact", "--lake", str(lake), "--until", "2020-02-30", env=harness_env)
    assert wrong.returncode != 0 and "is not a month" in wrong.stderr


def test_status_lists_the_newest_partitions_and_every_one_in_trouble(
    three_partitions, depeche, harness_env, tmp_path
):
    """A lake of thousands of hourly partitions is no table to read: `status` lists the
    newest, every partition with a stage not committed, and counts the others."""
    lake = copy(three_partitions, tmp_path)
    first, middle, last = partitions(lake)
    Lake(lake).committed_file(CLEAN, first).unlink()
    shown = depeche("status", "--lake", str(lake), "--newest", "1", env=harness_env)
    assert shown.returncode == 1  # the damage still fails it
    listed = {line.split("│")[1].strip() for line in shown.stdout.splitlines() if "│" in line}
    assert {first, last} <= listed and middle not in listed
    flat = " ".join(shown.stdout.split())
    assert f"{first} clean: damaged" in flat
    assert "1 older partitions, every stage committed, not listed" in flat
    assert "1 damaged" in flat and "0 committed" not in flat  # the whole lake's counts
    every = depeche("status", "--lake", str(lake), "--all", env=harness_env)
    assert middle in every.stdout and "not listed" not in every.stdout
