"""States derived from the committed partitions and kept in `_index/` (such as
clean's earlier articles): rebuildable, so one missing or damaged reads as none,
and a lake that cannot be written keeps the old one."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.lake.files import atomic_write, atomic_write_text
from tasks.lake.layout import LakeLayout


class DerivedStates:
    """The derived states of one lake root, by name."""

    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout

    def read_table(self, name: str) -> pa.Table | None:
        """A state derived from the committed partitions; None when missing or damaged
        (its owner rebuilds it from them)."""
        try:
            return pq.read_table(self.layout.index_file(f"{name}.parquet"))
        except (OSError, pa.ArrowException):
            return None

    def write_table(self, name: str, rows: pa.Table) -> None:
        """Keep a derived state, replaced atomically; a lake that cannot be written
        keeps the old one (it is rebuilt when stale)."""
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink, compression="zstd")
        path = self.layout.index_file(f"{name}.parquet")
        with contextlib.suppress(OSError):
            atomic_write(path, sink.getvalue().to_pybytes(), pause=f"derived:{name}")

    def read_record(self, name: str) -> dict[str, Any]:
        """A JSON object derived from the lake's files; empty when missing or damaged."""
        try:
            text = self.layout.index_file(f"{name}.json").read_text(encoding="utf-8")
            found = json.loads(text)
        except (OSError, ValueError):
            return {}
        return found if isinstance(found, dict) else {}

    def write_record(self, name: str, record: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            atomic_write_text(self.layout.index_file(f"{name}.json"), json.dumps(record))
