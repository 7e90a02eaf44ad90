"""Compaction: the partitions of a period that has ended, merged into one.

An hourly schedule makes a partition an hour, each a dozen small files. Once a day
has ended its partitions are merged into one, and once a month has ended its
partitions (its days' merged ones among them) into one, as table formats merge small
files: the merged partition's files and manifests are written first, then one atomic
switch, then the old files are collected.

1. the intent, `_compacting/<merged>.json`, names the partitions to merge;
2. each file of theirs is merged with its like (the same table and stage) in plan
   order, in staging, and the Great Expectations results of each stage in one entry;
3. the merged folders are moved into place and the merged partition's manifests
   written: no reader sees them yet, as no partition record names them;
4. the switch: the merged partition's record, naming the partitions it compacts.
   From then on they are no partitions of the lake, and the merged one stands where
   the first of them stood in plan order;
5. once the catalog lists the merged files (the marts step), `collect` removes the
   old partitions' files, manifests and records, then the intent.

A process killed before the switch leaves an intent without its record: the next
run or `depeche compact` removes what it placed (`recover`). Killed after, the old
partitions are superseded and only wait to be collected. The merged manifests are
made from the keys the stages give the merged partition, so nothing is redone;
each keeps the chain link (contract.chain_link) of the last partition it merged, so
no later partition's key changes either.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from schemas import PARTITION_KEY
from tasks.contract import Stage, chain_link, decide, fingerprint
from tasks.errors import CompactionStopped
from tasks.faults import fault_point
from tasks.lake.files import (
    atomic_write_text,
    describe_file,
    fingerprint_outputs,
    merge_parquet,
    sha256_file,
)
from tasks.lake.gx_results import GX_ENTRY
from tasks.lake.storage import Lake
from tasks.records import Manifest, PartitionSpec, Status, Validation
from tasks.settings import Settings
from tasks.stages.registry import REGISTRY

INTENTS_DIR = "_compacting"
MERGED_PREFIX = "compacted"


GRACE = timedelta(hours=1)  # a period ends for the automatic policy an hour after its end
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Horizon:
    """The periods that have ended, which compaction merges: each month up to `month`
    whole, then each day up to `day` (of the months after `month`) on its own."""

    month: str | None  # YYYY-MM; None: no month merged as a month
    day: str | None = None  # YYYY-MM-DD; None: no day merged as a day

    @classmethod
    def parse(cls, until: str) -> Horizon:
        """`--until`: a month (YYYY-MM, the months up to it) or a day (YYYY-MM-DD, the
        periods that have ended when that day ends: the months before, then the days)."""
        if len(until) == len("YYYY-MM"):
            return cls(until)
        return ended_by(datetime.combine(date.fromisoformat(until), time(), UTC) + _DAY)

    def period(self, arrived: str) -> str | None:
        """The period a partition fetched at `arrived` (an ISO time, UTC) is merged in:
        its month, else its day, or None while it has not ended."""
        if self.month is not None and arrived[:7] <= self.month:
            return arrived[:7]
        if self.day is not None and arrived[:10] <= self.day:
            return arrived[:10]
        return None

    def __bool__(self) -> bool:
        """Whether any period is merged (not with both policies off)."""
        return bool(self.month or self.day)

    def __str__(self) -> str:
        return self.day or self.month or "nothing"


def last_closed_month(today: date) -> str:
    """The last month that has ended on `today`."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def ended_by(instant: datetime) -> Horizon:
    """The last month and the last day that have ended at `instant` (UTC)."""
    today = instant.astimezone(UTC).date()
    return Horizon(last_closed_month(today), (today - _DAY).isoformat())


def ended_periods(now: datetime, months: bool = True, days: bool = True) -> Horizon:
    """The months and the days (those asked for) that count as ended at `now`: a period
    ends for compaction an hour after its end, so a run just after midnight leaves
    alone the partitions a run made minutes before it."""
    ended = ended_by(now - GRACE)
    return Horizon(ended.month if months else None, ended.day if days else None)


@dataclass(frozen=True)
class Period:
    """The partitions of one run fetched in one period (a month or a day)."""

    name: str  # YYYY-MM or YYYY-MM-DD
    members: list[PartitionSpec]

    @property
    def is_month(self) -> bool:
        return not _is_day(self.name)


@dataclass(frozen=True)
class Group:
    """Partitions to merge: consecutive in plan order, whole periods, all current."""

    period: str  # the first partition's month, or its day
    members: tuple[PartitionSpec, ...]

    @property
    def partition(self) -> str:
        """The merged partition's name: the same for the same members, so a compaction
        killed and done again writes the same files."""
        names = json.dumps([spec.partition for spec in self.members]).encode()
        return f"{MERGED_PREFIX}-{self.period}-{hashlib.sha256(names).hexdigest()[:10]}"


