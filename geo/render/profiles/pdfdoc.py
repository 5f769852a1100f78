"""An A4 PDF with selectable text (fpdf2, no browser): fonts, footer, headings, SVG and tables.

The font is DejaVu Sans as matplotlib ships it (German glyphs, no download). Text goes in as
plain text, never as markup, so hostile names print as they are; control characters are
dropped.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from geo.render.profiles.svg import for_pdf

FAMILY = "DejaVu Sans"
"""Also the first ``font-family`` of our SVG, so its text prints in the same font."""
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
MARGIN = 15.0
TEXT = (34, 34, 34)
MUTED = (90, 90, 90)

logging.getLogger("fpdf.svg").setLevel(logging.ERROR)


def clean(text: object) -> str:
    """Printable text: tabs and line breaks become spaces, other control characters go."""
    return "".join(
        " " if c in "\t\n\r" else c
        for c in str(text)
        if c in "\t\n\r" or unicodedata.category(c)[0] != "C"
    )


class Document(FPDF):
    """A4 portrait with Quartier's fonts and a footer naming the source and the page."""

    def __init__(self, *, title: str, footer: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.add_font(FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=20)
        self.set_lang("de")
        self.set_title(clean(title))
        self.set_creator("Quartier")
        self._footer_text = clean(footer)
        self.alias_nb_pages()
        self.set_text_color(*TEXT)

    def footer(self) -> None:
        """Source, release and page number at the foot of every page."""
        self.set_y(-16)
        self.set_font(FAMILY, "", 6.5)
        self.set_text_color(*MUTED)
        self.multi_cell(self.epw - 22, 3, self._footer_text, new_x=XPos.RIGHT,
                        new_y=YPos.TOP, align="L", max_line_height=3)
        self.set_xy(self.w - MARGIN - 20, -16)
        self.cell(20, 3, f"Seite {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(*TEXT)

    def heading(self, text: str, size: float = 14, *, space: float = 2,
                width: float = 0) -> None:
        """A bold heading (also an outline entry of the PDF for sizes from 12 pt)."""
        self.ln(space)
        self.set_font(FAMILY, "B", size)
        if size >= 12:
            self.start_section(clean(text)[:120], level=0 if size >= 14 else 1, strict=False)
        self.multi_cell(width, size * 0.5, clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                        align="L")
        self.ln(1)

    def para(self, text: str, size: float = 9, *, muted: bool = False, bold: bool = False,
             width: float = 0, line: float | None = None) -> None:
        """A paragraph of plain text (wrapped, left aligned)."""
        self.set_font(FAMILY, "B" if bold else "", size)
        if muted:
            self.set_text_color(*MUTED)
        x = self.get_x()
        self.multi_cell(width, line or size * 0.45, clean(text), new_x=XPos.LEFT,
                        new_y=YPos.NEXT, align="L")
        self.set_x(x)
        self.set_text_color(*TEXT)

    def svg(self, svg: str, x: float, y: float, width: float) -> None:
        """Our SVG as vectors (shapes and text), ``width`` mm wide."""
        self.image(io.BytesIO(for_pdf(svg)), x=x, y=y, w=width)

    def table_rows(self, header: Sequence[str], rows: Sequence[Sequence[str]],
                   widths: Sequence[float], *, size: float = 7.5,
                   align: Sequence[str] | None = None) -> None:
        """A table with a repeated header row; cells are plain text."""
        self.set_font(FAMILY, "", size)
        with self.table(col_widths=tuple(widths), width=sum(widths), align="LEFT",
                        line_height=size * 0.5, first_row_as_headings=True,
                        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
                        text_align=tuple(align or ["LEFT"] * len(widths)),
                        repeat_headings=1, padding=0.6) as table:
            head = table.row()
            for cell in header:
                head.cell(clean(cell))
            for values in rows:
                row = table.row()
                for cell in values:
                    row.cell(clean(cell))

    def bytes(self) -> bytes:
        """The finished PDF."""
        return bytes(self.output())
