"""Crash safety: `depeche run` as a real subprocess, killed with SIGKILL at chosen points
(stopped there by the DEPECHE_PAUSE_AT hook), then run again."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import STAGES
from tasks.lake.storage import Lake
from tests.helpers import wait_until, wire_stories
from tests.processes import alive, children, command_line, descendants

PROJECT = Path(__file__).resolve().parents[2]
DEPECHE = str(Path(sys.executable).with_name("depeche"))


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [DEPECHE, *args],
        cwd=PROJECT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: the kill takes Prefect's server too
    )


def kill_when_paused(process: subprocess.Popen, marker: Path, timeout: float = 240) -> str:
    try:
        wait_until(marker.exists, timeout=timeout, what="its pause point", process=process)
    except AssertionError:
        with contextlib.suppress(ProcessLookupError):  # the run may have ended on its own
            os.killpg(process.pid, signal.SIGKILL)
        raise
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return marker.read_text()


@pytest.mark.parametrize(
    ("point", "stage", "staged", "published", "unpublished"),
    [
        # killed before producing: only the stage's "running" manifest, nothing staged
        ("produce:clean", "clean", [], ["raw"], ["clean"]),
        ("produce:annotate", "annotate", [], ["clean"], ["_checkpoints/annotated/documents"]),
        (
            "produce:validate", "validate", [],
            ["_checkpoints/annotated/entities"], ["annotated/documents", "annotated/entities"],
        ),
        # in the middle of writing a Parquet file: its footer is not written yet
        (
            "write:entities", "annotate",
            ["_checkpoints/annotated/sentences", "_checkpoints/annotated/entities"],
            ["clean"], ["_checkpoints/annotated/sentences", "_checkpoints/annotated/entities"],
        ),
        # between two renames of a commit: one folder is in place, the next still staged
        (
            "commit:validate", "validate",
            ["annotated/entities", "annotated/sentences"],
            ["annotated/documents"], ["annotated/entities", "annotated/sentences"],
        ),
    ],
)  # fmt: skip
def test_a_killed_run_leaves_no_partial_table_and_the_next_run_completes(
    point,
    stage,
    staged,
    published,
    unpublished,
    source,
    uninterrupted,
    same_tables,
    harness_env,
    tmp_path,
):
    """`staged`: partition folders the killed stage has in its staging folder;
    `published` and `unpublished`: partition folders that are, and are not yet, in
    place in the lake at the kill."""
    subprocess_env = harness_env
    lake = tmp_path / "lake"
    marker = tmp_path / "paused"
    env = {**subprocess_env, "DEPECHE_PAUSE_AT": point, "DEPECHE_PAUSE_FILE": str(marker)}
    killed = start(["run", str(source), "--lake", str(lake)], env)
    assert kill_when_paused(killed, marker) == point

    store = Lake(lake)
    [partition] = [spec.partition for spec in store.partitions()]
    states = {row.stage: row.status for row in store.status(STAGES)}
    assert states[stage] == "interrupted"
    assert not store.is_committed(stage, partition)
    for folder in published:
        assert (lake / folder / f"batch={partition}" / "part-0.parquet").is_file(), folder
    for folder in unpublished:
        assert not (lake / folder / f"batch={partition}").exists(), folder
    assert not list(lake.glob("_trash/*"))  # nothing was replaced: a first run
    leftovers = list(lake.glob("_staging/*"))
    if not staged:
        assert leftovers == []
    else:
        [work] = leftovers
        assert work.name.startswith(f"{stage}-{partition}-")
        for folder in staged:
            assert (work / folder / f"batch={partition}" / "part-0.parquet").is_file(), folder
    if point.startswith("write:"):
        half = work / staged[-1] / f"batch={partition}" / "part-0.parquet"
        with pytest.raises(pa.ArrowInvalid):
            pq.read_metadata(half)

    status = subprocess.run(
        [DEPECHE, "status", "--lake", str(lake)], cwd=PROJECT, env=subprocess_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "interrupted" in status.stdout

    again = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(lake)], cwd=PROJECT, env=subprocess_env,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert not list(lake.glob("_staging/*")) and not list(lake.glob("_trash/*"))
    assert all(store.is_committed(s, partition) for s in STAGES)
    for folder in {*published, *unpublished}:
        assert (lake / folder / f"batch={partition}" / "part-0.parquet").is_file(), folder
    after = same_tables(lake, uninterrupted)
    documents = after["annotated/documents"]
    assert documents["doc_id"].is_unique and len(documents) == len(
        uninterrupted["annotated/documents"]
    )


def test_annotate_workers_die_with_a_killed_run(
    source, uninterrupted, same_tables, harness_env, tmp_path
):
    """Only the run's own process is killed (as the OOM killer would): its annotate
    worker must not live on holding the lake's lock."""
    lake = tmp_path / "lake"
    marker = tmp_path / "paused"
    env = {**harness_env, "DEPECHE_PAUSE_AT": "annotate:worker", "DEPECHE_PAUSE_FILE": str(marker)}
    killed = start(["run", str(source), "--lake", str(lake)], env)
    try:
        wait_until(marker.exists, timeout=240, what="its annotate worker", process=killed)
        workers = {pid for pid in descendants(killed.pid) if "uvicorn" not in command_line(pid)}
        hosts = {
            pid for pid in children(killed.pid) if "tasks.execution.model_host" in command_line(pid)
        }
        assert len(hosts) == 1, "the run's model host is a child of the run"
        assert children(*hosts), "the paused worker is forked from the model host"
        assert Lake(lake).is_locked()
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        wait_until(
            lambda: not any(alive(pid) for pid in workers), timeout=10, what="its workers to end"
        )
        assert not Lake(lake).is_locked()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(killed.pid, signal.SIGKILL)  # the temporary Prefect server

    again = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(lake)], cwd=PROJECT, env=harness_env,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    same_tables(lake, uninterrupted)


