"""A stage's code version, derived from what its output depends on.

Nothing is listed by hand: starting from the stage's produce function, the version
covers
- the source of every project module it can reach: in the stage's own module, the
  functions the produce function calls (a stage module may also hold planning or
  helpers of other commands); from there, every project module they import, at any
  depth, imports inside functions included (read from the source, not from what
  happens to be loaded);
- the installed versions of the third-party packages those modules import;
- the data files those modules name (a first-names list, a gazetteer);
- of `schemas/`, only the structure of what they use: a table's name, columns and
  types and rules, never its descriptions (the data dictionary's words rerun
  nothing);
- a deliberate bump (`Stage.bump`).

`RUNTIME_ONLY` names, once, the machinery whose edits cannot change a row.

Deriving a version parses the import closure (about half a second a process), so a
version is kept, in the process and in `__pycache__/code_versions.json` beside this
module, under the identity (size, modification time) of every file it was derived
from, of every folder they are in (a file added there may join the closure), of the
declarations and of this module, with the versions of its packages: an edited file
is seen at once, and a file changed in the last seconds (within one tick of a coarse
clock) is not trusted to its identity, so its version is not kept across processes.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
PACKAGES = ("tasks", "schemas", "flows")
DECLARATIONS = "schemas"  # hashed by structure, not by source

RUNTIME_ONLY = frozenset(
    {
        # how a stage is run, not what it makes: the contract (mark, stage, gate,
        # commit), its records and errors, the fault points of the kill tests
        "tasks.contract",
        "tasks.records",
        "tasks.errors",
        "tasks.faults",
        # how versions are worked out and kept, not what a stage makes
        "tasks.code_version",
        # the gate (its checks, its Great Expectations suites): whether rows commit,
        # never what they are; the rules declared with a table's columns count
        "tasks.gate",
        "schemas.suites",
        "schemas.verdict_suites",
        # where rows are kept, not what they are
        # (module by module: tasks.lake.published, which partitions the marts are
        # built from, and tasks.lake.known_hashes are in the folder, and hashed)
        "tasks.lake.storage",
        "tasks.lake.index",
        "tasks.lake.checks",
        "tasks.lake.commit",
        "tasks.lake.derived",
        "tasks.lake.files",
        "tasks.lake.gx_results",
        "tasks.lake.layout",
        "tasks.lake.lock",
        "tasks.lake.manifests",
        "tasks.lake.partitions",
        "tasks.lake.record_folders",
        "tasks.lake.standing",
        "tasks.lake.states",
        "tasks.lake.web",
        # loading and running: the model host, process pools, memory given back (all
        # of tasks.execution: where and in how many processes the model runs, not what
        # it makes; the NLP they run is reached from the stage itself, and hashed)
        "tasks.execution",
        # settings plumbing: the values a stage's output depends on are its parameters
        "tasks.settings",
        # downloading: a page fetched before is read back from the lake as it was
        # answered, so an edit here cannot change the rows of a partition made before
        "tasks.sources.web",
        "tasks.web.crawl",
        "tasks.web.client",
        "tasks.web.address",
        # the registry and the orchestration above the stages
        "tasks.stages.registry",
        "flows",
        # third-party runtime: the engine, the cluster
        "prefect",
        "distributed",
        "dask",
    }
)


def code_version(
    entry: Callable[..., Any] | ModuleType, tables: Iterable[Any] = (), bump: str = ""
) -> str:
    """The version of what `entry` (a produce function, or a whole module) makes from
    and into `tables`: worked out again only when one of its files changed, since
    every stage-partition's key asks it."""
    tables = tuple(tables)
    key = (_name(entry), tuple(t.name for t in tables), bump)
    memo = _SETTLED.get()  # within a settled scope: checked once
    if memo is not None and key in memo:
        return memo[key]
    known = _CODE_VERSIONS.get(key)
    if known is not None and known[0] == _identities(known[1]):
        version = known[2]
    else:
        # a run asks from a thread per partition; CPython 3.11's parser is not safe
        # across threads ("AST constructor recursion depth mismatch"), and once is
        # enough anyway
        with _DERIVING:
            stored = _stored_key(key, tables)
            version = _remembered(key, stored) or _derive(entry, tables, bump, key, stored)
    if memo is not None:
        memo[key] = version
    return version


