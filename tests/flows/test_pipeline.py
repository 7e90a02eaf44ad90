"""End to end: the real Prefect engine runs the flow on data/sample into a temporary lake."""

from __future__ import annotations

import itertools
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

from flows.pipeline import depeche_pipeline, summary_of
from schemas import STAGES
from tasks.errors import RunFailed
from tasks.lake.storage import Lake


@pytest.fixture(scope="module")
def sample_run(prefect_harness, sample: Path, tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    state = depeche_pipeline(sources=[str(sample)], lake=str(lake), return_state=True)
    return lake, state


def table(lake: Path, path: str) -> pd.DataFrame:
    return pd.read_parquet(lake / path)


def test_every_stage_commits_and_the_books_balance(sample_run) -> None:
    lake, state = sample_run
    assert state.is_completed(), state.message
    summary = state.result()
    assert [(r.stage, r.status) for r in summary.reports] == [(s, "committed") for s in STAGES]
    manifests = {m.stage: m for m in Lake(lake).manifests()}
    for stage in STAGES:
        m = manifests[stage]
        assert m.rows_in == m.rows_out + m.rows_quarantined, stage
        assert m.validation.success and not m.validation.failed
        gx = Lake(lake).gx.results(stage, m.partition)  # validate's gate has no suite
        assert gx is not None and all(result["success"] for result in gx), stage
    for upstream, downstream in itertools.pairwise(STAGES):
        assert manifests[upstream].rows_out == manifests[downstream].rows_in
    # the tables agree with the manifests
    quarantine = table(lake, "quarantine/fetch")
    assert len(table(lake, "raw")) == manifests["fetch"].rows_out
    assert len(quarantine) == manifests["fetch"].rows_quarantined
    assert len(table(lake, "clean")) == manifests["clean"].rows_out
    assert len(table(lake, "annotated/documents")) == manifests["annotate"].rows_out


def test_every_sample_file_is_committed_or_quarantined(sample_run, sample: Path) -> None:
    lake, _ = sample_run
    raw = table(lake, "raw")
    fetch_q = table(lake, "quarantine/fetch")
    clean = table(lake, "clean")
    clean_q = table(lake, "quarantine/clean")
    documents = table(lake, "annotated/documents")
    # the lake records absolute, resolved paths, whatever the working folder
    files = {p.resolve().as_posix() for p in sample.rglob("*") if p.is_file()}
    assert files == set(raw["source_path"]) | set(fetch_q["source_path"])
    assert set(raw["item_id"]) == set(clean["item_id"]) | set(clean_q["record_id"])
    assert set(clean["doc_id"]) == set(documents["doc_id"])
    assert len(clean) >= 25

    def reason(name: str, stage_q: pd.DataFrame, line=None) -> str:
        rows = stage_q[stage_q["source_path"].str.endswith(name)]
        if line is not None:
            rows = rows[rows["line"] == line]
        [value] = rows["reason"].tolist()
        return value

    assert reason("vide.txt", fetch_q) == "empty"
    assert reason("image-renommee.txt", fetch_q) == "binary"
    assert reason("depeches-2020-2024.jsonl", fetch_q, line=4) == "malformed_json"
    assert reason("depeches-2020-2024.jsonl", fetch_q, line=7) == "missing_text"
    assert reason("london-english.txt", clean_q) == "not_french"
    assert reason("13-paris-greve-retraites-doublon.txt", clean_q) == "duplicate"
    original = clean[clean["source_path"].str.endswith("02-paris-greve-retraites.txt")]
    duplicate = clean_q[clean_q["reason"] == "duplicate"]
    assert original["doc_id"].iloc[0] in duplicate["detail"].iloc[0]
    encodings = dict(
        zip(raw["source_path"].map(lambda p: Path(p).name), raw["encoding"], strict=True)
    )
    assert encodings["gilets-jaunes-latin1.txt"] == "cp1252"
    assert encodings["notre-dame-utf16.txt"] == "utf-16"
    latin = clean[clean["source_path"].str.endswith("gilets-jaunes-latin1.txt")]
    assert "« gilets jaunes »" in latin["text"].iloc[0]


def test_wire_metadata_and_captions_are_in_their_columns(sample_run) -> None:
    lake, _ = sample_run
    clean = table(lake, "clean").set_index(
        table(lake, "clean")["source_path"].map(lambda p: Path(p).name)
    )
    montreal = clean.loc["01-montreal-metro-prolongement.txt"]
    assert (montreal["dateline"], montreal["agency"]) == ("Montréal", "La Presse canadienne")
    assert str(montreal["published_date"]) == "2021-03-15" and montreal["date_precision"] == "day"
    [caption] = list(montreal["captions"])
    assert caption["credit"] == "GRAHAM HUGHES, LA PRESSE CANADIENNE"
    assert caption["text"] not in montreal["text"] and "PHOTO" not in montreal["text"]
    paris = clean.loc["02-paris-greve-retraites.txt"]
    assert (str(paris["published_date"]), paris["date_precision"]) == ("2019-12-01", "month")
    assert set(clean["agency"].dropna()) >= {
        "Agence France-Presse", "La Presse canadienne", "Associated Press", "Reuters"
    }  # fmt: skip
    assert "\u00a0" not in "".join(clean["text"]) and "\u2019" not in "".join(clean["text"])


def test_duckdb_and_pandas_read_the_published_tables(sample_run) -> None:
    lake, _ = sample_run
    query = f"""
        SELECT strftime(d.published_date, '%Y-%m') AS month, e.normalized AS person,
               count(*) AS mentions
        FROM read_parquet('{lake}/annotated/entities/**/*.parquet', hive_partitioning = true) e
        JOIN read_parquet('{lake}/annotated/documents/**/*.parquet', hive_partitioning = true) d
          USING (doc_id, batch)
        WHERE e.label = 'PER'
        GROUP BY ALL ORDER BY mentions DESC, person LIMIT 5
    """
    top = duckdb.sql(query).fetchall()
    assert top and all(mentions >= 1 for _, _, mentions in top)
    entities = pd.read_parquet(lake / "annotated" / "entities")
    assert {"doc_id", "start_char", "end_char", "normalized", "label", "batch"} <= set(entities)
    persons = set(entities.loc[entities["label"] == "PER", "normalized"])
    assert {"Emmanuel Macron", "Ursula von der Leyen", "Valérie Plante"} <= persons


def test_a_second_run_with_nothing_new_does_no_work(sample_run, sample: Path) -> None:
    lake, _ = sample_run
    files = sorted(lake.rglob("*.parquet"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    summary = depeche_pipeline(sources=[str(sample)], lake=str(lake))
    assert [r.status for r in summary.reports] == ["skipped"] * 4
    assert sorted(lake.rglob("*.parquet")) == files
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


def test_a_partition_that_fails_validation_is_not_published(
    prefect_harness, calm_source: Path, tmp_path: Path
) -> None:
    from prefect.flows import load_flow_from_entrypoint

    source = calm_source
    lake = tmp_path / "lake"
    # the entrypoint a deployment uses
    flow = load_flow_from_entrypoint(str(Path("flows/pipeline.py").resolve()) + ":depeche_pipeline")
    state = flow(
        sources=[str(source)],
        lake=str(lake),
        settings={"max_share_without_entities": 0.0},
        return_state=True,
    )
    assert state.is_failed()
    assert "validate failed for partition calme-" in state.message
    summary = summary_of(state)
    failed = summary.failures[0]
    assert failed.stage == "validate"
    assert "share_without_entities_at_most" in failed.message
    assert Lake(lake).is_committed("annotate", failed.partition)
    assert not (lake / "annotated").exists()

    rerun = flow(
        sources=[str(source)], lake=str(lake), settings={"max_share_without_entities": 1.0}
    )
    assert [r.status for r in rerun.reports] == ["skipped", "skipped", "skipped", "committed"]
    assert pq.read_table(lake / "annotated" / "documents").num_rows == 1


def test_a_failed_run_raises_why_from_the_engine_as_a_served_run_does(
    prefect_harness, calm_source: Path, tmp_path: Path
) -> None:
    """A deployment's run is the engine asked for the flow's result: it raises the
    run's failure (where, why, how to rerun), not a TypeError about the state."""
    with pytest.raises(RunFailed) as raised:
        depeche_pipeline(
            sources=[str(calm_source)],
            lake=str(tmp_path / "lake"),
            settings={"max_share_without_entities": 0.0},
        )
    assert "validate failed for partition calme-" in str(raised.value)
    assert "rerun it with: depeche rerun --failed" in str(raised.value)
    assert raised.value.summary.failures[0].stage == "validate"


def test_task_runs_are_named_and_log_a_line_per_stage_partition(sample_run) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    lake, state = sample_run
    flow_run_id = state.state_details.flow_run_id
    [partition] = [spec.partition for spec in Lake(lake).partitions()]
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    names = {run.name for run in task_runs}
    assert {f"{stage}[{partition}]" for stage in STAGES} <= names
    infos = [log.message for log in logs if log.level == 20]
    for stage in STAGES:
        manifest = Lake(lake).read_manifest(stage, partition)
        line = (
            f"{stage}[{partition}] committed: {manifest.rows_in} in, {manifest.rows_out} out, "
            f"{manifest.rows_quarantined} quarantined"
        )
        assert any(message.startswith(line) for message in infos), (line, infos)
