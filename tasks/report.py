"""The lake's report: one self-contained HTML file with static SVG charts.

`report_data` reads the committed marts and the lake's status (through the storage
module and DuckDB); `render_report` turns them into HTML with no script, no
stylesheet, font or image to fetch: a browser opening it makes no request.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb

from schemas import QUARANTINE, STAGES
from schemas.marts import (
    MARTS,
    MENTIONS_DAILY,
    PLACES_DAILY,
    QUALITY_DAILY,
    QUOTES_BY_SPEAKER,
    SOURCES_DAILY,
    VOICES_DAILY,
)
from tasks.published import ALL, published_partitions
from tasks.records import StatusRow
from tasks.storage import Lake

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
LABEL_NAMES = {"PER": "people", "ORG": "organisations", "LOC": "places"}
TOP = 5
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
        for mart in MARTS:
            path = str(lake.committed_file(mart, ALL)).replace("'", "''")
            con.execute(f"CREATE VIEW {mart.name} AS FROM read_parquet('{path}')")
        quarantine = lake.published_files(QUARANTINE, [s.partition for s in lake.partitions()])
        quarantined = 0
        if quarantine:
            listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in quarantine)
            quarantined = con.execute(f"SELECT count(*) FROM read_parquet([{listed}])").fetchone()
            quarantined = int(quarantined[0])
        sources, mentions = SOURCES_DAILY.name, MENTIONS_DAILY.name
        speakers = QUOTES_BY_SPEAKER.name
        totals = {
            "partitions": len(included) + len(left_out),
            "published_partitions": len(included),
            "articles": _rows(con, f"SELECT coalesce(sum(articles), 0) FROM {sources}")[0][0],
            "mentions": _rows(con, f"SELECT coalesce(sum(mentions), 0) FROM {mentions}")[0][0],
            "entities": _rows(con, f"SELECT count(DISTINCT (label, name)) FROM {mentions}")[0][0],
            "attributed_quotes": _rows(
                con, f"SELECT coalesce(sum(quotes), 0) FROM {speakers}"
            ).pop()[0],
            "outlets": _rows(con, f"SELECT count(DISTINCT outlet) FROM {sources}")[0][0],
            "quarantined": quarantined,
            "failed_partitions": len(left_out),
        }
        per_day = _rows(
            con,
            f"SELECT period, sum(articles) FROM {sources} WHERE precision = 'day' "
            "GROUP BY 1 ORDER BY 1",
        )
        coarse = _rows(
            con,
            f"SELECT coalesce(CASE precision WHEN 'year' THEN strftime(period, '%Y') "
            f"ELSE strftime(period, '%Y-%m') END, '—'), precision, sum(articles) FROM {sources} "
            "WHERE precision <> 'day' GROUP BY 1, 2 ORDER BY 1",
        )
        outlets = _counted(
            con,
            f"SELECT outlet, sum(articles) AS n FROM {sources} GROUP BY 1 "
            "ORDER BY n DESC, outlet LIMIT 15",
        )
        top: dict[str, dict[str, list[tuple[date, int]]]] = {}
        for label in LABEL_NAMES:
            names = [
                row[0]
                for row in con.execute(
                    f"SELECT name FROM {mentions} WHERE label = ? GROUP BY name "
                    f"ORDER BY sum(mentions) DESC, name LIMIT {TOP}",
                    [label],
                ).fetchall()
            ]
            top[label] = {
                name: [
                    (row[0], int(row[1]))
                    for row in con.execute(
                        f"SELECT period, sum(mentions) FROM {mentions} WHERE label = ? "
                        "AND name = ? AND period IS NOT NULL GROUP BY 1 ORDER BY 1",
                        [label, name],
                    ).fetchall()
                ]
                for name in names
            }
        pairs = _counted(
            con,
            "SELECT name_a || ' — ' || name_b, articles FROM cooccurrence "
            "ORDER BY articles DESC, name_a, name_b LIMIT 12",
        )
        most_quoted = _counted(
            con,
            f"SELECT speaker, quotes FROM {speakers} WHERE speaker_kind IN {WHO_SPEAKS} "
            "ORDER BY quotes DESC, speaker LIMIT 12",
        )
        masculinity, voices = _voices(con)
        countries = _counted(
            con,
            f"SELECT country, sum(articles) AS n FROM {PLACES_DAILY.name} "
            "WHERE country IS NOT NULL GROUP BY 1 ORDER BY n DESC, country LIMIT 12",
        )
        quality: dict[str, list[tuple[date, int]]] = {}
        for series, day, value in _rows(
            con,
            f"SELECT 'quarantined: ' || reason, day, sum(quarantined) FROM {QUALITY_DAILY.name} "
            "WHERE reason IS NOT NULL GROUP BY 1, 2 "
            f"UNION ALL SELECT 'gates failed', day, sum(gates_failed) FROM {QUALITY_DAILY.name} "
            "WHERE reason IS NULL GROUP BY 1, 2 "
            f"UNION ALL SELECT 'gates passed', day, sum(gates_passed) FROM {QUALITY_DAILY.name} "
            "WHERE reason IS NULL GROUP BY 1, 2 ORDER BY 1, 2",
        ):
            quality.setdefault(series, []).append((day, int(value)))
    finally:
        con.close()
    manifest = lake.read_marts_manifest()
    marts_status = "never made" if manifest is None else str(manifest.status)
    if manifest is not None and manifest.finished_at:
        marts_status += f" at {manifest.finished_at[:19]} UTC"
    return ReportData(
        lake=str(lake.root),
        generated_at=generated_at,
        totals={key: int(value) for key, value in totals.items()},
        articles_per_day=[(d, int(n)) for d, n in per_day],
        articles_coarse=[(p, precision, int(n)) for p, precision, n in coarse],
        outlets=outlets,
        top_entities=top,
        pairs=pairs,
        quality=quality,
        speakers=most_quoted,
        status=lake.status(STAGES),
        marts_status=marts_status,
        left_out=left_out,
        masculinity=masculinity,
        voices=voices,
        countries=countries,
    )


# the outlets quoting the most people, their totals and their rate per day
VOICES_BY_OUTLET = f"""
    SELECT outlet, sum(mentioned_female), sum(mentioned_male), sum(mentioned_unknown),
           sum(quoted_female), sum(quoted_male), sum(quoted_unknown)
    FROM {VOICES_DAILY.name} GROUP BY outlet
    ORDER BY sum(quoted_female + quoted_male + quoted_unknown) DESC,
             sum(mentioned_female + mentioned_male + mentioned_unknown) DESC, outlet
