"""Changing a cleaning rule's code reruns clean and what follows, and nothing before it:
a copy of the code, edited, run as a real subprocess against the same lake."""

from __future__ import annotations

import shutil
from pathlib import Path

from schemas import CLEAN, STAGES
from tasks.lake.storage import Lake
from tests.helpers import run_python

PROJECT = Path(__file__).resolve().parents[2]


def run(code: Path, source: Path, lake: Path, env: dict[str, str]) -> str:
    command = ["-m", "flows.cli", "run", str(source), "--lake", str(lake)]
    result = run_python(command, code=code, cwd=code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_changed_cleaning_rule_reruns_clean_and_what_follows(harness_env, tmp_path):
    code = tmp_path / "code"
    for package in ("flows", "tasks", "schemas"):
        shutil.copytree(PROJECT / package, code / package)
    source = tmp_path / "source"
    source.mkdir()
    (source / "oeuvre.txt").write_text(
        "date 2021-03-02 (Paris)\n\nLe Louvre expose une œuvre inédite de Léonard de Vinci, "
        "a annoncé mardi la ministre de la Culture, Roselyne Bachelot.",
        encoding="utf-8",
    )
    lake = tmp_path / "lake"
    store = Lake(lake)

    def ran() -> list[str]:
        """Run the copy of the code; the stages that did their work again, as the
        manifests say (a skipped stage keeps its manifest, started_at included)."""
        before = {m.stage: m.started_at for m in store.manifests()}
        run(code, source, lake, harness_env)
        after = {m.stage: m for m in store.manifests()}
        assert sorted(after) == sorted(STAGES)
        assert all(m.status == "committed" for m in after.values())
        return [stage for stage in STAGES if after[stage].started_at != before.get(stage)]

    assert ran() == list(STAGES)
    assert ran() == []

    def edit(path: str, old: str | None, new: str) -> None:
        file = code / path
        text = file.read_text(encoding="utf-8")
        edited = text + new if old is None else text.replace(old, new, 1)
        assert edited != text
        file.write_text(edited, encoding="utf-8")

    # (a column's description reruns nothing: tests/tasks/test_code_version.py, without runs)
    # clean's url column is made there: clean runs again, and gives the same rows here
    # (a wire story has no url), so the stages after it have nothing new to do
    edit("tasks/web/urls.py", None, "\n# touched\n")
    assert ran() == ["clean"]

    edit("tasks/stages/clean.py", '"\\r": "\\n",', '"\\r": "\\n",\n        "œ": "oe",')

    assert ran() == list(STAGES[STAGES.index("clean") :])
    [partition] = [spec.partition for spec in store.partitions()]
    texts = store.read(CLEAN, partition).column("text").to_pylist()
    assert "oeuvre" in texts[0] and "œ" not in texts[0]
