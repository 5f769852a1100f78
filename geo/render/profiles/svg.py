"""Small hand-written SVG: escaped text, presentation attributes only (no style attributes, so a
strict Content-Security-Policy allows it), and a title and description for screen readers.

The same SVG is inlined in the HTML page and drawn as vectors into the PDF (fpdf2).
"""

from __future__ import annotations

import html
import re

FONT = "DejaVu Sans, Verdana, sans-serif"
"""The PDF registers DejaVu Sans under this first name; browsers fall back to sans-serif."""
INK = "#222222"
MUTED = "#666666"


def esc(text: object) -> str:
    """Text or attribute value escaped for HTML and SVG."""
    return html.escape(str(text), quote=True)


def num(value: float) -> str:
    """A coordinate with at most one decimal."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def rect(x: float, y: float, w: float, h: float, fill: str, *, stroke: str = "",
         stroke_width: float = 1.0) -> str:
    """A rectangle."""
    edge = f' stroke="{stroke}" stroke-width="{num(stroke_width)}"' if stroke else ""
    return (f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" height="{num(max(h, 0))}" '
            f'fill="{fill}"{edge}/>')


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = INK, *,
         width: float = 1.0, dash: str = "") -> str:
    """A straight line."""
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
            f'stroke="{stroke}" stroke-width="{num(width)}"{dashed}/>')


def polyline(points: list[tuple[float, float]], stroke: str = INK, *, width: float = 1.5,
             dash: str = "") -> str:
    """An open line through ``points``."""
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return (f'<polyline points="{coords}" fill="none" stroke="{stroke}" '
            f'stroke-width="{num(width)}"{dashed}/>')


def circle(cx: float, cy: float, r: float, fill: str, *, stroke: str = INK,
           width: float = 1.0) -> str:
    """A circle."""
    return (f'<circle cx="{num(cx)}" cy="{num(cy)}" r="{num(r)}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{num(width)}"/>')


def text(x: float, y: float, content: str, *, size: float = 10, anchor: str = "start",
         fill: str = INK, bold: bool = False) -> str:
    """Escaped text at a baseline point."""
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{num(x)}" y="{num(y)}" font-family="{FONT}" font-size="{num(size)}" '
            f'text-anchor="{anchor}" fill="{fill}"{weight}>{esc(content)}</text>')


def path(d: str, fill: str, *, stroke: str = "#ffffff", width: float = 0.5) -> str:
    """A filled path (even-odd: holes stay holes)."""
    return (f'<path d="{d}" fill="{fill}" fill-rule="evenodd" stroke="{stroke}" '
            f'stroke-width="{num(width)}"/>')


def document(width: float, height: float, uid: str, title: str, description: str,
             body: list[str]) -> str:
    """An SVG element with ``role="img"``, a title and a description (``uid`` makes the ids)."""
    ident = esc(uid)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {num(width)} {num(height)}" '
        f'width="{num(width)}" height="{num(height)}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d">'
        f'<title id="{ident}-t">{esc(title)}</title><desc id="{ident}-d">{esc(description)}</desc>'
        f'{"".join(body)}</svg>'
    )


_ACCESSIBLE = re.compile(r"<title[^>]*>.*?</title>|<desc[^>]*>.*?</desc>", re.S)


def for_pdf(svg: str) -> bytes:
    """The SVG without title and description (fpdf2 draws shapes and text, not those)."""
    return _ACCESSIBLE.sub("", svg).encode("utf-8")
