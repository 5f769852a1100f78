"""The profile of one area as an A4 PDF for council papers: selectable text, vector charts.

Made with fpdf2 from the same charts as the page (``charts``, ``locator``), no browser.
"""

from __future__ import annotations

from geo.render.classes import EMPTY
from geo.render.profiles import words
from geo.render.profiles.charts import (
    SPINE_HEIGHT,
    SPINE_WIDTH,
    TREND_HEIGHT,
    TREND_WIDTH,
    spine_svg,
    trend_svg,
)
from geo.render.profiles.data import AreaProfile, IndicatorProfile
from geo.render.profiles.pdfdoc import MARGIN, Document

CHART_WIDTH = 78.0
"""Width of the charts in mm (right column)."""
FACTS_WIDTH = 92.0


def footer_text(profile: AreaProfile) -> str:
    """Source, notice and release in the foot of every page."""
    geo = profile.geography
    notice = f" · Hinweis: {geo.notice}" if geo.notice else ""
    return (f"Quelle: {geo.attribution}{notice} · Release {profile.release_id} · "
            f"Gesperrte Werte: {words.WITHHELD}")


def fact_lines(item: IndicatorProfile, profile: AreaProfile) -> list[tuple[str, str]]:
    """The facts of one indicator as (label, text) lines, as on the page."""
    v, unit, higher_is = item.current, item.indicator.unit, item.indicator.higher_is
    year = words.year_label(item.year) if item.year is not None else EMPTY
    if v is None or v.status != "published":
        status = words.status_text(v.status) if v is not None else words.MISSING
        return [(f"Wert {year}", status or words.MISSING)]
    places = words.decimals(v.rate)
    lines = [
        (f"Wert {year}", words.with_unit(v.rate, unit, places)),
        ("95 %-Intervall", words.interval(v.ci_low, v.ci_high, unit, places)),
        ("Zähler / Nenner", f"{words.count(v.numerator)} / {words.count(v.denominator)}"),
        ("Verlässlichkeit", words.reliability(v.reliable)),
    ]
    parent = profile.parent
    if parent is not None and parent.level != "total":
        lines.append((f"Vergleich mit {parent.name}", words.comparison(v.vs_parent, higher_is)))
    if profile.area.level != "total":
        lines.append((f"Vergleich mit {profile.geography.total_name}",
                      words.comparison(v.vs_total, higher_is)))
        lines.append(("Rang", words.rank(v.rank, v.rank_of)))
    return lines


def definition_lines(item: IndicatorProfile) -> list[str]:
    """Definition, counts, source and reference date as lines of small print."""
    d = item.definition
    lines = [f"Definition: {d.description}"] if d.description else []
    for label, c in d.parts:
        estimate = " (Schätzwert)" if c.estimate else ""
        lines.append(f"{label}: {c.name}{estimate}" + (f" – {c.definition}" if c.definition
                                                        else ""))
    lines.append(f"Quelle: {d.source or EMPTY} · Stichtag: {d.reference_date or EMPTY}")
    return lines


def _indicator(pdf: Document, item: IndicatorProfile, profile: AreaProfile, n: int) -> None:
    total = profile.geography.total_name
    spine = spine_svg(item, profile.area, total, f"s{n}")
    trend = trend_svg(item, profile.area, total, f"t{n}")
    chart_h = (SPINE_HEIGHT / SPINE_WIDTH + TREND_HEIGHT / TREND_WIDTH) * CHART_WIDTH + 4
    if pdf.will_page_break(max(chart_h, 40) + 22):
        pdf.add_page()
    unit = f" ({item.indicator.unit})" if item.indicator.unit else ""
    pdf.heading(f"{item.indicator.name}{unit}", size=10.5, space=1.5)
    top = pdf.get_y()
    for label, text in fact_lines(item, profile):
        pdf.set_x(MARGIN)
        pdf.para(f"{label}: {text}", size=8.5, width=FACTS_WIDTH, line=4.2,
                 bold=text == words.WITHHELD)
    facts_bottom = pdf.get_y()
    x = pdf.w - MARGIN - CHART_WIDTH
    y = top
    if spine:
        pdf.svg(spine, x, y, CHART_WIDTH)
        y += SPINE_HEIGHT / SPINE_WIDTH * CHART_WIDTH + 2
    if trend:
        pdf.svg(trend, x, y, CHART_WIDTH)
        y += TREND_HEIGHT / TREND_WIDTH * CHART_WIDTH
    pdf.set_xy(MARGIN, max(facts_bottom, y) + 1)
    for line in definition_lines(item):
        pdf.para(line, size=7, muted=True, line=3.2)
    pdf.ln(2)
    pdf.set_draw_color(200, 200, 200)
    pdf.line(MARGIN, pdf.get_y(), pdf.w - MARGIN, pdf.get_y())


def profile_pdf(profile: AreaProfile, *, locator: str | None = None) -> bytes:
    """The profile as an A4 PDF (bytes): cover facts and locator, then theme by theme."""
    area, geo = profile.area, profile.geography
    pdf = Document(title=f"Gebietsprofil {area.name} ({geo.name})", footer=footer_text(profile))
    pdf.set_subject(f"{area.level_name} {area.area_id}, Release {profile.release_id}")
    pdf.add_page()
    text_width = pdf.epw - (66 if locator else 0)
    pdf.para(f"Gebietsprofil · {geo.name}", size=9, muted=True, width=text_width)
    pdf.heading(area.name, size=20, space=0, width=text_width)
    within = ", ".join(f"{p.name} ({p.level_name})" for p in profile.parents)
    pdf.para(f"{area.level_name} {area.area_id}" + (f" · in {within}" if within else ""),
             size=9.5, width=text_width)
    pop = profile.population
    if pop is not None:
        shown = (words.count(pop.value) if pop.status == "published"
                 else words.status_text(pop.status) or EMPTY)
        pdf.para(f"{pop.name} ({words.year_label(pop.year)}): {shown}", size=9.5, bold=True,
                 width=text_width)
    if geo.notice:
        pdf.para(f"Hinweis: {geo.notice}", size=9, bold=True, width=text_width)
    pdf.ln(2)
    pdf.para(f"Quelle: {geo.attribution}", size=8, muted=True, width=text_width)
    pdf.para(f"Release {profile.release_id}, erstellt {profile.created}", size=8, muted=True,
             width=text_width)
    pdf.para(words.DISCLOSURE_NOTICE, size=8, muted=True, width=text_width)
    pdf.para("Lesehilfe: Werte mit 95 %-Intervall; „höher“/„niedriger“, wenn das Intervall den "
             "Vergleichswert ausschließt, sonst „ähnlich“. Rang 1 = höchster Wert. Einordnung: "
             "hellgrau Spannweite, dunkelgrau mittlere Hälfte aller Gebiete der Ebene, schwarz "
             f"{geo.total_name}, Punkt mit Strich das Gebiet.", size=8, muted=True,
             width=text_width)
    if locator:
        pdf.svg(locator, pdf.w - MARGIN - 60, MARGIN, 60)
        pdf.set_y(max(pdf.get_y(), MARGIN + 62))
    n = 0
    for theme, items in profile.themes:
        if pdf.will_page_break(60):
            pdf.add_page()
        pdf.heading(theme, size=14, space=4)
        for item in items:
            n += 1
            _indicator(pdf, item, profile, n)
    return pdf.bytes()
