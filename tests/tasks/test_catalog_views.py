"""The catalog's table views: bound from one file when every file has the table's
schema, matched by name only when files differ (a lake of an older depeche)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import QUARANTINE, STORIES
from schemas.tables import Rejected, quarantine_row
from tasks.analytics.marts import catalog_views, connect_catalog, write_catalog
from tasks.lake.storage import Lake
from tasks.records import Manifest, PartitionSpec, Status
from tasks.text import stories

NOW = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


def commit_stories(lake: Lake, seq: int) -> str:
    partition = f"p{seq:03d}"
    lake.write_partition(PartitionSpec(partition, seq, [], partition))
    rows = {
        "doc_id": [f"{seq:016x}"],
        "story_id": [f"{seq:016x}"],
        "minhash": [stories.to_bytes(stories.signatures([f"dépêche {seq} " * 20])[0])],
    }
    manifest = Manifest("clean", partition, Status.COMMITTED, str(seq), "v", {}, NOW, NOW)
    with lake.staging("clean", partition) as staging:
        staging.write(STORIES, pa.Table.from_pydict(rows, schema=STORIES.schema))
        lake.commit(staging, manifest)
    return partition


def count(lake: Path) -> int:
    """The stories the catalog counts, reading every column the table has now."""
    con = connect_catalog(lake / "depeche.duckdb")
    try:
        sql = "SELECT count(*), count(story_id) FROM stories"
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_files_of_one_schema_are_read_as_it_and_a_differing_file_by_name(tmp_path) -> None:
    lake = Lake(tmp_path / "lake")
    for seq in (1, 2, 3):
        commit_stories(lake, seq)
    view = catalog_views(lake.indexed())["stories"]
    assert "union_by_name" not in view and "hive_partitioning = true" in view
    write_catalog(lake.indexed())
    assert count(lake.root) == 3
    assert (lake.root / "_index" / "schemas.json").exists()  # learned once

    # a partition of an older depeche: a column the table has since gained is missing
    older = lake.committed_file(STORIES, commit_stories(lake, 4))
    pq.write_table(pq.read_table(older).drop_columns(["story_id"]), older)
    view = catalog_views(lake.indexed())["stories"]
    assert "union_by_name = true" in view
    write_catalog(lake.indexed())
    assert count(lake.root) == 4


def test_a_catalog_made_by_the_same_statements_is_not_written_again(tmp_path) -> None:
    """A run whose published files did not change leaves the catalog as it is; a new
    partition, or a catalog damaged or missing, writes it again."""
    lake = Lake(tmp_path / "lake")
    commit_stories(lake, 1)
    catalog = write_catalog(lake.indexed())
    written = catalog.stat()
    assert write_catalog(lake.indexed()).stat().st_ino == written.st_ino
    commit_stories(lake, 2)
    assert write_catalog(lake.indexed()).stat().st_ino != written.st_ino
    assert count(lake.root) == 2

    rewritten = catalog.stat()
    with open(catalog, "ab") as damage:  # recorded size no longer matches
        damage.write(b"\0")
    assert write_catalog(lake.indexed()).stat().st_ino != rewritten.st_ino
    catalog.unlink()
    write_catalog(lake.indexed())
    assert count(lake.root) == 2


def test_a_table_no_partition_has_a_file_of_is_a_view_of_no_rows(tmp_path) -> None:
    """A lake that quarantined nothing has no quarantine file: its view still answers,
    with the columns the files would have, and takes the first file as it comes."""
    lake = Lake(tmp_path / "lake")
    commit_stories(lake, 1)
    write_catalog(lake.indexed())
    con = connect_catalog(lake.root / "depeche.duckdb")
    try:
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
        columns = {row[0]: row[1] for row in con.execute("DESCRIBE quarantine").fetchall()}
    finally:
        con.close()
    assert set(columns) == {*QUARANTINE.schema.names, "batch"}
    assert columns["line"] == "INTEGER" and columns["payload"] == "BLOB"

    rejected = quarantine_row(
        "clean", Rejected("empty", "no text"), record_id=None, source_path="f.txt", line=None
    )
    manifest = Manifest("clean", "p001", Status.COMMITTED, "2", "v", {}, NOW, NOW)
    with lake.staging("clean", "p001") as staging:
        staging.write(QUARANTINE, pa.Table.from_pylist([rejected], schema=QUARANTINE.schema))
        lake.commit(staging, manifest)
    write_catalog(lake.indexed())
    con = connect_catalog(lake.root / "depeche.duckdb")
    try:
        assert con.execute("SELECT reason, batch FROM quarantine").fetchall() == [("empty", "p001")]
    finally:
        con.close()