def test_a_lock_left_by_a_killed_run_does_not_block(subprocess_env, source, tmp_path):
    lake = tmp_path / "lake"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from tasks.lake.storage import Lake\n"
         "with Lake(sys.argv[1]).lock():\n    print('held', flush=True); time.sleep(600)",
         str(lake)],
        cwd=PROJECT, env=subprocess_env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    busy = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(lake)], cwd=PROJECT, env=subprocess_env,
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert busy.returncode == 3
    assert "is in use (pid" in busy.stderr and "--wait" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert not Lake(lake).is_locked()
    with Lake(lake).lock():
        pass


def test_a_run_killed_while_it_writes_the_state_index_leaves_a_lake_that_runs_on(
    source, uninterrupted, same_tables, harness_env, tmp_path
):
    """The index is a cache of the manifests: a run killed as it writes it (the index
    written, not yet in place), then a run, gives the tables of a run never killed,
    and an index read back whole."""
    lake = tmp_path / "lake"
    run = [DEPECHE, "run", str(source), "--lake", str(lake)]
    made = subprocess.run(run, cwd=PROJECT, env=harness_env, capture_output=True, timeout=300)
    assert made.returncode == 0, made.stderr
    shutil.rmtree(lake / "_index")  # the next command writes it whole again
    marker = tmp_path / "paused"
    env = {**harness_env, "DEPECHE_PAUSE_AT": "index:write", "DEPECHE_PAUSE_FILE": str(marker)}
    killed = start(["run", str(source), "--lake", str(lake)], env)
    assert kill_when_paused(killed, marker) == "index:write"
    [leftover] = (lake / "_index").iterdir()  # the first folder's index, not in place
    assert leftover.name.startswith("._partitions.json.") and leftover.name.endswith(".tmp")

    again = subprocess.run(
        run, cwd=PROJECT, env=harness_env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    same_tables(lake, uninterrupted)
    [partition] = [spec.partition for spec in Lake(lake).partitions()]
    for stage in STAGES:
        index = json.loads((lake / "_index" / f"_manifests-{stage}.json").read_text())
        assert list(index["records"]) == [f"{partition}.json"]


def test_a_run_killed_while_it_keeps_cleans_earlier_articles_gives_the_same_tables(
    sample, harness_env, tmp_path
):
    """Clean's earlier articles are a derived state: a run killed as it writes their
    copy (written, not yet in place), then a run, gives the tables (and stories) of a
    run never killed, and leaves no temporary file. Three articles, a partition each."""
    source = wire_stories(sample, tmp_path / "three", "0[1-3]-*.txt")
    one_each = ["--partition-size", "1"]
    reference = tmp_path / "reference"
    made = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(reference), *one_each],
        cwd=PROJECT, env=harness_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    lake = tmp_path / "lake"
    marker = tmp_path / "paused"
    env = {
        **harness_env,
        "DEPECHE_PAUSE_AT": "derived:earlier",
        "DEPECHE_PAUSE_FILE": str(marker),
    }
    killed = start(["run", str(source), "--lake", str(lake), *one_each], env)
    assert kill_when_paused(killed, marker) == "derived:earlier"
    assert any(p.name.startswith(".earlier.parquet.") for p in (lake / "_index").iterdir())

    again = subprocess.run(
        [DEPECHE, "run", str(source), "--lake", str(lake)],
        cwd=PROJECT, env=harness_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert len(Lake(lake).partitions()) == len(list(source.glob("*.txt"))) > 2
    for table in ("clean", "stories", "annotated/documents"):
        ours = pq.read_table(lake / table).sort_by("doc_id").drop_columns(["batch"])
        theirs = pq.read_table(reference / table).sort_by("doc_id").drop_columns(["batch"])
        assert ours.equals(theirs), table
    assert not [p for p in (lake / "_index").iterdir() if p.name.endswith(".tmp")]
