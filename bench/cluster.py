"""Partitions on a Dask cluster against partitions one after the other, and what the
partition size costs.

    python -m bench.cluster [--n 1000] [--seed 1]

Every number is a whole `depeche run` command on a fresh lake (and a fresh
PREFECT_HOME, so its temporary Prefect server starts empty each time), on the same
N generated wire stories: wall seconds and peak memory (PSS) of the command's
process tree, the Dask workers it starts included.

1. Four partitions of N/4: `--runner dask --workers 2` against `--runner local`
   with one annotate process and with two, and whether the lakes' tables are equal;
   the CPU seconds of each, and the ceiling they set on a speed-up here: a local run
   already keeps more than one core busy (annotate's worker beside the flow's
   process, which fetches, cleans and validates the other partitions, and Prefect's
   server), so two workers cannot run more than cores × its wall / its CPU faster.
2. Local runs at partition sizes N/10, N/4, N/2 and N (one partition): the cost
   of one more partition, to choose the default `--partition-size`.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.__main__ import DEPECHE, Row, machine, print_table, timed_command, words
from bench.corpus import write_corpus
from schemas import CLEAN, DOCUMENTS, ENTITIES, PARTITION_KEY, RAW, SENTENCES, Table
from tasks.lake.storage import Lake

COMPARED = (RAW, CLEAN, DOCUMENTS, SENTENCES, ENTITIES)
VARIES = ["fetched_at"]  # when the item was read: differs from one run to the next
# what a run's stderr may say that is worth a look (its usual lines are not)
NOTEWORTHY = re.compile(r"Traceback|ERROR|Error|WARNING|Warning|warn", re.IGNORECASE)
TICK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


@dataclass
class Run:
    """One measured `depeche run`: its options, cost, lake and what it printed."""

    options: list[str]
    seconds: float
    peak: int
    lake: Lake
    stdout: str
    stderr: str
    others: float  # share of the machine's CPU time that processes not of this run took
    cpu: float  # CPU seconds of the command's processes (those it waited for)

    @property
    def mib(self) -> str:
        return f"{self.peak / 2**20:,.0f} MiB"

    def stage_seconds(self, stage: str) -> list[str]:
        """The seconds column of the run's summary table, for each partition's `stage`."""
        # │ partition │ stage │ status │ in │ out │ quarantined │ reasons │ s │ (worker │)
        return [
            cells[8].strip()
            for line in self.stdout.splitlines()
            if len(cells := line.split("│")) > 9 and cells[2].strip() == stage
        ]


def busy_seconds() -> float:
    """CPU seconds the machine has spent on processes since boot, all cores (time the
    hypervisor gave to other machines included: it was not ours to use)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / TICK


def own_seconds() -> float:
    """CPU seconds of this process and its finished children (the measured commands)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def depeche_run(work: Path, name: str, source: Path, options: list[str]) -> Run:
    """`depeche run SOURCE` with `options` on a fresh lake and PREFECT_HOME, measured."""
    folder = work / name
    home, lake = folder / "prefect-home", folder / "lake"
    home.mkdir(parents=True)
    env = {**os.environ, "PREFECT_HOME": str(home), "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)  # the embedded temporary server, as users get it
    out, err = folder / "stdout", folder / "stderr"
    # timed_command keeps the output only when the command fails; `exec` keeps the
    # measured process the command itself, so its tree is what is measured
    command = [DEPECHE, "run", str(source), "--lake", str(lake), *options]
    wrapped = ["/bin/sh", "-c", 'e=$1; shift; exec "$@" >"$0" 2>"$e"', str(out), str(err), *command]
    busy, own = busy_seconds(), own_seconds()
    try:
        seconds, peak = timed_command(wrapped, env)
    except RuntimeError as error:
        raise RuntimeError(f"{error}\n{out.read_text()}\n{err.read_text()}") from None
    cpu = own_seconds() - own
    others = max(0.0, (busy_seconds() - busy) - cpu) / (seconds * CORES)
    return Run(options, seconds, peak, Lake(lake), out.read_text(), err.read_text(), others, cpu)


def table_frame(lake: Lake, table: Table) -> pd.DataFrame:
    """Every published row of `table`, in key order, without what varies between runs."""
    frame = pd.read_parquet(lake.table_dir(table)).drop(columns=VARIES, errors="ignore")
    frame[PARTITION_KEY] = frame[PARTITION_KEY].astype(str)
    return frame.sort_values(list(table.key)).reset_index(drop=True)


def differences(lake: Lake, reference: Lake) -> list[str]:
    """The compared tables that differ between two lakes, with pandas' reason."""
    found = []
    for table in COMPARED:
        try:
            pd.testing.assert_frame_equal(
                table_frame(lake, table), table_frame(reference, table), check_dtype=False
            )
        except AssertionError as error:
            found.append(f"{table.name}: {' '.join(str(error).split())[:300]}")
    return found


