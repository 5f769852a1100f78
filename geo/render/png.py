"""The map of one indicator as a PNG for print (matplotlib): legend, title, attribution.

Areas and legend take their colours from ``geo.render.maps`` (``area_fills``,
``map_legend``); withheld areas are hatched grey as in the MapLibre viewer, areas without
data dotted with a grey edge (visible on the white page), unreliable rates outlined dashed.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

from geo.render.classes import (
    MISSING_COLOR,
    MISSING_LINE,
    UNRELIABLE_DASH,
    UNRELIABLE_LINE,
    WITHHELD_COLOR,
    WITHHELD_LABEL,
    WITHHELD_LINE,
    LegendEntry,
)
from geo.render.maps import MapData, area_fills, map_legend, missing_areas

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HATCH = "////"
MISSING_HATCH = "...."
EDGE = "#999999"
"""Outline of the legend's swatches."""
UNRELIABLE_WIDTH = 0.9


def _legend_patch(entry: LegendEntry) -> Any:
    from matplotlib.patches import Patch

    if entry.role == "withheld":
        return Patch(facecolor=entry.color, edgecolor=WITHHELD_LINE, hatch=HATCH,
                     label=entry.label)
    if entry.role == "missing":
        return Patch(facecolor=entry.color, edgecolor=MISSING_LINE, hatch=MISSING_HATCH,
                     label=entry.label)
    if entry.role == "unreliable":
        return Patch(facecolor="white", edgecolor=entry.color, linewidth=UNRELIABLE_WIDTH,
                     linestyle=(0, UNRELIABLE_DASH), label=entry.label)
    return Patch(facecolor=entry.color, edgecolor=EDGE, label=entry.label)


def png_figure(data: MapData, *, width: float = 8.0, dpi: int = 150) -> Figure:
    """The map as a matplotlib figure: areas in the axes, ``map_legend`` in the legend.

    The axes hold, in order: the classed areas, the areas without data, the withheld areas
    and the outlines of unreliable rates (each collection only if there are such areas).
    """
    # matplotlib loads on the first PNG, not when the service starts
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frame = data.frame
    minx, miny, maxx, maxy = frame.total_bounds
    aspect = 1 / math.cos(math.radians((miny + maxy) / 2))
    ratio = (maxy - miny) * aspect / max(maxx - minx, 1e-9)
    fig = Figure(figsize=(width, min(max(width * ratio + 1.4, 4.0), 14.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.1, 0.74, 0.8))
    ax.set_axis_off()
    ax.set_aspect(aspect)
    withheld = (frame["status"] == "suppressed").to_numpy()
    missing = missing_areas(data)
    classed = ~withheld & ~missing
    fills = area_fills(data)
    if classed.any():
        frame[classed].plot(ax=ax, color=[c for c, s in zip(fills, classed, strict=True) if s],
                            edgecolor="white", linewidth=0.4)
    if missing.any():
        frame[missing].plot(ax=ax, facecolor=MISSING_COLOR, edgecolor=MISSING_LINE,
                            hatch=MISSING_HATCH, linewidth=0.5)
    if withheld.any():
        frame[withheld].plot(ax=ax, facecolor=WITHHELD_COLOR, edgecolor=WITHHELD_LINE,
                             hatch=HATCH, linewidth=0.4)
    unreliable = frame["unreliable"].to_numpy(dtype=bool)
    if unreliable.any():
        frame[unreliable].boundary.plot(ax=ax, color=UNRELIABLE_LINE, linewidth=UNRELIABLE_WIDTH,
                                        linestyle=(0, UNRELIABLE_DASH))
    handles = [_legend_patch(entry) for entry in map_legend(data)]
    unit = f" ({data.unit_label})" if data.unit_label else ""
    fig.legend(handles=handles, title=f"{data.period_label}{unit}", loc="lower left",
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
