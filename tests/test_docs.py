"""The docs site builds in strict mode, so every link between its pages, from the
README to them and back, and every anchor they name resolves; links to other sites
are not fetched, only their form checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

PROJECT = Path(__file__).resolve().parents[1]
DOCS = PROJECT / "docs"
LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)|<([a-z][a-z0-9+.-]*:[^>\s]*)>")


def build_site(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of the project in `project`, into `site`."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def pages() -> list[Path]:
    """The README and every page of the site."""
    return [PROJECT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_the_site_builds_strict_with_the_readme_as_its_home(tmp_path) -> None:
    built = build_site(PROJECT, tmp_path / "site")
    assert built.returncode == 0, built.stdout + built.stderr
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'id="two-commands"' in home and 'id="the-command-line"' in home
    assert 'href="lake/#verifying-the-lake"' in home  # the README's link, made the site's
    for page in DOCS.glob("*.md"):
        assert (tmp_path / "site" / page.stem / "index.html").is_file(), page.name


def copy_project(target: Path) -> Path:
    """What the site is built from, copied."""
    target.mkdir()
    shutil.copy(PROJECT / "mkdocs.yml", target)
    shutil.copy(PROJECT / "README.md", target)
    shutil.copytree(DOCS, target / "docs")
    return target


def break_link(path: Path, link: str, broken: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert link in text, f"{path.name} no longer links {link}: pick another link to break"
    path.write_text(text.replace(link, broken, 1), encoding="utf-8")


def test_a_missing_page_or_anchor_anywhere_fails_the_build(tmp_path) -> None:
    project = copy_project(tmp_path / "project")
    break_link(project / "README.md", "(docs/lake.md#verifying-the-lake)", "(docs/lake.md#nowhere)")
    break_link(project / "README.md", "(docs/sources.md)", "(docs/inputs.md)")
    break_link(
        project / "docs" / "data-dictionary.md",
        "(../README.md#the-command-line)",
        "(../README.md#the-commands)",
    )
    break_link(project / "docs" / "marts-and-report.md", "(performance.md)", "(speed.md)")
    with (project / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nThe [deployments](prefect.yaml) are no page of the site.\n")

    built = build_site(project, tmp_path / "site")

    assert built.returncode != 0
    said = built.stdout + built.stderr
    for problem in ("#nowhere", "inputs.md", "#the-commands", "speed.md", "prefect.yaml"):
        assert problem in said, said


def external_link_problems(markdown: str) -> list[str]:
    """Links to other sites that are not well formed: a scheme other than http,
    https or mailto, or a web address without a host or with a space."""
    problems = []
    for match in LINK_TARGET.finditer(markdown):
        target = match.group(1) or match.group(2)
        parts = urlsplit(target)
        if not parts.scheme:
            continue  # a page of the site: the build checks it
        if parts.scheme == "mailto":
            well_formed = "@" in parts.path
        else:
            well_formed = parts.scheme in ("http", "https") and bool(parts.hostname)
        if not well_formed:
            problems.append(target)
    return problems


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.name)
def test_links_to_other_sites_are_well_formed(page: Path) -> None:
    assert external_link_problems(page.read_text(encoding="utf-8")) == []


def test_a_malformed_link_to_another_site_is_found() -> None:
    markdown = (
        "[ok](https://spacy.io/models/fr#fr_core_news_sm) <https://prefect.io> "
        "[mail](mailto:press@example.org) [page](lake.md#verifying-the-lake) "
        "[no host](https:///docs) [typo](htps://example.org) <mailto:nobody> "
        "[script](javascript:alert(1))"
    )
    assert external_link_problems(markdown) == [
        "https:///docs",
        "htps://example.org",
        "mailto:nobody",
        "javascript:alert(1",
    ]
