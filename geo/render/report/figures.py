"""The report's figures as 300 dpi PNG (for Word) and SVG (text stays text): the choropleth
map of one level (``geo.render.png``) and the whole area's development over the years."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo.release import PublishedBuild
from geo.render import maps, png
from geo.render.classes import format_number
from geo.render.profiles import words

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 300
WIDTH = 6.3
"""Inches: the text width of an A4 page with 2.5 cm margins (16 cm)."""
AREA_COLOR = "#1f5fa8"


def safe_name(*parts: object) -> str:
    """A file name from ids: letters, digits, ``_``, ``-`` and ``.`` only."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(str(p) for p in parts))


def save(fig: Figure, folder: Path, stem: str) -> tuple[str, str]:
    """Write ``stem.png`` (300 dpi) and ``stem.svg`` into ``folder``; return both names."""
    import matplotlib

    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{stem}.png", format="png", dpi=DPI, bbox_inches="tight",
                pad_inches=0.1)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": stem}):
        fig.savefig(folder / f"{stem}.svg", format="svg", bbox_inches="tight", pad_inches=0.1,
                    metadata={"Date": None})
    return f"{stem}.png", f"{stem}.svg"


def map_figure(published: PublishedBuild, indicator: str, level: str, year: Any) -> Figure:
    """The choropleth of one indicator, level and year (withheld areas hatched grey)."""
    data = maps.map_data(published, indicator, level=level, year=year)
    return png.png_figure(data, width=WIDTH, dpi=DPI)


def development_figure(published: PublishedBuild, indicator: str, table: pd.DataFrame,
                       ) -> Figure:
    """The whole area's rate over all years (points with 95 % intervals; pooled periods as
    horizontal bars); withheld years stay empty, no line is drawn across them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ind = published.catalogue.indicator(indicator)
    geo = published.geography
    fig = Figure(figsize=(WIDTH, 2.6), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1, 0.2, 0.86, 0.66))
    run_x: list[int] = []
    run_y: list[float] = []
    for row in table.itertuples(index=False):
        first, last = words.year_span(row.year)
        shown = row.status == "published" and pd.notna(row.rate)
        if first == last:
            if shown:
                run_x.append(first)
                run_y.append(float(row.rate))
                ax.errorbar([first], [row.rate], yerr=[[row.rate - row.ci_low],
                                                       [row.ci_high - row.rate]],
                            fmt="o", color=AREA_COLOR, capsize=3, markersize=4)
            else:
                if len(run_x) > 1:
                    ax.plot(run_x, run_y, color=AREA_COLOR, linewidth=1.5)
                run_x, run_y = [], []
        elif shown:
            ax.fill_between([first - 0.4, last + 0.4], row.ci_low, row.ci_high,
                            color=AREA_COLOR, alpha=0.15, linewidth=0)
            ax.hlines(row.rate, first - 0.4, last + 0.4, color=AREA_COLOR, linewidth=2.5)
    if len(run_x) > 1:
        ax.plot(run_x, run_y, color=AREA_COLOR, linewidth=1.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_number(v, 1)))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylabel(ind.unit or "", fontsize=8)
    ax.tick_params(labelsize=8)
    spans = [words.year_span(y) for y in table["year"]] or [(0, 0)]
    ax.set_xlim(min(s[0] for s in spans) - 0.6, max(s[1] for s in spans) + 0.6)
    fig.suptitle(f"{ind.name}: {geo.total_name}, Entwicklung", fontsize=10, y=0.97)
    fig.text(0.01, 0.02, f"Quelle: {geo.attribution} · Release {published.release_id} · "
             "Punkte mit 95 %-Intervall", fontsize=6, color="#444444", wrap=True)
    return fig