"""
MASCULINITY_PER_DAY = f"""
    SELECT period, round(100 * masculinity_quoted)::INT FROM {VOICES_DAILY.name}
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


# -- charts ------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP_MARGIN, BOTTOM = 56, 150, 34, 48
e = html.escape


def _ticks(high: float, count: int = 4) -> list[int]:
    step = max(1, int(-(-high // count)))
    return list(range(0, int(high) + step, step))


def _empty(title: str) -> str:
    return f'<p class="empty">{e(title)}: nothing to show yet.</p>'


def time_chart(
    title: str,
    series: dict[str, Sequence[tuple[date, int]]],
    y_label: str,
    chart_id: str,
    x_label: str = "publication date (UTC)",
) -> str:
    """Lines with a point per value, dates on the x axis, one colour per series."""
    points = [(d, v) for values in series.values() for d, v in values]
    if not points:
        return _empty(title)
    first, last = min(d for d, _ in points), max(d for d, _ in points)
    if first == last:
        first, last = first - timedelta(days=1), last + timedelta(days=1)
    span = (last - first).days
    high = max(v for _, v in points) or 1
    y_ticks = _ticks(high)
    top_value = y_ticks[-1] or 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP_MARGIN - BOTTOM

    def x(day: date) -> float:
        return LEFT + inner_w * (day - first).days / span

    def y(value: float) -> float:
        return TOP_MARGIN + inner_h * (1 - value / top_value)

    parts = [_frame(title, chart_id)]
    for tick in y_ticks:
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + inner_w}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/><text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick}</text>'
        )
    steps = min(5, span)
    for i in range(steps + 1):
        day = first + timedelta(days=round(span * i / steps))
        parts.append(
            f'<text class="tick" x="{x(day):.1f}" y="{TOP_MARGIN + inner_h + 16}" '
            f'text-anchor="middle">{day.isoformat()}</text>'
        )
    parts.append(_axes(inner_w, inner_h, x_label, y_label))
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in values)
        if len(values) > 1:
            parts.append(
                f'<polyline class="mark" fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{coords}"/>'
            )
        for d, v in values:
            parts.append(
                f'<circle class="mark" cx="{x(d):.1f}" cy="{y(v):.1f}" r="3.5" '
                f'fill="{colour}"><title>{e(name)} {d.isoformat()}: {v}</title></circle>'
            )
        legend_y = TOP_MARGIN + 14 + 16 * index
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 12}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{colour}"/><text class="legend" x="{WIDTH - RIGHT + 26}" '
            f'y="{legend_y}">{e(_short(name, 19))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, int]], x_label: str, chart_id: str) -> str:
    """Horizontal bars, largest first, each labelled with its name and value."""
    if not bars:
        return _empty(title)
    left, height = 230, TOP_MARGIN + 22 * len(bars) + BOTTOM
    inner_w = WIDTH - left - 60
    high = max(v for _, v in bars) or 1
    parts = [_frame(title, chart_id, height)]
    for index, (name, value) in enumerate(bars):
        top = TOP_MARGIN + 22 * index
        width = inner_w * value / high
        parts.append(
            f'<text class="tick" x="{left - 8}" y="{top + 14}" text-anchor="end">'
            f"{e(_short(name, 30))}</text>"
            f'<rect class="mark" x="{left}" y="{top + 3}" width="{max(width, 1):.1f}" '
            f'height="15" fill="{PALETTE[0]}"><title>{e(name)}: {value}</title></rect>'
            f'<text class="value" x="{left + width + 6:.1f}" y="{top + 15}">{value}</text>'
        )
    bottom = TOP_MARGIN + 22 * len(bars)
    parts.append(
        f'<line class="axis" x1="{left}" x2="{left}" y1="{TOP_MARGIN}" y2="{bottom}"/>'
        f'<text class="axis-label" x="{left + inner_w / 2:.1f}" y="{bottom + 30}" '
        f'text-anchor="middle">{e(x_label)}</text></svg>'
    )
    return "".join(parts)


