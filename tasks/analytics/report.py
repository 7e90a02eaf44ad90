"""The lake's report: one self-contained HTML file with interactive charts and a map.

`report_data` reads the committed marts and the lake's status (through the storage
module and DuckDB); `render_report` turns them into HTML whose charts (`tasks.analytics.charts`)
are drawn by BokehJS, inlined with their data: no script, stylesheet, font, image or
map tile to fetch, so a browser opening the file makes no request.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
from bokeh.models import Model, Range1d
from bokeh.plotting import figure

from schemas import STAGES, marts
from tasks.analytics.charts import bar_chart, country_map, date_range, date_span, embed, time_chart
from tasks.lake.published import mart_files, published_partitions, sql_strings
from tasks.lake.storage import Lake
from tasks.records import StatusRow

LABEL_NAMES = {"PER": "people", "ORG": "organisations", "LOC": "places"}
TOP = 5
e = html.escape
# who the "most quoted" chart counts: people and organisations, not the media an article
# cites nor speakers of unknown kind (see `speaker_kind` in `quotes`)
WHO_SPEAKS = ("person", "organisation")


@dataclass
class ReportData:
    """What the report shows, read from the lake."""

    lake: str
    generated_at: str
    totals: dict[str, int]
    articles_per_day: list[tuple[date, int]]
    articles_coarse: list[tuple[str, str, int]]  # period, precision, articles
    outlets: list[tuple[str, int]]
    top_entities: dict[str, dict[str, list[tuple[date, int]]]]  # label → name → series
    pairs: list[tuple[str, int]]
    quality: dict[str, list[tuple[date, int]]]  # series name → per day
    speakers: list[tuple[str, int]] = field(default_factory=list)  # most quoted, with quotes
    status: list[StatusRow] = field(default_factory=list)
    marts_status: str = ""
    left_out: dict[str, str] = field(default_factory=dict)
    # outlet → per day, the share of men among the people it quotes, in percent
    masculinity: dict[str, list[tuple[date, int]]] = field(default_factory=dict)
    # outlet, then women, men, unknown named and quoted: the counts behind the rates
    voices: list[tuple[Any, ...]] = field(default_factory=list)
    countries: list[tuple[str, int]] = field(default_factory=list)  # articles per country


TOTAL_LABELS = {
    "partitions": "partitions",
    "published_partitions": "partitions published",
    "articles": "articles published",
    "mentions": "entity mentions",
    "entities": "distinct entities",
    "attributed_quotes": "quotes with a speaker",
    "outlets": "outlets",
    "quarantined": "rows quarantined",
    "failed_partitions": "partitions not published",
}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def _counted(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, int]]:
    """The rows of `sql`, a label and a count each, the count as an int."""
    return [(label, int(n)) for label, n in _rows(con, sql)]


def report_data(lake: Lake, generated_at: str) -> ReportData:
    """Everything the report shows, from the committed marts and the manifests."""
    included, left_out = published_partitions(lake)
    con = duckdb.connect()
    try:
        for mart in marts.MARTS:
            files = [lake.root / file for file in mart_files(lake, mart)]
            if files:
                con.execute(f"CREATE VIEW {mart.name} AS FROM read_parquet([{sql_strings(files)}])")
            else:  # no rows (a lake with no articles yet)
                con.register(mart.name, mart.schema.empty_table())
        totals = _totals(con)
        totals.update(partitions=len(included) + len(left_out))
        totals.update(published_partitions=len(included), failed_partitions=len(left_out))
        masculinity, voices = _voices(con)
        return ReportData(
            lake=str(lake.root),
            generated_at=generated_at,
            totals={key: int(totals[key]) for key in TOTAL_LABELS},
            articles_per_day=_counted(con, ARTICLES_PER_DAY),
            articles_coarse=[(p, kind, int(n)) for p, kind, n in _rows(con, ARTICLES_COARSE)],
            outlets=_counted(con, OUTLETS),
            top_entities={label: _top_entities(con, label) for label in LABEL_NAMES},
            pairs=_counted(con, PAIRS),
            quality=_series(con, QUALITY),
            speakers=_counted(con, MOST_QUOTED),
            status=lake.status(STAGES),
            marts_status=_marts_status(lake),
            left_out=left_out,
            masculinity=masculinity,
            voices=voices,
            countries=_counted(con, COUNTRIES),
        )
    finally:
        con.close()


SOURCES, MENTIONS = marts.SOURCES_DAILY.name, marts.MENTIONS_DAILY.name
SPEAKERS, QUALITY_DAILY = marts.QUOTES_BY_SPEAKER.name, marts.QUALITY_DAILY.name
# the totals read from the marts (the partitions' come from the manifests); the rows
# quarantined by every committed stage-partition are quality_daily's, not a reading of
# each partition's quarantine files again
TOTALS = f"""
    SELECT (SELECT coalesce(sum(articles), 0) FROM {SOURCES}) AS articles,
           (SELECT coalesce(sum(mentions), 0) FROM {MENTIONS}) AS mentions,
           (SELECT count(DISTINCT (label, name)) FROM {MENTIONS}) AS entities,
           (SELECT coalesce(sum(quotes), 0) FROM {SPEAKERS}) AS attributed_quotes,
           (SELECT count(DISTINCT outlet) FROM {SOURCES}) AS outlets,
           (SELECT coalesce(sum(quarantined), 0) FROM {QUALITY_DAILY}) AS quarantined
