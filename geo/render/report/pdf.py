"""The report as an A4 PDF (optional): the same figures and tables as ``index.html``."""

from __future__ import annotations

from pathlib import Path

from geo.release import PublishedBuild
from geo.render.classes import EMPTY
from geo.render.profiles import words
from geo.render.profiles.definitions import indicator_definition
from geo.render.profiles.pdfdoc import Document
from geo.render.report.page import IndicatorPart, ReportContent

RANK_WIDTHS = (12, 52, 20, 22, 30, 22, 22)


def _part(pdf: Document, published: PublishedBuild, part: IndicatorPart, folder: Path) -> None:
    ind = published.catalogue.indicator(part.indicator)
    d = indicator_definition(published.catalogue, ind)
    pdf.add_page()
    pdf.heading(f"{ind.name}" + (f" ({ind.unit})" if ind.unit else ""), size=12)
    if d.description:
        pdf.para(f"Definition: {d.description}", size=8, muted=True)
    pdf.para(f"Quelle: {d.source or EMPTY} · Stichtag: {d.reference_date or EMPTY}", size=8,
             muted=True)
    for lp in part.levels:
        year = words.year_label(lp.year)
        pdf.heading(f"{lp.level_name}, {year}", size=10)
        if pdf.will_page_break(110):
            pdf.add_page()
        pdf.image(str(folder / "figures" / lp.png), w=pdf.epw * 0.85, alt_text=lp.alt)
        rows = []
        for r in lp.table.itertuples(index=False):
            published_row = r.status == "published"
            status = words.status_text(r.status)
            rows.append([
                str(r.rank) if published_row and r.rank is not None else EMPTY,
                str(r.name), str(r.area_id),
                status or words.with_unit(r.rate, ind.unit),
                words.interval(r.ci_low, r.ci_high) if published_row else EMPTY,
                words.count(r.numerator) if published_row else EMPTY,
                words.count(r.denominator) if published_row else EMPTY,
            ])
        pdf.table_rows(["Rang", "Gebiet", "Schlüssel", "Wert", "95 %-Intervall", "Zähler",
                        "Nenner"], rows, RANK_WIDTHS,
                       align=["RIGHT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"])
    if part.development_png:
        pdf.heading(f"Entwicklung {published.geography.total_name}", size=10)
        pdf.image(str(folder / "figures" / part.development_png), w=pdf.epw * 0.85,
                  alt_text=part.development_alt)


def report_pdf(published: PublishedBuild, content: ReportContent, folder: Path) -> bytes:
    """The report (figures from ``folder``) as an A4 PDF with selectable text."""
    geo = published.geography
    notice = f" · Hinweis: {geo.notice}" if geo.notice else ""
    pdf = Document(title=f"Monitoringbericht {geo.name}",
                   footer=f"Quelle: {geo.attribution}{notice} · Release {published.release_id}"
                          f" · Gesperrte Werte: {words.WITHHELD}")
    pdf.add_page()
    pdf.heading(f"Monitoringbericht {geo.name}", size=20)
    if geo.notice:
        pdf.para(f"Hinweis: {geo.notice}", bold=True)
    pdf.para(f"Release {published.release_id}, erstellt {published.created}", muted=True)
    pdf.para(f"Quelle: {geo.attribution}", muted=True)
    pdf.ln(2)
    pdf.para(words.DISCLOSURE_NOTICE)
    for theme, parts in content.themes:
        pdf.add_page()
        pdf.heading(theme, size=16)
        for part in parts:
            _part(pdf, published, part, folder)
    return pdf.bytes()
