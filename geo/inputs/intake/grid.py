"""The Zensus grid: counts per 100 m, 1 km or 10 km cell apportioned to areas by exact share.

The Zensus 2022 grid tables are ``;``-separated with ``GITTER_ID_100m`` (such as
``CRS3035RES100mN2689100E4337000``: CRS, cell size, and the lower-left corner in EPSG:3035)
and/or the cell centres ``x_mp_100m``/``y_mp_100m`` (``_1km``, ``_10km`` likewise), and one
or more value columns. Cells missing from the table hold nothing (the Zensus lists populated
cells only); ``–``, ``.``, ``x``, an empty value or a negative one is *unknown*: such cells add
nothing and are reported (how many, over which areas), never silently zero.

A cell split between areas goes to each by the exact share of its area inside
(``coverage``), computed in the grid's CRS (EPSG:3035, equal-area, so shares of area are
exact); the areas are reprojected there. The sums are estimates, rounded to counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS
from rasterio.transform import Affine
from rasterio.windows import Window

from geo.errors import IntakeError
from geo.inputs.intake.coverage import Grid
from geo.inputs.intake.provenance import Drop
from geo.inputs.intake.raster import Stat, Zonal, zonal
from geo.inputs.intake.table import numbers, read_table
from geo.inputs.intake.zones import Zones

GRID_CRS = "EPSG:3035"
"""CRS of the cell centre columns (the Zensus grid is ETRS89-LAEA)."""
_ID = re.compile(r"CRS(\d+)RES(\d+)mN(\d+)E(\d+)")
_CENTRE = re.compile(r"^([xy])_mp_(\d+)(k?m)$", re.IGNORECASE)
_SIGNS = re.compile(r"(werterl|zeichen|^name$|^gen$)", re.IGNORECASE)


@dataclass(frozen=True)
class GridTable:
    """Cells of a grid table: lower-left corners, size, CRS, values (NaN unknown), lines."""

    east: np.ndarray
    north: np.ndarray
    size: float
    crs: CRS
    values: np.ndarray
    lines: np.ndarray
    value_column: str


def _size(unit_number: str, unit: str) -> float:
    return float(unit_number) * (1000.0 if unit.lower() == "km" else 1.0)


def read_grid(path: Path, value_column: str | None = None) -> GridTable:
    """Read a Zensus-format grid table; raise IntakeError naming file, line and column."""
    table = read_table(path)
    fname = Path(path).name
    id_col = next((n for n in table.names if n.upper().startswith("GITTER_ID")), None)
    centres = {m.group(1).lower(): (n, _size(m.group(2), m.group(3)))
               for n in table.names if (m := _CENTRE.match(n))}
    if id_col is None and set(centres) != {"x", "y"}:
        raise IntakeError(f"{fname} line 1: expected a GITTER_ID_… column or x_mp_…/y_mp_… "
                          f"columns (columns: {', '.join(table.names)})")
    used = {id_col, *(n for n, _ in centres.values())}
    if value_column is None:
        candidates = [n for n in table.names if n not in used and not _SIGNS.search(n)]
        if len(candidates) != 1:
            raise IntakeError(f"{fname} line 1: name the value column with --value-column "
                              f"(candidates: {', '.join(candidates) or 'none'})")
        value_column = candidates[0]
    values, _ = numbers(table.column(value_column, "--value-column"))
    values[values < 0] = np.nan
    if id_col is not None:
        parts = pd.Series(table.columns[id_col], dtype="str").str.strip().str.extract(
            f"^{_ID.pattern}$")
        bad = parts.isna().any(axis=1).to_numpy()
        if bad.any():
            line = int(table.lines[np.argmax(bad)])
            raise IntakeError(f"{fname} line {line}: '{id_col}' is not a grid cell id like "
                              "CRS3035RES100mN2689100E4337000")
        fields = parts.astype(np.float64).to_numpy().reshape(-1, 4)
        codes, sizes = np.unique(fields[:, 0]), np.unique(fields[:, 1])
        if len(codes) != 1 or len(sizes) != 1:
            raise IntakeError(f"{fname}: cells of several CRSs or sizes ({codes}, {sizes})")
        crs, size = CRS.from_epsg(int(codes[0])), float(sizes[0])
        east, north = fields[:, 3], fields[:, 2]
    else:
        (xcol, size), (ycol, _) = centres["x"], centres["y"]
        xs, _ = numbers(table.columns[xcol])
        ys, _ = numbers(table.columns[ycol])
        bad = np.isnan(xs) | np.isnan(ys)
        if bad.any():
            raise IntakeError(f"{fname} line {int(table.lines[np.argmax(bad)])}: cell centre "
                              f"'{xcol}'/'{ycol}' is not a number")
        crs, east, north = CRS.from_user_input(GRID_CRS), xs - size / 2, ys - size / 2
    return GridTable(east, north, size, crs, values, table.lines, value_column)


def apportion(grid: GridTable, zones: Zones, *,
              progress: bool = False) -> tuple[Zonal, list[Drop], dict[str, str]]:
    """Sum of every area's cells, each weighted by the exact share of its area inside."""
    geoms = zones.to_crs(grid.crs)
    col = np.round(grid.east / grid.size).astype(np.int64)
    row = np.round(grid.north / grid.size).astype(np.int64)
    if len(col) == 0:
        raise IntakeError("the grid table has no cells")
    col0, row_top = int(col.min()), int(row.max()) + 1
    width, height = int(col.max()) - col0 + 1, row_top - int(row.min())
    transform = Affine(grid.size, 0, col0 * grid.size, 0, -grid.size, row_top * grid.size)
    key = (row_top - 1 - row) * width + (col - col0)
    order = np.argsort(key, kind="stable")
    keys, values = key[order], grid.values[order]
    if len(keys) > 1 and (np.diff(keys) == 0).any():
        dup = order[1:][np.diff(keys) == 0][0]
        raise IntakeError(f"line {int(grid.lines[dup])}: the cell appears twice in the table")

    def read(block: Window) -> np.ma.MaskedArray:
        r = np.arange(int(block.row_off), int(block.row_off + block.height))
        c = np.arange(int(block.col_off), int(block.col_off + block.width))
        wanted = (r[:, None] * width + c[None, :]).ravel()
        at = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
        found = keys[at] == wanted
        data = np.where(found, values[at], 0.0).reshape(len(r), len(c))
        return np.ma.masked_invalid(data)

    result = zonal(geoms, Grid(transform, width, height), read, Stat("sum"), crs=grid.crs,
                   progress=progress)
    unknown = np.isnan(grid.values)
    drops = []
    if unknown.any():
        hit = zonal(geoms, Grid(transform, width, height),
                    lambda b: np.ma.masked_array(np.isnan(read(b).filled(np.nan)) * 1.0),
                    Stat("sum"), crs=grid.crs)
        areas = zones.ids[np.nan_to_num(hit.values) > 0]
        drops.append(Drop("unknown", f"Gitterzellen ohne Wert (–, ., x oder negativ), die "
                          f"nicht mitzählen; sie berühren {len(areas)} Gebiete",
                          int(unknown.sum()), tuple(int(n) for n in grid.lines[unknown][:20])))
    crs_used = {"areas": zones.crs.to_string(), "grid": grid.crs.to_string(),
                "computation": f"{grid.crs.to_string()} (the grid's CRS; areas reprojected)"}
    return Zonal(result.values, result.coverage), drops, crs_used
