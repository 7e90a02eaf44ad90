"""Shared fixtures. The environment is set before Prefect or GX is imported, so no
test touches the user's Prefect home, sends telemetry, or writes to data/lake."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_PREFECT_HOME = tempfile.mkdtemp(prefix="depeche-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["GX_ANALYTICS_ENABLED"] = "False"
os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"  # as the CLI: INFO lines reach the API
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"

import pytest  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT / "data" / "sample"
CORPUS = PROJECT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def prefect_harness():
    """The real Prefect engine on a temporary database, once per session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def resources():
    """One set of the real model, language detector and GX suites for the session."""
    from tasks.execution.resources import Resources

    return Resources()


@pytest.fixture(scope="session")
def nlp(resources):
    """The real French model, as the annotate stage loads it."""
    from tasks.nlp.model import DEFAULT_MODEL

    return resources.model(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def suites(resources):
    """The real Great Expectations suites the gate runs."""
    return resources.suites()


@pytest.fixture(scope="session")
def language(resources):
    """The real language detector clean uses."""
    return resources.language_identifier()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The reference corpus beside the project; tests using it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"reference corpus not found at {CORPUS}: skipped, not failed")
    return CORPUS


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a `depeche` subprocess: its own Prefect home, no telemetry."""
    env = dict(os.environ)
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    env.pop("PREFECT_LOGGING_LEVEL", None)  # the CLI sets its own default
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="session")
def sample() -> Path:
    """The project's own sample corpus."""
    return SAMPLE


@pytest.fixture
def harness_env(prefect_harness, subprocess_env: dict[str, str]) -> dict[str, str]:
    """A subprocess environment that talks to the test harness's Prefect server, so a
    `depeche` subprocess does not start a temporary server of its own."""
    from prefect.settings import PREFECT_API_URL

    return {**subprocess_env, "PREFECT_API_URL": PREFECT_API_URL.value()}


CALM = (
    "Il pleuvait ce matin et les enfants jouaient dans la cour de l'école, sous le préau, "
    "pendant que le boulanger préparait son pain pour la journée."
)


@pytest.fixture
def calm_source(tmp_path: Path) -> Path:
    """A folder with one French article that names no entity at all."""
    folder = tmp_path / "calme"
    folder.mkdir()
    (folder / "pluie.txt").write_text(CALM, encoding="utf-8")
    return folder


DEPECHE = str(Path(sys.executable).with_name("depeche"))
"""The installed `depeche` command, run as a user would: a real subprocess."""


@pytest.fixture(scope="session")
def depeche():
    """Run `depeche ARGS` in the project folder; its CompletedProcess."""

    def run(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [DEPECHE, *args],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run


SNAPSHOT_TABLES = [
    "raw",
    "clean",
    "annotated/documents",
    "annotated/sentences",
    "annotated/entities",
    "annotated/quotes",
]


def snapshot(lake: Path) -> dict:
    """The tables of a lake as frames, without what differs between runs (fetch time)."""
    import pandas as pd

    tables = {}
    for name in SNAPSHOT_TABLES:
        frame = pd.read_parquet(lake / name).drop(columns=["fetched_at"], errors="ignore")
        frame["batch"] = frame["batch"].astype(str)
        tables[name] = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
    return tables


@pytest.fixture(scope="session")
def same_tables():
    """Assert a lake's tables equal a reference snapshot (an uninterrupted run's);
    the lake's snapshot."""
    import pandas as pd

    def check(lake: Path, reference: dict) -> dict:
        after = snapshot(lake)
        for name in SNAPSHOT_TABLES:
            pd.testing.assert_frame_equal(after[name], reference[name], check_dtype=False)
        return after

    return check


@pytest.fixture(scope="module")
def source(sample: Path, tmp_path_factory) -> Path:
    """Six wire stories of the sample, in a folder of their own."""
    folder = tmp_path_factory.mktemp("source")
    for path in sorted((sample / "wire").glob("*.txt"))[:6]:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def uninterrupted(prefect_harness, source: Path, tmp_path_factory) -> dict:
    """The tables of a run of `source` that nothing interrupted."""
    from flows.pipeline import depeche_pipeline

    lake = tmp_path_factory.mktemp("reference")
    assert depeche_pipeline(sources=[str(source)], lake=str(lake)).ok
    return snapshot(lake)


ANALYTICS_ARTICLES = {
    # a wire story known only to the month: counted in February 2020, never on the 1st
    "01-paris.txt": "date 2020-02 (Paris)\n\nLe président Emmanuel Macron a reçu mardi à "
    "l’Élysée la chancelière Angela Merkel pour parler de l’Union européenne.\n\n« Nous devons "
    "avancer ensemble », a déclaré Emmanuel Macron devant la presse à Paris.\n\n"
    "Agence France-Presse\n",
    "02-lyon.txt": "date 2021-03-15 (Lyon)\n\nLe maire de Lyon, Grégory Doucet, a présenté "
    "lundi le budget de la ville devant le conseil municipal.\n\nLa Région "
    "Auvergne-Rhône-Alpes et la SNCF participeront au financement du nouveau tramway, selon "
    "Emmanuel Macron.\n\nAgence France-Presse\n",
    "03-calme.txt": CALM + "\n",  # no entity, no date
    "04-web.jsonl": '{"url": "https://www.lemonde.fr/politique/article/2021/03/15/budget.html", '
    '"title": "Le budget", "date": "2021-03-15", "source": "Le Monde", "text": "Emmanuel '
    "Macron et Angela Merkel se sont entretenus lundi à Berlin de la relance européenne. La "
    "Commission européenne suivra le dossier de près, a précisé l'Élysée.\"}\n",
    "05-vide.txt": "",  # quarantined by fetch: empty
}
FAILING_ARTICLE = (
    "Il faisait beau hier et les oiseaux chantaient dans le jardin, sous les arbres, pendant "
    "que le jardinier arrosait les fleurs pour la journée.\n"
)


@pytest.fixture(scope="session")
def analytics_lake(prefect_harness, tmp_path_factory) -> Path:
    """A small lake made by the real flow for the marts and the report: four articles
    published (one dated to the month only, one without entity or date, one empty file
    quarantined), then a partition of one article without entities that fails
    validation (the default allows at most half)."""
    from flows.pipeline import depeche_pipeline

    root = tmp_path_factory.mktemp("analytics")
    published, failing = root / "depeches", root / "sans-entites"
    published.mkdir()
    failing.mkdir()
    for name, text in ANALYTICS_ARTICLES.items():
        (published / name).write_text(text, encoding="utf-8")
    (failing / "soleil.txt").write_text(FAILING_ARTICLE, encoding="utf-8")
    lake = root / "lake"
    assert depeche_pipeline(sources=[str(published)], lake=str(lake)).ok
    state = depeche_pipeline(sources=[str(failing)], lake=str(lake), return_state=True)
    assert state.is_failed()
    return lake
