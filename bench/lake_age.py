"""What a run, `status`, `report`, the marts and the catalog cost as the lake ages.

    python -m bench.lake_age [--sizes 10 100 1000] [--profile] [--work DIR] [--no-year]
                             [--repeat N]

Each lake is made by depeche's own run: P short generated wire stories, cut into
partitions of one article (`--partition-size 1`), so the lake holds P partitions,
as P hourly runs would leave it (about 2 s a partition on two idle cores: 1,000
take over half an hour). On each lake, in this order: a run with nothing new,
`status`, `report`, the idle check, `status` and the marts step (forced, and with
nothing new) alone in a process whose imports are done (wall and CPU time), three
catalog queries, the files and bytes of the lake, then a run with one new article
(one new partition). With `--repeat N`, the two runs are timed N times more on
every lake, the lakes taken in turn, and their medians kept (on a shared machine
one run can be seconds off). Every measure is set against the
smallest lake of the same run (its ratio), then fitted over the sizes by least
squares as cost = a + b·P (the cost of a run must not grow faster: a quadratic
term would show as ratios growing faster than P between sizes), and that line
extrapolated to a year of hourly partitions (8,760). A table is printed after each
lake, so the smaller sizes are known before the largest is made. `--work DIR`
keeps the lakes there, and a later run with the same DIR measures them again as
they are (after a run brings them up to date) instead of making them: a lake of
1,000 is made once. `--profile` runs
the no-op run's check on the largest lake under cProfile and prints where its time
went.

Last, a compacted year: a copy of the largest lake whose partitions are dated, in
their order, to the twelve months of 2020 (their fetch manifests' `started_at`, which
is what compaction reads), compacted with `depeche compact --until 2020-12`, against
a lake of the same articles made as one partition: once as the default target packs
the months (`compact_target_mb`, 128 MB: this small year becomes one partition) and
once month by month (`--compact-target-mb 0`, twelve partitions). The same catalog
queries on each (the ratio, against the target of 1.5), and the files the compacted
months keep per table and month. Then the month in progress: two more copies whose
partitions are dated a partition an hour from the 1st of January 2020 (spread over
thirty days when there are more), one left hourly, one compacted day by day up to the
day before the last partition's (`depeche compact --until 2020-01-DD`, as the setting
`compact_days` leaves the month in progress), their partitions, files and the same
queries against the one partition.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import numpy as np

from bench.corpus import wire_story

DEPECHE = str(Path(sys.executable).with_name("depeche"))
YEAR = 8_760  # hourly partitions in a year
CATALOG_TARGET = 1.5  # a query over a compacted year against one partition of its rows
QUERIES = {
    "entities count": "SELECT count(*) FROM entities",
    "documents by agency": "SELECT agency, count(*) FROM documents GROUP BY ALL",
    "top mentions": "SELECT * FROM mentions_daily ORDER BY mentions DESC LIMIT 10",
}


def short_story(serial: int) -> str:
    """A wire story cut to its header, first paragraph and byline: a small article."""
    header, first, agency, *_ = wire_story(serial, seed=23).split("\n\n")
    return f"{header}\n\n{first}\n\n{agency}\n"


def write_articles(folder: Path, first: int, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for serial in range(first, first + n):
        (folder / f"{serial:06d}.txt").write_text(short_story(serial), encoding="utf-8")


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of a command (its own process and the ones it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def files_and_bytes(root: Path) -> tuple[int, int]:
    files = total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            files += 1
            total += os.path.getsize(os.path.join(folder, name))
    return files, total


def query_ms(lake: Path, sql: str, repeat: int = 5) -> float:
    return queries_ms([lake], sql, repeat)[0]


def queries_ms(lakes: list[Path], sql: str, repeat: int) -> list[float]:
    """The median time of `sql` on each lake's catalog (a connection each time, not
    timed), the lakes taken in turn so that a busy moment falls on all of them."""
    from tasks.analytics.marts import connect_catalog

    times: list[list[float]] = [[] for _ in lakes]
    for _ in range(repeat):
        for lake, taken in zip(lakes, times, strict=True):
            con = connect_catalog(lake / "depeche.duckdb")
            clock = time.perf_counter()
            con.execute(sql).fetchall()
            taken.append(time.perf_counter() - clock)
            con.close()
    return [statistics.median(taken) * 1000 for taken in times]


# What depends on the lake's age, timed alone in a fresh process once its imports are
# done (a command's fixed cost, its imports and Prefect's, hides it at small sizes)
TIMED = (
    "import sys, time\n{setup}\nclock, cpu = time.perf_counter(), time.process_time()\n{work}\n"
    "print(time.perf_counter() - clock, time.process_time() - cpu)"
)
STEPS = {
    "idle check": (
        "from flows.pipeline import idle_run; from tasks.settings import SettingsGiven",
        "assert idle_run(sys.argv[1], [sys.argv[2]], SettingsGiven(), None, None) is not None",
    ),
    "status": (
        "from schemas import STAGES; from tasks.lake.storage import Lake",
        "Lake(sys.argv[1]).status(STAGES)",
    ),
    "marts step": (
        "from tasks.analytics.marts import refresh_marts; from tasks.gate import SuiteRunner; "
        "from tasks.lake.storage import Lake; suites = SuiteRunner()",
        "refresh_marts(Lake(sys.argv[1]), suites, force=True)",
    ),
    # what a run with work pays when the published partitions did not change: the
    # marts checked against their hashes, the catalog written
    "marts step, nothing new": (
        "from tasks.analytics.marts import refresh_marts; from tasks.gate import SuiteRunner; "
        "from tasks.lake.storage import Lake; suites = SuiteRunner()",
        "assert refresh_marts(Lake(sys.argv[1]), suites).status == 'skipped'",
    ),
}


def step_seconds(step: str, lake: Path, corpus: Path) -> tuple[float, float]:
    """Wall and CPU seconds of `step` alone (the CPU time is what a busy machine
    changes least)."""
    setup, work = STEPS[step]
    code = TIMED.format(setup=setup, work=work)
    done = subprocess.run(
        [sys.executable, "-c", code, str(lake), str(corpus)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr[-2000:]}")
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def measure(size: int, work: Path) -> dict[str, float]:
    """Make a lake of `size` partitions with depeche, then time what it costs to use."""
    corpus, lake = work / f"corpus-{size}", work / f"lake-{size}"
    run = [DEPECHE, "run", str(corpus), "--lake", str(lake)]
    if (lake / "_partitions").is_dir():  # kept by an earlier --work run: brought up to date
        print(f"  P={size}: the lake in {work}", file=sys.stderr)
        timed(run)
    else:
        write_articles(corpus, 0, size)
        clock = time.perf_counter()
        timed([*run, "--partition-size", "1"])
        print(f"  P={size}: lake made in {time.perf_counter() - clock:.0f} s", file=sys.stderr)
    found: dict[str, float] = {"partitions": len(list((lake / "_partitions").glob("*.json")))}
    found["no-op run, wall s"], found["no-op run, CPU s"] = timed(run)
    found["status, wall s"] = timed([DEPECHE, "status", "--lake", str(lake)])[0]
    found["report, wall s"] = timed([DEPECHE, "report", "--lake", str(lake)])[0]
    for step in STEPS:
        found[f"{step} alone, wall s"], found[f"{step} alone, CPU s"] = step_seconds(
            step, lake, corpus
        )
    for name, sql in QUERIES.items():
        found[f"catalog: {name}, ms"] = query_ms(lake, sql)
    files, size_bytes = files_and_bytes(lake)
    found["files"], found["MB"] = files, size_bytes / 1e6
    found["files per partition"] = files / found["partitions"]
    write_articles(corpus, len(list(corpus.glob("*.txt"))), 1)
    found["one-partition run, wall s"], found["one-partition run, CPU s"] = timed(run)
    return found


def runs_again(sizes: list[int], work: Path, repeat: int, results: dict) -> None:
    """Time the no-op and the one-partition runs `repeat` times more, the lakes taken
    in turn (a load that comes and goes on a shared machine falls on every size
    alike), and put their medians in `results` in place of the first timings."""
    timings: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for _ in range(repeat):
        for size in sizes:
            corpus, lake = work / f"corpus-{size}", work / f"lake-{size}"
            run = [DEPECHE, "run", str(corpus), "--lake", str(lake)]
            timings.setdefault((size, "no-op run"), []).append(timed(run))
            write_articles(corpus, len(list(corpus.glob("*.txt"))), 1)
            timings.setdefault((size, "one-partition run"), []).append(timed(run))
    for (size, name), runs in timings.items():
        results[size][f"{name}, wall s"] = statistics.median(wall for wall, _ in runs)
        results[size][f"{name}, CPU s"] = statistics.median(cpu for _, cpu in runs)


def fit(sizes: list[int], values: list[float]) -> tuple[str, float]:
    """The least-squares line a + b·P through the values, written out, and its value
    at a year of hourly partitions."""
    slope, intercept = np.polyfit(np.array(sizes, float), np.array(values, float), 1)
    return f"{intercept:.3g} + {slope:.3g}·P", float(intercept + slope * YEAR)


def print_table(sizes: list[int], results: dict[int, dict[str, float]]) -> None:
    base = sizes[0]
    head = ["measure", *(f"P={s}" for s in sizes), *(f"×P={base} at {s}" for s in sizes[1:])]
    head += ["fit", f"at {YEAR:,}"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for measure in results[base]:
        values = [results[s][measure] for s in sizes]
        ratios = [f"{v / values[0]:.2f}" if values[0] else "-" for v in values[1:]]
        formula, year = fit(sizes, values)
        cells = [measure, *(f"{v:.3g}" for v in values), *ratios, formula, f"{year:.3g}"]
        print("| " + " | ".join(cells) + " |")


def print_one(size: int, found: dict[str, float]) -> None:
    print(f"| measure | P={size} |\n|---|---|")
    for measure, value in found.items():
        print(f"| {measure} | {value:.3g} |")


def profile_noop(work: Path, size: int, top: int = 25) -> None:
    """The no-op run's check (the lake's state against the sources: what `depeche run`
    does before it would start Prefect) on the lake of `size` partitions, under
    cProfile, in this process."""
    from flows.pipeline import idle_run
    from tasks.settings import SettingsGiven

    corpus, lake = work / f"corpus-{size}", work / f"lake-{size}"
    profiler = cProfile.Profile()
    profiler.enable()
    idle = idle_run(str(lake), [str(corpus)], SettingsGiven(), None, None)
    profiler.disable()
    if idle is None:
        raise SystemExit(f"the lake of {size} partitions is not idle")
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    print(f"\nno-op run at P={size}, by cumulative time:\n{text.getvalue()}")


def date_over_a_year(lake: Path) -> int:
    """Date the lake's partitions, in their order, to the months of 2020 (twelve, or
    fewer when there are not two partitions a month to merge), as an hourly schedule
    spreads them: what compaction reads is each partition's fetch manifest's
    `started_at`. Returns the number of months."""
    from tasks.lake.storage import Lake

    made = Lake(lake).partitions()  # in the order they were made
    manifests = [lake / "_manifests" / "fetch" / f"{spec.partition}.json" for spec in made]
    months = max(1, min(12, len(manifests) // 2))
    for position, path in enumerate(manifests):
        manifest = json.loads(path.read_text(encoding="utf-8"))
        month = 1 + position * months // len(manifests)
        manifest["started_at"] = f"2020-{month:02d}-15T12:00:00+00:00"
        path.write_text(json.dumps(manifest), encoding="utf-8")
    return months


def files_per_month(lake: Path, months: int) -> dict[str, float]:
    """The files the compacted months keep per table, over the months they hold (a
    table kept by stage, quarantine and checks, counted over its stages' folders)."""
    from schemas import STAGES

    files: dict[str, int] = {}
    for batch in lake.glob("**/batch=compacted-*"):
        folder = batch.parent.relative_to(lake)
        by_stage = folder.name in STAGES and folder.parent != Path(".")
        table = (folder.parent if by_stage else folder).as_posix()
        files[table] = files.get(table, 0) + sum(1 for path in batch.rglob("*") if path.is_file())
    return {table: count / months for table, count in files.items()}


PACKINGS = {  # how the year is compacted: --compact-target-mb
    "packed (default)": None,
    "month by month (0)": "0",
}


def compacted_year(size: int, work: Path) -> None:
    """The catalog over a compacted year of `size` partitions against the same
    articles in one partition, the year packed as the default target packs it and
    month by month; the files a compacted month keeps per table."""
    corpus, lake = work / f"corpus-{size}", work / f"lake-{size}"
    whole = work / f"whole-{size}"
    shutil.rmtree(whole, ignore_errors=True)  # made again: the corpus may have grown
    years: dict[str, Path] = {}
    for name, target in PACKINGS.items():
        year = years[name] = work / f"year-{size}-{len(years)}"
        shutil.rmtree(year, ignore_errors=True)
        shutil.copytree(lake, year, symlinks=True)
        months = date_over_a_year(year)
        options = [] if target is None else ["--compact-target-mb", target]
        timed([DEPECHE, "compact", "--lake", str(year), "--until", "2020-12", *options])
    timed([DEPECHE, "run", str(corpus), "--lake", str(whole), "--partition-size", "1000000"])
    print(f"\na compacted year: {size + 1} partitions over {months} months, compacted, against")
    print("the same articles in one partition (ms; ratio to one partition, target ≤ 1.5)\n")
    print("| catalog query | one partition | " + " | ".join(PACKINGS) + " |")
    print("|---|---:|" + "---:|" * len(PACKINGS))
    for query, sql in QUERIES.items():
        one, *cells = queries_ms([whole, *years.values()], sql, repeat=15)
        shown = " | ".join(f"{ms:.2f} ({ms / one:.2f}×)" for ms in cells)
        print(f"| {query} | {one:.2f} | {shown} |")
    for name, year in years.items():
        per_table = files_per_month(year, months)
        print(f"\nfiles per compacted month and table, {name}: most {max(per_table.values()):.2f}")
        for table, files in sorted(per_table.items()):
            print(f"- {table}: {files:.2f}")
        print(f"files in the lake, {name}: {files_and_bytes(year)[0]}")


MONTH = 30 * 24  # hours in the month in progress, at most


def date_over_a_month(lake: Path) -> str:
    """Date the lake's partitions, in their order, to the hours of January 2020 as an
    hourly schedule makes them (spread over the whole month when there are more than
    its hours). Returns the day before the last partition's: the last day ended."""
    from tasks.lake.storage import Lake

    made = Lake(lake).partitions()
    hours = min(len(made), MONTH)
    for position, spec in enumerate(made):
        path = lake / "_manifests" / "fetch" / f"{spec.partition}.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        hour = position * hours // len(made)
        manifest["started_at"] = f"2020-01-{1 + hour // 24:02d}T{hour % 24:02d}:00:00+00:00"
        path.write_text(json.dumps(manifest), encoding="utf-8")
    return f"2020-01-{(hours - 1) // 24:02d}"


def month_in_progress(size: int, work: Path) -> None:
    """The month in progress, a partition an hour: as made, against the same lake
    compacted day by day up to the day before the last partition's (`compact --until`,
    as `compact_days` leaves it: a partition per day that has ended, then today's
    hours) and the same articles in one partition (the compacted year's): partitions,
    files, the catalog queries."""
    from tasks.lake.storage import Lake

    lake, whole = work / f"lake-{size}", work / f"whole-{size}"
    if len(list((lake / "_partitions").glob("*.json"))) <= 24:
        print("\nthe month in progress: not measured, no day of fewer than 25 hours has ended")
        return
    lakes = {"hourly": work / f"month-{size}-0", "by day": work / f"month-{size}-1"}
    for copy in lakes.values():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(lake, copy, symlinks=True)
        ended = date_over_a_month(copy)
    timed([DEPECHE, "compact", "--lake", str(lakes["by day"]), "--until", ended])
    print(f"\nthe month in progress up to {ended}, a partition an hour and compacted by day,")
    print("against the same articles in one partition (ms; ratio to one partition)\n")
    print("| | one partition | " + " | ".join(lakes) + " |")
    print("|---|---:|" + "---:|" * len(lakes))
    every = [whole, *lakes.values()]
    counts = [len(Lake(one).partitions()) for one in every]
    print("| partitions | " + " | ".join(map(str, counts)) + " |")
    print("| files | " + " | ".join(f"{files_and_bytes(one)[0]:,}" for one in every) + " |")
    for query, sql in QUERIES.items():
        one, *cells = queries_ms(every, sql, repeat=15)
        shown = " | ".join(f"{ms:.2f} ({ms / one:.2f}×)" for ms in cells)
        print(f"| {query} | {one:.2f} | {shown} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--profile", action="store_true", help="profile the largest no-op run")
    parser.add_argument(
        "--work",
        type=Path,
        help="keep the lakes in this folder, and measure those already there as they are "
        "(brought up to date by a run) instead of making them again",
    )
    parser.add_argument(
        "--no-year", action="store_true", help="leave out the compacted year (largest lake)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="time the no-op and the one-partition runs this many times more, the lakes "
        "in turn, and keep the medians (each one-partition run adds a partition)",
    )
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    with tempfile.TemporaryDirectory(prefix="depeche-lake-age-") as folder:
        work = args.work or Path(folder)
        results: dict[int, dict[str, float]] = {}
        for size in sizes:
            results[size] = measure(size, work)
            done = sorted(results)
            print(f"\nthe lake over time: lakes of {', '.join(map(str, done))} partitions\n")
            if len(done) > 1:
                print_table(done, results)
            else:
                print_one(size, results[size])
            sys.stdout.flush()
        if args.repeat > 1 and len(sizes) > 1:
            runs_again(sizes, work, args.repeat, results)
            print(f"\nthe runs again, {args.repeat} times each, the lakes in turn (medians)\n")
            print_table(sizes, results)
        if not args.no_year:
            compacted_year(sizes[-1], work)
            month_in_progress(sizes[-1], work)
        if args.profile:
            # the one-partition run added a partition: run once more so it is a no-op
            largest = sizes[-1]
            corpus, lake = work / f"corpus-{largest}", work / f"lake-{largest}"
            timed([DEPECHE, "run", str(corpus), "--lake", str(lake)])
            profile_noop(work, sizes[-1])


if __name__ == "__main__":
    main()
