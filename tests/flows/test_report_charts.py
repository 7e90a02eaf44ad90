"""The report's charts as Bokeh models, and the country shapes of its map, without a
browser: legends that hide a series, tooltips, the shared date range, the map's
colours, and shapes where their countries are."""

from __future__ import annotations

import datetime as dt
from statistics import mean

import pycountry
from bokeh.models import CustomJS, HoverTool, Legend, Range1d

from tasks.analytics.charts import bar_chart, country_map, date_range, date_span, day_ms, time_chart
from tasks.analytics.report import DATE_RANGE, ReportData, render_report, report_charts
from tasks.analytics.world import _path_rings, country_shapes

DAY = dt.date(2026, 1, 1)


def lake_report(**shown: object) -> ReportData:
    """What a lake with nothing published shows, but for `shown`."""
    nothing = {key: [] for key in ("articles_per_day", "articles_coarse", "outlets", "pairs")}
    return ReportData(
        lake="lac",
        generated_at="2026-01-01T00:00:00+00:00",
        totals={},
        top_entities={},
        quality={},
        **{**nothing, **shown},  # type: ignore[arg-type]
    )


def centre(code: str) -> tuple[float, float]:
    """The mean of a country's largest ring (map units, y down)."""
    ring = max(country_shapes()[code], key=len)
    return mean(x for x, _ in ring), mean(y for _, y in ring)


def test_every_country_has_a_shape_where_it_lies() -> None:
    shapes = country_shapes()
    assert {"FR", "DE", "HU", "RS", "MM", "JM", "SS", "US", "BR", "LU"} <= set(shapes)
    assert all(shapes[code] for code in ("FR", "HU", "LU", "MC", "VA"))  # a dot at least
    unknown = {c for c in shapes if pycountry.countries.get(alpha_2=c) is None}
    assert unknown <= {"XK"}  # Kosovo, which ISO 3166 has not coded
    france = centre("FR")
    assert france[0] < centre("DE")[0] and france[1] < centre("ES")[1]  # west, north of them
    assert centre("BR")[1] > centre("US")[1] and centre("JP")[0] > centre("CN")[0]
    # thinned to what the report needs
    assert sum(len(ring) for rings in shapes.values() for ring in rings) < 30_000


def test_a_path_is_read_step_by_step_and_closed_rings_apart() -> None:
    rings = list(_path_rings("m 10,10 l 5,0 h 5 v 5 c 1,1 2,2 -10,0 z m 100,0 l 1,1 1,2 z"))
    assert rings[0] == [(10, 10), (15, 10), (20, 10), (20, 15), (10, 15)]
    # after a close the pen is back at the ring's start: the next move is from there
    assert rings[1] == [(110, 10), (111, 11), (112, 13)]


def test_a_time_chart_has_a_legend_that_hides_a_series_and_tooltips() -> None:
    series = {"Le Monde": [(DAY, 60), (DAY + dt.timedelta(days=1), 70)], "Reuters": [(DAY, 50)]}
    days = date_span([series])
    chart = time_chart("Share of men", series, "%", "chart-x", days)
    (legend,) = chart.select(type=Legend)
    assert legend.click_policy == "hide"
    assert [item.label.value for item in legend.items] == ["Le Monde", "Reuters"]
    (hover,) = chart.select(type=HoverTool)
    assert len(hover.renderers) == 2 and ("", "@series") in hover.tooltips
    assert chart.x_range is days
    assert days.start == day_ms(DAY - dt.timedelta(days=1))
    assert days.end == day_ms(DAY + dt.timedelta(days=2))


def test_the_date_range_slider_moves_both_ends_of_the_range() -> None:
    days = Range1d(0, 10 * 86_400_000)
    slider = date_range(days)
    links = slider.js_property_callbacks["change:value"]
    assert all(isinstance(link, CustomJS) and link.args["other"] is days for link in links)
    assert sorted(link.code for link in links) == [
        "other.end = this.value[1]",
        "other.start = this.value[0]",
    ]


def test_bars_are_ranked_largest_on_top_with_their_value_in_the_tooltip() -> None:
    chart = bar_chart("Outlets", [("Le Monde", 9), ("Reuters", 3)], "articles", "chart-o")
    assert list(chart.y_range.factors) == ["Reuters", "Le Monde"]  # drawn bottom up
    (hover,) = chart.select(type=HoverTool)
    assert ("articles", "@value") in hover.tooltips


def test_the_map_colours_each_country_by_its_articles() -> None:
    chart = country_map("Attention", {"FR": 7, "CA": 2}, "chart-map")
    data = chart.renderers[0].data_source.data
    articles = dict(zip(data["country"], data["articles"], strict=True))
    assert articles["FR"] == 7 and articles["CA"] == 2 and articles["DE"] == 0
    mapper = chart.renderers[0].glyph.fill_color.transform
    assert mapper.low == 1 and mapper.high == 7  # a country no article names stays grey


def test_empty_charts_are_left_out_and_the_slider_only_with_dated_charts() -> None:
    data = lake_report(outlets=[("Le Monde", 1)])
    charts = report_charts(data)
    assert charts["chart-outlets"] is not None
    assert charts[DATE_RANGE] is None and charts["chart-map"] is None
    assert charts["chart-articles-per-day"] is None


def test_a_lake_with_nothing_to_chart_gets_a_page_without_bokeh() -> None:
    empty = lake_report()
    page = render_report(empty)
    assert "<script" not in page and 'class="chart"' not in page
    assert "Published articles per outlet: nothing to show yet." in page
