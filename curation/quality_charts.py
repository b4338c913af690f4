"""Small server-side SVG charts for the quality pages (no JavaScript)."""

from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


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
            f'<text x="{left}" y="{top + 14}" font-size="12" fill="#6b7280">nothing to show yet</text>'
        )
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">{escape(label[:20])}</text>'
        )
        if value is None:
            parts.append(f'<text x="{left}" y="{y + 14}" font-size="12" fill="#6b7280">n/a</text>')
            continue
        share = max(0.0, min(1.0, value / high)) if high else 0.0
        length = share * plot_w
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" fill="#4f6fb8"></rect>'
            f'<text x="{left + length + 4:.1f}" y="{y + 14}" font-size="12">{escape(shown(value))}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every label and title above is escaped


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
