"""Points: geocoded addresses (schools, day-care centres, registrations) counted per area.

Each point counts in exactly one area of the finest level, by this rule (the *border rule*):

1. a point in the interior of an area counts there;
2. a point on the boundary of several areas (a shared border or corner) counts in the one with
   the smallest ``area_id`` in text order (``"0110"`` before ``"0120"``); so does a point in the
   interior of two areas that overlap (a small overlap the geography check tolerates);
3. a point in no area is *outside*: it is counted, reported with its line numbers and written
   to the provenance file, never silently dropped. So are rows without coordinates or with
   coordinates that are not numbers.

The computation runs in the CRS of the geography's boundary file; the points are transformed
into it (from ``--crs``, the vector file's CRS, or EPSG:4326 for lon/lat columns). Counting is
vectorised: a lookup grid of the areas places the points that lie well inside one area; the
points near a boundary get one STRtree query of the prepared areas (interior), then a second
one for those on no area's interior (boundary).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from rasterio.features import rasterize
from rasterio.transform import Affine
from scipy.ndimage import binary_dilation

from geo.errors import IntakeError
from geo.inputs.intake.output import Column, check_variable_id
from geo.inputs.intake.provenance import Drop, drop
from geo.inputs.intake.table import read_header, read_table
from geo.inputs.intake.zones import Zones

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
COORDINATE_NAMES = (
    ("x", "y"), ("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("laenge", "breite"),
    ("rechtswert", "hochwert"), ("easting", "northing"), ("ost", "nord"), ("x_coord", "y_coord"),
)
"""Column pairs found without ``--x``/``--y`` (case-insensitive)."""
LOOKUP_CELLS = 2048
"""Cells across the lookup grid that places points far from any boundary without a test."""
_LONLAT = {"lon", "lng", "longitude", "lat", "latitude", "laenge", "breite"}
_UNSAFE = re.compile(r"[\s,;\"'/\\]+")


@dataclass
class PointSource:
    """Points read from a file: coordinates (NaN where unusable), row numbers and attributes."""

    x: np.ndarray
    y: np.ndarray
    lines: np.ndarray
    unit: str
    crs: CRS
    attributes: dict[str, np.ndarray]
    drops: list[Drop] = field(default_factory=list)


@dataclass
class PointCounts:
    """What counting gave: one column per variable and year, and what was left out."""

    columns: list[Column]
    drops: list[Drop]
    groups: dict[str, str]
    source_crs: str


def _crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise IntakeError(f"--crs {text!r} is not a CRS (e.g. EPSG:25832): {exc}") from None


def _coordinate_columns(names: Sequence[str], x: str | None, y: str | None,
                        fname: str) -> tuple[str, str]:
    if x and y:
        return x, y
    lower = {n.casefold(): n for n in names}
    for cx, cy in COORDINATE_NAMES:
        if cx in lower and cy in lower:
            return x or lower[cx], y or lower[cy]
    raise IntakeError(f"{fname} line 1: cannot tell the coordinate columns; name them with "
                      f"--x and --y (columns: {', '.join(names)})")


def _read_csv(path: Path, x: str | None, y: str | None, crs: str | None,
              wanted: Sequence[tuple[str, str]]) -> PointSource:
    names = read_header(path)
    xcol, ycol = _coordinate_columns(names, x, y, path.name)
    for name, role in [(xcol, "--x"), (ycol, "--y"), *wanted]:
        if name not in names:
            raise IntakeError(f"{path.name} line 1: no column '{name}' for {role} "
                              f"(columns: {', '.join(names)})")
    table = read_table(path, numeric=[xcol, ycol], only=[xcol, ycol, *(n for n, _ in wanted)])
    xs, x_empty = table.numeric[xcol]
    ys, y_empty = table.numeric[ycol]
    if crs is None:
        if not {xcol.casefold(), ycol.casefold()} <= _LONLAT:
            ok = ~np.isnan(xs)
            span = f"{np.nanmin(xs):.0f} … {np.nanmax(xs):.0f}" if ok.any() else "empty"
            raise IntakeError(f"{path.name}: give the CRS of columns '{xcol}'/'{ycol}' with "
                              f"--crs (e.g. EPSG:25832); '{xcol}' ranges {span}")
        crs = "EPSG:4326"
    attributes = {n: table.column(n, role) for n, role in wanted}
    missing = x_empty | y_empty
    bad = ~missing & (np.isnan(xs) | np.isnan(ys))
    drops = [d for d in (
        drop("missing", "Zeilen ohne Koordinaten", missing, table.lines),
        drop("unparsable", f"Zeilen mit Koordinaten, die keine Zahlen sind (Spalten '{xcol}', "
             f"'{ycol}')", bad, table.lines),
    ) if d]
    xs[missing | bad] = np.nan
    ys[missing | bad] = np.nan
    return PointSource(xs, ys, table.lines, "Zeilen", _crs(crs), attributes, drops)


def _read_vector(path: Path, crs: str | None,
                 wanted: Sequence[tuple[str, str]]) -> PointSource:
    try:
        info = pyogrio.read_info(path)
        fields = [str(f) for f in info["fields"]]
        for name, role in wanted:
            if name not in fields:
                raise IntakeError(f"{path.name}: no field '{name}' for {role} "
                                  f"(fields: {', '.join(fields) or 'none'})")
        frame = pyogrio.read_dataframe(path, columns=[n for n, _ in wanted], fid_as_index=True)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise IntakeError(f"{path}: cannot read the points: {exc}") from None
    if frame.crs is None and crs is None:
        raise IntakeError(f"{path.name}: the file has no CRS; give it with --crs")
    if frame.crs is not None and crs is not None and not _crs(crs).equals(frame.crs):
        raise IntakeError(f"{path.name}: --crs {crs} differs from the file's CRS "
                          f"{frame.crs.to_string()}")
    geoms = frame.geometry.to_numpy()
    fids = frame.index.to_numpy(dtype=np.int64)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    single = shapely.get_num_geometries(geoms) == 1
    kind = shapely.get_type_id(geoms)
    wrong = ~missing & ~((kind == 0) | ((kind == 4) & single))
    if wrong.any():
        raise IntakeError(f"{path.name} feature {fids[np.argmax(wrong)]}: a "
                          f"{shapely.get_type(geoms[np.argmax(wrong)])}, not a point "
                          f"({int(wrong.sum())} such features)")
    points = geoms.copy()
    multi = ~missing & (kind == 4)
    points[multi] = shapely.get_geometry(geoms[multi], 0)
    coords = np.full((len(geoms), 2), np.nan)
    coords[~missing] = shapely.get_coordinates(points[~missing])
    attributes = {n: frame[n].astype(str).where(frame[n].notna(), "").to_numpy(dtype=object)
                  for n, _ in wanted}
    drops = [d for d in [drop("missing", "Features ohne Geometrie", missing, fids, "Features")]
             if d]
    return PointSource(coords[:, 0], coords[:, 1], fids, "Features",
                       CRS.from_user_input(frame.crs or crs), attributes, drops)


def read_points(path: Path, *, x: str | None = None, y: str | None = None,
                crs: str | None = None, wanted: Sequence[tuple[str, str]] = ()) -> PointSource:
    """Read points from a CSV export (coordinate columns) or any vector file GDAL reads.

    ``wanted`` lists ``(column, role)`` pairs read as text (year, group, ``--where``).
    """
    path = Path(path)
    if not path.exists():
        raise IntakeError(f"{path}: file not found")
    if path.suffix.lower() in CSV_SUFFIXES:
        return _read_csv(path, x, y, crs, wanted)
    return _read_vector(path, crs, wanted)


def _exact(x: np.ndarray, y: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """The border rule with shapely: smallest index among the areas whose interior holds the
    point, else among those whose boundary does; -1 for none."""
    best = np.full(len(x), len(geoms), dtype=np.int64)
    if not len(x):
        return best - len(geoms) - 1
    points = shapely.points(x, y)
    area_i, point_i = shapely.STRtree(points).query(geoms, predicate="contains")
    np.minimum.at(best, point_i, area_i)
    rest = np.flatnonzero(best == len(geoms))
    if len(rest):  # on a boundary (or outside): every area whose closure holds the point
        area_i, point_j = shapely.STRtree(points[rest]).query(geoms, predicate="intersects")
        np.minimum.at(best, rest[point_j], area_i)
    return np.where(best < len(geoms), best, -1)


def _label_grid(geoms: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, Affine]:
    """Area index + 1 of every cell of a grid over the areas; -1 near any boundary.

    A cell at least one cell away from every boundary lies wholly inside one area (or none),
    so a point in it needs no geometry test. Smaller indices are burned last and win overlaps.
    """
    width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
    size = max(width, height) / LOOKUP_CELLS or 1.0
    shape = (max(1, int(np.ceil(height / size))), max(1, int(np.ceil(width / size))))
    transform = Affine(size, 0, bounds[0], 0, -size, bounds[1] + shape[0] * size)
    order = np.arange(len(geoms))[::-1]
    labels = rasterize(zip(geoms[order], order + 1, strict=True), out_shape=shape,
                       transform=transform, fill=0, dtype="int32")
    edges = rasterize(((b, 1) for b in shapely.boundary(geoms)), out_shape=shape,
                      transform=transform, fill=0, dtype="uint8", all_touched=True)
    near = binary_dilation(edges.astype(bool), structure=np.ones((3, 3), dtype=bool))
    labels[near] = -1
    return labels, transform


def assign_points(x: np.ndarray, y: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    """The index of the area each point counts in (the border rule), -1 outside or unusable.

    ``geoms`` must be sorted by area_id, so that the smallest index is the smallest area_id.
    A lookup grid (``LOOKUP_CELLS`` across) answers for points well inside an area; points
    near a boundary get the exact shapely test.
    """
    out = np.full(len(x), -1, dtype=np.int64)
    usable = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if not len(usable) or not len(geoms):
        return out
    bounds = shapely.total_bounds(geoms)
    px, py = x[usable], y[usable]
    inside = (px >= bounds[0]) & (px <= bounds[2]) & (py >= bounds[1]) & (py <= bounds[3])
    usable, px, py = usable[inside], px[inside], py[inside]
    shapely.prepare(geoms)
    labels, transform = _label_grid(geoms, bounds)
    col = np.clip(((px - transform.c) / transform.a).astype(np.int64), 0, labels.shape[1] - 1)
    row = np.clip(((py - transform.f) / transform.e).astype(np.int64), 0, labels.shape[0] - 1)
    label = labels[row, col].astype(np.int64)
    out[usable] = label - 1
    near = label < 0
    out[usable[near]] = _exact(px[near], py[near], geoms)
    return out


def _to_crs(source: PointSource, target: CRS) -> None:
    if source.crs.equals(target, ignore_axis_order=True):
        return
    transformer = Transformer.from_crs(source.crs, target, always_xy=True)
    with np.errstate(invalid="ignore"):
        x, y = transformer.transform(source.x, source.y)
    bad = ~(np.isfinite(x) & np.isfinite(y)) & np.isfinite(source.x)
    x[bad] = np.nan
    y[bad] = np.nan
    source.x, source.y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    extra = drop("untransformable", f"Punkte, die sich nicht nach {target.to_string()} "
                 "umrechnen lassen", bad, source.lines, source.unit)
    if extra:
        source.drops.append(extra)


def _years(texts: np.ndarray, column: str) -> tuple[np.ndarray, np.ndarray]:
    text = pd.Series(texts, dtype=object).astype(str).str.strip()
    year = pd.to_numeric(text.str.slice(0, 4).where(text.str.fullmatch(r"\d{4}(-.*|\.0)?")),
                         errors="coerce")
    valid = year.between(1900, 2100).to_numpy()
    return np.where(valid, year.fillna(0).to_numpy(), 0).astype(np.int64), valid


def group_variable(variable: str, value: str) -> str:
    """The variable of one group: ``<ID>_<value>``, unsafe characters replaced by ``_``."""
    return check_variable_id(f"{variable}_{_UNSAFE.sub('_', value.strip()).strip('_')}")


def count_points(
    source: PointSource,
    zones: Zones,
    *,
    variable: str,
    year: int | None = None,
    year_column: str | None = None,
    where: Sequence[tuple[str, str]] = (),
    group_column: str | None = None,
) -> PointCounts:
    """Count the points per area (and year, and group), reporting every point left out."""
    drops = list(source.drops)
    _to_crs(source, zones.crs)
    keep = np.ones(len(source.x), dtype=bool)
    for column, value in where:
        chosen = pd.Series(source.attributes[column], dtype=object).astype(str).str.strip()
        keep &= chosen.eq(value).to_numpy()
    filtered = drop("where", "nicht ausgewählt (--where " + ", ".join(
        f"{c}={v}" for c, v in where) + ")", ~keep, source.lines, source.unit)
    if year_column is not None:
        years, valid = _years(source.attributes[year_column], year_column)
        bad = drop("year", f"{source.unit} ohne gültiges Jahr in Spalte '{year_column}'",
                   keep & ~valid, source.lines, source.unit)
        keep &= valid
        drops += [bad] if bad else []
    else:
        assert year is not None
        years = np.full(len(source.x), year, dtype=np.int64)
    groups: dict[str, str] = {}
    if group_column is not None:
        text = pd.Series(source.attributes[group_column], dtype=object).astype(str).str.strip()
        empty = text.eq("").to_numpy()
        bad = drop("group", f"{source.unit} ohne Wert in Spalte '{group_column}'",
                   keep & empty, source.lines, source.unit)
        keep &= ~empty
        drops += [bad] if bad else []
        group_code, labels = pd.factorize(text.where(keep, ""), sort=True)
        names = [group_variable(variable, str(v)) if v else "" for v in labels]
        groups = {str(v): n for v, n in zip(labels, names, strict=True) if v}
    else:
        group_code, names = np.zeros(len(source.x), dtype=np.int64), [variable]
    area = assign_points(source.x, source.y, zones.geoms)
    usable = keep & np.isfinite(source.x)
    outside = drop("outside", "Punkte außerhalb der Geografie", usable & (area < 0),
                   source.lines, source.unit)
    drops = [d for d in [*drops, outside, filtered] if d]
    counted = usable & (area >= 0)
    year_list = sorted({int(v) for v in years[counted]}) or ([year] if year else [])
    year_pos = {y: i for i, y in enumerate(year_list)}
    ycode = np.array([year_pos.get(int(v), 0) for v in years[counted]], dtype=np.int64)
    n_areas, n_years = len(zones.ids), max(len(year_list), 1)
    flat = (group_code[counted] * n_years + ycode) * n_areas + area[counted]
    tally = np.bincount(flat, minlength=len(names) * n_years * n_areas)
    tally = tally.reshape(len(names), n_years, n_areas)
    columns = [Column(name, y, tally[g, i].astype(float))
               for g, name in enumerate(names) if name for y, i in year_pos.items()]
    return PointCounts(columns, drops, groups, source.crs.to_string())
