"""Stories across partitions and runs: the real flow on temporary lakes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from flows.pipeline import depeche_pipeline
from tasks.lake.storage import Lake


def republished(text: str) -> str:
    """The same wire story as another site runs it: a word changed here and there, a
    paragraph added at the end."""
    text = text.replace("lundi", "ce lundi").replace("colère", "grogne")
    return text.rstrip() + (
        "\n\nLes travaux de la station Pie-IX doivent reprendre au printemps, selon la "
        "société de transport.\n"
    )


def stories(lake: Path) -> dict[str, tuple[str, str]]:
    """doc_id → (file name, story_id) of every published article."""
    documents = pd.read_parquet(lake / "annotated" / "documents")
    return {
        row.doc_id: (Path(row.source_path).name, row.story_id) for row in documents.itertuples()
    }


def test_a_republished_story_joins_the_first_one_across_partitions(
    prefect_harness, sample: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "lundi", tmp_path / "mardi"
    first.mkdir()
    second.mkdir()
    wire = sample / "wire"
    for name in ("01-montreal-metro-prolongement.txt", "03-geneve-oms-pandemie.txt"):
        shutil.copy(wire / name, first / name)
    original = (wire / "01-montreal-metro-prolongement.txt").read_text(encoding="utf-8")
    (second / "01-montreal-metro-autre-site.txt").write_text(
        republished(original), encoding="utf-8"
    )
    shutil.copy(wire / "04-washington-senat-proces.txt", second / "04-washington.txt")
    lake = tmp_path / "lake"
    assert depeche_pipeline(sources=[str(first)], lake=str(lake)).ok
    later = depeche_pipeline(sources=[str(second)], lake=str(lake))
    assert later.ok
    found = stories(lake)
    by_name = {name: (doc_id, story) for doc_id, (name, story) in found.items()}
    montreal_id, montreal_story = by_name["01-montreal-metro-prolongement.txt"]
    copy_id, copy_story = by_name["01-montreal-metro-autre-site.txt"]
    # two publications, two rows, one story: the first article's
    assert copy_id != montreal_id
    assert montreal_story == montreal_id and copy_story == montreal_id
    for name in ("03-geneve-oms-pandemie.txt", "04-washington.txt"):
        doc_id, story = by_name[name]
        assert story == doc_id

    # redoing the later partition gives the same stories, and leaves the first alone
    store = Lake(lake)
    [first_partition] = [
        s.partition for s in store.partitions() if s.partition not in later.planned
    ]
    before = store.read_manifest("clean", first_partition).finished_at
    redo = depeche_pipeline(lake=str(lake), from_stage="clean", partitions=list(later.planned))
    assert redo.ok
    assert {(r.partition, r.stage) for r in redo.reports if r.ran} == {
        (p, s) for p in later.planned for s in ("clean", "annotate", "validate")
    }
    assert stories(lake) == found
    assert store.read_manifest("clean", first_partition).finished_at == before
