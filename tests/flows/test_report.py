"""The report, opened in a real browser (Debian's chromium, driven by Playwright):
self-contained, no request leaves the page, no console error, every chart has marks,
a hovered mark shows its tooltip, and the totals it shows are what DuckDB finds in
the lake. The charts are Bokeh's, drawn on canvases: the test reads their marks
through BokehJS's own document, by the chart's name."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tasks.analytics.marts import connect_catalog
from tasks.analytics.report import ReportData, render_report
from tests.helpers import depeche

CHROMIUM = "/usr/bin/chromium"


def lake_totals(lake: Path) -> dict[str, int]:
    """The lake's totals, queried with DuckDB through its catalog."""
    con = connect_catalog(lake / "depeche.duckdb")
    try:

        def one(sql: str) -> int:
            return int(con.execute(sql).fetchall()[0][0])

        return {
            "articles": one("SELECT count(*) FROM documents"),
            "mentions": one("SELECT count(*) FROM entities"),
            "entities": one("SELECT count(DISTINCT (label, canonical)) FROM entities"),
            "attributed_quotes": one(
                "SELECT count(DISTINCT (doc_id, quote_id)) FROM quotes "
                "WHERE speaker_canonical IS NOT NULL"
            ),
            "outlets": one("SELECT count(DISTINCT outlet) FROM sources_daily"),
            "quarantined": one("SELECT count(*) FROM quarantine"),
            "published_partitions": one("SELECT count(DISTINCT batch) FROM documents"),
        }
    finally:
        con.close()


def lake_voices(lake: Path) -> dict[str, tuple[int, int, int]]:
    """Per outlet, the women, men and unknown people named, from the entities."""
    con = connect_catalog(lake / "depeche.duckdb")
    try:
        rows = con.execute(
            "SELECT outlet, sum(mentioned_female), sum(mentioned_male), sum(mentioned_unknown) "
            "FROM voices_daily GROUP BY outlet"
        ).fetchall()
        return {outlet: (int(f), int(m), int(u)) for outlet, f, m, u in rows}
    finally:
        con.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no {CHROMIUM}: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


# BokehJS has drawn every chart of the page
DRAWN = "() => window.Bokeh && Bokeh.index.roots.length > 0"
CHART = "Bokeh.documents.map((d) => d.get_model_by_name(id)).find((m) => m)"
# a chart's title and the rows its visible glyphs draw
MARKS = f"""(id) => {{
  const chart = {CHART};
  const drawn = chart.renderers.filter((r) => r.visible && r.data_source)
    .map((r) => r.data_source.get_length());
  return {{title: chart.title.text, rows: drawn.reduce((a, b) => a + b, 0)}};
}}"""
COLUMN = f"""([id, column]) => Array.from({CHART}.renderers[0].data_source.data[column])"""
DAYS = f"""(id) => Array.from({CHART}.renderers[0].data_source.data.day)
  .map((ms) => new Date(ms).toISOString().slice(0, 10))"""
MAP = ("country", "articles")
# every name the charts draw (their data's strings), one a line
DRAWN_TEXT = """() => Bokeh.documents.flatMap((d) => [...d.all_models])
  .filter((m) => m.data).flatMap((m) => Object.values(m.data).flatMap((c) => Array.from(c)))
  .filter((v) => typeof v === "string").join("\\n")"""
# where the middle of a bar is on the screen, with the bar's name and value
BAR = f"""(id) => {{
  const chart = {CHART};
  const view = Bokeh.index.find_one(chart);
  const data = chart.renderers[0].data_source.data;
  const box = view.canvas_view.el.getBoundingClientRect();
  return {{name: data.name[0], value: data.value[0],
          x: box.left + view.frame.x_scale.compute(data.value[0] / 2),
          y: box.top + view.frame.y_scale.compute(data.name[0])}};
}}"""