class _Settled:
    """The versions checked once while a command that asked for it runs (nested and
    concurrent scopes share them: a run asks from a thread per partition)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.versions: dict[tuple, str] = {}

    def get(self) -> dict[tuple, str] | None:
        return self.versions if self.depth else None


_SETTLED = _Settled()


@contextlib.contextmanager
def settled() -> Iterator[None]:
    """Within it, each code version is checked against its files once: for a command
    that reads the whole lake's state (the idle check, `status`) or runs its stages,
    which asks every stage-partition's key and would otherwise `stat` each version's
    files (some thirty) for each of them. The code a process runs is what it imported;
    a file edited meanwhile is seen by the next command."""
    with _SETTLED.lock:
        _SETTLED.depth += 1
    try:
        yield
    finally:
        with _SETTLED.lock:
            _SETTLED.depth -= 1
            if not _SETTLED.depth:
                _SETTLED.versions = {}


def _derive(
    entry: Callable[..., Any] | ModuleType, tables: tuple, bump: str, key: tuple, stored: str
) -> str:
    modules, packages = reach(entry)
    files = tuple(sorted({*(_source_file(m) for m in modules), *_data_files(modules)}))
    watched = (*files, *_watched(files))
    identities = _identities(watched)  # before reading: an edit meanwhile is seen next time
    digest = hashlib.sha256(bump.encode())
    for file in files:
        digest.update(file.relative_to(PROJECT).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    for name in sorted(packages):
        digest.update(f"{name}=={_package_version(name)}\0".encode())
    digest.update(repr(_structure((*tables, *_declarations_used(modules)))).encode())
    version = digest.hexdigest()[:16]
    _CODE_VERSIONS[key] = (identities, watched, version)
    _store(
        stored, watched, identities, {name: _package_version(name) for name in packages}, version
    )
    return version


_DERIVING = threading.Lock()
_CODE_VERSIONS: dict[tuple[str, tuple[str, ...], str], tuple[tuple, tuple[Path, ...], str]] = {}


# -- kept across processes ---------------------------------------------------------

STORE = Path(__file__).with_name("__pycache__") / "code_versions.json"  # one per checkout
STORE_VERSION = 1
RECENT_NS = 2_000_000_000  # a file changed this recently may change again unseen


def _stored_key(key: tuple, tables: tuple) -> str:
    """What a kept version is found by: the entry, the tables' structure (a table is
    named by its name in this process), the bump, this module's own derivation."""
    structure = hashlib.sha256(repr(_structure(tables)).encode()).hexdigest()[:16]
    return f"{STORE_VERSION}\0{key[0]}\0{structure}\0{key[2]}"


def _watched(files: Iterable[Path]) -> tuple[Path, ...]:
    """What a version depends on besides its files: the folders they are in and
    below (a module or data file added there may join the closure), the declarations
    (their structure counts) and this module (how versions are derived)."""
    folders: set[Path] = set()
    for parent in {file.parent for file in files}:
        for folder, subfolders, _ in os.walk(parent):
            subfolders[:] = [name for name in subfolders if name != "__pycache__"]
            folders.add(Path(folder))
    declarations = (PROJECT / DECLARATIONS).rglob("*.py")
    return tuple(sorted({*folders, *declarations, Path(__file__).resolve()} - set(files)))


def _remembered(key: tuple, stored: str) -> str | None:
    """The version kept for `stored` when none of what it was derived from changed."""
    kept = _read_store().get(stored)
    try:
        files = tuple(PROJECT / name for name in kept["files"])
        identities = _identities(files)
        if [list(i[1:]) for i in identities] != kept["identities"] or any(
            _package_version(name) != version for name, version in kept["packages"].items()
        ):
            return None
        version = str(kept["version"])
    except (TypeError, KeyError, OSError, ValueError):  # none kept, damaged, a file gone
        return None
    _CODE_VERSIONS[key] = (identities, files, version)
    return version


