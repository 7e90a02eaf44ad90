"""A stage's code version is derived from what its output depends on: real edits of a
copy of the project, seen by one live process (as a long run would see them)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasks.code_version import reach
from tasks.stages.clean import STAGE as CLEAN_STAGE

PROJECT = Path(__file__).resolve().parents[2]

# asked a line on stdin, prints each stage's code version (and the marts') as JSON
ASK_VERSIONS = """
import json, sys
import schemas.marts, tasks.analytics.marts
from tasks.code_version import code_version
from tasks.stages.registry import REGISTRY
for _ in sys.stdin:
    versions = {stage.name: stage.code_version for stage in REGISTRY}
    versions["marts"] = code_version(tasks.analytics.marts, schemas.marts.MARTS)
    print(json.dumps(versions), flush=True)
"""


class Project:
    """A copy of the project's code, and a process that reads its code versions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for package in ("flows", "tasks", "schemas"):
            shutil.copytree(PROJECT / package, root / package)
        self.process = subprocess.Popen(
            [sys.executable, "-c", ASK_VERSIONS], **self._where(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def _where(self) -> dict:
        return {"cwd": self.root, "env": {"PYTHONPATH": str(self.root), "PATH": "/usr/bin:/bin"}}

    def versions(self, *, fresh: bool = False) -> dict[str, str]:
        """The versions the live process sees, or (`fresh`) a new process: a table
        declaration is read as the process imported it."""
        if fresh:
            asked = subprocess.run(
                [sys.executable, "-c", ASK_VERSIONS], **self._where(), input="?\n",
                capture_output=True, text=True, check=True, timeout=120,
            )  # fmt: skip
            return json.loads(asked.stdout)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def changed_by(self, path: str, old: str | None, new: str, *, fresh: bool = False) -> list[str]:
        """The versions an edit of `path` (`old` replaced by `new`, or `new` appended)
        changes; the file is put back after, and every version comes back."""
        file = self.root / path
        text = file.read_bytes()
        before = self.versions()
        edited = text.decode() + new if old is None else text.decode().replace(old, new, 1)
        assert edited != text.decode(), f"{old!r} is not in {path}"
        file.write_text(edited, encoding="utf-8")
        after = self.versions(fresh=fresh)
        file.write_bytes(text)
        assert self.versions() == before
        return sorted(name for name in before if after[name] != before[name])


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Iterator[Project]:
    copy = Project(tmp_path_factory.mktemp("project"))
    yield copy
    copy.process.stdin.close()
    copy.process.wait(timeout=30)


def test_an_edit_of_the_url_rules_changes_clean_not_fetch(project):
    """tasks/web/urls.py makes clean's `url` column: clean runs again on an edit there
    (and what follows, when clean's rows change); fetch does not."""
    assert project.changed_by("tasks/web/urls.py", None, "\n# edited\n") == ["clean"]


def test_a_column_description_changes_no_version(project):
    """(read by a new process, with its own hash seed: the versions do not depend on it)"""
    old = '"Input format."'
    assert project.changed_by("schemas/tables.py", old, '"The input format."', fresh=True) == []


def test_a_column_type_changes_the_stages_that_read_or_write_its_table(project):
    """raw's `line` column: fetch writes raw, clean reads it, the marts view every table."""
    old = 'Column("line", pa.int32(), "Line number in a .jsonl file (1-based); null otherwise.")'
    new = old.replace("int32", "int64")
    assert project.changed_by("schemas/tables.py", old, new, fresh=True) == [
        "clean",
        "fetch",
        "marts",
    ]


def test_an_edit_of_runtime_machinery_changes_no_version(project):
    machinery = (
        "tasks/code_version.py",
        "tasks/execution/processes.py",
        "tasks/lake/storage.py",
        "tasks/execution/model_host.py",
    )
    execution = ("tasks/execution/pool.py", "tasks/execution/heap.py")
    for module in (*machinery, *execution):
        assert project.changed_by(module, None, "\n# edited\n") == [], module


@pytest.mark.parametrize("module", ["model", "entities", "identities", "rows"])
def test_the_nlp_counts_for_annotate_and_what_reads_its_functions(project, module):
    """The NLP annotate runs (in its workers too) is reached from the stage itself."""
    edited = project.changed_by(f"tasks/nlp/{module}.py", None, "\n# edited\n")
    assert edited == ["annotate", "validate"]


def test_the_quote_rules_count_for_annotate_and_what_reads_its_functions(project):
    """validate reads annotate's quote figures: an edit of annotate's modules is its too."""
    assert project.changed_by("tasks/nlp/quotes/__init__.py", None, "\n# edited\n") == [
        "annotate",
        "validate",
    ]


def test_a_data_file_a_stage_reads_counts(project):
    added = '"zoéline";1;12;"Femme"\n'
    changed = project.changed_by("tasks/nlp/reference/prenoms-insee.csv", None, added)
    assert changed == ["annotate", "validate"]


def test_a_stage_version_can_be_bumped_on_purpose():
    bumped = dataclasses.replace(CLEAN_STAGE, bump="a new reading of dates")
    assert bumped.code_version != CLEAN_STAGE.code_version


def test_the_packages_that_shape_the_output_count():
    _, packages = reach(CLEAN_STAGE.produce)
    assert {"trafilatura", "py3langid", "charset_normalizer"} <= packages
    assert "prefect" not in packages


def test_versions_kept_for_the_next_process_still_see_an_edit_at_once(project):
    """A new process takes the versions the last one derived (kept beside the code)
    while nothing they came from changed; an edit, or a damaged store, is seen."""
    first = project.versions(fresh=True)
    store = project.root / "tasks" / "__pycache__" / "code_versions.json"
    kept = {entry["version"] for entry in json.loads(store.read_text()).values()}
    assert set(first.values()) <= kept
    assert project.versions(fresh=True) == first
    assert project.changed_by("tasks/web/urls.py", None, "\n# edited\n", fresh=True) == ["clean"]
    store.write_text("{", encoding="utf-8")
    assert project.versions(fresh=True) == first


# prints the stages' versions inside a settled scope, again there after a line on
# stdin, then once the scope has ended
ASK_SETTLED = """
import json, sys
from tasks.code_version import settled
from tasks.stages.registry import REGISTRY
def versions():
    print(json.dumps({stage.name: stage.code_version for stage in REGISTRY}), flush=True)
with settled():
    versions()
    sys.stdin.readline()
    versions()
versions()
"""


def test_a_command_checks_each_version_once_and_the_next_sees_an_edit(project):
    """Within a run, or a command that reads the whole lake, a version is checked
    against its files once (the code the process runs is what it imported); an edit
    made meanwhile is seen once the scope ends."""
    asking = subprocess.Popen(
        [sys.executable, "-c", ASK_SETTLED], **project._where(), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert asking.stdin is not None and asking.stdout is not None
    first = json.loads(asking.stdout.readline())
    urls = project.root / "tasks" / "web" / "urls.py"
    text = urls.read_bytes()
    try:
        urls.write_text(text.decode() + "\n# edited\n", encoding="utf-8")
        asking.stdin.write("edited\n")
        asking.stdin.flush()
        assert json.loads(asking.stdout.readline()) == first
        after = json.loads(asking.stdout.readline())
        assert [name for name in first if after[name] != first[name]] == ["clean"]
    finally:
        urls.write_bytes(text)
        asking.communicate(timeout=60)
