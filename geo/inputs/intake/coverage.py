"""Exact coverage fractions: the share of each grid cell's area that lies inside a polygon.

A cell wholly inside counts 1, a cell wholly outside 0, and a cell on the boundary
``area(cell ∩ polygon) / area(cell)``: not centroid-in-polygon, which is off by percent on
small areas. Per polygon only its window of the grid is visited, in blocks of at most
``BLOCK`` cells a side, so that a raster larger than memory works:

- cells whose centre lies inside are found by rasterising the polygon (GDAL, at C speed);
- cells near the boundary (the rasterised outline, widened by one cell) get the exact
  fraction with vectorised shapely: the polygon is clipped to the block, then to each row's
  strip (``clip_by_rect``), then each strip to its cells, so that a cell's clip sees only the
  few vertices of its own row;
- every other cell lies wholly on one side of the boundary, and its centre tells which.

Fractions are computed in the grid's own CRS (planar): the caller reprojects the polygon.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine
from rasterio.windows import Window, from_bounds
from rasterio.windows import transform as window_transform
from scipy.ndimage import binary_dilation

from geo.errors import IntakeError

BLOCK = 1024
"""Largest block (cells a side) held in memory at once per polygon."""
_NEAR = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class Grid:
    """A regular, north-up grid: its transform and size in cells."""

    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        t = self.transform
        if t.b or t.d:
            raise IntakeError("rotated or sheared rasters are not supported (transform "
                              f"{tuple(t)[:6]})")
        if t.a <= 0 or t.e >= 0:
            raise IntakeError(f"only north-up rasters are supported (transform {tuple(t)[:6]})")

    @property
    def cell_area(self) -> float:
        """Area of one cell in the grid's CRS units."""
        return abs(self.transform.a * self.transform.e)

    def window(self, bounds: tuple[float, float, float, float]) -> Window | None:
        """The cells a bounding box touches, clipped to the grid (None when it misses)."""
        w = from_bounds(*bounds, transform=self.transform)
        col0, row0 = int(np.floor(w.col_off)), int(np.floor(w.row_off))
        col1 = int(np.ceil(w.col_off + w.width))
        row1 = int(np.ceil(w.row_off + w.height))
        col0, row0 = max(col0, 0), max(row0, 0)
        col1, row1 = min(col1, self.width), min(row1, self.height)
        if col1 <= col0 or row1 <= row0:
            return None
        return Window(col0, row0, col1 - col0, row1 - row0)


def blocks(window: Window, size: int = BLOCK) -> Iterator[Window]:
    """Split a window into blocks of at most ``size`` cells a side."""
    for row in range(int(window.row_off), int(window.row_off + window.height), size):
        height = min(size, int(window.row_off + window.height) - row)
        for col in range(int(window.col_off), int(window.col_off + window.width), size):
            width = min(size, int(window.col_off + window.width) - col)
            yield Window(col, row, width, height)


def fractions(polygon: shapely.Geometry, grid: Grid, block: Window) -> np.ndarray:
    """Coverage fraction of every cell of ``block`` (rows x cols, float64, 0..1)."""
    t = window_transform(block, grid.transform)
    shape = (int(block.height), int(block.width))
    x0, y1 = t.c, t.f
    x1, y0 = x0 + t.a * shape[1], y1 + t.e * shape[0]
    part = shapely.clip_by_rect(polygon, x0, y0, x1, y1)
    if part.is_empty or shapely.area(part) == 0:
        return np.zeros(shape)
    out = rasterize([(part, 1)], out_shape=shape, transform=t, fill=0,
                    dtype="uint8").astype(np.float64)
    edges = rasterize([(shapely.boundary(part), 1)], out_shape=shape, transform=t, fill=0,
                      dtype="uint8", all_touched=True)
    rows, cols = np.nonzero(binary_dilation(edges.astype(bool), structure=_NEAR))
    if not len(rows):
        return out
    strip_rows, row_of = np.unique(rows, return_inverse=True)
    top = y1 + t.e * strip_rows
    # one rectangle clip per row (GEOS' rectangle intersection, far faster than an overlay)
    strips = np.array([shapely.clip_by_rect(part, x0, y + t.e, x1, y) for y in top.tolist()],
                      dtype=object)
    left = (x0 + t.a * cols).tolist()
    tops = (y1 + t.e * rows).tolist()
    cells = [shapely.clip_by_rect(strips[k], x, y + t.e, x + t.a, y)
             for k, x, y in zip(row_of.tolist(), left, tops, strict=True)]
    area = shapely.area(np.array(cells, dtype=object))
    out[rows, cols] = np.clip(area / grid.cell_area, 0.0, 1.0)
    return out
