"""The report's charts, drawn with Bokeh: lines over dates, ranked bars, a world map.

Each builder returns a Bokeh figure named after its chart id (the page and its test
find it by that name). Every chart has tooltips; a chart of several series has a
legend whose click hides a series; the charts over publication dates share one x
range, which `date_range` narrows. `embed` inlines BokehJS, so the page fetches nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from bokeh.document import Document
from bokeh.embed import components
from bokeh.embed.bundle import bundle_for_objs_and_resources
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    DateRangeSlider,
    HoverTool,
    Legend,
    LinearColorMapper,
    Model,
    Range1d,
)
from bokeh.palettes import Blues9
from bokeh.plotting import figure
from bokeh.resources import INLINE

from tasks.analytics.world import country_shapes

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
WIDTH, HEIGHT = 660, 300
BAR_ROW, BAR_FRAME = 24, 90
MAP_WIDTH, MAP_HEIGHT = 900, 470
NO_ATTENTION = "#eeeeee"
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"
DAY_MS = 86_400_000


def day_ms(day: date) -> float:
    """A day as Bokeh's datetime axis counts it: milliseconds since 1970, UTC midnight."""
    return datetime.combine(day, time(), tzinfo=UTC).timestamp() * 1000


def date_span(series: Sequence[Mapping[str, Sequence[tuple[date, int]]]]) -> Range1d:
    """One x range over every day the given charts show, a day of margin either side."""
    days = [d for chart in series for values in chart.values() for d, _ in values]
    first, last = (min(days), max(days)) if days else (date(1970, 1, 1),) * 2
    return Range1d(day_ms(first - timedelta(days=1)), day_ms(last + timedelta(days=1)))


def date_range(x_range: Range1d) -> DateRangeSlider:
    """A slider whose two ends narrow every chart sharing `x_range`."""
    slider = DateRangeSlider(
        title="Publication dates shown",
        start=x_range.start,
        end=x_range.end,
        value=(x_range.start, x_range.end),
        step=1,
        width=WIDTH,
        name="date-range",
    )
    slider.js_link("value", x_range, "start", attr_selector=0)
    slider.js_link("value", x_range, "end", attr_selector=1)
    return slider


def time_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[date, int]]],
    y_label: str,
    chart_id: str,
    x_range: Range1d,
    x_label: str = "publication date (UTC)",
) -> figure:
    """A line and a point per value for each series, one colour each, a legend that hides
    a series when clicked and a tooltip on every point."""
    chart = _figure(title, chart_id, x_axis_type="datetime", x_range=x_range)
    chart.xaxis.axis_label, chart.yaxis.axis_label = x_label, y_label
    points, items = [], []
    # a series with no dated value (all its rows month- or un-dated) has no mark to show
    drawn = {name: values for name, values in series.items() if values}
    for index, (name, values) in enumerate(drawn.items()):
        source = ColumnDataSource(
            {
                "day": [day_ms(d) for d, _ in values],
                "value": [v for _, v in values],
                "series": [name] * len(values),
            }
        )
        colour = PALETTE[index % len(PALETTE)]
        line = chart.line("day", "value", source=source, color=colour, line_width=2)
        dots = chart.scatter("day", "value", source=source, color=colour, size=7)
        points.append(dots)
        items.append((name, [line, dots]))
    legend = Legend(items=items, click_policy="hide", title="click to hide")
    chart.add_layout(legend, "right")
    chart.add_tools(
        HoverTool(
            renderers=points,
            tooltips=[("", "@series"), ("day", "@day{%F}"), (y_label, "@value")],
            formatters={"@day": "datetime"},
        )
    )
    return chart


def bar_chart(title: str, bars: Sequence[tuple[str, int]], x_label: str, chart_id: str) -> figure:
    """Horizontal bars, largest on top, the value in the tooltip."""
    names = [name for name, _ in bars]
    chart = _figure(
        title,
        chart_id,
        y_range=list(reversed(names)),
        height=BAR_FRAME + BAR_ROW * len(bars),
    )
    source = ColumnDataSource({"name": names, "value": [v for _, v in bars]})
    chart.hbar(y="name", right="value", height=0.7, source=source, color=PALETTE[0])
    chart.x_range.start = 0
    chart.xaxis.axis_label = x_label
    chart.add_tools(HoverTool(tooltips=[("", "@name"), (x_label, "@value")]))
    return chart


def country_map(title: str, attention: Mapping[str, int], chart_id: str) -> figure:
    """A world map, each country coloured by the articles naming one of its places."""
    shapes = country_shapes()
    codes = [code for code in sorted(shapes) if shapes[code]]
    source = ColumnDataSource(
        {
            "xs": [_parts(shapes[code], 0, 1) for code in codes],
            "ys": [_parts(shapes[code], 1, -1) for code in codes],
            "country": codes,
            "articles": [attention.get(code, 0) for code in codes],
        }
    )
    mapper = LinearColorMapper(
        palette=list(reversed(Blues9))[2:],
        low=1,
        high=max([*attention.values(), 1]),
        low_color=NO_ATTENTION,
    )
    chart = _figure(title, chart_id, width=MAP_WIDTH, height=MAP_HEIGHT, match_aspect=True)
    chart.patches(
        "xs",
        "ys",
        source=source,
        line_color="#999999",
        line_width=0.4,
        fill_color={"field": "articles", "transform": mapper},
    )
    chart.add_layout(ColorBar(color_mapper=mapper, title="articles"), "right")
    chart.axis.visible = False
    chart.grid.visible = False
    chart.add_tools(HoverTool(tooltips=[("country", "@country"), ("articles", "@articles")]))
    return chart


def _parts(rings: Sequence[Sequence[tuple[float, float]]], axis: int, sign: int) -> np.ndarray:
    """One coordinate of a country's rings, NaN between rings (Bokeh's patches draw each
    part apart), as an array: Bokeh sends arrays as binary, not as JSON numbers."""
    values: list[float] = []
    for ring in rings:
        values.extend(sign * point[axis] for point in ring)
        values.append(math.nan)
    return np.array(values[:-1], dtype=np.float32)


def _figure(title: str, chart_id: str, **options: object) -> figure:
    options = {"width": WIDTH, "height": HEIGHT, **options}
    chart = figure(title=title, name=chart_id, tools=TOOLS, toolbar_location="above", **options)
    chart.title.text_font_size = "14px"
    return chart


def embed(charts: Mapping[str, Model]) -> tuple[str, dict[str, str]]:
    """BokehJS (only the parts these charts use) and their data as inline scripts, and
    the element that places each chart in the page, by chart id."""
    if not charts:  # a lake with nothing published yet: no chart, no BokehJS
        return "", {}
    document = Document()
    with document.models.freeze():  # one walk over every model, not one per chart added
        for chart in charts.values():
            document.add_root(chart)
    script, divs = components(dict(charts))
    bundle = bundle_for_objs_and_resources(list(charts.values()), INLINE)
    return bundle.scripts() + script, divs
