"""The parts of the lake on their own, on real files: the web state and its landed
pages, the writer lock, JSON a person may damage, the Great Expectations entries."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks.errors import DamagedLake, LakeLocked
from tasks.lake import files
from tasks.lake.files import merge_parquet, read_json
from tasks.lake.gx_results import GxResults
from tasks.lake.layout import LakeLayout
from tasks.lake.lock import WriterLock
from tasks.lake.web import WebState


def test_read_json_tells_a_missing_file_from_a_damaged_one(tmp_path):
    path = tmp_path / "state.json"
    assert read_json(path, ValueError) is None
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"state\.json is damaged \(Expecting"):
        read_json(path, ValueError)


def test_web_sources_round_trip_and_a_damaged_file_says_what_to_do(tmp_path):
    web = WebState(LakeLayout(tmp_path))
    assert web.sources() == {}
    web.write_sources({"https://example.org/feed": {"etag": '"1"'}})
    assert web.sources() == {"https://example.org/feed": {"etag": '"1"'}}
    web.sources_path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DamagedLake, match="not a JSON object of objects: delete it"):
        web.sources()
    web.sources_path.write_text("{", encoding="utf-8")
    with pytest.raises(DamagedLake, match=r"is damaged .*: delete it, and the next run"):
        web.sources()


def test_a_landed_page_is_read_back_only_when_whole(tmp_path):
    web = WebState(LakeLayout(tmp_path))
    body = b"<html>page</html>"
    answer = {"status": 200, "sha256": hashlib.sha256(body).hexdigest()}
    web.land("abcdef", answer, body)
    assert web.landed("abcdef") == (answer, body)
    web.land("failed", {"failure": "timeout"})
    assert web.landed("failed") == ({"failure": "timeout"}, None)
    (tmp_path / "_web" / "pages" / "ab" / "abcdef.body").write_bytes(b"<html>cut")
    assert web.landed("abcdef") is None
    assert web.landed("never") is None


def test_the_writer_lock_is_held_by_one_run_at_a_time(tmp_path):
    layout = LakeLayout(tmp_path)
    lock = WriterLock(layout.root, layout.lock_path)
    assert not lock.held()
    with lock.hold():
        assert lock.held()
        another = WriterLock(layout.root, layout.lock_path)
        with pytest.raises(LakeLocked, match=r"is in use \(pid \d+ on "), another.hold():
            pass
    assert not lock.held()


def test_a_stage_entry_of_the_gx_file_is_checked_against_its_hash(tmp_path):
    gx = GxResults(LakeLayout(tmp_path))
    gx.write("clean", "p1", [{"expectation": "rows", "success": True}])
    gx.write("fetch", "p1", [{"expectation": "rows", "success": True}])
    entry = gx.describe_entry("clean", "p1")
    assert entry is not None and entry.path == "reports/gx/p1.json#clean"
    assert gx.check_entry(entry, deep=True) == []
    gx.write("clean", "p1", [{"expectation": "rows", "success": False}])
    assert gx.check_entry(entry, deep=False) == []  # a plain check: the file is there
    assert gx.check_entry(entry, deep=True) == [
        "reports/gx/p1.json changed (the results of clean) since they were committed"
    ]
    gx.layout.gx_report_path("p1").unlink()
    assert gx.check_entry(entry, deep=False) == ["reports/gx/p1.json is missing"]


def test_merged_files_gather_small_row_groups_and_keep_the_rows_in_order(tmp_path, monkeypatch):
    """An hourly partition's file is one small row group: merged, they are gathered into
    row groups of about MERGED_GROUP_BYTES, the rows in the sources' order; a source of
    an older depeche, without a later column, gets it as nulls."""
    sources = []
    for hour in range(6):
        rows = {"doc_id": [f"d{hour}-{n}" for n in range(50)], "hour": [hour] * 50}
        if hour:  # the first hour's file was written before the column existed
            rows["lang"] = ["fr"] * 50
        sources.append(tmp_path / f"hour-{hour}.parquet")
        pq.write_table(pa.table(rows), sources[-1])
    one_hour = pq.read_table(sources[1]).nbytes
    monkeypatch.setattr(files, "MERGED_GROUP_BYTES", 2 * one_hour)  # two hours a group
    sources = [*sources[1:], sources[0]]  # the schema is the first source's
    merge_parquet(sources, tmp_path / "merged.parquet")
    merged = pq.ParquetFile(tmp_path / "merged.parquet")
    assert merged.num_row_groups == 3
    table = merged.read()
    expected = [f"d{hour}-{n}" for hour in [1, 2, 3, 4, 5, 0] for n in range(50)]
    assert table.column("doc_id").to_pylist() == expected
    assert table.column("lang").to_pylist() == ["fr"] * 250 + [None] * 50