def noteworthy(run: Run) -> list[str]:
    lines = [line for line in run.stderr.splitlines() if NOTEWORTHY.search(line)]
    return lines + [line for line in run.stdout.splitlines() if line.startswith("workers: ")]


# -- the measures ------------------------------------------------------------------

SPIN = "x = 0\nfor i in range(10_000_000): x += i * i"


def two_cores() -> Row:
    """What a second process adds on this machine now: the ceiling of any two-worker
    speed-up (a shared virtual machine's second core may give much less than 1×).
    Medians of five, alone and in pairs alternated: one core's speed here drifts by up
    to 2× from one second to the next."""

    def spin(processes: int) -> float:
        started = time.perf_counter()
        running = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(processes)]
        for process in running:
            process.wait()
        return time.perf_counter() - started

    alone, pairs = zip(*((spin(1), spin(2)) for _ in range(5)), strict=True)
    one, two = statistics.median(alone), statistics.median(pairs)
    ceiling = 2 * one / two
    return Row(
        "this machine: 2 processes vs 1, throughput (a Python loop)",
        f"{two:.1f} s, 2 side by side",
        f"{one:.1f} s, 1 alone",
        ceiling,
        "",
        None,
    )


def cluster_against_local(
    work: Path, source: Path, n: int
) -> tuple[list[Row], dict[str, Run], list[str]]:
    """Four partitions: a local Dask cluster of two workers against a local run with
    one annotate process (the issue's measure) and with two."""
    size = str(n // 4)
    runs = {
        "local, 1 process": depeche_run(
            work, "local-1", source,
            ["--partition-size", size, "--runner", "local", "--n-process", "1"],
        ),
        "dask, 2 workers": depeche_run(
            work, "dask-2", source,
            ["--partition-size", size, "--runner", "dask", "--workers", "2", "--n-process", "1"],
        ),
        "local, 2 processes": depeche_run(
            work, "local-2", source,
            ["--partition-size", size, "--runner", "local", "--n-process", "2"],
        ),
    }  # fmt: skip
    one, dask, two = runs.values()
    unequal = {"dask": differences(dask.lake, one.lake), "local": differences(two.lake, one.lake)}
    label = f"N={n}, 4 partitions of {size}"
    rows = [
        Row(
            f"dask 2 workers vs local 1 process, s ({label}; tables equal: "
            f"{'no' if unequal['dask'] else 'yes'})",
            f"{dask.seconds:.1f}",
            f"{one.seconds:.1f} local",
            one.seconds / dask.seconds,
            "≥ 1.7",
            one.seconds / dask.seconds >= 1.7,
        ),
        Row(
            f"ceiling of any speed-up over local 1 process here: {CORES} cores × its wall "
            f"/ its CPU (it keeps {one.cpu / one.seconds:.2f} cores busy)",
            f"{one.cpu:.1f} s CPU",
            f"{one.seconds:.1f} s wall",
            CORES * one.seconds / one.cpu,
            "",
            None,
        ),
        Row(
            f"CPU seconds, dask 2 workers vs local 1 process ({label})",
            f"{dask.cpu:.1f}",
            f"{one.cpu:.1f} local",
            dask.cpu / one.cpu,
            "",
            None,
        ),
        Row(
            f"dask 2 workers vs local 2 processes, s ({label}; tables equal: "
            f"{'no' if unequal['local'] else 'yes'})",
            f"{dask.seconds:.1f}",
            f"{two.seconds:.1f} local n-process 2",
            two.seconds / dask.seconds,
            "",
            None,
        ),
        Row(
            f"peak memory (PSS), dask vs local 1 process ({label})",
            dask.mib,
            f"{one.mib} local",
            dask.peak / one.peak,
            "",
            None,
        ),
        Row(
            f"peak memory (PSS), dask vs local 2 processes ({label})",
            dask.mib,
            f"{two.mib} local n-process 2",
            dask.peak / two.peak,
            "",
            None,
        ),
    ]
    return rows, runs, unequal["dask"] + unequal["local"]


def partition_sizes(
    work: Path, source: Path, n: int, measured: Run
) -> tuple[list[Row], dict[str, Run]]:
    """Local runs (one annotate process) of the same N articles at partition sizes
    N/10, N/4 (`measured`, from the first measure), N/2 and N."""
    runs = {n // 4: measured}
    for size in (n, n // 2, n // 10):  # the largest first: the sizes' order varies
        runs[size] = depeche_run(
            work, f"size-{size}", source,
            ["--partition-size", str(size), "--runner", "local", "--n-process", "1"],
        )  # fmt: skip
    whole = runs[n]
    rows = []
    for size in sorted(runs):
        run = runs[size]
        count = -(-n // size)
        rows.append(
            Row(
                f"local, partition size {size} ({count} partition{'s' * (count > 1)}), "
                f"s; peak {run.mib}",
                f"{run.seconds:.1f}",
                f"{whole.seconds:.1f} one partition",
                whole.seconds / run.seconds,
                "",
                None,
            )
        )
    smallest = min(runs)
    partitions = -(-n // smallest)
    overhead = (runs[smallest].seconds - whole.seconds) / (partitions - 1)
    per_article = whole.seconds / n
    rows.append(
        Row(
            f"cost of one more partition, s ((t({smallest}) − t({n})) / {partitions - 1}), "
            f"vs the work of {n // 2} articles",
            f"{overhead:.2f}",
            f"{per_article * (n // 2):.1f} s per {n // 2} articles",
            overhead / (per_article * (n // 2)),
            "",
            None,
        )
    )
    return rows, {f"local, partition size {size}": runs[size] for size in sorted(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="articles; a multiple of 20")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="depeche-bench-cluster-") as folder:
        work = Path(folder)
        source = write_corpus(work / "articles", args.n, args.seed)
        total_words = words(source)
        ceiling = two_cores()
        rows, runs, unequal = cluster_against_local(work, source, args.n)
        rows.insert(0, ceiling)
        more_rows, more_runs = partition_sizes(work, source, args.n, runs["local, 1 process"])
        rows += more_rows
        runs.update(more_runs)
    for key, value in machine():
        print(f"{key}: {value}")
    print(f"corpus: {args.n} wire stories, {total_words:,} words (seed {args.seed})")
    print()
    print_table(rows)
    print()
    for difference in unequal:
        print(f"tables differ: {difference}")
    shown = set()
    for name, run in runs.items():
        if id(run) in shown:
            continue
        shown.add(id(run))
        annotate = ", ".join(run.stage_seconds("annotate"))
        print(
            f"{name} ({' '.join(run.options)}): {run.seconds:.1f} s, CPU {run.cpu:.1f} s, "
            f"annotate {annotate} s; other processes took {run.others:.0%} of the CPUs "
            "meanwhile"
        )
        print("".join(f"    {line}\n" for line in noteworthy(run)), end="")


if __name__ == "__main__":
    main()
