"""Server-side SVG charts: no script, no other host, named by <title>/<desc>; the table beside each has the numbers.

Only presentation attributes are used (no style attributes or <style>), so the strict CSP holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from helpline.metrics.disclosure import EXACT, Figure

SERIES_COLOURS = ("#1f5f8b", "#a44a00", "#1d6b3a")
INK = "#1b1b1b"
GRID = "#c9c5bb"
TICKS = 5


@dataclass(frozen=True)
class Series:
    label: str
    figures: Sequence[Figure]


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value`."""
    if value <= 5:
        return 5
    magnitude: int = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):  # each divides into 5 whole ticks
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _scale_max(series: Sequence[Series]) -> int:
    highest = 0
    for s in series:
        for f in s.figures:
            highest = max(highest, f.high if f.high is not None else f.low)
    return _nice_max(highest)


def _svg(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> SafeString:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 (every text part is escaped above)


def _legend(series: Sequence[Series], x: int, y: int) -> list[str]:
    parts = []
    for i, s in enumerate(series):
        parts.append(f'<rect x="{x}" y="{y + i * 16}" width="12" height="12" fill="{SERIES_COLOURS[i]}"/>'
                     f'<text x="{x + 18}" y="{y + i * 16 + 10}" fill="{INK}">{escape(s.label)}</text>')
    return parts


def bar_chart(chart_id: str, title: str, desc: str, row_labels: Sequence[str], series: Sequence[Series],
              threshold: int) -> SafeString:
    """Horizontal bars, one group per row; a hidden figure draws no bar, only its label ("<5", "*")."""
    label_width, bar_area, bar_h, gap = 170, 380, 14, 8
    legend_h = 16 * len(series) + 8 if len(series) > 1 else 0
    group_h = bar_h * len(series) + gap
    width = label_width + bar_area + 70
    height = legend_h + group_h * max(len(row_labels), 1) + 24
    top = max_value = _scale_max(series)
    body = _legend(series, label_width, 4) if legend_h else []
    for tick in range(TICKS + 1):
        x = label_width + bar_area * tick // TICKS
        body.append(f'<line x1="{x}" y1="{legend_h}" x2="{x}" y2="{height - 18}" stroke="{GRID}"/>'
                    f'<text x="{x}" y="{height - 4}" text-anchor="middle" fill="{INK}">{top * tick // TICKS}</text>')
    for row, label in enumerate(row_labels):
        y0 = legend_h + row * group_h
        body.append(f'<text x="{label_width - 6}" y="{y0 + group_h / 2}" text-anchor="end" '
                    f'dominant-baseline="middle" fill="{INK}">{escape(label[:28])}</text>')
        for i, s in enumerate(series):
            figure = s.figures[row]
            y = y0 + i * bar_h
            length = bar_area * (figure.point or figure.low) / max_value if figure.status != "hidden" else 0
            if figure.status in (EXACT, "range", "rounded"):
                body.append(f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_h - 2}" '
                            f'fill="{SERIES_COLOURS[i]}"/>')
            if figure.status == "range" and figure.high is not None:
                extra = bar_area * (figure.high - figure.low) / max_value
                body.append(f'<rect x="{label_width + length:.1f}" y="{y}" width="{extra:.1f}" height="{bar_h - 2}" '
                            f'fill="none" stroke="{SERIES_COLOURS[i]}" stroke-dasharray="3 2"/>')
                length += extra
            body.append(f'<text x="{label_width + length + 4:.1f}" y="{y + bar_h - 4}" fill="{INK}">'
                        f'{escape(figure.display(threshold))}</text>')
    return _svg(chart_id, title, desc, width, height, body)


def column_chart(chart_id: str, title: str, desc: str, column_labels: Sequence[str], series: Sequence[Series],
                 threshold: int) -> SafeString:
    """Vertical columns over time, one group per period, oldest on the left."""
    left, plot_h, top_pad = 70, 200, 10
    col_w = 12
    group_w = col_w * len(series) + 10
    legend_h = 16 * len(series) + 8
    width = left + group_w * max(len(column_labels), 1) + 20
    height = legend_h + top_pad + plot_h + 90
    max_value = _scale_max(series)
    base = legend_h + top_pad + plot_h
    body = _legend(series, left, 4)
    for tick in range(TICKS + 1):
        y = base - plot_h * tick // TICKS
        body.append(f'<line x1="{left}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="{GRID}"/>'
                    f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" fill="{INK}">'
                    f'{max_value * tick // TICKS}</text>')
    for col, label in enumerate(column_labels):
        x0 = left + col * group_w + 5
        for i, s in enumerate(series):
            figure = s.figures[col]
            x = x0 + i * col_w
            if figure.status in (EXACT, "range"):
                h = plot_h * figure.low / max_value
                body.append(f'<rect x="{x}" y="{base - h:.1f}" width="{col_w - 2}" height="{h:.1f}" '
                            f'fill="{SERIES_COLOURS[i]}"/>')
            else:
                body.append(f'<text x="{x + col_w / 2 - 1}" y="{base - 3}" text-anchor="middle" font-size="9" '
                            f'fill="{INK}">{escape(figure.display(threshold))}</text>')
        body.append(f'<text x="{x0 + group_w / 2 - 5}" y="{base + 14}" text-anchor="end" font-size="10" '
                    f'transform="rotate(-40 {x0 + group_w / 2 - 5} {base + 14})" fill="{INK}">{escape(label)}</text>')
    return _svg(chart_id, title, desc, width, height, body)


def hour_of_week_chart(chart_id: str, title: str, desc: str, day_labels: Sequence[str], series: Sequence[Series],
                       threshold: int) -> SafeString:
    """168 hours, Monday 00:00 first; one line per series, broken where a figure is not shown exactly."""
    left, plot_h, step = 44, 180, 4
    legend_h = 16 * len(series) + 8
    width = left + 168 * step + 20
    height = legend_h + 10 + plot_h + 30
    max_value = _scale_max(series)
    base = legend_h + 10 + plot_h
    body = _legend(series, left, 4)
    for tick in range(TICKS + 1):
        y = base - plot_h * tick // TICKS
        body.append(f'<line x1="{left}" y1="{y}" x2="{left + 168 * step}" y2="{y}" stroke="{GRID}"/>'
                    f'<text x="{left - 4}" y="{y + 4}" text-anchor="end" fill="{INK}">'
                    f'{max_value * tick // TICKS}</text>')
    for day, label in enumerate(day_labels):
        x = left + day * 24 * step
        body.append(f'<line x1="{x}" y1="{base - plot_h}" x2="{x}" y2="{base}" stroke="{GRID}"/>'
                    f'<text x="{x + 12 * step}" y="{base + 16}" text-anchor="middle" fill="{INK}">'
                    f'{escape(label)}</text>')
    for i, s in enumerate(series):
        segment: list[str] = []
        for hour, figure in enumerate(s.figures):
            if figure.point is not None:  # exact or rounded; a hidden or small hour breaks the line
                segment.append(f"{left + hour * step + step / 2:.1f},{base - plot_h * figure.point / max_value:.1f}")
                continue
            body.extend(_polyline(segment, SERIES_COLOURS[i]))
            segment = []
        body.extend(_polyline(segment, SERIES_COLOURS[i]))
    return _svg(chart_id, title, desc, width, height, body)


def _polyline(points: list[str], colour: str) -> list[str]:
    if len(points) == 1:
        x, y = points[0].split(",")
        return [f'<circle cx="{x}" cy="{y}" r="2" fill="{colour}"/>']
    if not points:
        return []
    return [f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>']
