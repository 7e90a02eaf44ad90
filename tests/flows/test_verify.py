"""The lake never lies: committed files are checked before they are trusted, damaged
records are reported in one line, and what is damaged is redone from its input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from flows.pipeline import depeche_pipeline, summary_of
from schemas import CLEAN, ENTITIES, STAGES
from tasks.lake.storage import Lake
from tasks.records import Status

PROJECT = Path(__file__).resolve().parents[2]
DEPECHE = str(Path(sys.executable).with_name("depeche"))


@pytest.fixture(scope="module")
def committed(prefect_harness, tmp_path_factory) -> tuple[Path, Path]:
    """A lake with one committed partition of three wire stories, kept as a template."""
    source = tmp_path_factory.mktemp("wire")
    for name in sorted((PROJECT / "data" / "sample" / "wire").glob("0[1-3]*.txt")):
        shutil.copy(name, source / name.name)
    lake = tmp_path_factory.mktemp("template") / "lake"
    assert depeche_pipeline(sources=[str(source)], lake=str(lake)).ok
    return source, lake


@pytest.fixture
def lake(committed, tmp_path) -> tuple[Path, Path, str]:
    """A copy of the committed lake to damage."""
    source, template = committed
    copy = tmp_path / "lake"
    shutil.copytree(template, copy)
    [partition] = [spec.partition for spec in Lake(copy).partitions()]
    return source, copy, partition


def ran(summary) -> list[str]:
    return [r.stage for r in summary.reports if r.ran]


def entities(lake: Path) -> list[dict]:
    return pq.read_table(lake / ENTITIES.path).to_pylist()


def test_a_deleted_published_file_is_redone_from_its_checkpoint(lake, committed) -> None:
    source, root, partition = lake
    before = entities(root)
    published = Lake(root).committed_file(ENTITIES, partition, stage="validate")
    published.unlink()
    assert Lake(root).state("validate", partition)[0] == Status.DAMAGED
    summary = depeche_pipeline(sources=[str(source)], lake=str(root))
    assert summary.ok and ran(summary) == ["validate"]
    assert entities(root) == before


def test_a_truncated_file_is_redone_and_what_reads_it_is_checked(lake) -> None:
    source, root, partition = lake
    clean_file = Lake(root).committed_file(CLEAN, partition)
    before = pq.read_table(clean_file)
    data = clean_file.read_bytes()
    clean_file.write_bytes(data[: len(data) // 2])
    summary = depeche_pipeline(sources=[str(source)], lake=str(root))
    assert summary.ok and ran(summary) == ["clean"]  # same output: annotate need not rerun
    assert pq.read_table(clean_file).equals(before)


def test_a_changed_file_of_the_same_size_is_found_by_verify_and_before_a_read(
    lake, harness_env, depeche
) -> None:
    source, root, partition = lake
    clean_file = Lake(root).committed_file(CLEAN, partition)
    flip_byte(clean_file, 8)  # in the first column's pages (not the footer, which readers check)
    # the cheap check (sizes) sees nothing; the content hash does
    assert depeche_pipeline(sources=[str(source)], lake=str(root)).ok
    status = depeche("status", "--lake", str(root), "--verify", env=harness_env)
    assert status.returncode == 1, status.stdout + status.stderr
    assert f"{partition} clean: damaged: " in " ".join(status.stdout.split())
    assert "rerun --failed" in status.stderr and "Traceback" not in status.stderr
    # a stage about to read it checks it first, and the partition goes back to clean
    forced = depeche_pipeline(lake=str(root), from_stage="annotate")
    assert forced.ok and ran(forced) == ["clean", "annotate", "validate"]
    assert all(Lake(root).state(s, partition, deep=True)[0] == Status.COMMITTED for s in STAGES)


def test_run_verify_redoes_a_changed_file(lake) -> None:
    source, root, partition = lake
    clean_file = Lake(root).committed_file(CLEAN, partition)
    flip_byte(clean_file, clean_file.stat().st_size // 3)
    summary = depeche_pipeline(sources=[str(source)], lake=str(root), verify=True)
    assert summary.ok and "clean" in ran(summary)
    assert Lake(root).verify(Lake(root).read_manifest("clean", partition), deep=True) == []


def test_a_damaged_manifest_is_shown_and_its_stage_redone(lake, harness_env, depeche) -> None:
    source, root, partition = lake
    Lake(root).manifest_path("annotate", partition).write_text("{not json", encoding="utf-8")
    status = depeche("status", "--lake", str(root), env=harness_env)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    shown = " ".join(status.stdout.split())
    assert "damaged" in shown and "the next run redoes it" in shown
    assert "fetch" in shown  # the other stage-partitions are still shown
    summary = depeche_pipeline(sources=[str(source)], lake=str(root))
    assert summary.ok and "annotate" in ran(summary)


def test_damaged_lake_records_and_bad_paths_are_one_line(
    lake, harness_env, tmp_path, depeche
) -> None:
    source, root, partition = lake
    (root / "_settings.json").write_text("[1, 2", encoding="utf-8")
    bad_settings = depeche("run", str(source), "--lake", str(root), env=harness_env)
    assert bad_settings.returncode == 2, bad_settings.stderr
    assert "_settings.json" in bad_settings.stderr and "Traceback" not in bad_settings.stderr
    (root / "_settings.json").unlink()

    (root / "_partitions" / f"{partition}.json").write_text("{", encoding="utf-8")
    broken = depeche("run", str(source), "--lake", str(root), env=harness_env)
    lines = broken.stderr.strip().splitlines()
    assert broken.returncode == 1 and len(lines) == 1, broken.stderr
    assert f"{partition}.json" in lines[0] and "delete it" in lines[0]
    status = depeche("status", "--lake", str(root), env=harness_env)
    assert status.returncode == 1 and "Traceback" not in status.stderr
    assert "partition record" in " ".join(status.stdout.split())

    a_file = tmp_path / "lake.txt"
    a_file.write_text("not a lake", encoding="utf-8")
    for command in (["run", str(source)], ["status"], ["rerun", "--failed"]):
        result = depeche(*command, "--lake", str(a_file), env=harness_env)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert str(a_file) in result.stderr


def test_leftover_temporary_files_are_cleared_by_the_next_run(lake) -> None:
    source, root, partition = lake
    leftover = root / "_manifests" / "clean" / f".{partition}.json.0123abcd.tmp"
    leftover.write_text("half", encoding="utf-8")
    assert depeche_pipeline(sources=[str(source)], lake=str(root), verify=True).ok
    assert not leftover.exists()


def test_exit_codes_of_user_errors_and_bounded_workers(lake, harness_env, depeche) -> None:
    source, root, _ = lake
    unknown = depeche(
        "rerun", "--failed", "--partition", "nope", "--lake", str(root), env=harness_env
    )
    assert unknown.returncode == 2, unknown.stderr  # a usage error, not "the lake is busy"
    assert unknown.stderr.strip().splitlines() == [f"depeche: no partition 'nope' in {root}"]
    too_many = depeche(
        "run", str(source), "--lake", str(root), "--n-process", "1000", env=harness_env
    )
    assert too_many.returncode == 2 and "n-process" in too_many.stderr, too_many.stderr
    # a value remembered by an older version is refused in one line, naming the setting
    (root / "_settings.json").write_text('{"n_process": 1000}', encoding="utf-8")
    remembered = depeche("run", str(source), "--lake", str(root), env=harness_env)
    assert remembered.returncode == 2 and "n_process" in remembered.stderr, remembered.stderr
    assert "_settings.json" in remembered.stderr and "delete it" in remembered.stderr
    assert "Traceback" not in remembered.stderr


def test_records_of_an_older_depeche_and_non_object_records(lake, harness_env, depeche) -> None:
    import json
    import os

    source, root, partition = lake
    store = Lake(root)
    assert all(m.seconds > 0 for m in store.manifests())  # timings are kept
    # an older depeche kept item paths relative to the working folder (the project's)
    record = root / "_partitions" / f"{partition}.json"
    spec = json.loads(record.read_text(encoding="utf-8"))
    spec["items"] = [[os.path.relpath(p, PROJECT), line, sha] for p, line, sha in spec["items"]]
    record.write_text(json.dumps(spec), encoding="utf-8")
    again = depeche("run", str(source), "--lake", str(root), env=harness_env)
    assert again.returncode == 0 and "0 new" in again.stdout, again.stdout + again.stderr
    # valid JSON that is not an object: damaged, in one line, never a traceback
    store.manifest_path("clean", partition).write_text("[]", encoding="utf-8")
    status = depeche("status", "--lake", str(root), env=harness_env)
    assert status.returncode == 1 and "Traceback" not in status.stderr, status.stderr
    record.write_text("null", encoding="utf-8")
    broken = depeche("run", str(source), "--lake", str(root), env=harness_env)
    assert broken.returncode == 1 and len(broken.stderr.strip().splitlines()) == 1, broken.stderr


def test_a_model_that_is_not_installed_is_refused_before_the_lake_changes(
    lake, harness_env, depeche
) -> None:
    source, root, _ = lake
    settings_before = (root / "_settings.json").read_text(encoding="utf-8")
    state = depeche_pipeline(
        sources=[str(source)], lake=str(root), settings={"model": "fr_nope_x"}, return_state=True
    )
    summary = summary_of(state)
    assert state.is_failed() and summary.exit_code == 2
    assert "fr_nope_x" in summary.error and "not installed" in summary.error
    assert (root / "_settings.json").read_text(encoding="utf-8") == settings_before
    odd = depeche("run", str(source), "--lake", str(root), "--model", "foo", env=harness_env)
    assert odd.returncode == 2 and "Traceback" not in odd.stderr, odd.stderr
    assert len(odd.stderr.strip().splitlines()) == 1 and "model" in odd.stderr


def test_rerun_failed_verify_repairs_what_status_verify_finds(lake, harness_env, depeche):
    _, root, partition = lake
    clean_file = Lake(root).committed_file(CLEAN, partition)
    flip_byte(clean_file, clean_file.stat().st_size // 4)
    found = depeche("status", "--lake", str(root), "--verify", env=harness_env)
    assert found.returncode == 1 and "rerun --failed --verify" in found.stderr, found.stderr
    repaired = depeche("rerun", "--failed", "--verify", "--lake", str(root), env=harness_env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    after = depeche("status", "--lake", str(root), "--verify", env=harness_env)
    assert after.returncode == 0, after.stdout + after.stderr


def test_a_damaged_footer_the_sizes_miss_fails_the_marts_in_plain_words(
    lake, harness_env, depeche
) -> None:
    source, root, partition = lake
    clean_file = Lake(root).committed_file(CLEAN, partition)
    data = clean_file.read_bytes()
    # a byte in the middle of the footer (the metadata the catalog's views read), which
    # ends the file: <footer> <its length, 4 bytes> PAR1
    footer = int.from_bytes(data[-8:-4], "little")
    flip_byte(clean_file, len(data) - 8 - footer // 2)
    report = depeche("report", "--lake", str(root), env=harness_env)
    assert report.returncode == 1 and "depeche status --verify" in one_line(report)
    state = depeche_pipeline(sources=[str(source)], lake=str(root), return_state=True)
    summary = summary_of(state)
    assert state.is_failed() and summary.marts is not None
    assert f"depeche status --verify --lake {root}" in summary.marts.message
    repaired = depeche_pipeline(sources=[str(source)], lake=str(root), verify=True)
    assert repaired.ok and "clean" in ran(repaired)


def flip_byte(path: Path, offset: int) -> None:
    """Change the byte at `offset` of `path` in place: same size, another content."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def flip(path: Path, at: float) -> None:
    """Change the byte a share `at` of the way into `path`."""
    flip_byte(path, int(path.stat().st_size * at))


