"""The shape of depeche's code: long functions, large classes, modules per folder,
import cycles and the README's length, here and at a base commit, side by side.

    python -m bench.code_shape [--base REV] [--list]

The base is read with `git archive` (default: the commit before the codebase's
redesign began); the code outside tests/ and bench/ is measured. Targets: at most
12 functions over 40 lines, no class over 250 lines, no import cycle, a README
under 400 lines.
"""

from __future__ import annotations

import argparse
import ast
import io
import subprocess
import tarfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "tasks", "schemas")
BASE = "cc42197"  # main before the redesign
LONG_FUNCTION, LARGE_CLASS = 40, 250


@dataclass
class Shape:
    """What one tree's code looks like."""

    long_functions: list[tuple[int, str]] = field(default_factory=list)
    classes: list[tuple[int, int, str]] = field(default_factory=list)  # lines, methods
    modules_per_folder: Counter[str] = field(default_factory=Counter)
    cycles: list[list[str]] = field(default_factory=list)
    readme_lines: int = 0


def sources(files: dict[str, str]) -> Iterator[tuple[str, str, ast.Module]]:
    """(folder, module name, tree) of every project module of a tree given as
    path → text."""
    for path, text in sorted(files.items()):
        if path.endswith(".py") and path.split("/")[0] in PACKAGES:
            module = path[:-3].replace("/", ".").removesuffix(".__init__")
            yield path.rsplit("/", 1)[0], module, ast.parse(text, filename=path)


def measure(files: dict[str, str]) -> Shape:
    shape = Shape(readme_lines=files.get("README.md", "").count("\n"))
    imports: dict[str, set[str]] = {}
    for folder, module, tree in sources(files):
        shape.modules_per_folder[folder] += 1
        imports[module] = set()
        typing_only = {id(n) for block in type_checking(tree) for n in ast.walk(block)}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONG_FUNCTION:
                    shape.long_functions.append((lines, f"{module}.{node.name}"))
            elif isinstance(node, ast.ClassDef):
                methods = sum(isinstance(n, ast.FunctionDef) for n in node.body)
                lines = node.end_lineno - node.lineno + 1
                shape.classes.append((lines, methods, f"{module}.{node.name}"))
            if id(node) not in typing_only:  # an import for annotations runs never
                imports[module] |= imported(node, module)
    shape.cycles = cycles({m: targets & imports.keys() for m, targets in imports.items()})
    shape.long_functions.sort(reverse=True)
    shape.classes.sort(reverse=True)
    return shape


def type_checking(tree: ast.Module) -> list[ast.If]:
    """The `if TYPE_CHECKING:` blocks of a module."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
    ]


def imported(node: ast.AST, module: str) -> set[str]:
    """The modules one import statement names (function-level imports included)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        if node.level:  # relative: from the module's package
            parts = module.split(".")[: -node.level]
            base = ".".join([*parts, node.module] if node.module else parts)
        else:
            base = node.module or ""
        return {base} | {f"{base}.{alias.name}" for alias in node.names}
    return set()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def working_tree() -> dict[str, str]:
    paths = [PROJECT / "README.md"] + [p for pkg in PACKAGES for p in (PROJECT / pkg).rglob("*.py")]
    return {str(p.relative_to(PROJECT)): p.read_text(encoding="utf-8") for p in paths}


def at_commit(revision: str) -> dict[str, str] | None:
    """The same files at `revision`, or None when this clone lacks it."""
    archive = subprocess.run(
        ["git", "archive", revision, "README.md", *PACKAGES],
        cwd=PROJECT,
        capture_output=True,
        check=False,
    )
    if archive.returncode:
        return None
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        return {
            m.name: tar.extractfile(m).read().decode("utf-8")  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def rows(shape: Shape) -> dict[str, str]:
    largest = shape.classes[0] if shape.classes else (0, 0, "-")
    folders = ", ".join(f"{k} {v}" for k, v in sorted(shape.modules_per_folder.items()))
    return {
        f"functions over {LONG_FUNCTION} lines (target ≤ 12)": str(len(shape.long_functions)),
        f"largest class (target ≤ {LARGE_CLASS} lines)": (
            f"{largest[2]}: {largest[0]} lines, {largest[1]} methods"
        ),
        "import cycles (target 0)": str(len(shape.cycles)),
        "README lines (target < 400)": str(shape.readme_lines),
        "modules per folder": folders,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=BASE, help="the commit to compare with")
    parser.add_argument("--list", action="store_true", help="name the long functions and cycles")
    args = parser.parse_args()
    now = measure(working_tree())
    base_files = at_commit(args.base)
    before = rows(measure(base_files)) if base_files is not None else None
    print(f"| measure | {args.base} | now |\n|---|---|---|")
    for name, value in rows(now).items():
        was = before[name] if before else "(not in this clone)"
        print(f"| {name} | {was} | {value} |")
    if args.list:
        for lines, name in now.long_functions:
            print(f"{lines:5d}  {name}")
        for cycle in now.cycles:
            print("cycle: " + " ⇄ ".join(cycle))


if __name__ == "__main__":
    main()
