"""Charts drawn on the server as SVG (Vega-Lite specifications from Altair, rendered by vl-convert):
they work without JavaScript, print well, and sit beside a table with the same numbers.

A chart is embedded as an <img> with a data: URL, so nothing in it can run in the page (the CSP
allows data: images only), and its text alternative is the table beside it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

import altair as alt
import vl_convert as vlc

#: Widths in CSS pixels; the image scales down on small screens (static/app.css).
WIDTH = 560
#: Colours that stay apart for colour-blind readers (Okabe-Ito).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@lru_cache(maxsize=256)
def _svg(spec_json: str) -> str:
    # The same figures give the same chart: rendering (~30 ms) happens once per distinct chart.
    return vlc.vegalite_to_svg(json.loads(spec_json))


def data_url(spec: dict[str, Any]) -> str:
    """Return the SVG of a Vega-Lite spec as a data: URL for an <img>."""
    svg = _svg(json.dumps(spec, sort_keys=True, ensure_ascii=False))
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def bars(
    rows: Sequence[tuple[str, float]], *, value_title: str, domain: tuple[float, float] | None = None
) -> str | None:
    """Return a horizontal bar chart of (label, value) rows as a data: URL (None without rows); domain
    fixes the value axis (0 to 1 for scores, so that two charts read alike)."""
    if not rows:
        return None
    data = alt.Data(values=[{"label": label, "value": value} for label, value in rows])
    scale = alt.Scale(domain=list(domain)) if domain else alt.Undefined
    chart = (
        alt.Chart(data)
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X("value:Q", title=value_title, scale=scale),
            y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=220)),
        )
        .properties(width=WIDTH - 240, height=max(40, 22 * len(rows)))
    )
    return data_url(chart.to_dict())


def grouped(rows: Sequence[tuple[str, str, float]], *, value_title: str, series_title: str) -> str | None:
    """Return stacked bars of (label, series, value) rows as a data: URL (None without rows)."""
    if not rows:
        return None
    data = alt.Data(values=[{"label": label, "series": series, "value": value} for label, series, value in rows])
    labels = list(dict.fromkeys(label for label, _s, _v in rows))
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=value_title, stack="zero"),
            y=alt.Y("label:N", title=None, sort=labels, axis=alt.Axis(labelLimit=220)),
            color=alt.Color("series:N", title=series_title, scale=alt.Scale(range=PALETTE)),
        )
        .properties(width=WIDTH - 300, height=max(40, 22 * len(labels)))
    )
    return data_url(chart.to_dict())


def trend(rows: Sequence[tuple[str, float]], *, value_title: str) -> str | None:
    """Return a column chart of (month, value) rows as a data: URL (None without rows)."""
    if not rows:
        return None
    data = alt.Data(values=[{"month": month, "value": value} for month, value in rows])
    chart = (
        alt.Chart(data)
        .mark_bar(color=PALETTE[0])
        .encode(x=alt.X("month:O", title=None), y=alt.Y("value:Q", title=value_title))
        .properties(width=max(120, min(WIDTH, 40 * len(rows))), height=180)
    )
    return data_url(chart.to_dict())


def heatmap(cells: Sequence[tuple[str, str, int]], *, labels: Sequence[str], x_title: str, y_title: str,
            right_title: str, wrong_title: str) -> str | None:
    """Return a confusion matrix of (row, column, count) cells as a data: URL of an SVG (None without
    cells): rows and columns in the order of labels, empty cells blank, the diagonal (right) in
    blue and the rest (wrong) in orange, each shaded from zero on a square-root scale so that a
    single confusion still shows.

    Drawn here, not by Vega: a grid of a few thousand squares takes vl-convert about half a second
    per matrix (a report has one per language), this a few milliseconds.
    """
    if not cells:
        return None
    index = {label: i for i, label in enumerate(labels)}
    size = max(6, min(14, 560 // max(len(labels), 1)))
    font = max(7, size - 2)
    # Labels are measured roughly (no font metrics here): 0.6 em a character is wide enough for Arial.
    margin = int(max((len(label) for label in labels), default=1) * font * 0.6) + 8
    side = size * len(labels)
    legend = 170
    width, height = margin + side + legend, margin + side + 28
    top_right = max((n for r, c, n in cells if r == c), default=1) or 1
    top_wrong = max((n for r, c, n in cells if r != c), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="Arial, Helvetica, sans-serif" font-size="{font}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<rect x="{margin}" y="0" width="{side}" height="{side}" fill="none" stroke="#c9d0d9"/>',
    ]
    for row, column, value in cells:
        if row not in index or column not in index or value <= 0:
            continue
        right = row == column
        share = (value / (top_right if right else top_wrong)) ** 0.5
        colour = _mix("#cfe1f2", "#08306b", share) if right else _mix("#fdd9b4", "#a63603", share)
        parts.append(f'<rect x="{margin + size * index[column]}" y="{size * index[row]}" width="{size}" height="{size}" fill="{colour}"/>')
    for label, i in index.items():
        middle = size * i + size / 2
        parts.append(f'<text x="{margin - 4}" y="{middle:.1f}" text-anchor="end" dominant-baseline="middle">{escape(label)}</text>')
        parts.append(
            f'<text transform="translate({margin + middle:.1f},{side + 4}) rotate(-90)" text-anchor="end" '
            f'dominant-baseline="middle">{escape(label)}</text>'
        )
    parts.append(f'<text x="{margin + side / 2:.1f}" y="{height - 6}" text-anchor="middle" font-weight="bold">{escape(x_title)}</text>')
    parts.append(
        f'<text transform="translate(10,{side / 2:.1f}) rotate(-90)" text-anchor="middle" font-weight="bold">{escape(y_title)}</text>'
    )
    keys = ((right_title, "#cfe1f2", "#08306b", top_right), (wrong_title, "#fdd9b4", "#a63603", top_wrong))
    for i, (title, light, dark, top) in enumerate(keys):
        y, x = 8 + 52 * i, margin + side + 16
        parts.append(f'<text x="{x}" y="{y + 4}" font-weight="bold">{escape(title)}</text>')
        for step in range(5):
            parts.append(f'<rect x="{x + 14 * step}" y="{y + 10}" width="14" height="12" fill="{_mix(light, dark, step / 4)}"/>')
        parts.append(f'<text x="{x}" y="{y + 34}">1</text><text x="{x + 70}" y="{y + 34}" text-anchor="end">{top}</text>')
    parts.append("</svg>")
    svg = "".join(parts)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _mix(light: str, dark: str, share: float) -> str:
    # The colour share of the way from light to dark (0 to 1), as #rrggbb.
    a = [int(light[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(dark[i : i + 2], 16) for i in (1, 3, 5)]
    share = min(max(share, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))