def _frame(title: str, chart_id: str, height: int = HEIGHT) -> str:
    return (
        f'<svg class="chart" id="{e(chart_id)}" role="img" aria-label="{e(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}"><text class="title" x="{WIDTH / 2}" y="18" '
        f'text-anchor="middle">{e(title)}</text>'
    )


def _axes(inner_w: float, inner_h: float, x_label: str, y_label: str) -> str:
    bottom = TOP_MARGIN + inner_h
    return (
        f'<line class="axis" x1="{LEFT}" x2="{LEFT + inner_w}" y1="{bottom}" y2="{bottom}"/>'
        f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP_MARGIN}" y2="{bottom}"/>'
        f'<text class="axis-label" x="{LEFT + inner_w / 2}" y="{bottom + 36}" '
        f'text-anchor="middle">{e(x_label)}</text>'
        f'<text class="axis-label" transform="translate(14 {TOP_MARGIN + inner_h / 2}) '
        f'rotate(-90)" text-anchor="middle">{e(y_label)}</text>'
    )


def _short(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the page ------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1360px;color:#222}
h1{font-size:24px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
.grid2{display:flex;flex-wrap:wrap;gap:16px}
svg.chart{background:#fff;border:1px solid #e4e4e4}
svg .title{font-size:14px;font-weight:600}svg .tick,svg .value{font-size:11px;fill:#444}
svg .legend{font-size:11px}svg .axis-label{font-size:12px;fill:#222}
svg .axis{stroke:#333}svg .grid{stroke:#eee}
dl.totals{display:flex;flex-wrap:wrap;gap:12px}
dl.totals div{border:1px solid #ddd;padding:8px 14px;border-radius:6px}
dl.totals dt{font-size:12px;color:#555}dl.totals dd{margin:0;font-size:22px;font-weight:600}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px}
.failed,.damaged,.interrupted{color:#b00020;font-weight:600}.committed{color:#1b7a2f}
.warning{background:#fff4e5;border:1px solid #f0b46c;padding:8px 12px}.empty{color:#777}
"""


def render_report(data: ReportData) -> str:
    """The report as one HTML document (UTF-8; every value escaped)."""
    totals = "".join(
        f'<div><dt>{e(TOTAL_LABELS[key])}</dt><dd data-total="{e(key)}">{value}</dd></div>'
        for key, value in data.totals.items()
    )
    left_out = ""
    if data.left_out:
        items = "".join(
            f"<li><code>{e(p)}</code>: {e(why)}</li>" for p, why in data.left_out.items()
        )
        left_out = (
            '<div class="warning" id="left-out"><strong>Not in the marts</strong> '
            f"(validation did not publish them):<ul>{items}</ul></div>"
        )
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
    entities = "".join(
        time_chart(
            f"Most mentioned {plural} over time",
            data.top_entities.get(label, {}),
            "mentions",
            f"chart-top-{label.lower()}",
        )
        for label, plural in LABEL_NAMES.items()
    )
    status_rows = "".join(
        f"<tr><td>{e(r.partition)}</td><td>{e(r.stage)}</td>"
        f'<td class="{e(str(r.status))}">{e(str(r.status))}</td>'
        f"<td>{'' if r.rows_in is None else r.rows_in}</td>"
        f"<td>{'' if r.rows_out is None else r.rows_out}</td>"
        f"<td>{'' if r.quarantined is None else r.quarantined}</td>"
        f"<td>{e((r.when or '')[:19])}</td><td>{e(r.problem or '')}</td></tr>"
        for r in data.status
    )
    sections = [
        f"<h1>depeche — {e(data.lake)}</h1>",
        f"<p>Generated {e(data.generated_at)} (UTC) from the published tables and marts; "
        f"marts {e(data.marts_status)}.</p>",
        f'<h2>Totals</h2><dl class="totals" id="totals">{totals}</dl>{left_out}',
        '<h2>Articles</h2><div class="grid2">',
        time_chart(
            "Published articles per day",
            {"articles": data.articles_per_day},
            "articles",
            "chart-articles-per-day",
        ),
        bar_chart("Published articles per outlet", data.outlets, "articles", "chart-outlets"),
        f"</div>{coarse}",
        f'<h2>People, organisations, places</h2><div class="grid2">{entities}',
        bar_chart(
            "Named together in the same article",
            data.pairs,
            "articles naming both",
            "chart-cooccurrence",
        ),
        bar_chart(
            "Most quoted people and organisations",
            data.speakers,
            "quotes (direct, partial and indirect; media left out)",
            "chart-speakers",
        ),
        "</div>",
        bar_chart(
            "Attention by country: articles naming one of its places",
            data.countries,
            "articles (summed over days and outlets)",
            "chart-countries",
        ),
        "<h2>Women and men among the voices</h2>",
        time_chart(
            "Share of men among the people quoted, per outlet",
            data.masculinity,
            "men / (men + women) quoted, %",
            "chart-masculinity",
        ),
        "<p>People whose gender the text does not give are left out of the rate and "
        "counted here as unknown (see docs/quotes-and-people.md, Women and men among the "
        "voices).</p>",
        voices_table(data.voices),
        "<h2>Data quality</h2>",
        time_chart(
            "Rows quarantined and gates, per day the gates ran",
            data.quality,
            "rows or gates",
            "chart-quality",
            "day the gates ran (UTC)",
        ),
        '<h2>Latest run, stage by stage</h2><table id="stages"><tr><th>partition</th>'
        "<th>stage</th><th>status</th><th>in</th><th>out</th><th>quarantined</th>"
        f"<th>when (UTC)</th><th>problem</th></tr>{status_rows}</table>",
    ]
    return (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        f"<title>depeche — {e(data.lake)}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )
