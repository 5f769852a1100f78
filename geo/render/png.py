"""The map of one indicator as a PNG for print (matplotlib): legend, title, attribution.

Areas and legend take their colours from ``geo.render.maps`` (``area_fills``,
``map_legend``); withheld areas are hatched grey as in the MapLibre viewer.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from geo.render.classes import WITHHELD_COLOR, WITHHELD_LABEL, WITHHELD_LINE
from geo.render.maps import MapData, area_fills, map_legend

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HATCH = "////"
EDGE = "#999999"
"""Outline of the legend's swatches."""


def png_figure(data: MapData, *, width: float = 8.0, dpi: int = 150) -> Figure:
    """The map as a matplotlib figure: areas in the axes, ``map_legend`` in the legend."""
    # matplotlib loads on the first PNG, not when the service starts
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    frame = data.frame
    minx, miny, maxx, maxy = frame.total_bounds
    aspect = 1 / math.cos(math.radians((miny + maxy) / 2))
    ratio = (maxy - miny) * aspect / max(maxx - minx, 1e-9)
    fig = Figure(figsize=(width, min(max(width * ratio + 1.4, 4.0), 14.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.1, 0.74, 0.8))
    ax.set_axis_off()
    ax.set_aspect(aspect)
    shown = (frame["status"] != "suppressed").to_numpy()
    fills = area_fills(data)
    if shown.any():
        frame[shown].plot(ax=ax, color=[c for c, s in zip(fills, shown, strict=True) if s],
                          edgecolor="white", linewidth=0.4)
    if not shown.all():
        frame[~shown].plot(ax=ax, facecolor=WITHHELD_COLOR, edgecolor=WITHHELD_LINE,
                           hatch=HATCH, linewidth=0.4)
    handles = [
        Patch(facecolor=entry.color, label=entry.label,
              edgecolor=WITHHELD_LINE if entry.role == "withheld" else EDGE,
              hatch=HATCH if entry.role == "withheld" else None)
        for entry in map_legend(data)
    ]
    unit = f" ({data.unit_label})" if data.unit_label else ""
    fig.legend(handles=handles, title=f"{data.year}{unit}", loc="lower left",
               bbox_to_anchor=(0.76, 0.12), fontsize=7, title_fontsize=8, frameon=False)
    fig.suptitle(data.title, fontsize=11, y=0.97)
    if data.notice:
        fig.text(0.5, 0.92, data.notice, ha="center", fontsize=8, color="#8a6d00")
    fig.text(0.02, 0.02, f"Quelle: {data.attribution} · Release {data.release_id} · "
             f"Gesperrte Werte: {WITHHELD_LABEL}", fontsize=6.5, color="#444444", wrap=True)
    return fig


def png_map(data: MapData, *, width: float = 8.0, dpi: int = 150) -> bytes:
    """The map as a PNG for print: legend, title, attribution; withheld areas hatched grey."""
    buf = io.BytesIO()
    png_figure(data, width=width, dpi=dpi).savefig(buf, format="png", dpi=dpi,
                                                   bbox_inches="tight", pad_inches=0.15)
    return buf.getvalue()


__all__ = ["png_figure", "png_map"]
