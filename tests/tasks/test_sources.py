"""The sources behind fetch: what each lists as new, and what it reads of a partition."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tasks.lake.storage import Lake
from tasks.records import WEB_ITEM, PartitionSpec
from tasks.settings import Settings
from tasks.sources import Listing, Source
from tasks.sources.files import FileSource
from tasks.sources.web import WebPlan, WebSource

FRENCH = "L’équipe de France a gagné à Marseille, a déclaré le sélectionneur."


def _spec(items: list) -> PartitionSpec:
    return PartitionSpec(partition="p", seq=1, items=items, fingerprint="f")


def test_files_list_only_the_new_items_and_count_them_all(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(FRENCH, encoding="utf-8")
    lines = [json.dumps({"text": FRENCH}), json.dumps({"text": FRENCH + " Deux."})]
    (tmp_path / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = sorted(tmp_path.iterdir())
    first = FileSource(10_000, files)
    keys = [found.key for found in first.new_items(set())]
    assert first.found == 3 and len(keys) == 3
    again = FileSource(10_000, files)
    assert [found.key for found in again.new_items(set(keys[:2]))] == keys[2:]
    assert again.found == 3  # the known ones are found, not listed as new


def test_an_item_changed_since_planning_is_read_as_vanished(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(FRENCH, encoding="utf-8")
    (tmp_path / "b.txt").write_text(FRENCH + " Deux.", encoding="utf-8")
    source = FileSource(10_000, sorted(tmp_path.iterdir()))
    keys = [found.key for found in source.new_items(set())]
    (tmp_path / "b.txt").write_text("Un autre texte.", encoding="utf-8")
    items = list(FileSource(10_000).read(_spec(keys), {}))
    assert [item.key for item in items] == keys  # in the order of their keys
    assert items[0].rejected is None and items[0].text == FRENCH
    assert items[1].rejected is not None and items[1].rejected.reason == "vanished"


def test_a_web_plan_lists_its_new_pages_and_those_tried_again(tmp_path: Path) -> None:
    listed = datetime(2024, 3, 5, tzinfo=UTC)
    plan = WebPlan(
        hints={"https://b.example/2": {}, "https://a.example/1": {}},
        attempts={"https://b.example/2": 1},
        published={"https://a.example/1": listed},
        found=1,
    )
    # a page tried again is one the lake holds: it is planned all the same
    known = {("https://b.example/2", None, WEB_ITEM)}
    new = list(plan.new_items(known))
    assert [found.key for found in new] == [
        ("https://a.example/1", None, WEB_ITEM),
        ("https://b.example/2", None, WEB_ITEM),
    ]
    assert [found.listed_date for found in new] == [listed, None]
    source: Source = WebSource(Lake(tmp_path / "lake"), Settings(), plan=plan)
    assert [found.key for found in source.new_items(set())] == [found.key for found in new]
    listing: Listing = plan
    assert listing.found == 1


def test_a_partition_of_files_reads_nothing_from_the_web(tmp_path: Path) -> None:
    details: dict = {}
    source = WebSource(Lake(tmp_path / "lake"), Settings())
    assert list(source.read(_spec([(str(tmp_path / "a.txt"), None, "0" * 64)]), details)) == []
    assert details == {}  # no web books for a partition without web pages
