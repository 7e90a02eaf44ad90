"""Where each thing of a lake lives: the paths of one lake root, and nothing else
(the layout as a whole is drawn in tasks/storage.py's docstring)."""

from __future__ import annotations

from pathlib import Path

from schemas import ALL_TABLES, PARTITION_KEY, STAGES, Table
from tasks.lake.files import PART_FILE
from tasks.lake_index import INDEX_DIR

PARTITIONS_DIR = "_partitions"
PARTITION_PREFIX = f"{PARTITION_KEY}="  # how a partition folder's name begins


def manifests_dir(stage: str) -> str:
    return f"_manifests/{stage}"


class LakeLayout:
    """The paths of one lake root: every other part of the lake asks them here."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.reports_dir = self.root / "reports"
        self.report_path = self.reports_dir / "index.html"  # the HTML report of the lake
        # the DuckDB catalog: a view per table and mart, paths relative to the root
        self.catalog_path = self.root / "depeche.duckdb"
        self.partitions_dir = self.root / PARTITIONS_DIR
        # beside the stages' manifest folders, not in one: it is not a stage-partition
        self.marts_manifest_path = self.root / "_manifests" / "marts.json"
        # the catalog's and the report's sizes and hashes: files every run rewrites
        # from the marts, so not part of the marts' manifest
        self.derived_record_path = self.root / "_manifests" / "derived.json"
        self.settings_path = self.root / "_settings.json"  # the last run's settings
        self.web_dir = self.root / "_web"  # web sources' state, pages fetched
        self.lock_path = self.root / "_lock"  # held by the one run writing the lake

    def relative_dir(self, table: Table, partition: str, stage: str) -> Path:
        if not table.partitioned:  # a mart: one folder over every partition
            return Path(table.path)
        part = f"{PARTITION_PREFIX}{partition}"
        if table.per_stage:
            return Path(table.path) / stage / part
        if table.checkpoint and stage == table.stage:
            return Path("_checkpoints") / table.path / part
        return Path(table.path) / part

    def committed_file(self, table: Table, partition: str, stage: str | None = None) -> Path:
        """Where the committed partition of `table` lives, as written by `stage`."""
        return self.root / self.relative_dir(table, partition, stage or table.stage) / PART_FILE

    def partition_folders(self, partition: str) -> list[Path]:
        """Every folder `partition` may have in the lake (relative), whichever stage
        wrote or published it."""
        return sorted(
            {
                self.relative_dir(table, partition, stage)
                for table in ALL_TABLES
                if table.partitioned
                for stage in STAGES
            }
        )

    def table_dir(self, table: Table) -> Path:
        """The folder of every published partition of `table` (its hive root)."""
        return self.root / table.path

    def gx_report_path(self, partition: str) -> Path:
        """The Great Expectations results of every stage of `partition`, in one file."""
        return self.reports_dir / "gx" / f"{partition}.json"

    def partition_record_path(self, partition: str) -> Path:
        return self.partitions_dir / f"{partition}.json"

    def manifest_path(self, stage: str, partition: str) -> Path:
        return self.root / manifests_dir(stage) / f"{partition}.json"

    def index_file(self, name: str) -> Path:
        return self.root / INDEX_DIR / name
