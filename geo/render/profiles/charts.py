"""The two charts of a profile as inline SVG: the spine chart and the trend chart.

Both draw published values only. A withheld value gets no marker and no position at all: the
spine chart shows the level's range without the area, the trend chart leaves a gap (no line
is drawn across it) and marks the year on the axis, away from any value.
"""

from __future__ import annotations

import math
from typing import Any

from geo.render.profiles import svg, words
from geo.render.profiles.data import AreaRef, IndicatorProfile, YearValue

SPINE_WIDTH, SPINE_HEIGHT = 300.0, 46.0
TREND_WIDTH, TREND_HEIGHT = 300.0, 150.0
RANGE_FILL = "#e3e3e3"
QUARTILE_FILL = "#a9a9a9"
TOTAL_LINE = "#000000"
AREA_LINE = "#1f5fa8"
INK_LIGHT = "#333333"
TOTAL_TREND = "#7a7a7a"
WITHHELD_MARK = "#9a9a9a"
MARKER_FILLS = {
    "günstig": "#1a9641",
    "ungünstig": "#d7191c",
    "higher": "#2c7bb6",
    "lower": "#abd9e9",
    "similar": "#ffffff",
}
"""Marker of the area: green/red where ``higher_is`` says better/worse, blues otherwise."""


def marker_fill(vs: str | None, higher_is: str) -> str:
    """The area marker's fill: by judgement, else by direction; white when similar or unknown."""
    judged = words.judgement(vs, higher_is)
    if judged:
        return MARKER_FILLS[judged]
    return MARKER_FILLS.get(vs or "similar", "#ffffff")


def _value(v: YearValue, unit: str) -> str:
    status = words.status_text(v.status)
    if status:
        return status
    places = words.decimals(v.rate)
    interval = words.interval(v.ci_low, v.ci_high, unit, places)
    return f"{words.with_unit(v.rate, unit, places)} (95 %-Intervall {interval})"


def spine_svg(item: IndicatorProfile, area: AreaRef, total_name: str, uid: str) -> str | None:
    """The area's value and interval against the range and quartiles of its level and the
    whole area's value; None when the level has no published value that year."""
    sp, current = item.spine, item.current
    if sp is None or current is None:
        return None
    ind = item.indicator
    unit = ind.unit
    shown = current.status == "published" and current.rate is not None
    points = [sp.minimum, sp.maximum]
    if sp.total is not None:
        points.append(sp.total)
    if shown:
        points += [p for p in (current.ci_low, current.ci_high, current.rate) if p is not None]
    lo, hi = min(points), max(points)
    if math.isclose(lo, hi):
        lo, hi = lo - max(abs(lo) * 0.05, 0.5), hi + max(abs(hi) * 0.05, 0.5)
    left, right = 12.0, SPINE_WIDTH - 12.0

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * (right - left)

    body = [
        svg.rect(x(sp.minimum), 12, x(sp.maximum) - x(sp.minimum), 16, RANGE_FILL),
        svg.rect(x(sp.q1), 12, x(sp.q3) - x(sp.q1), 16, QUARTILE_FILL),
        svg.line(x(sp.median), 12, x(sp.median), 28, "#ffffff", width=1.5),
    ]
    if sp.total is not None:
        body.append(svg.line(x(sp.total), 6, x(sp.total), 34, TOTAL_LINE, width=2))
    if shown:
        assert current.rate is not None
        if current.ci_low is not None and current.ci_high is not None:
            body.append(svg.line(x(current.ci_low), 20, x(current.ci_high), 20, INK_LIGHT,
                                 width=1.5))
            for end in (current.ci_low, current.ci_high):
                body.append(svg.line(x(end), 16, x(end), 24, INK_LIGHT, width=1.5))
        body.append(svg.circle(x(current.rate), 20, 5.5,
                               marker_fill(current.vs_total, ind.higher_is)))
    body += [
        svg.text(left, 44, words.with_unit(sp.minimum, unit), size=9, fill=svg.MUTED),
        svg.text(right, 44, words.with_unit(sp.maximum, unit), size=9, anchor="end",
                 fill=svg.MUTED),
    ]
    year = words.year_label(item.year)
    level_text = f"der {sp.n} Gebiete der Ebene {area.level_name}"
    description = (
        f"{area.name}, {year}: {_value(current, unit)}"
        f"{'' if shown else ', ohne Markierung'}. Spannweite {level_text} mit veröffentlichtem "
        f"Wert: {words.with_unit(sp.minimum, unit)} bis {words.with_unit(sp.maximum, unit)}; "
        f"mittlere Hälfte {words.with_unit(sp.q1, unit)} bis {words.with_unit(sp.q3, unit)}; "
        f"Median {words.with_unit(sp.median, unit)}; "
        f"{total_name}: {words.with_unit(sp.total, unit)}."
    )
    return svg.document(SPINE_WIDTH, SPINE_HEIGHT, uid,
                        f"Einordnung: {ind.name} {year}, {area.name}", description, body)



