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


def bars(rows: Sequence[tuple[str, float]], *, value_title: str) -> str | None:
    """Return a horizontal bar chart of (label, value) rows as a data: URL (None without rows)."""
    if not rows:
        return None
    data = alt.Data(values=[{"label": label, "value": value} for label, value in rows])
    chart = (
        alt.Chart(data)
        .mark_bar(color=PALETTE[0])
        .encode(
            x=alt.X("value:Q", title=value_title),
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