MODEL = "const model = (id) => Bokeh.documents.map((d) => d.get_model_by_name(id)).find((m) => m);"
# the slider's start moved to the middle of its span (BokehJS runs the links it
# triggers asynchronously: read the charts once the first has moved)
NARROW = f"""() => {{
  {MODEL}
  const slider = model("date-range");
  const [start, end] = slider.value;
  const middle = start + Math.round((end - start) / 2 / 86400000) * 86400000;
  slider.value = [middle, end];
  return middle;
}}"""
MOVED = (
    f"""(start) => {{ {MODEL} return model("chart-articles-per-day").x_range.start === start; }}"""
)
# where the time charts over publication dates start, and the quality chart
STARTS = f"""() => {{
  {MODEL}
  const charts = {{}};
  for (const box of document.querySelectorAll("div.chart")) {{
    const chart = model(box.id);
    const label = chart.below.find((m) => "axis_label" in m)?.axis_label ?? "";
    if (label.startsWith("publication")) charts[box.id] = chart.x_range.start;
  }}
  return {{charts, quality: model("chart-quality").x_range.start}};
}}"""


# the first entry of a chart's legend: its label, and whether its series is shown
LEGEND = f"""(id) => {{
  {MODEL}
  const legend = model(id).right.find((m) => "items" in m);
  const item = legend.items[0];
  return {{label: item.label.value, shown: item.renderers.every((r) => r.visible)}};
}}"""


def assert_hover_shows_a_tooltip(page, chart_id: str) -> None:
    """The mouse over the first bar of a chart: Bokeh's tooltip shows its name and value."""
    page.locator(f"#{chart_id}").scroll_into_view_if_needed()
    bar = page.evaluate(BAR, chart_id)
    page.mouse.move(bar["x"], bar["y"])
    tooltip = page.locator(".bk-tooltip-content").filter(has_text=bar["name"])
    tooltip.wait_for(state="visible", timeout=5_000)
    assert f"\t{bar['value']}" in tooltip.inner_text()
    page.mouse.move(0, 0)