def verified(depeche, root: Path, env: dict[str, str]):
    """`depeche status --verify` of the lake at `root`."""
    return depeche("status", "--lake", str(root), "--verify", env=env)


def one_line(result) -> str:
    """The one line a command printed on stderr, with no traceback."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("repair", [("run",), ("run", "--verify"), ("report",)])
def test_a_mart_changed_in_place_is_named_by_verify_and_redone(
    lake, harness_env, depeche, repair
) -> None:
    source, root, _ = lake
    mart = root / "marts" / "cooccurrence" / "part-0.parquet"
    before = pq.read_table(mart)
    flip(mart, 0.5)
    found = verified(depeche, root, harness_env)
    assert found.returncode == 1, found.stdout + found.stderr
    shown = " ".join(found.stdout.split())
    assert "all marts: damaged: marts/cooccurrence/part-0.parquet changed" in shown
    sources = [str(source)] if repair[0] == "run" else []
    done = depeche(*repair, *sources, "--lake", str(root), env=harness_env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert pq.read_table(mart).equals(before)
    after = verified(depeche, root, harness_env)
    assert after.returncode == 0, after.stdout + after.stderr


def test_a_changed_catalog_and_report_are_found_by_verify_and_rewritten(
    lake, harness_env, depeche
) -> None:
    source, root, _ = lake
    catalog, report = Lake(root).catalog_path, Lake(root).report_path
    flip(catalog, 0.3)
    flip(report, 0.5)
    plain = depeche("status", "--lake", str(root), env=harness_env)
    assert plain.returncode == 0, plain.stdout  # sizes unchanged: only hashes tell
    found = verified(depeche, root, harness_env)
    assert found.returncode == 1, found.stdout + found.stderr
    shown = " ".join(found.stdout.split())
    assert "depeche.duckdb: damaged: depeche.duckdb changed" in shown
    assert "reports/index.html: damaged: reports/index.html changed" in shown
    again = depeche("run", str(source), "--lake", str(root), env=harness_env)
    assert again.returncode == 0, again.stdout + again.stderr
    after = verified(depeche, root, harness_env)
    assert after.returncode == 0, after.stdout + after.stderr


def test_deleted_reports_are_redone_by_the_next_run(lake, harness_env, depeche) -> None:
    source, root, partition = lake
    checks = pq.read_table(root / "reports" / "checks").to_pylist()
    gx = sorted(p.relative_to(root) for p in (root / "reports" / "gx").rglob("*.json"))
    shutil.rmtree(root / "reports")
    status = depeche("status", "--lake", str(root), env=harness_env)
    assert status.returncode == 1, status.stdout + status.stderr
    shown = " ".join(status.stdout.split())
    for stage in STAGES:
        assert f"{partition} {stage}: damaged: reports/checks/{stage}/batch=" in shown, stage
    assert f"reports/gx/{partition}.json is missing" in shown
    report = depeche("report", "--lake", str(root), env=harness_env)
    assert report.returncode == 0, report.stdout + report.stderr
    said = " ".join(report.stdout.split())  # what the marts no longer count is said
    assert f"{partition} fetch: damaged: reports/checks/fetch/batch=" in said
    assert "redo with depeche rerun --failed" in said
    again = depeche("run", str(source), "--lake", str(root), env=harness_env)
    assert again.returncode == 0, again.stdout + again.stderr
    key = ("stage", "table_name", "expectation", "column_name", "success")
    redone = pq.read_table(root / "reports" / "checks").to_pylist()
    assert sorted(tuple(r[k] for k in key) for r in redone) == sorted(
        tuple(r[k] for k in key) for r in checks
    )
    assert sorted(p.relative_to(root) for p in (root / "reports" / "gx").rglob("*.json")) == gx
    with duckdb.connect(str(root / "depeche.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM checks").fetchone()[0] == len(checks)
    after = verified(depeche, root, harness_env)
    assert after.returncode == 0, after.stdout + after.stderr


def test_a_folder_where_the_catalog_goes_is_one_line(lake, harness_env, depeche) -> None:
    source, root, _ = lake
    catalog = Lake(root).catalog_path
    catalog.unlink()
    catalog.mkdir()
    report = depeche("report", "--lake", str(root), env=harness_env)
    assert report.returncode == 1 and f"{catalog} is a folder" in one_line(report)
    run = depeche("run", str(source), "--lake", str(root), env=harness_env)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert f"marts: {catalog} is a folder" in " ".join(run.stderr.split())
    assert not list(root.glob(".depeche.duckdb.*"))  # nothing half-built left
    catalog.rmdir()
    healed = depeche("report", "--lake", str(root), env=harness_env)
    assert healed.returncode == 0, healed.stderr


@pytest.fixture
def read_only(lake):
    """The lake, seen through a read-only bind mount: a real read-only file system
    (chmod would not stop root, which the tests run as)."""
    _, root, _ = lake
    mount = root.parent / "read-only"
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(root), str(mount)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_read_only_lake_is_one_line(lake, read_only, harness_env, depeche) -> None:
    source = lake[0]
    for command in (["report"], ["run", str(source)], ["rerun", "--failed"]):
        result = depeche(*command, "--lake", str(read_only), env=harness_env)
        line = one_line(result)
        assert result.returncode == 1, result.stderr
        assert "Read-only file system" in line and f"{read_only}/_lock" in line, line
    status = depeche("status", "--lake", str(read_only), "--verify", env=harness_env)
    assert status.returncode == 0, status.stdout + status.stderr  # reading needs no lock


def test_an_out_of_bounds_setting_is_refused_and_never_saved(lake, harness_env, depeche) -> None:
    source, root, _ = lake
    saved = (root / "_settings.json").read_text(encoding="utf-8")
    huge = "99999999999999999999999"
    given = depeche("run", str(source), "--lake", str(root), "--max-bytes", huge, env=harness_env)
    line = one_line(given)
    assert given.returncode == 2 and "--max-bytes" in line and "1000000000" in line, line
    assert (root / "_settings.json").read_text(encoding="utf-8") == saved
    # a value an older depeche saved is refused too, naming the setting and the file
    (root / "_settings.json").write_text(f'{{"max_bytes": {huge}}}', encoding="utf-8")
    remembered = depeche("run", str(source), "--lake", str(root), env=harness_env)
    line = one_line(remembered)
    assert remembered.returncode == 2 and "max_bytes" in line and "_settings.json" in line
    assert "delete it" in line