def _nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / n)) if span > 0 else 1.0
    for mult in (1, 2, 2.5, 5, 10):
        if span / (step * mult) <= n:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _trend_range(values: list[YearValue]) -> tuple[float, float] | None:
    numbers: list[float] = []
    for v in values:
        if v.status == "published":
            numbers += [n for n in (v.rate, v.ci_low, v.ci_high) if n is not None]
        if v.total_rate is not None:
            numbers.append(v.total_rate)
    if not numbers:
        return None
    lo, hi = min(numbers), max(numbers)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.1, 0.5)
    return max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad


def trend_svg(item: IndicatorProfile, area: AreaRef, total_name: str, uid: str) -> str | None:
    """The area's values over all years (points with intervals; pooled periods as horizontal
    segments) and the whole area's line; None when the indicator has no data at all."""
    values = list(item.values)
    if not values:
        return None
    unit = item.indicator.unit
    spans = [words.year_span(v.year) for v in values]
    first = min(s[0] for s in spans)
    last = max(s[1] for s in spans)
    y_range = _trend_range(values)
    left, right, top, bottom = 46.0, TREND_WIDTH - 10.0, 10.0, TREND_HEIGHT - 24.0

    def x(year: float) -> float:
        return left + (year - first + 0.5) / (last - first + 1) * (right - left)

    body = [svg.line(left, bottom, right, bottom, svg.MUTED)]
    step = max(1, math.ceil((last - first + 1) / 8))
    for year in range(first, last + 1, step):
        body.append(svg.text(x(year), bottom + 14, str(year), size=9, anchor="middle",
                             fill=svg.MUTED))
    if y_range is not None:
        lo, hi = y_range

        def y(value: float) -> float:
            return bottom - (value - lo) / (hi - lo) * (bottom - top)

        for tick in _nice_ticks(lo, hi):
            body.append(svg.line(left, y(tick), right, y(tick), "#e6e6e6"))
            body.append(svg.text(left - 4, y(tick) + 3, words.number(tick), size=9,
                                 anchor="end", fill=svg.MUTED))
        body += _series(values, spans, x, y)
    for v, (a, b) in zip(values, spans, strict=True):
        if v.status == "suppressed":
            mid = x((a + b) / 2)
            body.append(svg.text(mid, bottom - 3, "×", size=11, anchor="middle",
                                 fill=WITHHELD_MARK))
    description = "; ".join(
        f"{words.year_label(v.year)}: {_value(v, unit)}"
        + (f", {total_name} {words.with_unit(v.total_rate, unit)}"
           if v.total_rate is not None else "")
        for v in values
    )
    title = (f"Entwicklung: {item.indicator.name}, {area.name} und {total_name} "
             f"({words.year_label(values[0].year)} bis {words.year_label(values[-1].year)})")
    return svg.document(TREND_WIDTH, TREND_HEIGHT, uid, title,
                        f"{description}. Gesperrte Jahre sind mit × auf der Zeitachse markiert.",
                        body)


def _series(values: list[YearValue], spans: list[tuple[int, int]], x: Any, y: Any) -> list[str]:
    """Lines, points and interval bars of the area (blue) and the whole area (grey, dashed)."""
    body: list[str] = []
    singles = [(v, a) for v, (a, b) in zip(values, spans, strict=True) if a == b]
    # the whole area: one dashed line through its single years, segments for its periods
    total_points = [(x(a), y(v.total_rate)) for v, a in singles if v.total_rate is not None]
    if len(total_points) > 1:
        body.append(svg.polyline(total_points, TOTAL_TREND, width=1.2, dash="4 3"))
    for px, py in total_points:
        body.append(svg.circle(px, py, 2, TOTAL_TREND, stroke=TOTAL_TREND))
    # the area: a line only between neighbouring published single years, never across a gap
    run: list[tuple[float, float]] = []
    for v, a in singles:
        if v.status == "published" and v.rate is not None:
            run.append((x(a), y(v.rate)))
        else:
            if len(run) > 1:
                body.append(svg.polyline(run, AREA_LINE))
            run = []
    if len(run) > 1:
        body.append(svg.polyline(run, AREA_LINE))
    for v, (a, b) in zip(values, spans, strict=True):
        if v.status != "published" or v.rate is None:
            continue
        if a == b:
            if v.ci_low is not None and v.ci_high is not None:
                body.append(svg.line(x(a), y(v.ci_low), x(a), y(v.ci_high), AREA_LINE))
            body.append(svg.circle(x(a), y(v.rate), 3, AREA_LINE, stroke=AREA_LINE))
        else:
            x0, x1 = x(a - 0.4), x(b + 0.4)
            if v.ci_low is not None and v.ci_high is not None:
                body.append(svg.rect(x0, y(v.ci_high), x1 - x0, y(v.ci_low) - y(v.ci_high),
                                     "#cfe0f3"))
            body.append(svg.line(x0, y(v.rate), x1, y(v.rate), AREA_LINE, width=2.5))
    for v, (a, b) in zip(values, spans, strict=True):
        if a != b and v.total_rate is not None:
            body.append(svg.line(x(a - 0.4), y(v.total_rate), x(b + 0.4), y(v.total_rate),
                                 TOTAL_TREND, width=1.2, dash="4 3"))
    return body
