"""Where each thing of a lake lives: the paths of one lake root, and nothing else.

Layout under the lake root:

    raw/batch=<p>/                      fetch output
    clean/batch=<p>/                    clean output
    _checkpoints/annotated/<t>/batch=<p>/  annotate output, waiting for validate
    stories/batch=<p>/                  clean output: each article's MinHash and story
    annotated/<t>/batch=<p>/            published by validate (documents, sentences,
                                        entities, quotes)
    quarantine/<stage>/batch=<p>/       rejected records of each stage
    reports/checks/<stage>/batch=<p>/   every check each gate ran
    reports/gx/<p>.json                 Great Expectations results as GX writes them, by stage
    _manifests/<stage>/<p>.json         one per stage-partition: the source of truth
    _partitions/<p>.json                what each partition is: its items, its order
    _index/<folder>.json                the records of each folder above, read in one go
                                        (a cache of them: see tasks/lake/index.py)
    _index/<state>.parquet              states derived from committed partitions, such
                                        as clean's earlier articles (tasks/earlier.py)
    _index/marts.duckdb                 what the marts read of each published file
                                        (tasks/analytics/mart_state.py)
    marts/<mart>/                       aggregates over every published partition: a
                                        file per month of periods for a mart by day
    _manifests/marts.json               what the marts were made from
    _manifests/derived.json             size and hash of the catalog and the report
    depeche.duckdb                      the catalog: a view per table and mart
    reports/index.html                  the report
    _web/sources.json, _web/pages/      each web source's last answer; the pages fetched
    _settings.json                      the settings of the last run
    _staging/<token>/...                work in progress, mirrored layout; never read
    _lock                               held (flock) by the one run writing the lake
"""

from __future__ import annotations

from pathlib import Path

from schemas import ALL_TABLES, PARTITION_KEY, STAGES, Table
from tasks.lake.files import PART_FILE
from tasks.lake.index import INDEX_DIR

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
        return Path(_relative_dir(table, partition, stage))

    def committed_file(self, table: Table, partition: str, stage: str | None = None) -> Path:
        """Where the committed partition of `table` lives, as written by `stage`."""
        return self.root / relative_file(table, partition, stage or table.stage)

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


def relative_file(table: Table, partition: str, stage: str) -> str:
    """The file of `table`'s partition as `stage` writes it, relative to the root, as
    a manifest records it: text, as the marts and the catalog ask it of every file."""
    return f"{_relative_dir(table, partition, stage)}/{PART_FILE}"


def _relative_dir(table: Table, partition: str, stage: str) -> str:
    """The folder of `table`'s partition as `stage` writes it, relative to the root."""
    if not table.partitioned:  # a mart: one folder over every partition
        return table.path
    part = f"{PARTITION_PREFIX}{partition}"
    if table.per_stage:
        return f"{table.path}/{stage}/{part}"
    if table.checkpoint and stage == table.stage:
        return f"_checkpoints/{table.path}/{part}"
    return f"{table.path}/{part}"
