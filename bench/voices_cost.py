"""What gender and places cost annotate and the marts: the code before them against
this one, in the same run, on the same input.

    python -m bench.voices_cost [--stories 100] [--articles 8000] [--rounds 5]

The depeche before gender and places is its real code, taken from the project's
history (`git archive BEFORE`); this one is the project as it is. Each runs in a
process of its own (its modules first on the path, the same interpreter and
packages), and does, untimed, what a run does before the timed steps: its own fetch
and clean of the same generated wire stories (bench.corpus), the model loaded, and
a lake of the same generated published articles (bench.marts' generator, written
with each code's own schemas). Then, round after round, the two processes take
turns (in alternating order, so a busy moment of the machine does not fall on one
side only):

- **annotate**: the stage's function on the stories (one worker process, as a run
  with one core);
- **marts**: the marts step on the lake (compute, gate, commit, catalog), forced;
  and its queries alone (DuckDB), to tell them from the gate's Great Expectations.

Each prints CPU time (its own and its children's: the process annotate forks) and
wall time; the table gives the medians and the ratio, this code over the one before,
against the target of 1.05. The first names and the gazetteers are loaded once per
run, before any partition: their cost is given apart.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

PROJECT = Path(__file__).resolve().parents[1]
# the last depeche before gender and places (the first parent of their merge, 67a3273)
BEFORE = "99a8d2f"
TARGET = 1.05
STEPS = ("annotate", "marts", "queries")
TARGETED = ("annotate", "marts")  # the queries are a part of the marts step


# -- in each code's process --------------------------------------------------------------


def _seconds(work: Callable[[], Any]) -> dict[str, float]:
    """CPU (this process and the children it waited for) and wall seconds of `work`."""

    def cpu() -> float:
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                             resource.RUSAGE_CHILDREN))  # fmt: skip
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    cpu_before, wall_before = cpu(), time.perf_counter()
    work()
    return {"cpu": cpu() - cpu_before, "wall": time.perf_counter() - wall_before}


def _generator() -> Any:
    """This project's lake generator (bench/marts.py), its imports bound to the code
    first on the path: the same articles, written with that code's schemas."""
    spec = importlib.util.spec_from_file_location("lake_generator", PROJECT / "bench" / "marts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# what this bench imports, by its module today and in the flat layout of the code
# before (tasks/ had no folders then but web/)
FLAT_LAYOUT = {
    "tasks.analytics.marts": "tasks.marts",
    "tasks.analytics.report": "tasks.report",
    "tasks.execution.resources": "tasks.resources",
    "tasks.lake.storage": "tasks.storage",
    "tasks.nlp.model": "tasks.annotate",
    "tasks.sources.files": "tasks.fetch",
    "tasks.stages.annotate": "tasks.annotate",
    "tasks.stages.clean": "tasks.clean",
}


def _name_flat_modules(root: Path) -> None:
    """In a process of code laid out flat, today's module names stand for the modules
    that held the same functions then (their folders as empty packages), so the
    steps below and the lake generator import one set of names."""
    for module, flat in FLAT_LAYOUT.items():
        if (root / (module.replace(".", "/") + ".py")).exists():
            continue
        package = module.rpartition(".")[0]
        sys.modules.setdefault(package, types.ModuleType(package))
        sys.modules[module] = importlib.import_module(flat)


def _inputs(marts: types.ModuleType, lake: Any, included: list[str]) -> Any:
    """The marts' inputs of the whole lake, as the code served (its own API) takes them."""
    if not hasattr(marts, "published_inputs"):  # a depeche before the marts' state
        return marts.mart_inputs(lake, included)
    published = marts.published_inputs(lake, included)
    return marts.MartInputs(
        **{name: [lake.root / file for file in files] for name, files in published.items()},
        gate_days=marts.gate_days(lake),
    )


def serve(corpus: Path, lake: Path, articles: int, seed: int, answers: IO[str]) -> None:
    """Prepare, then time a step for every line naming one on stdin."""
    _name_flat_modules(Path.cwd())
    from tasks.analytics import marts
    from tasks.analytics.marts import build_marts, published_partitions, refresh_marts
    from tasks.execution.resources import Resources
    from tasks.gate import SuiteRunner
    from tasks.nlp import model
    from tasks.sources.files import fetch_files
    from tasks.stages import annotate
    from tasks.stages.clean import clean_items

    resources = Resources()
    nlp = resources.model(model.DEFAULT_MODEL)
    files = sorted(corpus.glob("*.txt"))
    raw = fetch_files(files, max_bytes=5_000_000, fetched_at=datetime(2024, 1, 1, tzinfo=UTC))
    clean = clean_items(raw.raw, identifier=resources.language_identifier()).articles
    references = getattr(model, "load_references", None)  # gender and places only
    loading = _seconds(references) if references is not None else None
    store = _generator().generate_lake(lake, articles, seed)
    suites = SuiteRunner()
    published = store.indexed()
    included, _ = published_partitions(published)
    steps = {
        "annotate": lambda: annotate.annotate_articles(clean, nlp, n_process=1),
        "marts": lambda: refresh_marts(store, suites, force=True),
        "queries": lambda: build_marts(_inputs(marts, published, included)),
    }
    for step in steps.values():
        step()  # warm: first imports, caches, the lake's files in the page cache
    print(json.dumps({"articles": clean.num_rows, "references": loading}), file=answers, flush=True)
    for line in sys.stdin:
        answers.write(json.dumps(_seconds(steps[line.strip()])) + "\n")
        answers.flush()


# -- the comparison ----------------------------------------------------------------------


class Code:
    """One depeche's process, timing its steps on request."""

    def __init__(self, name: str, root: Path, corpus: Path, lake: Path, args: Any) -> None:
        self.name = name
        env = {**os.environ, "PYTHONPATH": str(root), "GX_ANALYTICS_ENABLED": "False"}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(corpus), str(lake),
             "--articles", str(args.articles), "--seed", str(args.seed)],
            cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.ready = self._answer()
        self.times: dict[str, list[dict[str, float]]] = {step: [] for step in STEPS}

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} code's process ended: see its errors above")
        return json.loads(line)

    def time(self, step: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(step + "\n")
        self.process.stdin.flush()
        self.times[step].append(self._answer())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def previous_code(folder: Path) -> Path:
    """The source of the depeche before gender and places, as committed."""
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", BEFORE], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SystemExit(f"the project's history lacks {BEFORE}: {archive.stderr.decode()}")
    folder.mkdir()
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def _median(times: list[dict[str, float]], kind: str) -> float:
    return statistics.median(t[kind] for t in times)


def table(before: Code, after: Code, stories: int, articles: int) -> str:
    what = {
        "annotate": f"annotate, {stories} wire stories",
        "marts": f"marts step, {articles:,} articles",
        "queries": "of which the marts' queries (DuckDB)",
    }
    lines = [
        "| step | seconds | before | after | ratio | target | met |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for step in STEPS:
        for kind in ("cpu", "wall"):
            old, new = _median(before.times[step], kind), _median(after.times[step], kind)
            ratio = new / old
            judged = kind == "cpu" and step in TARGETED
            met = ("yes" if ratio <= TARGET else "NO") if judged else "-"
            target = f"≤ {TARGET:.2f}" if judged else "-"
            lines.append(
                f"| {what[step]} | {kind}, median | {old:.2f} | {new:.2f} | {ratio:.3f} "
                f"| {target} | {met} |"
            )
    loading = after.ready["references"]
    if loading is not None:
        lines.append(
            f"| first names and gazetteers, once per run | cpu; wall | – | "
            f"{loading['cpu']:.2f}; {loading['wall']:.2f} | – | – | – |"
        )
    return "\n".join(lines)


def compare(args: argparse.Namespace) -> None:
    from bench.corpus import write_corpus

    with tempfile.TemporaryDirectory(prefix="depeche-bench-voices-") as folder:
        work = Path(folder)
        corpus = write_corpus(work / "corpus", args.stories, args.seed)
        roots = {"before": previous_code(work / "before"), "after": PROJECT}
        codes = {name: Code(name, root, corpus, work / f"lake-{name}", args)
                 for name, root in roots.items()}  # fmt: skip
        try:
            sizes = {code.ready["articles"] for code in codes.values()}
            assert len(sizes) == 1, f"the two codes kept different articles: {sizes}"
            for round_ in range(args.rounds):
                order = list(codes.values())[:: 1 if round_ % 2 == 0 else -1]
                for step in STEPS:
                    for code in order:
                        code.time(step)
        finally:
            for code in codes.values():
                code.close()
    print(f"\n{args.rounds} rounds; before: {BEFORE}, after: this project as it is\n")
    print(table(codes["before"], codes["after"], sizes.pop(), args.articles))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=100, help="wire stories annotated")
    parser.add_argument("--articles", type=int, default=8000, help="articles of the marts' lake")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", nargs=2, type=Path, metavar=("CORPUS", "LAKE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.serve is None:
        compare(args)
        return
    # run as a script: its folder (bench/) off the path, the code's root is on it
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
    # the answers go out on a stdout of their own: what the libraries print goes to stderr
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    serve(*args.serve, args.articles, args.seed, answers)


if __name__ == "__main__":
    main()
