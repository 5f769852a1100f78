"""Zonal statistics of a raster per area, with exact area weighting (rasterio).

The areas are reprojected to the raster's CRS (densified, see ``zones``); each area's window is
read in blocks (``coverage.BLOCK``), so a raster larger than memory works; nodata cells (and
NaN) are left out. A cell on a boundary counts with the fraction of its area inside
(``coverage``). Statistics:

- ``sum``: sum of value x fraction, e.g. persons per cell -> persons per area (an estimate,
  rounded to a count);
- ``mean``: area-weighted mean of the valid cells (a measure, decimals kept);
- ``share:V``: share (0..1) of the area with valid data where the raster equals ``V`` (a
  measure), e.g. green space.

Cell areas are planar in a projected raster; in a geographic raster (degrees) a row's cells
weigh with the cosine of its latitude. ``coverage`` reports, per area, the share of its area
with valid raster data; an area with none gets no value (missing), never zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import CRS
from rasterio.errors import RasterioIOError
from rasterio.windows import Window
from tqdm import tqdm

from geo.errors import IntakeError
from geo.inputs.intake.coverage import Grid, blocks, fractions
from geo.inputs.intake.zones import Zones

STATS = ("sum", "mean", "share:VALUE")
"""Statistics ``--stat`` accepts."""

Reader = Callable[[Window], np.ma.MaskedArray]
"""Reads the values of a block of cells; masked where there is no valid value."""


@dataclass(frozen=True)
class Stat:
    """A zonal statistic: ``sum``, ``mean`` or ``share`` of one raster value."""

    name: str
    value: float | None = None

    @property
    def measure(self) -> bool:
        """Means and shares are measures (decimals); sums are counts."""
        return self.name != "sum"

    def __str__(self) -> str:
        return f"share:{self.value:g}" if self.name == "share" else self.name


def parse_stat(text: str) -> Stat:
    """``sum``, ``mean`` or ``share:V``; raise IntakeError for anything else."""
    if text in ("sum", "mean"):
        return Stat(text)
    if text.startswith("share:"):
        try:
            return Stat("share", float(text.split(":", 1)[1].replace(",", ".")))
        except ValueError:
            pass
    raise IntakeError(f"--stat {text!r}: expected one of {', '.join(STATS)} "
                      "(e.g. share:1 for the share of cells with value 1)")


@dataclass(frozen=True)
class Zonal:
    """Per area: the statistic (NaN where no valid cell) and the share of area with data."""

    values: np.ndarray
    coverage: np.ndarray


def _row_weights(grid: Grid, crs: CRS | None, block: Window) -> np.ndarray:
    """Relative cell area of each row of a block (cosine of latitude in degrees)."""
    if crs is None or not crs.is_geographic:
        return np.ones(int(block.height))
    t = grid.transform
    centre = t.f + t.e * (np.arange(int(block.height)) + int(block.row_off) + 0.5)
    return np.cos(np.radians(centre))


def zonal(geoms: np.ndarray, grid: Grid, read: Reader, stat: Stat, *,
          crs: CRS | None = None, progress: bool = False) -> Zonal:
    """The statistic of every area over a grid whose blocks ``read`` returns."""
    values = np.full(len(geoms), np.nan)
    covered = np.zeros(len(geoms))
    for i, geom in enumerate(tqdm(geoms, disable=not progress, unit="Gebiete",
                                  desc="Raster")):
        window = grid.window(shapely.bounds(geom))
        if window is None or geom.is_empty:
            continue
        total = weight = hits = 0.0
        for block in blocks(window):
            frac = fractions(geom, grid, block)
            if not frac.any():
                continue
            data = read(block)
            valid = ~np.ma.getmaskarray(data)
            cells = np.ma.getdata(data).astype(np.float64)
            valid &= np.isfinite(cells)
            w = frac * _row_weights(grid, crs, block)[:, None] * valid
            weight += float(w.sum())
            if stat.name == "sum":
                total += float(np.sum(frac * np.where(valid, cells, 0.0)))
            elif stat.name == "mean":
                total += float(np.sum(w * np.where(valid, cells, 0.0)))
            else:
                hits += float(np.sum(w * (cells == stat.value)))
        area = float(shapely.area(geom)) / grid.cell_area
        if crs is not None and crs.is_geographic:
            area *= float(np.cos(np.radians(shapely.centroid(geom).y)))
        covered[i] = min(weight / area, 1.0) if area else 0.0
        if weight > 0:
            values[i] = total if stat.name == "sum" else (
                total / weight if stat.name == "mean" else hits / weight)
    return Zonal(values, covered)


def raster_stats(path: Path, zones: Zones, stat: Stat, *, band: int = 1,
                 progress: bool = False) -> tuple[Zonal, dict[str, str]]:
    """Zonal statistics of one raster band per area; also the CRS used for each step."""
    path = Path(path)
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise IntakeError(f"{path}: cannot open the raster: {exc}") from None
    with src:
        if src.crs is None:
            raise IntakeError(f"{path.name}: the raster has no CRS")
        if not 1 <= band <= src.count:
            raise IntakeError(f"{path.name}: no band {band} (the raster has {src.count})")
        crs = CRS.from_user_input(src.crs.to_wkt())
        grid = Grid(src.transform, src.width, src.height)
        geoms = zones.to_crs(crs)

        def read(block: Window) -> np.ma.MaskedArray:
            return src.read(band, window=block, masked=True)

        result = zonal(geoms, grid, read, stat, crs=crs, progress=progress)
        crs_used = {"areas": zones.crs.to_string(), "raster": crs.to_string(),
                    "computation": f"{crs.to_string()} (the raster's CRS; areas reprojected)",
                    "nodata": "none" if src.nodata is None else f"{src.nodata:g}"}
    return result, crs_used
