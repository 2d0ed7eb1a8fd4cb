"""Charts as inline SVG, drawn on the server: a line chart for a series over time and
horizontal bar charts for breakdowns. No JavaScript, nothing fetched.

Each chart is an `<svg role="img" aria-labelledby="…">` with a `<title>` and a `<desc>`;
the page shows the same figures in a table beside it (the chart is a picture of the table,
never the only place a figure is). Every text is escaped here; callers pass translated
strings. Colours are from the Europa Component Library's palette, each at least 3:1 against
white (WCAG 1.4.11), and series are also told apart by their dash pattern, not by colour only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

# EC blue, dark green, dark orange, dark grey, purple: ≥ 3:1 on white.
PALETTE = ("#004494", "#467a39", "#a64200", "#404040", "#6b3d99")
DASHES = ("", "6 3", "2 3", "10 3 2 3", "1 2")
TEXT = "#262626"
GRID = "#d9d9d9"
FONT = 'font-family="Arial, sans-serif" font-size="12"'

Format = Callable[[int], str]


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[date, int]]


def nice_ticks(low: int, high: int, count: int = 5) -> list[int]:
    """Round tick values covering [low, high] (low ≤ 0 ≤ high is kept: bars start at 0)."""
    low, high = min(low, 0), max(high, 0)
    if low == high:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1, math.ceil(step))
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def scale(value: float, domain: tuple[float, float], to: tuple[float, float]) -> float:
    """Linear map of `value` from `domain` onto `to` (a flat domain maps to its middle)."""
    (d0, d1), (r0, r1) = domain, to
    if d1 == d0:
        return (r0 + r1) / 2
    return r0 + (value - d0) * (r1 - r0) / (d1 - d0)


def _svg(chart_id: str, title: str, description: str, width: int, height: int,
         body: list[str]) -> Markup:
    chart_id = str(escape(chart_id))
    # Every text and attribute value above is escaped or a number of ours.
    return Markup(  # noqa: S704
        f'<svg class="cxc-chart__svg" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
        + "".join(body) + "</svg>")


def _empty(chart_id: str, title: str, description: str, empty_text: str, width: int) -> Markup:
    return _svg(chart_id, title, description, width, 60, [
        f'<text x="{width / 2:.0f}" y="34" text-anchor="middle" fill="{TEXT}">{escape(empty_text)}</text>'])


def line_chart(chart_id: str, title: str, description: str, series: Sequence[Series],
               fmt: Format = str, empty_text: str = "", width: int = 720,
               height: int = 300) -> Markup:
    """Values over time, one stepped line per series (a balance holds until it changes)."""
    points = [point for one in series for point in one.points]
    if not points:
        return _empty(chart_id, title, description, empty_text, width)
    left, right, top, bottom = 96, 16, 16, 64
    days = [day.toordinal() for day, _ in points]
    x_domain = (min(days), max(days))
    if x_domain[0] == x_domain[1]:  # one day: give it a day either side
        x_domain = (x_domain[0] - 1, x_domain[1] + 1)
    ticks = nice_ticks(min(v for _, v in points), max(v for _, v in points))
    y_domain = (ticks[0], ticks[-1])

    def x(day: date) -> float:
        return scale(day.toordinal(), x_domain, (left, width - right))

    def y(value: int) -> float:
        return scale(value, y_domain, (height - bottom, top))

    body = []
    for tick in ticks:
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                    f'stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{TEXT}">'
                    f'{escape(fmt(tick))}</text>')
    first, last = date.fromordinal(x_domain[0]), date.fromordinal(x_domain[1])
    for day in sorted({first, last, date.fromordinal((x_domain[0] + x_domain[1]) // 2)}):
        # the end labels are anchored inwards, so they are not cut at the edges
        anchor = "start" if day == first else "end" if day == last else "middle"
        body.append(f'<text x="{x(day):.1f}" y="{height - bottom + 18}" text-anchor="{anchor}" '
                    f'fill="{TEXT}">{day.isoformat()}</text>')
    for index, one in enumerate(series):
        if not one.points:
            continue
        colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
        ordered = sorted(one.points)
        path = [f"M{x(ordered[0][0]):.1f},{y(ordered[0][1]):.1f}"]
        for day, value in ordered[1:]:
            path.append(f"H{x(day):.1f}V{y(value):.1f}")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5"'
                    f'{dash_attr}/>')
        for day, value in ordered:
            body.append(f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="3" fill="{colour}">'
                        f'<title>{escape(one.name)}, {day.isoformat()}: {escape(fmt(value))}</title>'
                        f'</circle>')
    body.append(_legend([one.name for one in series], left, height - 22))
    return _svg(chart_id, title, description, width, height, body)


def _legend(names: Sequence[str], left: int, baseline: float) -> str:
    parts, at = [], float(left)
    for index, name in enumerate(names):
        colour, dash = PALETTE[index % len(PALETTE)], DASHES[index % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{at:.0f}" x2="{at + 24:.0f}" y1="{baseline - 4}" y2="{baseline - 4}" '
                     f'stroke="{colour}" stroke-width="3"{dash_attr}/>'
                     f'<text x="{at + 30:.0f}" y="{baseline}" fill="{TEXT}">{escape(name)}</text>')
        at += 40 + 7 * len(name)
    return "".join(parts)


def bar_chart(chart_id: str, title: str, description: str,
              rows: Sequence[tuple[str, Sequence[int]]], names: Sequence[str] = ("",),
              fmt: Format = str, empty_text: str = "", width: int = 720,
              label_width: int = 200) -> Markup:
    """Horizontal bars, one group a row (`(label, [value per series])`), a legend when
    there is more than one series. Labels longer than fit are cut, whole in a tooltip."""
    if not rows:
        return _empty(chart_id, title, description, empty_text, width)
    series_count = max(1, len(names))
    bar, gap = 16, 10
    top, right = 8, 90
    legend = 28 if series_count > 1 else 0
    height = top + len(rows) * (series_count * bar + gap) + legend + 8
    values = [value for _, group in rows for value in group]
    ticks = nice_ticks(min(values), max(values))

    def x(value: int) -> float:
        return scale(value, (ticks[0], ticks[-1]), (label_width, width - right))

    body, cursor = [], float(top)
    max_chars = max(4, label_width // 7 - 1)
    for label, group in rows:
        shown = label if len(label) <= max_chars else label[:max_chars - 1] + "…"
        middle = cursor + series_count * bar / 2
        body.append(f'<text x="{label_width - 8}" y="{middle + 4:.1f}" text-anchor="end" fill="{TEXT}">'
                    f'<title>{escape(label)}</title>{escape(shown)}</text>')
        for index, value in enumerate(group):
            colour = PALETTE[index % len(PALETTE)]
            start, end = sorted((x(0), x(value)))
            name = names[index] if index < len(names) else ""
            tip = f"{label}, {name}: {fmt(value)}" if name else f"{label}: {fmt(value)}"
            body.append(f'<rect x="{start:.1f}" y="{cursor:.1f}" width="{max(end - start, 1):.1f}" '
                        f'height="{bar - 2}" fill="{colour}"><title>{escape(tip)}</title></rect>'
                        f'<text x="{end + 4:.1f}" y="{cursor + bar - 5:.1f}" fill="{TEXT}">'
                        f'{escape(fmt(value))}</text>')
            cursor += bar
        cursor += gap
    if series_count > 1:
        parts, at = [], float(label_width)
        for index, name in enumerate(names):
            parts.append(f'<rect x="{at:.0f}" y="{cursor + 6:.0f}" width="14" height="14" '
                         f'fill="{PALETTE[index % len(PALETTE)]}"/>'
                         f'<text x="{at + 20:.0f}" y="{cursor + 18:.0f}" fill="{TEXT}">{escape(name)}</text>')
            at += 40 + 7 * len(name)
        body.append("".join(parts))
    return _svg(chart_id, title, description, width, int(height), body)


def compact_euros(cents: int) -> str:
    """An axis label in euros: €950, €12.5k, €1.2M."""
    euros = cents / 100
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(euros) >= limit:
            return f"€{euros / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"€{euros:,.0f}"
