"""Charts as inline SVG, drawn on the server: no JavaScript and no chart library to ship.

One palette for every chart; every text that goes into the SVG is escaped."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from django.utils.safestring import SafeString, mark_safe

# Distinct in hue and lightness, readable on white (the first four also for most colour-blind readers).
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#65a30d", "#db2777")
MUTED = "#6b7280"
LEGEND_ITEM, LEGEND_ROW = 150, 16  # a line chart's legend: room per series, height per row of them


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]  # (step, value)


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:.3g}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str = "",
    width: int = 560,
    height: int = 240,
    y_range: tuple[float, float] | None = None,
) -> SafeString:
    """An SVG line chart of the series over the step axis; a series of one point shows as a dot.

    The legend sits in rows between the title and the plot, never on the curves."""
    drawn = [s for s in series if s.points]
    left, right, bottom = 56, 12, 36
    per_row = max(1, (width - left) // LEGEND_ITEM)
    legend_rows = math.ceil(len(drawn) / per_row)
    top = 28 + LEGEND_ROW * legend_rows
    height += LEGEND_ROW * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="16" class="chart-title" font-size="13" font-weight="600">'
        f"{escape(title)}</text>",
    ]
    if not drawn:
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" font-size="12" '
            f'fill="#6b7280">no points yet</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape()

    xs = [x for s in drawn for x, _ in s.points]
    ys = [y for s in drawn for _, y in s.points]
    x_low, x_high = min(xs), max(xs)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    y_low, y_high = y_range or (min(ys), max(ys))
    if y_high == y_low:
        y_low, y_high = y_low - 0.5, y_high + 0.5
    y_ticks = _nice_ticks(y_low, y_high) if y_range is None else _nice_ticks(*y_range)
    y_low, y_high = min(y_ticks[0], y_low), max(y_ticks[-1], y_high)

    def px(x: float) -> float:
        return left + (x - x_low) / (x_high - x_low) * plot_w

    def py(y: float) -> float:
        return top + (1 - (y - y_low) / (y_high - y_low)) * plot_h

    for tick in y_ticks:
        y = py(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#374151">'
            f"{_label(tick)}</text>"
        )
    for tick in _nice_ticks(x_low, x_high, 6):
        if x_low <= tick <= x_high:
            x = px(tick)
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" font-size="11" '
                f'fill="#374151">{_label(tick)}</text>'
            )
    parts.append(
        f'<rect class="plot" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#9ca3af"/>'
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" font-size="11" '
        f'fill="#374151">step</text>'
    )
    if y_label:
        parts.append(
            f'<text x="12" y="{top + plot_h / 2}" font-size="11" fill="#374151" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2})">{escape(y_label)}</text>'
        )
    for index, s in enumerate(drawn):
        color = PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        if len(s.points) > 1:
            parts.append(
                f'<polyline class="series" data-series="{escape(s.name)}" points="{coords}" fill="none" '
                f'stroke="{color}" stroke-width="2"/>'
            )
        for x, y in s.points[-1:] if len(s.points) > 1 else s.points:
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        legend_x = left + (index % per_row) * LEGEND_ITEM
        legend_y = 24 + (index // per_row) * LEGEND_ROW
        parts.append(
            f'<g class="legend"><rect x="{legend_x}" y="{legend_y}" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="{legend_y + 9}" font-size="11" fill="#111827">'
            f"{escape(s.name)}</text></g>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape()


def metric_series(points: Sequence[tuple[int, dict]], keys: Sequence[str]) -> list[Series]:
    """From (step, metrics) reports, one series per key, keeping only the steps that report it."""
    return [
        Series(
            key,
            [
                (step, float(values[key]))
                for step, values in points
                if isinstance(values.get(key), int | float)
            ],
        )
        for key in keys
    ]


def bar_chart(
    bars: Sequence[tuple[str, float | None]],
    *,
    title: str,
    high: float = 1.0,
    width: int = 560,
    shown: Callable[[float], str] = lambda v: f"{100 * v:.0f}%",
) -> SafeString:
    """Horizontal bars, one per label; a bar with no value shows as 'n/a'."""
    row, left, top = 22, 130, 28
    plot_w = width - left - 60
    height = top + row * max(1, len(bars)) + 8
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if not bars:
        parts.append(
            f'<text x="{left}" y="{top + 14}" font-size="12" fill="{MUTED}">nothing to show yet</text>'
        )
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(label[:20])}</text>'
        )
        if value is None:
            parts.append(f'<text x="{left}" y="{y + 14}" font-size="12" fill="{MUTED}">n/a</text>')
            continue
        share = max(0.0, min(1.0, value / high)) if high else 0.0
        length = share * plot_w
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{PALETTE[0]}"></rect>'
            f'<text x="{left + length + 4:.1f}" y="{y + 14}" font-size="12">{escape(shown(value))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape()


def histogram(values: Sequence[float], *, title: str, bins: int = 10) -> SafeString:
    """Counts of values in [0, 1] per bin, as bars labelled by their range."""
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, max(0, int(value * bins)))] += 1
    labels = [f"{100 * i // bins}–{100 * (i + 1) // bins}%" for i in range(bins)]
    return bar_chart(
        list(zip(labels, counts, strict=True)),
        title=title,
        high=max(counts + [1]),
        shown=lambda n: f"{n:.0f}",
    )


def stacked_bar_chart(
    days: Sequence[date], series: Sequence[tuple[str, dict[date, int]]], *, title: str
) -> SafeString:
    """One bar per day, one coloured segment per series (a labeler), and a legend under the chart."""
    width, height, left, bottom, top = 720, 220, 36, 24, 10
    colours = {name: PALETTE[i % len(PALETTE)] for i, (name, _) in enumerate(series)}
    totals = [sum(counts.get(d, 0) for _, counts in series) for d in days]
    peak = max(totals + [1])
    slot = (width - left) / max(1, len(days))
    scale = (height - bottom - top) / peak
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in sorted({0, peak, peak // 2}):
        y = round(height - bottom - tick * scale, 1)
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{y}" y2="{y}" class="grid"/>'
            f'<text x="{left - 6}" y="{y}" class="tick" text-anchor="end" dominant-baseline="middle">'
            f"{tick}</text>"
        )
    every = max(1, len(days) // 7)
    for i, day in enumerate(days):
        y = float(height - bottom)
        x, w = round(left + i * slot + slot * 0.15, 1), round(slot * 0.7, 1)
        for name, counts in series:
            if n := counts.get(day, 0):
                h = n * scale
                y -= h
                parts.append(
                    f'<rect x="{x}" y="{round(y, 1)}" width="{w}" height="{round(h, 1)}" '
                    f'fill="{colours[name]}"><title>{day:%a %d %b} · {escape(name)}: {n}</title></rect>'
                )
        if i % every == 0:
            parts.append(
                f'<text x="{round(left + i * slot + slot / 2, 1)}" y="{height - 6}" class="tick" '
                f'text-anchor="middle">{day:%d %b}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch" style="background: {colour}"></span>{escape(name)}</li>'
        for name, colour in colours.items()
    )
    parts.append(f'<ul class="legend-inline">{legend}</ul>')
    return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape()


def interval_chart(
    rows: Sequence[tuple[str, float, float, float]],
    *,
    title: str,
    reference: float | None = None,
    width: int = 720,
    shown: Callable[[float], str] = _label,
) -> SafeString:
    """One row per label: a dot at the value and a line across its interval (low, high), on a shared
    axis; `reference` draws a dashed line (an average, a baseline). `shown` writes the axis numbers."""
    row, left, top, right = 24, 150, 28, 20
    plot_w = width - left - right
    height = top + row * max(1, len(rows)) + 24
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if not rows:
        parts.append(
            f'<text x="{left}" y="{top + 14}" font-size="12" fill="{MUTED}">nothing to show yet</text>'
        )
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape()
    values = [v for _, value, low, high in rows for v in (value, low, high)] + (
        [reference] if reference is not None else []
    )
    ticks = _nice_ticks(min(values), max(values), 5)
    while ticks[-1] < max(values):  # the axis reaches past every interval's end
        ticks.append(round(2 * ticks[-1] - ticks[-2], 10))
    low_end, high_end = ticks[0], ticks[-1]

    def px(x: float) -> float:
        return left + (x - low_end) / (high_end - low_end) * plot_w

    bottom = top + row * len(rows)
    for tick in ticks:
        parts.append(
            f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{top}" y2="{bottom}" stroke="#e5e7eb"/>'
            f'<text x="{px(tick):.1f}" y="{bottom + 14}" text-anchor="middle" font-size="11" fill="#374151">'
            f"{escape(shown(tick))}</text>"
        )
    if reference is not None:
        parts.append(
            f'<line x1="{px(reference):.1f}" x2="{px(reference):.1f}" y1="{top}" y2="{bottom}" '
            f'stroke="{MUTED}" stroke-dasharray="4 3"/>'
        )
    for i, (label, value, low, high) in enumerate(rows):
        y = top + i * row + row / 2
        color = PALETTE[i % len(PALETTE)]
        tip = escape(f"{label}: {shown(value)} ({shown(low)} to {shown(high)})")
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12">'
            f"{escape(label[:22])}</text>"
            f'<line x1="{px(low):.1f}" x2="{px(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="2"><title>{tip}</title></line>'
            f'<circle cx="{px(value):.1f}" cy="{y:.1f}" r="4" fill="{color}"/>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it went through escape()


def share_chart(
    rows: Sequence[tuple[str, Sequence[float]]], *, title: str, parts_named: Sequence[str], width: int = 720
) -> SafeString:
    """One 100% bar per label, split into named parts (wins, ties, losses...), each with its share."""
    row, left, top = 24, 150, 28
    plot_w = width - left - 12
    height = top + row * max(1, len(rows)) + 26
    colours = [PALETTE[2], "#9ca3af", PALETTE[1], *PALETTE[3:]]
    svg = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="4" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    if not rows:
        svg.append(
            f'<text x="{left}" y="{top + 14}" font-size="12" fill="{MUTED}">nothing to show yet</text>'
        )
    for i, (label, counts) in enumerate(rows):
        y = top + i * row
        total = sum(counts)
        svg.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label[:22])}</text>'
        )
        x = float(left)
        for j, count in enumerate(counts):
            if not total or not count:
                continue
            w = count / total * plot_w
            share = f"{100 * count / total:.0f}%"
            svg.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="{colours[j]}">'
                f"<title>{escape(label)}: {escape(parts_named[j])} {share} ({count:g})</title></rect>"
            )
            if w > 30:
                svg.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 16}" text-anchor="middle" font-size="11" fill="#fff">'
                    f"{share}</text>"
                )
            x += w
    legend_y = top + row * max(1, len(rows)) + 16
    for j, name in enumerate(parts_named):
        lx = left + j * 90
        svg.append(
            f'<rect x="{lx}" y="{legend_y - 9}" width="10" height="10" fill="{colours[j]}"/>'
            f'<text x="{lx + 14}" y="{legend_y}" font-size="11">{escape(name)}</text>'
        )
    svg.append("</svg>")
    return mark_safe("".join(svg))  # noqa: S308 - every text in it went through escape()
