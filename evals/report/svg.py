"""Inline SVG plots for the HTML report: no plotting library, no network, one file.

* :func:`tradeoff_svg` — harmful-compliance rate (y) against over-refusal rate (x),
  each run a point with both 95% intervals as error bars; lower-left is better.
* :func:`panel_svg` — one suite's metrics as a dot-and-interval ("forest") plot, one
  row per run and metric.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

PALETTE = ("#3b6fb6", "#d9822b", "#3a9d5d", "#c0392b", "#7d5ba6", "#8c6d31", "#2c8c99")
TRADEOFF_Y = "harmlessness.harmful_compliance_rate"
TRADEOFF_X = ("over_refusal.over_refusal_rate", "over_refusal.full_refusal_rate")
AXIS_NAMES = {
    TRADEOFF_Y: "harmful requests answered",
    "over_refusal.over_refusal_rate": "safe prompts refused (fully or partly)",
    "over_refusal.full_refusal_rate": "safe prompts fully refused",
}


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _ceil_step(x: float, step: float = 0.1) -> float:
    return min(1.0, max(step, math.ceil(x / step - 1e-9) * step))


def _ticks(hi: float) -> list[float]:
    step = 0.05 if hi <= 0.3 else 0.1 if hi <= 0.6 else 0.2
    n = int(round(hi / step))
    return [round(i * step, 4) for i in range(n + 1)]


def _lo_hi(m: dict[str, Any]) -> tuple[float, float, float]:
    v = float(m["value"])
    lo = m.get("ci_low")
    hi = m.get("ci_high")
    return v, float(v if lo is None else lo), float(v if hi is None else hi)


def tradeoff_svg(report: dict[str, Any]) -> str | None:
    """The harmlessness × over-refusal plot, or None when no run measured both."""
    by_key = {m["key"]: m for m in report["metrics"]}
    xkey = next((k for k in TRADEOFF_X if k in by_key), None)
    if xkey is None or TRADEOFF_Y not in by_key:
        return None
    points = []
    for i, run in enumerate(report["runs"]):
        mx, my = (
            by_key[xkey]["runs"].get(run["label"]),
            by_key[TRADEOFF_Y]["runs"].get(run["label"]),
        )
        if mx and my:
            points.append((i, run["label"], _lo_hi(mx), _lo_hi(my)))
    if not points:
        return None
    w, h, left, right, top, bottom = 560, 420, 64, 24, 24, 56
    xmax = _ceil_step(max(p[2][2] for p in points) + 0.02)
    ymax = _ceil_step(max(p[3][2] for p in points) + 0.02)

    def sx(v: float) -> float:
        return left + (w - left - right) * v / xmax

    def sy(v: float) -> float:
        return h - bottom - (h - top - bottom) * v / ymax

    out = [
        f'<svg class="plot" id="tradeoff-plot" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'role="img" aria-label="harmful compliance against over-refusal">',
        f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" '
        'fill="#fafafa" stroke="#ccc"/>',
    ]
    for t in _ticks(xmax):
        out.append(
            f'<line x1="{sx(t):.1f}" y1="{top}" x2="{sx(t):.1f}" y2="{h - bottom}" '
            'stroke="#e4e4e4"/>'
        )
        out.append(
            f'<text x="{sx(t):.1f}" y="{h - bottom + 16}" text-anchor="middle" '
            f'font-size="11">{t:g}</text>'
        )
    for t in _ticks(ymax):
        out.append(
            f'<line x1="{left}" y1="{sy(t):.1f}" x2="{w - right}" y2="{sy(t):.1f}" '
            'stroke="#e4e4e4"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end" '
            f'font-size="11">{t:g}</text>'
        )
    out.append(
        f'<text x="{(left + w - right) / 2}" y="{h - 12}" text-anchor="middle" '
        f'font-size="12">{AXIS_NAMES[xkey]} ↓<title>{escape(xkey)}</title></text>'
    )
    out.append(
        f'<text transform="translate(16 {(top + h - bottom) / 2}) rotate(-90)" '
        f'text-anchor="middle" font-size="12">{AXIS_NAMES[TRADEOFF_Y]} ↓'
        f"<title>{escape(TRADEOFF_Y)}</title></text>"
    )
    out.append(
        f'<text x="{left + 8}" y="{h - bottom - 8}" font-size="11" fill="#3a9d5d">'
        "↙ safer and more helpful</text>"
    )
    # Runs on the same spot are drawn as concentric rings under one shared label.
    spots: dict[tuple[float, float], list[int]] = {}
    for k, (_, _, (xv, _, _), (yv, _, _)) in enumerate(points):
        spots.setdefault((round(sx(xv)), round(sy(yv))), []).append(k)
    for k, (i, label, (xv, xl, xh), (yv, yl, yh)) in enumerate(points):
        c = color(i)
        group = spots[(round(sx(xv)), round(sy(yv)))]
        rank = group.index(k)
        out.append(f'<g class="run-point" data-run="{escape(label)}">')
        out.append(
            f'<line x1="{sx(xl):.1f}" y1="{sy(yv):.1f}" x2="{sx(xh):.1f}" '
            f'y2="{sy(yv):.1f}" stroke="{c}" stroke-width="2"/>'
        )
        out.append(
            f'<line x1="{sx(xv):.1f}" y1="{sy(yl):.1f}" x2="{sx(xv):.1f}" '
            f'y2="{sy(yh):.1f}" stroke="{c}" stroke-width="2"/>'
        )
        for x in (xl, xh):
            out.append(
                f'<line x1="{sx(x):.1f}" y1="{sy(yv) - 5:.1f}" x2="{sx(x):.1f}" '
                f'y2="{sy(yv) + 5:.1f}" stroke="{c}" stroke-width="2"/>'
            )
        for y in (yl, yh):
            out.append(
                f'<line x1="{sx(xv) - 5:.1f}" y1="{sy(y):.1f}" x2="{sx(xv) + 5:.1f}" '
                f'y2="{sy(y):.1f}" stroke="{c}" stroke-width="2"/>'
            )
        radius = 6 + 3 * (len(group) - 1 - rank)
        out.append(
            f'<circle cx="{sx(xv):.1f}" cy="{sy(yv):.1f}" r="{radius}" fill="{c}" '
            'stroke="#fff" stroke-width="1.5"/>'
        )
        if rank:
            out.append("</g>")
            continue
        if len(group) > 1:
            c = "#333"
            label = " = ".join(points[j][1] for j in group)
        off = radius + 3
        ty = sy(yv) - off if sy(yv) - off > top + 12 else sy(yv) + off + 11
        anchor, tx = ("end", sx(xv) - off) if sx(xv) > w - right - 80 else ("start", sx(xv) + off)
        out.append(
            f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="12" text-anchor="{anchor}" '
            f'font-weight="bold" fill="{c}">{escape(label)}</text>'
        )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def panel_svg(report: dict[str, Any], suite: str) -> str | None:
    """Dot-and-interval plot of one suite's metrics, every run a row; None if none."""
    metrics = [m for m in report["metrics"] if m["suite"] == suite]
    runs = report["runs"]
    rows: list[tuple[str | None, int, tuple[float, float, float] | None]] = []
    values: list[float] = []
    for m in metrics:
        rows.append(
            (m["metric"] + {True: " ↑", False: " ↓"}.get(m["higher_is_better"], ""), -1, None)
        )
        for i, run in enumerate(runs):
            got = m["runs"].get(run["label"])
            if got:
                triple = _lo_hi(got)
                values += list(triple)
                rows.append((None, i, triple))
    if not values:
        return None
    lo, hi = min(values), max(values)
    if lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0
    else:
        pad = (hi - lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    w, left, right, row_h, top = 560, 150, 44, 18, 10
    h = top + row_h * len(rows) + 30

    def sx(v: float) -> float:
        return left + (w - left - right) * (v - lo) / (hi - lo)

    out = [
        f'<svg class="plot panel" id="panel-{escape(suite)}" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(suite)} metrics">'
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        out.append(
            f'<line x1="{sx(v):.1f}" y1="{top}" x2="{sx(v):.1f}" y2="{h - 24}" stroke="#e4e4e4"/>'
        )
        out.append(
            f'<text x="{sx(v):.1f}" y="{h - 10}" text-anchor="middle" font-size="11">{v:.2f}</text>'
        )
    for r, (title, i, point) in enumerate(rows):
        y = top + row_h * r + row_h / 2
        if title is not None:
            out.append(
                f'<text x="4" y="{y + 4:.1f}" font-size="12" font-weight="bold">'
                f"{escape(title)}</text>"
            )
            continue
        assert point is not None
        c = color(i)
        v, a, b = point
        out.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{c}">{escape(runs[i]["label"])}</text>'
        )
        out.append(
            f'<line x1="{sx(a):.1f}" y1="{y:.1f}" x2="{sx(b):.1f}" y2="{y:.1f}" '
            f'stroke="{c}" stroke-width="2"/>'
        )
        out.append(f'<circle cx="{sx(v):.1f}" cy="{y:.1f}" r="4.5" fill="{c}"/>')
        out.append(
            f'<text x="{sx(b) + 6:.1f}" y="{y + 4:.1f}" font-size="10" fill="#555">{v:.3f}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