def _read_store() -> dict[str, Any]:
    try:
        found = json.loads(STORE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _store(
    stored: str,
    files: tuple[Path, ...],
    identities: tuple,
    packages: dict[str, str],
    version: str,
) -> None:
    """Keep a version for the next processes, unless a file of it changed too recently
    to be told apart from its next change; a store that cannot be written keeps none."""
    if any(mtime > time.time_ns() - RECENT_NS for _, mtime, _ in identities):
        return
    kept = _read_store()
    kept[stored] = {
        "files": [file.relative_to(PROJECT).as_posix() for file in files],
        "identities": [list(identity[1:]) for identity in identities],
        "packages": packages,
        "version": version,
    }
    building = STORE.with_name(f".{STORE.name}.{uuid.uuid4().hex}.tmp")
    try:
        STORE.parent.mkdir(parents=True, exist_ok=True)
        building.write_text(json.dumps(kept), encoding="utf-8")
        os.replace(building, STORE)
    except OSError:
        building.unlink(missing_ok=True)


def reach(entry: Callable[..., Any] | ModuleType) -> tuple[set[str], set[str]]:
    """The project modules (runtime machinery and declarations left out) and the
    third-party packages that `entry` can reach."""
    modules: set[str] = set()
    packages: set[str] = set()
    if isinstance(entry, ModuleType):
        todo = [entry.__name__]
    else:
        # of the stage's own module, what the produce function calls, not all it imports
        modules.add(entry.__module__)
        packages |= _third_party(_imports(entry.__module__))
        todo = [m for m in _called_from(entry) if _counted(m)]
    while todo:
        module = todo.pop()
        if module in modules:
            continue
        modules.add(module)
        imported = _imports(module)
        packages |= _third_party(imported)
        todo += [m for m in imported if _is_project(m) and _counted(m)]
    return modules, packages


def _third_party(modules: Iterable[str]) -> set[str]:
    """The top-level packages of `modules` that are neither the project's nor the
    standard library's nor runtime machinery."""
    tops = {module.partition(".")[0] for module in modules}
    return {
        top
        for top in tops
        if top not in PACKAGES and top not in sys.stdlib_module_names and top not in RUNTIME_ONLY
    }


def _called_from(produce: Callable[..., Any]) -> set[str]:
    """The project modules named by the code `produce` runs in its own module: its
    body, and the bodies of that module's functions and classes it calls, at any
    depth (a function of the module it never calls does not count)."""
    module = sys.modules[produce.__module__]
    names = _imported_names(module.__name__)
    found: set[str] = set()
    seen: set[CodeType] = set()
    todo = [produce.__code__]
    while todo:
        code = todo.pop()
        if code in seen:
            continue
        seen.add(code)
        todo += [const for const in code.co_consts if isinstance(const, CodeType)]
        for name in code.co_names:
            if name in names:
                found.add(names[name])
            elif _is_project(name):  # a module imported inside the function
                found.add(name)
            value = vars(module).get(name)
            if getattr(value, "__module__", None) == module.__name__:
                todo += _code_of(value)
    return found


def _code_of(value: Any) -> list[CodeType]:
    if inspect.isfunction(value):
        return [value.__code__]
    if inspect.isclass(value):
        return [f.__code__ for f in vars(value).values() if inspect.isfunction(f)]
    return []


def _imported_names(module: str) -> dict[str, str]:
    """What each name a module imports from the project is bound to: the module it
    comes from (or is)."""
    names: dict[str, str] = {}
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[(alias.asname or alias.name).partition(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names[alias.asname or alias.name] = (
                    submodule if _source_path(submodule) else node.module
                )
    return {name: target for name, target in names.items() if _is_project(target)}


def _imports(module: str) -> set[str]:
    """Every module `module` imports, at the top or inside a function; a name taken
    from a package counts as its submodule when it is one."""
    found: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _source_path(f"{node.module}.{alias.name}")
            }
    return found


def _tree(module: str) -> ast.Module:
    path = _source_path(module)
    assert path is not None, f"{module} is not a module of the project"
    return _parsed(path, _identities([path]))


@functools.lru_cache(maxsize=256)
def _parsed(path: Path, identity: tuple) -> ast.Module:
    """The syntax tree of a file, kept while the file is unchanged (`identity`)."""
    return ast.parse(path.read_text(encoding="utf-8"))


@functools.cache
def _source_path(module: str) -> Path | None:
    base = PROJECT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _source_file(module: str) -> Path:
    path = _source_path(module)
    assert path is not None
    return path


def _is_project(module: str) -> bool:
    return module.partition(".")[0] in PACKAGES and _source_path(module) is not None


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _counted(module: str) -> bool:
    """Whether a project module's source counts: not runtime machinery, and not a
    declaration (whose structure counts instead)."""
    return not any(_in(module, excluded) for excluded in (*RUNTIME_ONLY, DECLARATIONS))


def _declaration(module: str) -> bool:
    """Whether a module declares tables whose structure counts (not runtime machinery)."""
    return _in(module, DECLARATIONS) and not any(_in(module, e) for e in RUNTIME_ONLY)


def _data_files(modules: Iterable[str]) -> set[Path]:
    """The files beside the modules' source (in any folder of their package) that a
    module names in a string: the data it reads."""
    found: set[Path] = set()
    for module in modules:
        strings = {
            node.value
            for node in ast.walk(_tree(module))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        for path in _source_file(module).parent.rglob("*"):
            if path.name in strings and path.suffix != ".py" and _data_file(path):
                found.add(path)
    return found


def _data_file(path: Path) -> bool:
    """Whether `path` may be data a module reads: a file, not Python's caches (nor the
    versions kept there)."""
    return path.is_file() and "__pycache__" not in path.parts


def _declarations_used(modules: Iterable[str]) -> list[Any]:
    """The objects the modules take from `schemas`, by name: the tables, vocabularies
    and rules their code reads."""
    used: dict[str, Any] = {}
    for module in modules:
        for node in ast.walk(_tree(module)):
            if isinstance(node, ast.ImportFrom) and node.module and _declaration(node.module):
                used |= _declared(node.module, [alias.name for alias in node.names])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    used |= _declared(alias.name) if _declaration(alias.name) else {}
    return [(name, used[name]) for name in sorted(used)]


def _declared(module: str, names: list[str] | None = None) -> dict[str, Any]:
    """The named objects of a declarations module (all its public ones by default),
    a submodule taken by name counting as all of its own."""
    declared = importlib.import_module(module)
    found: dict[str, Any] = {}
    public = [n for n, v in vars(declared).items() if not n.startswith("_") and _declares(v)]
    for name in names or public:
        value = getattr(declared, name)
        if isinstance(value, ModuleType):
            found |= _declared(value.__name__) if _declaration(value.__name__) else {}
        else:
            found[f"{module}.{name}"] = value
    return found


def _declares(value: Any) -> bool:
    """Whether a module's attribute is a declaration of the project (not an import of
    a library's function or type)."""
    return _in(getattr(value, "__module__", None) or DECLARATIONS, DECLARATIONS)


def _structure(value: Any) -> Any:
    """What of a declaration shapes the rows: all but its descriptions (a dataclass's
    `doc`); a function's or class's source."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            *(
                (f.name, _structure(getattr(value, f.name)))
                for f in dataclasses.fields(value)
                if f.name != "doc"
            ),
        )
    if inspect.isfunction(value) or inspect.isclass(value):
        return inspect.getsource(value)
    if isinstance(value, dict):
        return sorted((repr(k), _structure(v)) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sorted(repr(_structure(v)) for v in value)
    if isinstance(value, tuple | list):
        return [_structure(v) for v in value]
    return repr(value)


@functools.cache
def _package_version(package: str) -> str:
    """The installed version of the distribution an import name comes from (most
    are named alike; the others are looked up among every distribution's files)."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        pass
    distributions = importlib.metadata.packages_distributions().get(package, [])
    return (
        ", ".join(f"{d} {importlib.metadata.version(d)}" for d in sorted(set(distributions)))
        or "not installed"
    )


def _identities(files: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
    identities = []
    for file in files:
        info = os.stat(file)
        identities.append((str(file), info.st_mtime_ns, info.st_size))
    return tuple(identities)


def _name(entry: Callable[..., Any] | ModuleType) -> str:
    return (
        entry.__name__
        if isinstance(entry, ModuleType)
        else f"{entry.__module__}.{entry.__qualname__}"
    )
