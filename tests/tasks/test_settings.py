"""The settings model is the one source of every surface that shows a setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema
from pydantic import ValidationError

from schemas.dictionary import PAGE, markers
from tasks.settings import (
    InvalidSettings,
    Settings,
    SettingsGiven,
    bounds_text,
    resolve_settings,
    setting_bounds,
)
from tasks.stages.registry import REGISTRY, settings_affect

PROJECT = Path(__file__).resolve().parents[2]
SETTINGS = list(Settings.model_fields)


def _help(command: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", "from flows.cli import main; main()", command, "--help"],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "400"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


@pytest.mark.parametrize("command", ["run", "rerun"])
def test_every_setting_is_an_option_with_its_default_in_the_help(command, subprocess_env):
    shown = _help(command, subprocess_env)
    for name, field in Settings.model_fields.items():
        option = "--" + name.replace("_", "-")
        assert option in shown, option
        # the help says the default in words, taken from the model
        default = str(field.get_default(call_default_factory=True))
        assert re.search(rf"{re.escape(option)} .*?else {re.escape(default)}\.", shown)


@pytest.mark.parametrize(
    "entrypoint",
    sorted(
        {
            spec["entrypoint"]
            for spec in yaml.safe_load((PROJECT / "prefect.yaml").read_text())["deployments"]
        }
        | {"flows/pipeline.py:depeche_pipeline"}
    ),
)
def test_every_flow_takes_every_setting(entrypoint: str) -> None:
    flow = load_flow_from_entrypoint(str(PROJECT / entrypoint))
    schema = parameter_schema(flow).model_dump()
    reference = schema["properties"]["settings"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["definitions"][reference]["properties"]
    assert list(fields) == SETTINGS
    for name in SETTINGS:
        assert fields[name]["default"] is None  # left out: the lake's last value


def test_the_table_of_settings_is_generated_from_the_model() -> None:
    from tasks.settings import settings_table

    page = (PROJECT / PAGE).read_text(encoding="utf-8")
    begin, end = markers("settings")
    body = page[page.index(begin) + len(begin) + 1 : page.index(end)]
    assert body == settings_table(settings_affect()), f"run: depeche dictionary --write {PAGE}"
    for name in SETTINGS:
        assert f"`{name}`" in body


def test_stages_name_only_declared_settings_and_a_setting_changes_their_key(tmp_path) -> None:
    for stage in REGISTRY:
        assert set(stage.settings) <= set(SETTINGS), stage.name
    affected = settings_affect()
    assert affected["model"] == ["annotate"]
    assert affected["max_share_without_entities"] == ["validate"]
    assert affected["batch_size"] == [] and affected["n_process"] == []


def test_resolving_keeps_the_last_run_and_refuses_what_does_not_fit() -> None:
    last = {"model": "fr_core_news_md", "batch_size": 8}
    resolved = resolve_settings(last, SettingsGiven(batch_size=16))
    assert (resolved.model, resolved.batch_size) == ("fr_core_news_md", 16)
    assert resolved.n_process == Settings().n_process
    assert set(resolved.model_dump()) == set(SETTINGS)
    with pytest.raises(InvalidSettings, match="n_process"):
        resolve_settings({"n_process": 1000}, None)
    with pytest.raises(InvalidSettings, match="colour"):
        resolve_settings({"colour": "blue"}, None)


def test_annotate_workers_are_bounded_by_cores_and_articles() -> None:
    settings = Settings(n_process=64)
    assert settings.annotate_workers(3) <= 3
    assert settings.annotate_workers(10_000) <= (os.cpu_count() or 1)
    assert Settings(n_process=1).annotate_workers(0) == 1


def _past(value: int | float, step: int) -> int | float:
    """The next value past a bound, for the bound's type."""
    return value + step if isinstance(value, int) else value + step * max(abs(value), 1) * 1e-3


def _too_long(name: str, limit: int) -> Any:
    if Settings.model_fields[name].annotation == list[str]:
        return ["127.0.0.1/32"] * (limit + 1)
    default = Settings.model_fields[name].get_default() or "tcp://host"
    return default + "x" * limit


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_has_bounds_a_machine_can_honour(name: str) -> None:
    """A number has a lower and an upper bound, both accepted and one step past either
    refused; a text or a list has a longest length (or a closed choice of words)."""
    field = Settings.model_fields[name]
    bounds = setting_bounds(name)
    if field.annotation is bool:  # on or off: nothing to bound, anything else refused
        for value in (True, False):
            assert getattr(Settings(**{name: value}), name) is value
        with pytest.raises(InvalidSettings, match=name):
            resolve_settings({name: "sometimes"}, None)
        return
    if field.annotation in (int, float):
        assert set(bounds) == {"ge", "le"}, f"{name} needs both bounds"
        assert bounds["le"] <= 2**31 - 1  # what C libraries take (zlib's lengths, sockets)
        for key, step in (("ge", -1), ("le", 1)):
            assert getattr(Settings(**{name: bounds[key]}), name) == bounds[key]
            with pytest.raises(InvalidSettings, match=name):
                resolve_settings({name: _past(bounds[key], step)}, None)
            with pytest.raises(ValidationError):
                SettingsGiven(**{name: _past(bounds[key], step)})
        shown = "," if field.annotation is int else "g"  # what the table of settings shows
        assert bounds_text(name) == f"≥ {bounds['ge']:{shown}} and ≤ {bounds['le']:{shown}}"
        return
    limits = [m.max_length for m in field.metadata if getattr(m, "max_length", None)]
    if not limits:  # a closed choice: the pattern lists every value
        pattern = next(m.pattern for m in field.metadata if getattr(m, "pattern", None))
        assert re.fullmatch(r"\^\((\w+\|)+\w+\)\$", pattern), f"{name} needs a bound"
        return
    with pytest.raises(InvalidSettings, match=name):
        resolve_settings({name: _too_long(name, limits[0])}, None)
    with pytest.raises(ValidationError):
        SettingsGiven(**{name: _too_long(name, limits[0])})
    assert f"≤ {limits[0]:,} " in bounds_text(name)
