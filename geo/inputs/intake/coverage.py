"""Exact coverage fractions: the share of each grid cell's area that lies inside a polygon.

A cell wholly inside counts 1, a cell wholly outside 0, and a cell on the boundary
``area(cell ∩ polygon) / area(cell)``: not centroid-in-polygon, which is off by percent on
small areas. Per polygon only its window of the grid is visited, in blocks of at most
``BLOCK`` cells a side, so that a raster larger than memory works:

- the polygon is clipped to the block, then to each row of cells (``clip_by_rect``, GEOS'
  fast rectangle intersection);
- the area of a row's piece inside each column is ``-∫ y dx`` over the piece's directed edges
  clipped to the column (exteriors counter-clockwise, holes clockwise): exact for straight
  edges, and computed for every edge and column at once with numpy.

Fractions are computed in the grid's own CRS (planar): the caller reprojects the polygon.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.transform import Affine
from rasterio.windows import Window, from_bounds
from rasterio.windows import transform as window_transform

from geo.errors import IntakeError

BLOCK = 1024
"""Largest block (cells a side) held in memory at once per polygon."""


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


def _edges(strips: np.ndarray) -> tuple[np.ndarray, ...]:
    """Directed edges of every strip's rings (exteriors counter-clockwise) and their row."""
    parts, part_row = shapely.get_parts(strips, return_index=True)
    parts = shapely.orient_polygons(parts)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[1:] == coord_ring[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    row = part_row[ring_part[coord_ring[:-1][same]]]
    return start[:, 0], start[:, 1], end[:, 0], end[:, 1], row


def fractions(polygon: shapely.Geometry, grid: Grid, block: Window) -> np.ndarray:
    """Coverage fraction of every cell of ``block`` (rows x cols, float64, 0..1).

    The polygon is clipped to each row of cells (``clip_by_rect``); the area of a row's piece
    inside a column is then ``-∫ y dx`` over the piece's edges within the column (the
    trapezoid rule is exact for straight edges), for all edges and columns at once.
    """
    t = window_transform(block, grid.transform)
    height, width = int(block.height), int(block.width)
    x0, y1 = t.c, t.f
    x1, y0 = x0 + t.a * width, y1 + t.e * height
    part = shapely.clip_by_rect(polygon, x0, y0, x1, y1)
    out = np.zeros(height * width)
    if part.is_empty or shapely.area(part) == 0:
        return out.reshape(height, width)
    tops = (y1 + t.e * np.arange(height)).tolist()
    strips = np.array([shapely.clip_by_rect(part, x0, y + t.e, x1, y) for y in tops],
                      dtype=object)
    xa, ya, xb, yb, row = _edges(strips)
    moving = xa != xb  # vertical edges add nothing to -∫ y dx
    xa, ya, xb, yb, row = xa[moving], ya[moving], xb[moving], yb[moving], row[moving]
    base = np.asarray(tops)[row] + t.e  # each row's lower edge: small numbers, exact sums
    ya, yb = ya - base, yb - base
    lo, hi = np.minimum(xa, xb), np.maximum(xa, xb)
    first = np.clip(np.floor((lo - x0) / t.a).astype(np.int64), 0, width - 1)
    last = np.clip(np.floor((hi - x0) / t.a).astype(np.int64), 0, width - 1)
    spans = last - first + 1
    edge = np.repeat(np.arange(len(xa)), spans)
    col = first[edge] + np.arange(len(edge)) - np.repeat(np.cumsum(spans) - spans, spans)
    left = x0 + t.a * col
    u = np.maximum(lo[edge], left)
    v = np.minimum(hi[edge], left + t.a)
    slope = (yb - ya) / (xb - xa)
    yu = ya[edge] + (u - xa[edge]) * slope[edge]
    yv = ya[edge] + (v - xa[edge]) * slope[edge]
    area = -np.sign(xb - xa)[edge] * np.maximum(v - u, 0.0) * (yu + yv) / 2
    out += np.bincount(row[edge] * width + col, weights=area, minlength=height * width)
    return np.clip(out.reshape(height, width) / grid.cell_area, 0.0, 1.0)
