"""Which partitions the lake has published: what the marts are built from and what
the report counts (below both, so that neither imports the other for it), and how a
DuckDB view lists their files."""

from __future__ import annotations

import os
from collections.abc import Iterable

from schemas import Table
from schemas.marts import MART_PARTITION
from tasks.lake.storage import Lake
from tasks.records import Status

PUBLISHER = "validate"  # the stage that publishes documents and entities
ALL = MART_PARTITION


def published_partitions(lake: Lake) -> tuple[list[str], dict[str, str]]:
    """The partitions validate committed, in order, and the others with why they
    are not in the marts."""
    included, left_out = [], {}
    for spec in lake.partitions():
        state, _, problem = lake.state(PUBLISHER, spec.partition)
        if state == Status.COMMITTED:
            included.append(spec.partition)
        else:
            why = (problem or "").removeprefix(f"{state}: ")  # said once
            left_out[spec.partition] = f"validate {state}" + (f": {why}" if why else "")
    return included, left_out


def mart_files(lake: Lake, mart: Table) -> list[str]:
    """The files of `mart` (relative to the root) in their order: a file per segment
    for a mart by day, in the order of its periods. Its folder is replaced whole at
    each commit, so the files listed are one commit's."""
    try:
        names = sorted(
            e.name for e in os.scandir(lake.root / mart.path) if e.name.endswith(".parquet")
        )
    except FileNotFoundError:
        return []
    return [f"{mart.path}/{name}" for name in names]


def sql_string(value: object) -> str:
    """`value` as a SQL string literal (a quote in it doubled): a path for DuckDB."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_strings(values: Iterable[object]) -> str:
    """Values as a comma-separated list of SQL string literals: the files a view reads."""
    return ", ".join(sql_string(value) for value in values)
