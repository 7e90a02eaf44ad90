"""The import graph of depeche: no cycles, and no arrow up from a lower layer to a
higher one, imports made inside functions included. Imports under `if
TYPE_CHECKING:` name types only and never run, so they are not arrows."""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

# lowest first; a module may import its own layer and the layers below it
LAYERS: list[tuple[str, set[str]]] = [
    ("declarations", {"schemas", "schemas.*"}),
    (
        "foundations",
        {"tasks", "tasks.errors", "tasks.faults", "tasks.records", "tasks.settings",
         "tasks.progress", "tasks.code_version", "tasks.execution.processes"},
    ),
    ("text rules, language and web client", {"tasks.text.*", "tasks.nlp.*", "tasks.web.*"}),
    ("lake", {"tasks.lake.*", "tasks.gate"}),
    # clean's earlier articles follow the contract's chain links
    ("contract", {"tasks.contract", "tasks.earlier"}),
    # where fetch's items come from: local files, and the web pages kept in the lake
    ("sources", {"tasks.sources.*"}),
    # the stages and the machinery that runs annotate: the resources load the stages'
    # models, the model host runs annotate's workers
    ("stages", {"tasks.stages.*", "tasks.execution.*"}),
    # a run's new partitions: dates are read as clean reads them
    ("planning", {"tasks.planning"}),
    ("analytics", {"tasks.analytics.*"}),
    ("registry", {"tasks.stages.registry"}),
    # merges partitions under the stages' own keys
    ("lake upkeep", {"tasks.compaction"}),
    ("flows", {"flows", "flows.*"}),
]  # fmt: skip


def modules() -> dict[str, Path]:
    found = {}
    for package in ("flows", "tasks", "schemas"):
        for path in sorted((PROJECT / package).rglob("*.py")):
            name = ".".join(path.relative_to(PROJECT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports, anywhere but under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found & known


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, set(found)) - {name} for name, path in found.items()}


def layer(module: str) -> int:
    """The layer that names the module itself, else the one whose `package.*` names
    its closest package (a folder's `__init__` is in the layer of its `.*`)."""
    candidates = []  # (length of the package matched, layer)
    for index, (_, members) in enumerate(LAYERS):
        for member in members:
            if module == member:
                return index
            package = member.removesuffix(".*")
            within = module == package or module.startswith(package + ".")
            if member.endswith(".*") and within:
                candidates.append((len(package), index))
    if not candidates:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    return max(candidates)[1]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that is on one (depth-first, in name order)."""
    found, done = [], set()
    for start in sorted(edges):
        path, todo = [start], [iter(sorted(edges[start]))]
        while todo:
            following = next(todo[-1], None)
            if following is None:
                done.add(path.pop())
                todo.pop()
            elif following in path:
                found.append([*path[path.index(following) :], following])
            elif following not in done:
                path.append(following)
                todo.append(iter(sorted(edges[following])))
    return found


def test_every_module_has_a_layer():
    for module in modules():
        layer(module)


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_no_import_goes_up_a_layer():
    edges = graph()
    up = [
        f"{module} ({LAYERS[layer(module)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
        for module, targets in sorted(edges.items())
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert up == []


def test_the_check_finds_a_cycle_and_an_import_inside_a_function(tmp_path):
    edges = {"tasks.lake.storage": {"tasks.contract"}, "tasks.contract": {"tasks.lake.storage"}}
    assert cycles(edges) == [["tasks.contract", "tasks.lake.storage", "tasks.contract"]]
    module = tmp_path / "module.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tasks.execution.resources import Resources\n"
        "def later():\n    from tasks.contract import run_stage\n",
        encoding="utf-8",
    )
    known = {"tasks.execution.resources", "tasks.contract"}
    assert imports(module, known) == {"tasks.contract"}