@dataclass
class OpenedReport:
    """The report open in the browser, and what it tried to fetch or logged as errors."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def assert_quiet(self) -> None:
        assert self.requests == [] and self.errors == []


@pytest.fixture(scope="module")
def opened(analytics_lake, browser):
    url = (analytics_lake / "reports" / "index.html").resolve().as_uri()
    report = OpenedReport(browser.new_page(viewport={"width": 1400, "height": 900}))

    def route(r) -> None:
        if r.request.url == url:
            r.continue_()
        else:  # anything else would leave the page: record it and block it
            report.requests.append(r.request.url)
            r.abort()

    page = report.page
    page.route("**/*", route)
    page.on("console", lambda m: report.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: report.errors.append(str(e)))
    page.on("requestfailed", lambda r: report.requests.append(r.url) if r.url != url else None)
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_function(DRAWN)
    yield report
    page.close()


def test_every_chart_has_marks(opened, tmp_path) -> None:
    page = opened.page
    chart_ids = page.locator("div.chart").evaluate_all("(boxes) => boxes.map((b) => b.id)")
    assert len(chart_ids) == 11 and "chart-map" in chart_ids
    for chart_id in chart_ids:
        marks = page.evaluate(MARKS, chart_id)
        assert marks["rows"] > 0, f"{chart_id} has no marks"
        assert marks["title"]
    assert page.evaluate(MARKS, "chart-map")["rows"] > 200  # every country's shape
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    opened.assert_quiet()


def test_hovering_a_mark_shows_its_tooltip(opened) -> None:
    assert_hover_shows_a_tooltip(opened.page, "chart-outlets")
    assert_hover_shows_a_tooltip(opened.page, "chart-countries")
    opened.assert_quiet()


def test_the_date_range_narrows_the_publication_charts(opened) -> None:
    start = opened.page.evaluate(NARROW)
    opened.page.wait_for_function(MOVED, arg=start, timeout=5_000)
    moved = opened.page.evaluate(STARTS)
    assert moved["charts"] == {chart_id: start for chart_id in moved["charts"]}
    assert len(moved["charts"]) == 5  # articles, people, organisations, places, masculinity
    assert moved["quality"] != start  # the days the gates ran are not narrowed
    opened.assert_quiet()


def test_a_click_on_a_legend_entry_hides_its_series(opened) -> None:
    page, chart_id = opened.page, "chart-top-per"
    first = page.evaluate(LEGEND, chart_id)
    assert first["shown"]
    entry = page.locator(f"#{chart_id}").get_by_text(first["label"], exact=True)
    entry.click()
    page.wait_for_function(f"(id) => !({LEGEND})(id).shown", arg=chart_id, timeout=5_000)
    entry.click()  # and a second click shows it again
    page.wait_for_function(f"(id) => ({LEGEND})(id).shown", arg=chart_id, timeout=5_000)
    opened.assert_quiet()


def test_the_report_shows_the_lake(opened, analytics_lake) -> None:
    page = opened.page
    shown = {
        cell.get_attribute("data-total"): int(cell.inner_text())
        for cell in page.locator("[data-total]").all()
    }
    expected = lake_totals(analytics_lake)
    assert {key: shown[key] for key in expected} == expected
    assert shown["failed_partitions"] == 1 and shown["partitions"] == 2
    text = page.locator("body").inner_text()
    drawn = page.evaluate(DRAWN_TEXT)
    assert "Emmanuel Macron" in drawn and "Élysée" in drawn  # UTF-8, as written
    assert "Not in the marts" in text and "sans-entites-" in text
    assert "2021-03-15" in page.evaluate(DAYS, "chart-articles-per-day")
    assert "Emmanuel Macron" in page.evaluate(COLUMN, ["chart-speakers", "name"])
    assert "FR" in page.evaluate(COLUMN, ["chart-countries", "name"])  # Paris, Lyon…
    attention = dict(zip(*(page.evaluate(COLUMN, ["chart-map", c]) for c in MAP), strict=True))
    assert attention["FR"] > 0 and attention["FR"] == max(attention.values())
    opened.assert_quiet()


def test_the_voices_show_the_unknowns(opened, analytics_lake) -> None:
    """The masculinity rate per outlet, and beside it the counts with the unknowns."""
    voices = opened.page.locator("#voices").inner_text()
    assert "unknown" in voices and "men / (men + women)" in voices
    shown_outlets = {row.split("\t")[0] for row in voices.splitlines()[2:]}
    assert shown_outlets == set(lake_voices(analytics_lake))
    assert opened.page.evaluate(MARKS, "chart-masculinity")["rows"] > 0


def test_names_are_escaped_in_the_page() -> None:
    data = ReportData(
        lake="<lac>",
        generated_at="2026-01-01T00:00:00+00:00",
        totals={"articles": 1},
        articles_per_day=[(dt.date(2026, 1, 1), 1)],
        articles_coarse=[],
        outlets=[("<script>alert(1)</script>", 1)],
        top_entities={"PER": {"Zoé & <b>Léa</b>": [(dt.date(2026, 1, 1), 2)]}},
        pairs=[],
        quality={},
    )
    page = render_report(data)
    # names reach the page only escaped: in the HTML, and in the charts' data that
    # BokehJS unescapes itself
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert "<b>L" not in page and "&lt;b&gt;L" in page
    assert page.startswith('<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">')
    # BokehJS and the charts are inlined: no element of the page loads anything
    assert not re.search(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=", page)
    assert page.count("<script") >= 2  # BokehJS and the charts


def test_depeche_report_writes_the_report(analytics_lake, tmp_path, depeche_env) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(analytics_lake, lake, ignore=shutil.ignore_patterns("_lock"))
    (lake / "reports" / "index.html").unlink()
    done = depeche("report", "--lake", str(lake), env=depeche_env)
    assert done.returncode == 0, done.stderr
    assert "marts skipped" in done.stdout and "1 failed partitions" in done.stdout
    assert (lake / "reports" / "index.html").is_file()


@pytest.fixture
def depeche_env(subprocess_env):
    return subprocess_env


def test_the_run_has_a_markdown_artifact_with_the_totals(analytics_lake) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["depeche-lake"]))
        )
    ours = [a for a in artifacts if str(analytics_lake) in (a.data or "")]
    assert ours and all(a.type == "markdown" for a in ours)
    latest = max(ours, key=lambda a: a.created)
    assert "| articles | 4 |" in latest.data and "| failed partitions | 1 |" in latest.data
    assert str(analytics_lake / "reports" / "index.html") in latest.data