@dataclass
class Compaction:
    """What one compaction did: the merged partitions, each with how many it merged."""

    merged: dict[str, int] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)  # partition: why it was not merged


def arrived_at(lake: Lake, partition: str) -> str | None:
    """When a partition was fetched (a merged one: its first partition)."""
    manifest = lake.read_manifest(REGISTRY[0].name, partition)
    return manifest.started_at if manifest is not None else None


def plan_compaction(lake: Lake, settings: Settings, until: Horizon) -> tuple[list[Group], dict]:
    """The groups to merge, and the partitions of the periods that have ended left as
    they are, with why. The partitions fetched in one period (every stage committed
    and current, consecutive in plan order) go together; consecutive months are packed
    into one group while their files stay under `compact_target_mb`, so a small lake's
    year becomes one partition and a large lake's month stays its own. Days are not
    packed: at its end their month packs them."""
    lake = lake.indexed()
    kept: dict[str, str] = {}
    target = settings.compact_target_mb * 1_000_000
    groups = [
        group
        for periods in _runs_of_periods(lake, settings, _periods(lake, until), kept)
        for group in _packed(lake, periods, target)
    ]
    return groups, kept


def _periods(lake: Lake, until: Horizon) -> list[tuple[PartitionSpec, str | None]]:
    """Each partition in plan order with the period it is merged in (None: not ended,
    or a day already one partition, which nothing is merged with)."""
    found = []
    for spec in lake.partitions():
        arrived = arrived_at(lake, spec.partition)
        found.append((spec, until.period(arrived) if arrived is not None else None))
    partitions_of = Counter(period for _, period in found)
    return [
        (spec, None if _is_day(period) and partitions_of[period] == 1 else period)
        for spec, period in found
    ]


def _is_day(period: str | None) -> bool:
    return period is not None and len(period) == len("YYYY-MM-DD")


def _runs_of_periods(
    lake: Lake,
    settings: Settings,
    periods: list[tuple[PartitionSpec, str | None]],
    kept: dict[str, str],
) -> Iterator[list[Period]]:
    """Runs of consecutive partitions that may be merged, each cut into its periods. A
    partition of no period ends a run (it is not asked whether current), as does one
    not current (put in `kept`, with why)."""
    run: list[Period] = []
    for spec, period in periods:
        why = _not_current(lake, spec.partition, settings) if period is not None else None
        if why is not None:
            kept[spec.partition] = why
        if period is None or why is not None:
            if run:
                yield run
            run = []
        elif run and run[-1].name == period:
            run[-1].members.append(spec)
        else:
            run.append(Period(period, [spec]))
    if run:
        yield run


def _packed(lake: Lake, periods: list[Period], target: float) -> Iterator[Group]:
    """Consecutive whole months packed into groups while their files stay under
    `target` bytes (a month over it is a group of its own); a day is a group of its
    own (its month packs it once it ends); one partition is no group."""
    pack: list[Period] = []
    size = 0
    for period in periods:
        if not period.is_month:
            yield from _group(pack)
            yield from _group([period])
            pack, size = [], 0
            continue
        period_size = sum(_size(lake, spec.partition) for spec in period.members)
        if pack and size + period_size > target:
            yield from _group(pack)
            pack, size = [], 0
        pack.append(period)
        size += period_size
    yield from _group(pack)


def _group(periods: list[Period]) -> Iterator[Group]:
    members = tuple(spec for period in periods for spec in period.members)
    if len(members) > 1:
        yield Group(periods[0].name, members)


def _size(lake: Lake, partition: str) -> int:
    """The bytes of a partition's files, as its manifests record them."""
    manifests = (lake.read_manifest(stage.name, partition) for stage in REGISTRY)
    return sum(
        recorded.size
        for manifest in manifests
        if manifest is not None
        for recorded in (*manifest.outputs, *manifest.reports)
    )


def _not_current(lake: Lake, partition: str, settings: Settings) -> str | None:
    """Why a partition may not be merged (a stage not committed, or not current)."""
    for stage in REGISTRY:
        decision = decide(
            lake, stage, partition, settings, record_damage=False, check_upstream=False
        )
        if decision.report is None or decision.report.status != Status.SKIPPED:
            return f"{stage.name} is not committed and current: a run brings it up to date"
    return None