"""
ARTICLES_PER_DAY = f"""
    SELECT period, sum(articles) FROM {SOURCES} WHERE precision = 'day' GROUP BY 1 ORDER BY 1
"""
ARTICLES_COARSE = f"""
    SELECT coalesce(CASE precision WHEN 'year' THEN strftime(period, '%Y')
                    ELSE strftime(period, '%Y-%m') END, '—'), precision, sum(articles)
    FROM {SOURCES} WHERE precision <> 'day' GROUP BY 1, 2 ORDER BY 1
"""
OUTLETS = f"""
    SELECT outlet, sum(articles) AS n FROM {SOURCES} GROUP BY 1 ORDER BY n DESC, outlet LIMIT 15
"""
TOP_NAMES = f"""
    SELECT name FROM {MENTIONS} WHERE label = ? GROUP BY name
    ORDER BY sum(mentions) DESC, name LIMIT {TOP}
"""
MENTIONS_PER_DAY = f"""
    SELECT period, sum(mentions) FROM {MENTIONS}
    WHERE label = ? AND name = ? AND period IS NOT NULL GROUP BY 1 ORDER BY 1
"""
PAIRS = """
    SELECT name_a || ' — ' || name_b, articles FROM cooccurrence
    ORDER BY articles DESC, name_a, name_b LIMIT 12
"""
MOST_QUOTED = f"""
    SELECT speaker, quotes FROM {SPEAKERS} WHERE speaker_kind IN {WHO_SPEAKS}
    ORDER BY quotes DESC, speaker LIMIT 12
"""
# every country, for the map (the ranked bars show the first ones)
COUNTRIES = f"""
    SELECT country, sum(articles) AS n FROM {marts.PLACES_DAILY.name}
    WHERE country IS NOT NULL GROUP BY 1 ORDER BY n DESC, country
"""
QUALITY = f"""
    SELECT 'quarantined: ' || reason, day, sum(quarantined) FROM {marts.QUALITY_DAILY.name}
    WHERE reason IS NOT NULL GROUP BY 1, 2
    UNION ALL SELECT 'gates failed', day, sum(gates_failed) FROM {marts.QUALITY_DAILY.name}
    WHERE reason IS NULL GROUP BY 1, 2
    UNION ALL SELECT 'gates passed', day, sum(gates_passed) FROM {marts.QUALITY_DAILY.name}
    WHERE reason IS NULL GROUP BY 1, 2 ORDER BY 1, 2
