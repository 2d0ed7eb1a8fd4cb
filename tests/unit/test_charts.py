"""The dashboards' SVG charts: scales and ticks, empty series, one point, large values,
escaping of labels, and colours that stand out against white."""

from __future__ import annotations

import re
from datetime import date
from xml.etree import ElementTree

import pytest

from gateway.web import charts
from gateway.web.charts import Series, bar_chart, compact_euros, line_chart, nice_ticks, scale

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))  # well-formed XML, or this raises


@pytest.mark.parametrize(("low", "high"), [(0, 1), (0, 7), (0, 137), (-5, 7), (0, 10**13),
                                           (3, 3), (0, 0), (-1_000, -10)])
def test_ticks_are_round_steps_that_cover_the_values_and_zero(low, high):
    ticks = nice_ticks(low, high)
    assert ticks[0] <= min(low, 0) and ticks[-1] >= max(high, 0)
    steps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() > 0
    assert 2 <= len(ticks) <= 12


def test_scale_maps_linearly_and_a_flat_domain_to_the_middle():
    assert scale(5, (0, 10), (100, 200)) == 150
    assert scale(0, (0, 10), (300, 100)) == 300  # y grows downwards
    assert scale(7, (7, 7), (0, 50)) == 25


def test_a_line_chart_is_an_image_with_its_title_description_and_a_point_per_value():
    series = [Series("Budget", [(date(2026, 1, 1), 100_000), (date(2026, 3, 1), 150_000)]),
              Series("Paid", [(date(2026, 1, 1), 0), (date(2026, 2, 1), 39_000)])]
    svg = _parsed(line_chart("budget", "Budget over time", "From January to March.", series,
                             compact_euros))
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "budget-title budget-desc"
    assert svg.find(f"{SVG}title").get("id") == "budget-title"
    assert svg.find(f"{SVG}desc").text == "From January to March."
    assert len(svg.findall(f"{SVG}path")) == 2
    tips = [c.find(f"{SVG}title").text for c in svg.iter(f"{SVG}circle")]
    assert "Paid, 2026-02-01: €390" in tips and len(tips) == 4
    # the later, bigger value is further right and higher up
    budget = [c for c in svg.iter(f"{SVG}circle") if c.find(f"{SVG}title").text.startswith("Budget")]
    assert float(budget[1].get("cx")) > float(budget[0].get("cx"))
    assert float(budget[1].get("cy")) < float(budget[0].get("cy"))


def test_an_empty_chart_says_so_and_one_point_is_drawn_in_the_middle():
    empty = _parsed(line_chart("e", "Nothing", "No data.", [Series("a", [])], empty_text="No data yet."))
    assert "No data yet." in "".join(empty.itertext()) and not list(empty.iter(f"{SVG}path"))
    assert "No exchange" in str(bar_chart("b", "t", "d", [], empty_text="No exchange"))
    one = _parsed(line_chart("o", "One", "One day.", [Series("a", [(date(2026, 5, 4), 10)])]))
    [circle] = one.iter(f"{SVG}circle")
    assert float(circle.get("cx")) == pytest.approx((96 + 720 - 16) / 2)


def test_large_amounts_fit_and_read_as_compact_euros():
    svg = str(bar_chart("big", "Paid", "d", [("A", [10**13]), ("B", [1])], fmt=compact_euros))
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert max(widths) <= 720 and min(widths) >= 1
    assert compact_euros(10**13) == "€100000M" and "€100000M" in svg  # the bar's value
    assert compact_euros(95_000) == "€950" and compact_euros(1_250_000) == "€12.5k"
    assert compact_euros(120_000_000) == "€1.2M" and compact_euros(-50_000) == "€-500"


def test_labels_and_titles_are_escaped():
    hostile = '<script>alert("x")</script> & "quotes"'
    svg = str(bar_chart('id"x', hostile, hostile, [(hostile, [3])], names=[hostile]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    _parsed(svg)
    line = str(line_chart("l", hostile, hostile, [Series(hostile, [(date(2026, 1, 1), 1)])]))
    assert "<script>" not in line
    _parsed(line)


def test_long_labels_are_cut_with_the_whole_label_in_a_tooltip():
    label = "Proximity, social economy and civil security"
    svg = _parsed(bar_chart("s", "Sectors", "d", [(label, [4])], label_width=140))
    text = next(t for t in svg.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None)
    assert text.find(f"{SVG}title").text == label
    assert text.find(f"{SVG}title").tail.endswith("…") and len(text.find(f"{SVG}title").tail) < len(label)


def test_two_series_get_a_legend_and_bars_of_their_own():
    svg = _parsed(bar_chart("m", "Money", "d", [("GREENMOB", [78_000, 39_000])],
                            names=["Committed", "Paid"], fmt=compact_euros))
    fills = [r.get("fill") for r in svg.iter(f"{SVG}rect")]
    assert fills.count(charts.PALETTE[0]) == 2 and fills.count(charts.PALETTE[1]) == 2
    assert {"Committed", "Paid"} <= set(svg.itertext())


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_every_colour_has_at_least_3_to_1_contrast_on_white_and_text_4_5():
    for colour in charts.PALETTE:
        assert 1.05 / (_luminance(colour) + 0.05) >= 3, colour
    assert 1.05 / (_luminance(charts.TEXT) + 0.05) >= 4.5