def compact(lake: Lake, settings: Settings, until: Horizon) -> Compaction:
    """Merge the partitions of every period that has ended by `until` whose partitions
    are committed and current; what an earlier compaction left is rolled back first."""
    recover(lake)
    groups, kept = plan_compaction(lake, settings, until)
    done = Compaction(kept=kept)
    for group in groups:
        try:
            merge(lake, group, settings)
        except (pa.ArrowException, ValueError, KeyError) as error:
            recover(lake)  # not switched: what it placed goes, the partitions stay
            raise CompactionStopped(
                f"the partitions from {group.period} on were not compacted: a file of "
                f"{group.members[0].partition} to {group.members[-1].partition} could not "
                f"be merged ({type(error).__name__}: {error}); the lake is as it was: "
                "`depeche status --verify` finds the damage, `depeche rerun --failed` "
                "redoes it, then `depeche compact` merges them"
            ) from None
        done.merged[group.partition] = len(group.members)
    return done


def has_work(lake: Lake, settings: Settings, until: Horizon) -> bool:
    """Whether `compact` (and `collect` after it) would change anything."""
    pending = lake.root / INTENTS_DIR
    return (pending.is_dir() and any(pending.iterdir())) or bool(
        plan_compaction(lake, settings, until)[0]
    )


def merge(lake: Lake, group: Group, settings: Settings) -> str:
    """Merge one group's partitions into one: files, manifests, then the switch."""
    merged = _merged_spec(group)
    names = [spec.partition for spec in group.members]
    intent = lake.root / INTENTS_DIR / f"{merged.partition}.json"
    atomic_write_text(intent, json.dumps({"partition": merged.partition, "compacts": names}))
    with lake.staging("compact", merged.partition) as staging:
        outputs = _merge_files(lake, names, merged.partition, staging.root)
        fault_point("compact:staged")
        folders = sorted({Path(path).parent for path in outputs.values()})
        trash = lake.commits.place(staging.root, folders, "compact:place")
    shutil.rmtree(trash, ignore_errors=True)
    view = lake.assuming(merged)  # the lake as the switch will leave it
    for stage in REGISTRY:
        _write_merged_manifest(view, stage, names, merged.partition, outputs, settings)
    fault_point("compact:switch")
    lake.write_partition(merged)  # the switch
    fault_point("compact:switched")
    return merged.partition


def _merged_spec(group: Group) -> PartitionSpec:
    members = group.members
    months = {spec.month for spec in members}
    return PartitionSpec(
        partition=group.partition,
        seq=members[0].seq,
        items=[item for spec in members for item in spec.items],
        fingerprint=fingerprint(*(spec.fingerprint for spec in members)),
        sources=list(dict.fromkeys(source for spec in members for source in spec.sources)),
        month=months.pop() if len(months) == 1 else None,
        hints={url: hint for spec in members for url, hint in spec.hints.items()},
        attempts={url: n for spec in members for url, n in spec.attempts.items()},
        compacts=[spec.partition for spec in members],
    )


def _merge_files(lake: Lake, members: list[str], merged: str, staged: Path) -> dict[str, str]:
    """Write the merged partition's files into `staged`: each table's (and stage's)
    files of the members, one after the other; the Great Expectations results of each
    stage as one entry. Returns each member file's path with the merged path it went to."""
    sources: dict[Path, list[Path]] = {}
    gx: dict[str, list[Any]] = {}
    went: dict[str, str] = {}
    for stage in REGISTRY:
        for member in members:
            manifest = lake.read_manifest(stage.name, member)
            assert manifest is not None  # planned: every stage committed
            for recorded in (*manifest.outputs, *manifest.reports):
                if GX_ENTRY in recorded.path:
                    gx.setdefault(stage.name, []).extend(lake.gx.results(stage.name, member) or [])
                    continue
                target = _merged_path(Path(recorded.path), member, merged)
                went[recorded.path] = target.as_posix()
                sources.setdefault(target, [])
                if lake.root / recorded.path not in sources[target]:
                    sources[target].append(lake.root / recorded.path)
    written: dict[str, Path] = {}  # by content hash: a file published as it was checkpointed
    for target, files in sorted(sources.items()):
        path = staged / target
        merge_parquet(files, path)
        digest = sha256_file(path)
        if digest in written:  # the same rows: linked, as validate publishes them
            link = path.with_name(f".{path.name}.link")
            with contextlib.suppress(OSError):  # no hard links on this file system: a copy
                link.hardlink_to(written[digest])
                os.replace(link, path)
        written.setdefault(digest, path)
    for stage_name, results in gx.items():
        lake.gx.write(stage_name, merged, results)
    return went


def _merged_path(path: Path, member: str, merged: str) -> Path:
    folder = path.parent
    if folder.name != f"{PARTITION_KEY}={member}":
        raise ValueError(f"{path} is not a file of partition {member}")
    return folder.parent / f"{PARTITION_KEY}={merged}" / path.name