"""
COUNTRY_BARS = 12
DATE_RANGE = "date-range"  # the slider narrowing the publication-date charts


def _totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    cursor = con.execute(TOTALS)
    names = [column[0] for column in cursor.description]
    row = cursor.fetchone() or ()
    return {name: int(value) for name, value in zip(names, row, strict=True)}


def _top_entities(con: duckdb.DuckDBPyConnection, label: str) -> dict[str, list[tuple[date, int]]]:
    """The `TOP` most mentioned names of a label, each with its mentions per day."""
    names = [row[0] for row in con.execute(TOP_NAMES, [label]).fetchall()]
    return {
        name: [(day, int(n)) for day, n in con.execute(MENTIONS_PER_DAY, [label, name]).fetchall()]
        for name in names
    }


def _series(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, list[tuple[date, int]]]:
    """Rows of a series name, a day and a value, as a series per name."""
    series: dict[str, list[tuple[date, int]]] = {}
    for name, day, value in _rows(con, sql):
        series.setdefault(name, []).append((day, int(value)))
    return series


def _marts_status(lake: Lake) -> str:
    manifest = lake.read_marts_manifest()
    if manifest is None:
        return "never made"
    status = str(manifest.status)
    return status + (f" at {manifest.finished_at[:19]} UTC" if manifest.finished_at else "")


# the outlets quoting the most people, their totals and their rate per day
VOICES_BY_OUTLET = f"""
    SELECT outlet, sum(mentioned_female), sum(mentioned_male), sum(mentioned_unknown),
           sum(quoted_female), sum(quoted_male), sum(quoted_unknown)
    FROM {marts.VOICES_DAILY.name} GROUP BY outlet
    ORDER BY sum(quoted_female + quoted_male + quoted_unknown) DESC,
             sum(mentioned_female + mentioned_male + mentioned_unknown) DESC, outlet
"""
MASCULINITY_PER_DAY = f"""
    SELECT period, round(100 * masculinity_quoted)::INT FROM {marts.VOICES_DAILY.name}
    WHERE outlet = ? AND precision = 'day' AND masculinity_quoted IS NOT NULL ORDER BY period
"""


def _voices(
    con: duckdb.DuckDBPyConnection,
) -> tuple[dict[str, list[tuple[date, int]]], list[tuple[Any, ...]]]:
    """Per outlet, the masculinity rate of the people quoted per day (the first `TOP`
    outlets by people quoted), and every outlet's counts, unknowns included."""
    voices = [
        tuple(int(n) if i else n for i, n in enumerate(row)) for row in _rows(con, VOICES_BY_OUTLET)
    ]
    masculinity = {
        row[0]: [
            (day, int(rate)) for day, rate in con.execute(MASCULINITY_PER_DAY, [row[0]]).fetchall()
        ]
        for row in voices[:TOP]
    }
    return {k: v for k, v in masculinity.items() if v}, voices


def _rate(men: int, women: int) -> str:
    return "–" if men + women == 0 else f"{men / (men + women):.0%}"


def voices_table(voices: Sequence[tuple[Any, ...]]) -> str:
    """Per outlet, the women, men and people of unknown gender named and quoted, and the
    masculinity rates (men / (men + women)): the unknowns shown beside the rate."""
    if not voices:
        return _empty("Women and men named and quoted")
    rows = "".join(
        f"<tr><td>{e(outlet)}</td><td>{nf}</td><td>{nm}</td><td>{nu}</td>"
        f"<td>{_rate(nm, nf)}</td><td>{qf}</td><td>{qm}</td><td>{qu}</td>"
        f"<td>{_rate(qm, qf)}</td></tr>"
        for outlet, nf, nm, nu, qf, qm, qu in voices
    )
    return (
        '<table id="voices"><tr><th rowspan="2">outlet</th><th colspan="4">people named</th>'
        '<th colspan="4">people quoted</th></tr><tr><th>women</th><th>men</th>'
        "<th>unknown</th><th>men / (men + women)</th><th>women</th><th>men</th>"
        f"<th>unknown</th><th>men / (men + women)</th></tr>{rows}</table>"
    )


def _empty(title: str) -> str:
    return f'<p class="empty">{e(title)}: nothing to show yet.</p>'


