"""Checks of what a page looks like in Chromium, for the browser tests: text contrast (WCAG 1.4.3) and
keyboard focus that stands out from its surroundings (WCAG 1.4.11, 2.4.7), measured on the rendered
page with the colours the browser computed."""

from __future__ import annotations

from typing import Any

#: Colour helpers every check below starts with (parsing, luminance, contrast, what lies behind).
_COLOURS = """
const parse = (c) => {
  const m = /rgba?\\(([^)]+)\\)/.exec(c || "");
  if (!m) return null;
  const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
};
const blend = (top, under) => ({
  r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
  b: top.b * top.a + under.b * (1 - top.a), a: 1,
});
const lum = ({ r, g, b }) => {
  const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const ratio = (x, y) => {
  const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p);
  return (hi + 0.05) / (lo + 0.05);
};
const behind = (el) => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
  }
  return layers.reverse().reduce((under, top) => blend(top, under), { r: 255, g: 255, b: 255, a: 1 });
};
const hex = ({ r, g, b }) => "#" + [r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
"""

_TEXT_CONTRAST = (
    "() => {"
    + _COLOURS
    + """
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (["SCRIPT", "STYLE", "OPTION", "TITLE"].includes(el.tagName)) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // visually hidden, for screen readers
    const cs = getComputedStyle(el);
    const bg = behind(el);
    const fg = blend(parse(cs.color), bg);
    const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
    const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    const r = ratio(fg, bg);
    const what = `${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 40)}"`;
    if (r < needed) found.push(`${what}: ${hex(fg)} on ${hex(bg)} = ${r.toFixed(2)} < ${needed}`);
  }
  return found;
}"""
)

_FOCUS = (
    "() => {"
    + _COLOURS
    + """
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  const colours = [];
  if (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) {
    colours.push(parse(cs.outlineColor));
  }
  for (const m of cs.boxShadow.matchAll(/rgba?\\([^)]+\\)/g)) colours.push(parse(m[0]));
  const around = behind(el.parentElement);
  const shown = colours.filter((c) => c && c.a > 0).map((c) => ratio(blend(c, around), around));
  const best = Math.max(0, ...shown);
  const label = (el.textContent || el.value || "").trim().slice(0, 30);
  const name = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${label}"`;
  const outline = `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`;
  const own = behind(el);
  const text = ratio(blend(parse(cs.color), own), own);  // the focused text itself stays readable
  const box = el.getBoundingClientRect();
  const where = `${el.tagName}${box.x + scrollX},${box.y + scrollY}`;  // the same twice: Tab came round
  return { name, best, text, around: hex(around), outline, shadow: cs.boxShadow, where };
}"""
)


def low_contrast_text(page) -> list[str]:
    """Return every visible text on page whose colour is below WCAG AA against what lies behind it."""
    return page.evaluate(_TEXT_CONTRAST)


def focus_stops(page, limit: int = 150) -> list[dict[str, Any]]:
    """Tab through page from its top; return each focused element's indicator: its best contrast
    (outline or box-shadow colours) against the background around it, and what it was."""
    # Start before the first element, wherever a click left the focus (and Tab's starting point).
    page.evaluate(
        """() => { const body = document.body; body.setAttribute('tabindex', '-1'); body.focus();
                   body.removeAttribute('tabindex'); window.scrollTo(0, 0); }"""
    )
    stops: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(_FOCUS)
        if stop is None:
            break
        if stop["where"] in seen:
            break
        seen.add(stop["where"])
        stops.append(stop)
    return stops


def weak_focus(page) -> list[str]:
    """Return the focus stops of page whose indicator stands out less than 3:1 from its surroundings,
    or whose text, focused, reads less than 4.5:1."""
    stops = focus_stops(page)
    assert stops, "nothing on the page takes the keyboard focus"
    return [
        f"{s['name']} on {s['around']}: indicator {s['best']:.2f}, text {s['text']:.2f} ({s['outline']})"
        for s in stops
        if s["best"] < 3 or s["text"] < 4.5
    ]
