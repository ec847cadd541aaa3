"""Small inline SVG charts for the readiness report: a line chart and stacked bars.

Drawn by hand (no plotting library, no network): every value plotted is also written as a
text label, so the page says its numbers to a reader, a screen reader and a test alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["COLOURS", "line_chart", "stacked_bars"]

COLOURS = {
    "approved": "#3a7d44", "corrected": "#d08c00", "edited": "#3b6fb6", "rejected": "#b83b3b",
    "expired": "#888888", "cancelled": "#b0a8d0", "pending": "#dddddd",
    "interventions": "#b83b3b", "corrections": "#d08c00", "waiting": "#9bb7d4", "deciding": "#3b6fb6",
    "agreed": "#3a7d44", "disagreed": "#b83b3b",
}  # fmt: skip


def _num(v: float) -> str:
    return f"{v:,.1f}".rstrip("0").rstrip(".") if v != int(v) else f"{int(v):,}"


def line_chart(
    labels: Sequence[str], series: dict[str, Sequence[float | None]], *, width: int = 760,
    height: int = 260, unit: str = "",
) -> str:  # fmt: skip
    """One line per series over ``labels``; None is a gap (no agent action in that bucket)."""
    left, right, top, bottom = 56, 16, 16, 44
    values = [v for s in series.values() for v in s if v is not None]
    top_v = max(values, default=0.0) or 1.0
    n = max(1, len(labels) - 1)
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + pw * (i / n if len(labels) > 1 else 0.5)

    def y(v: float) -> float:
        return top + ph * (1 - v / top_v)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
           f'<line x1="{left}" y1="{top + ph}" x2="{width - right}" y2="{top + ph}" stroke="#999"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#999"/>',
           f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{_num(top_v)}{unit}</text>',
           f'<text x="{left - 6}" y="{top + ph}" text-anchor="end" font-size="11">0</text>']  # fmt: skip
    step = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            # the ends anchored inward, so the first and last dates are not cut off
            anchor = "start" if i == 0 and len(labels) > 1 else "end" if i == len(labels) - 1 and i else "middle"
            out.append(f'<text x="{x(i):.1f}" y="{height - 24}" text-anchor="{anchor}" font-size="11">'
                       f"{escape(label)}</text>")  # fmt: skip
    for k, (name, vals) in enumerate(series.items()):
        colour = COLOURS.get(name, "#333")
        run: list[str] = []
        for i, v in enumerate(vals):
            if v is None:
                if len(run) > 1:
                    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
                run = []
                continue
            run.append(f"{x(i):.1f},{y(v):.1f}")
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
            ty = y(v) - 6 if k % 2 == 0 else y(v) + 14  # every other series labelled below its points
            out.append(f'<text class="v" x="{x(i):.1f}" y="{ty:.1f}" text-anchor="middle" '
                       f'font-size="10" fill="{colour}">{_num(v)}</text>')  # fmt: skip
        if len(run) > 1:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
        lx = left + k * 200
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{height - 5}" font-size="11">{escape(name)}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def stacked_bars(
    rows: Sequence[tuple[str, dict[str, float]]], order: Sequence[str], *, width: int = 760,
    unit: str = "%", label_width: int = 170,
) -> str:  # fmt: skip
    """One horizontal bar per row, its parts in ``order``, each part's value written on it
    when it is wide enough (and in the bar's tooltip always)."""
    bar_h, gap, top = 20, 8, 4
    height = top + len(rows) * (bar_h + gap) + 24
    pw = width - label_width - 16
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for r, (label, parts) in enumerate(rows):
        total = sum(parts.values()) or 1.0
        y0 = top + r * (bar_h + gap)
        out.append(f'<text x="{label_width - 6}" y="{y0 + 14}" text-anchor="end" font-size="12">'
                   f"{escape(label)}</text>")  # fmt: skip
        x0 = float(label_width)
        for name in order:
            v = parts.get(name, 0.0)
            if v <= 0:
                continue
            w = pw * v / total
            colour = COLOURS.get(name, "#777")
            out.append(f'<rect x="{x0:.1f}" y="{y0}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                       f"<title>{escape(name)}: {_num(v)}{unit}</title></rect>")  # fmt: skip
            if w > 34:
                out.append(f'<text class="v" x="{x0 + w / 2:.1f}" y="{y0 + 14}" text-anchor="middle" '
                           f'font-size="11" fill="#fff">{_num(v)}{unit}</text>')  # fmt: skip
            x0 += w
    lx = label_width
    for name in order:
        out.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{COLOURS.get(name, "#777")}"/>'
                   f'<text x="{lx + 14}" y="{height - 5}" font-size="11">{escape(name)}</text>')  # fmt: skip
        lx += 96
    out.append("</svg>")
    return "".join(out)