# -- the page ------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1360px;color:#222}
h1{font-size:24px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
.grid2{display:flex;flex-wrap:wrap;gap:16px}
.chart,.control{background:#fff;border:1px solid #e4e4e4;padding:4px}
dl.totals{display:flex;flex-wrap:wrap;gap:12px}
dl.totals div{border:1px solid #ddd;padding:8px 14px;border-radius:6px}
dl.totals dt{font-size:12px;color:#555}dl.totals dd{margin:0;font-size:22px;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px}
.failed,.damaged,.interrupted{color:#b00020;font-weight:600}.committed{color:#1b7a2f}
.warning{background:#fff4e5;border:1px solid #f0b46c;padding:8px 12px}.empty{color:#777}
"""
PAGE = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<title>depeche — {lake}</title><style>{style}</style>{scripts}</head>
<body>{body}</body></html>
"""
MAP_NOTE = (
    "<p>Countries are coloured by the articles naming one of their places (see "
    "docs/quotes-and-people.md, Where the news is); grey: none. "
    "Shapes: pygal_maps_world (LGPL-3.0-or-later).</p>"
)
VOICES_NOTE = (
    "<p>People whose gender the text does not give are left out of the rate and "
    "counted here as unknown (see docs/quotes-and-people.md, Women and men among the "
    "voices).</p>"
)
STATUS_HEAD = (
    '<table id="stages"><tr><th>partition</th><th>stage</th><th>status</th><th>in</th>'
    "<th>out</th><th>quarantined</th><th>when (UTC)</th><th>problem</th></tr>"
)


def render_report(data: ReportData) -> str:
    """The report as one HTML document (UTF-8; every value escaped), its charts drawn by
    BokehJS inlined in the page."""
    charts = report_charts(data)
    scripts, placed = embed({chart_id: chart for chart_id, chart in charts.items() if chart})
    shown = {
        chart_id: _placed(chart_id, placed[chart_id])
        if chart_id in placed
        else _empty(CHART_TITLES[chart_id])
        for chart_id in charts
    }
    body = "".join(section(data, shown) for section in SECTIONS)
    return PAGE.format(lake=e(data.lake), style=STYLE, scripts=scripts, body=body)


def _placed(chart_id: str, element: str) -> str:
    """A chart's element in a box the test and the style find by its class; the slider
    is a control, not a chart."""
    kind = "control" if chart_id == DATE_RANGE else "chart"
    return f'<div class="{kind}" id="{chart_id}">{element}</div>'


def report_charts(data: ReportData) -> dict[str, Model | None]:
    """Every chart by its id (None where there is nothing to show), the publication-date
    charts sharing one date range and its slider."""
    dated = {
        "chart-articles-per-day": {"articles": data.articles_per_day},
        "chart-masculinity": data.masculinity,
        **{f"chart-top-{label.lower()}": data.top_entities.get(label, {}) for label in LABEL_NAMES},
    }
    days = date_span(list(dated.values()))
    charts: dict[str, Model | None] = {
        chart_id: _time_chart(chart_id, series, days) for chart_id, series in dated.items()
    }
    charts[DATE_RANGE] = date_range(days) if any(charts.values()) else None
    charts["chart-quality"] = _time_chart("chart-quality", data.quality, date_span([data.quality]))
    bars = {
        "chart-outlets": data.outlets,
        "chart-cooccurrence": data.pairs,
        "chart-speakers": data.speakers,
        "chart-countries": data.countries[:COUNTRY_BARS],
    }
    for chart_id, values in bars.items():
        charts[chart_id] = (
            bar_chart(CHART_TITLES[chart_id], values, AXES[chart_id], chart_id) if values else None
        )
    charts["chart-map"] = (
        country_map(CHART_TITLES["chart-map"], dict(data.countries), "chart-map")
        if data.countries
        else None
    )
    return charts


def _time_chart(chart_id: str, series: dict[str, Any], days: Range1d) -> figure | None:
    """A chart over days, or None when no series has a value."""
    if not any(series.values()):
        return None
    x_label = X_AXES.get(chart_id, "publication date (UTC)")
    return time_chart(CHART_TITLES[chart_id], series, AXES[chart_id], chart_id, days, x_label)


CHART_TITLES = {
    "chart-articles-per-day": "Published articles per day",
    "chart-outlets": "Published articles per outlet",
    **{
        f"chart-top-{label.lower()}": f"Most mentioned {plural} over time"
        for label, plural in LABEL_NAMES.items()
    },
    "chart-cooccurrence": "Named together in the same article",
    "chart-speakers": "Most quoted people and organisations",
    "chart-map": "Attention by country",
    "chart-countries": "Attention by country: articles naming one of its places",
    "chart-masculinity": "Share of men among the people quoted, per outlet",
    "chart-quality": "Rows quarantined and gates, per day the gates ran",
    DATE_RANGE: "Publication dates shown",
}
# the time charts whose days are not publication days
X_AXES = {"chart-quality": "day the gates ran (UTC)"}
AXES = {
    "chart-articles-per-day": "articles",
    "chart-outlets": "articles",
    **{f"chart-top-{label.lower()}": "mentions" for label in LABEL_NAMES},
    "chart-cooccurrence": "articles naming both",
    "chart-speakers": "quotes (direct, partial and indirect; media left out)",
    "chart-countries": "articles (summed over days and outlets)",
    "chart-masculinity": "men / (men + women) quoted, %",
    "chart-quality": "rows or gates",
}


def _head(data: ReportData, shown: dict[str, str]) -> str:
    totals = "".join(
        f'<div><dt>{e(TOTAL_LABELS[key])}</dt><dd data-total="{e(key)}">{value}</dd></div>'
        for key, value in data.totals.items()
    )
    return (
        f"<h1>depeche — {e(data.lake)}</h1>"
        f"<p>Generated {e(data.generated_at)} (UTC) from the published tables and marts; "
        f"marts {e(data.marts_status)}.</p>"
        f'<h2>Totals</h2><dl class="totals" id="totals">{totals}</dl>{_left_out(data)}'
        f"{shown[DATE_RANGE]}"
    )


def _left_out(data: ReportData) -> str:
    if not data.left_out:
        return ""
    items = "".join(f"<li><code>{e(p)}</code>: {e(why)}</li>" for p, why in data.left_out.items())
    return (
        '<div class="warning" id="left-out"><strong>Not in the marts</strong> '
        f"(validation did not publish them):<ul>{items}</ul></div>"
    )


def _articles(data: ReportData, shown: dict[str, str]) -> str:
    coarse = ""
    if data.articles_coarse:
        rows = "".join(
            f"<tr><td>{e(p)}</td><td>{e(precision)}</td><td>{n}</td></tr>"
            for p, precision, n in data.articles_coarse
        )
        coarse = (
            "<p>Articles whose date is known only to the month or year are counted in "
            "their month or year, not on a day:</p><table><tr><th>period</th>"
            f"<th>precision</th><th>articles</th></tr>{rows}</table>"
        )
    return (
        '<h2>Articles</h2><div class="grid2">'
        f"{shown['chart-articles-per-day']}{shown['chart-outlets']}</div>{coarse}"
    )


def _entities(data: ReportData, shown: dict[str, str]) -> str:
    charts = "".join(shown[f"chart-top-{label.lower()}"] for label in LABEL_NAMES)
    return (
        f'<h2>People, organisations, places</h2><div class="grid2">{charts}'
        f"{shown['chart-cooccurrence']}{shown['chart-speakers']}</div>"
        f"<h2>Places</h2>{shown['chart-map']}{MAP_NOTE}{shown['chart-countries']}"
    )


def _voices_section(data: ReportData, shown: dict[str, str]) -> str:
    return (
        f"<h2>Women and men among the voices</h2>{shown['chart-masculinity']}"
        f"{VOICES_NOTE}{voices_table(data.voices)}"
    )


def _quality(data: ReportData, shown: dict[str, str]) -> str:
    rows = "".join(
        f"<tr><td>{e(r.partition)}</td><td>{e(r.stage)}</td>"
        f'<td class="{e(str(r.status))}">{e(str(r.status))}</td>'
        f"<td>{'' if r.rows_in is None else r.rows_in}</td>"
        f"<td>{'' if r.rows_out is None else r.rows_out}</td>"
        f"<td>{'' if r.quarantined is None else r.quarantined}</td>"
        f"<td>{e((r.when or '')[:19])}</td><td>{e(r.problem or '')}</td></tr>"
        for r in data.status
    )
    return (
        f"<h2>Data quality</h2>{shown['chart-quality']}"
        f"<h2>Latest run, stage by stage</h2>{STATUS_HEAD}{rows}</table>"
    )


# the page's sections, in order: each draws from the data and the placed charts
SECTIONS = (_head, _articles, _entities, _voices_section, _quality)
