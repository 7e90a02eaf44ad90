"""Fetch: the items of a partition, read from their sources into the raw table.

Each item (a local file, a line of a .jsonl file, a web page) becomes a raw row or a
quarantine row with its reason and its bytes, never nothing. Which items a partition
holds was decided by planning (tasks/planning.py); the sources read them
(tasks/sources/).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from schemas import QUARANTINE, RAW
from tasks.contract import Stage, StageContext, StageOutput
from tasks.records import ItemKey, PartitionSpec
from tasks.sources import Source
from tasks.sources.files import FileSource
from tasks.sources.rows import quarantine_table, raw_tables
from tasks.sources.web import WebSource


def fetch_partition(context: StageContext) -> StageOutput:
    """Read the items of one partition into its raw table: files from disk, web pages
    from the lake when fetched before, else from the web. The rows stream to the
    raw file one item at a time, in the items' order (files, then web pages)."""
    spec = context.lake.partition(context.partition)
    output = StageOutput(
        outputs={},
        quarantine=QUARANTINE.schema.empty_table(),
        rows_in=len(spec.items),
        rows_out=0,
    )
    output.outputs[RAW] = _raw_stream(_sources(context, spec), spec, output)
    return output


def _sources(context: StageContext, spec: PartitionSpec) -> list[Source]:
    """The sources of a partition's items, in the order they are read (the web's only
    for a partition with web pages: a run of files needs no crawler)."""
    settings = context.settings
    sources: list[Source] = [FileSource(settings.max_bytes)]
    if spec.urls:
        sources.append(WebSource(context.lake, settings, context.resources.web_hosts()))
    return sources


def _raw_stream(
    sources: list[Source], spec: PartitionSpec, output: StageOutput
) -> Iterator[pa.Table]:
    """The partition's raw tables; once written, the output's books."""
    rejects: list[tuple[ItemKey, dict[str, Any]]] = []
    items = itertools.chain.from_iterable(source.read(spec, output.details) for source in sources)
    for table in raw_tables(items, fetched_at=datetime.now(UTC), rejects=rejects):
        output.rows_out += table.num_rows
        yield table
    output.quarantine = quarantine_table(rejects)


STAGE = Stage(
    name="fetch",
    produce=fetch_partition,
    writes=(RAW,),
    settings=("max_bytes",),
    extra_inputs=lambda lake, partition: [lake.partition(partition).fingerprint],
    ordered=True,  # one fetch at a time: the hosts' delays hold across workers
)