def _write_merged_manifest(
    view: Lake,
    stage: Stage,
    members: list[str],
    merged: str,
    went: dict[str, str],
    settings: Settings,
) -> None:
    """The merged partition's manifest of `stage`: its books the sum of the members',
    made from the key the stage gives the merged partition (it is current), its chain
    link the last member's."""
    olds = [view.read_manifest(stage.name, member) for member in members]
    manifests = [old for old in olds if old is not None]
    key = stage.key(view, merged, settings)
    outputs = _described(view, manifests, went, "outputs")
    reports = _described(view, manifests, went, "reports")
    entry = view.gx.describe_entry(stage.name, merged)
    manifest = Manifest.of_key(
        stage.name,
        merged,
        Status.COMMITTED,
        key,
        manifests[0].started_at,
        finished_at=manifests[-1].finished_at,
        details=merged_details([old.details for old in manifests]) | {"compacts": members},
        outputs=outputs,
        output_fingerprint=fingerprint_outputs(outputs),
        reports=[*reports, entry] if entry is not None else reports,
        chain=chain_link(manifests[-1]),
        **_summed_books(manifests),
    )
    view.write_manifest(manifest)


def _summed_books(manifests: list[Manifest]) -> dict[str, Any]:
    """The members' books, timings and checks, summed: those of the merged partition."""
    reasons = sum((Counter(old.quarantine_reasons) for old in manifests), Counter())
    return {
        "seconds": round(sum(old.seconds for old in manifests), 3),
        "gate_seconds": round(sum(old.gate_seconds for old in manifests), 3),
        "rows_in": sum(old.rows_in for old in manifests),
        "rows_out": sum(old.rows_out for old in manifests),
        "rows_quarantined": sum(old.rows_quarantined for old in manifests),
        "quarantine_reasons": dict(sorted(reasons.items())),
        "validation": Validation(
            True, sum(old.validation.checks if old.validation else 0 for old in manifests)
        ),
    }


def _described(view: Lake, manifests: list[Manifest], went: dict[str, str], kind: str) -> list:
    paths = sorted(
        {went[f.path] for old in manifests for f in getattr(old, kind) if f.path in went}
    )
    return [describe_file(view.root, Path(path)) for path in paths]


def merged_details(details: list[dict[str, Any]]) -> dict[str, Any]:
    """The details of several stage-partitions as one: numbers added, mappings merged
    key by key, lists joined; anything else, the last one's."""
    merged: dict[str, Any] = {}
    for one in details:
        for name, value in one.items():
            before = merged.get(name)
            numbers = (int, float)
            if isinstance(value, numbers) and isinstance(before, numbers):
                if not isinstance(value, bool):
                    merged[name] = round(before + value, 3)
            elif isinstance(value, dict) and isinstance(before, dict):
                merged[name] = merged_details([before, value])
            elif isinstance(value, list) and isinstance(before, list):
                merged[name] = before + value
            else:
                merged[name] = value
    return merged


def _intents(lake: Lake) -> Iterator[tuple[Path, dict[str, Any]]]:
    folder = lake.root / INTENTS_DIR
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        try:
            yield path, json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            yield path, {"partition": path.stem}  # damaged: what it named is its name


def recover(lake: Lake) -> list[str]:
    """Roll back each compaction killed before its switch: what it placed is removed
    (no reader could see it), the partitions it was merging stay as they were."""
    rolled_back = []
    for path, intent in _intents(lake):
        merged = str(intent.get("partition") or path.stem)
        if not (lake.root / "_partitions" / f"{merged}.json").exists():
            lake.commits.forget(merged)
            path.unlink(missing_ok=True)
            rolled_back.append(merged)
    return rolled_back


def collect(lake: Lake) -> list[str]:
    """Remove what compactions superseded: the merged partitions' old partitions
    (their files, manifests, records), then the intents that named them. Called once
    the catalog lists the merged files."""
    superseded = lake.partition_records.superseded()
    for partition in superseded:
        lake.commits.forget(partition, fault="compact:collect")
    left = set(lake.partition_records.superseded())
    for path, intent in _intents(lake):
        switched = (lake.root / "_partitions" / f"{intent.get('partition')}.json").exists()
        if switched and not set(intent.get("compacts") or []) & left:
            path.unlink(missing_ok=True)
    return sorted(superseded)


@task(name="compact", cache_policy=NO_CACHE)
def compact_task(lake: str, settings: Settings, until: Horizon) -> Compaction:
    """Compact the periods that have ended by `until`, and log what was merged."""
    done = compact(Lake(lake), settings, until)
    logger = get_run_logger()
    for merged, count in done.merged.items():
        logger.info("compacted %d partitions into %s", count, merged)
    return done
