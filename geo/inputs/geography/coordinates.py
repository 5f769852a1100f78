"""Coordinates against their CRS: impossible coordinates are an error, not a GEOS traceback.

A GeoJSON file without a ``crs`` member is WGS84 longitude/latitude (RFC 7946), so projected
coordinates in it lie far outside ±180/±90. The same check finds coordinates that are not finite
numbers, that the CRS cannot turn into longitude/latitude, and coordinates far from where a
projected CRS is used (longitude/latitude numbers declared as UTM, say).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.inputs.geography.manifest import MANIFEST, LevelSpec
from geo.inputs.geography.report import _Findings
from geo.inputs.geography.rows import _as_text

AREA_OF_USE_MARGIN = 10.0
"""Degrees around a projected CRS's area of use within which coordinates are plausible."""
EXAMPLE_CRS = 'crs = "EPSG:25832"'
"""The fix a message suggests for projected coordinates without a CRS (ETRS89 / UTM 32N)."""

_LONLAT = "EPSG:4326"
_SLACK = 1e-7  # degrees: rounding in files that reach exactly ±180/±90


def _num(value: float) -> str:
    if not math.isfinite(value) or abs(value) >= 1e15:
        return f"{value:.3g}"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.6g}"


def _extent(bounds: np.ndarray) -> str:
    """The extent of some feature bounds as ``(xmin, ymin) to (xmax, ymax)``."""
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanmin(bounds[:, :2], axis=0), np.nanmax(bounds[:, 2:], axis=0)
    return f"({_num(lo[0])}, {_num(lo[1])}) to ({_num(hi[0])}, {_num(hi[1])})"


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else str(crs.name)


def _in_lonlat_range(bounds: np.ndarray) -> np.ndarray:
    return ((bounds[:, 0] >= -180 - _SLACK) & (bounds[:, 2] <= 180 + _SLACK)
            & (bounds[:, 1] >= -90 - _SLACK) & (bounds[:, 3] <= 90 + _SLACK))


def _present(geoms: np.ndarray) -> np.ndarray:
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))


def _lonlat_corners(crs: CRS, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitude/latitude of each bounding box's corners, and which boxes survive a round trip.

    A projected point that PROJ cannot invert comes back infinite; one that it wraps (x far
    beyond the world in Web Mercator) does not come back to where it was.
    """
    x = bounds[:, [0, 2, 0, 2]].ravel()
    y = bounds[:, [1, 1, 3, 3]].ravel()
    # the CRS's own datum: no datum shift, whose way back may differ by metres
    base = crs.geodetic_crs or CRS.from_user_input(_LONLAT)
    lon, lat = Transformer.from_crs(crs, base, always_xy=True).transform(x, y, errcheck=False)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    back_x, back_y = Transformer.from_crs(base, crs, always_xy=True).transform(
        np.where(ok, lon, 0.0), np.where(ok, lat, 0.0), errcheck=False)
    with np.errstate(invalid="ignore"):
        tolerance = np.maximum(1.0, 1e-9 * np.maximum(np.abs(x), np.abs(y)))
        ok &= (np.abs(np.asarray(back_x) - x) <= tolerance) & (
            np.abs(np.asarray(back_y) - y) <= tolerance)
    return lon.reshape(-1, 4), lat.reshape(-1, 4), ok.reshape(-1, 4).all(axis=1)


def _impossible(geoms: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Which geometries have coordinates impossible in ``crs``; lon/lat bounds of the others."""
    bounds = shapely.bounds(geoms)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad = ~np.isfinite(bounds).all(axis=1)
    bad[index[~np.isfinite(coords).all(axis=1)]] = True  # bounds skip NaN coordinates
    lonlat = np.full((len(geoms), 4), np.nan)
    good = np.flatnonzero(~bad)
    if crs.is_geographic:
        bad[good] = ~_in_lonlat_range(bounds[good])
        lonlat[good] = bounds[good]
    elif len(good):
        lon, lat, ok = _lonlat_corners(crs, bounds[good])
        bad[good[~ok]] = True
        with np.errstate(invalid="ignore"):
            lonlat[good] = np.column_stack([lon.min(axis=1), lat.min(axis=1),
                                            lon.max(axis=1), lat.max(axis=1)])
    return bad, lonlat


def _hint(level: LevelSpec, crs: CRS, geojson: bool) -> str:
    """How to fix a file whose coordinates are impossible in its CRS."""
    where = f"'crs' for level '{level.id}' in {MANIFEST}"
    if level.crs is not None and _crs_name(crs) == _crs_name(CRS.from_user_input(level.crs)):
        return f"; is {where} right?"
    if crs.is_geographic and geojson:
        return ("; a GeoJSON without a 'crs' member is WGS84 longitude/latitude (RFC 7946), so "
                f"this one is probably projected: set {where} (e.g. {EXAMPLE_CRS}) or add a "
                "'crs' member to the file")
    example = f" (e.g. {EXAMPLE_CRS})" if EXAMPLE_CRS.find(_crs_name(crs)) < 0 else ""
    return f"; set the file's real CRS with {where}{example}"


def _far_from_use(crs: CRS, lonlat: np.ndarray) -> str | None:
    """Where the features lie if that is far outside the projected CRS's area of use."""
    area = crs.area_of_use
    if crs.is_geographic or area is None or area.west > area.east or not len(lonlat):
        return None
    west, south = np.nanmin(lonlat[:, 0]), np.nanmin(lonlat[:, 1])
    east, north = np.nanmax(lonlat[:, 2]), np.nanmax(lonlat[:, 3])
    m = AREA_OF_USE_MARGIN
    if (east < area.west - m or west > area.east + m or north < area.south - m
            or south > area.north + m):
        return (f"longitude {_num(west)} to {_num(east)}, latitude {_num(south)} to "
                f"{_num(north)}, far outside where {_crs_name(crs)} is used "
                f"({area.name.split(':')[0].rstrip('.')})")
    return None


@dataclass(frozen=True)
class _Assessment:
    """The coordinates of a frame judged against its CRS."""

    crs: CRS
    present: np.ndarray
    """Rows with a geometry."""
    impossible: np.ndarray
    """Rows whose coordinates cannot be in the CRS."""
    far: str | None
    """Where the possible rows lie, when that is far from the CRS's area of use."""

    @property
    def fits(self) -> bool:
        return not self.impossible.any() and self.far is None


def _assess(frame: gpd.GeoDataFrame) -> _Assessment:
    geoms = frame.geometry.to_numpy()
    present = _present(geoms)
    crs = CRS.from_user_input(frame.crs)
    impossible = np.zeros(len(frame), dtype=bool)
    lonlat = np.full((len(frame), 4), np.nan)
    if present.any():
        impossible[present], lonlat[present] = _impossible(geoms[present], crs)
    return _Assessment(crs, present, impossible, _far_from_use(crs, lonlat[present & ~impossible]))


def coordinates_fit(frame: gpd.GeoDataFrame) -> bool:
    """True when every coordinate of ``frame`` is possible and plausible in its CRS."""
    return _assess(frame).fits


def _check_coordinates(frame: gpd.GeoDataFrame, level: LevelSpec, file: str, found: _Findings,
                       *, geojson: bool = False) -> gpd.GeoDataFrame | None:
    """Drop features with coordinates impossible in the frame's CRS (errors, one per feature).

    When no feature fits, or they lie far from where the CRS is used, one error for the file says
    how to fix its CRS and None is returned.
    """
    judged = _assess(frame)
    present, bad, crs = judged.present, judged.impossible, judged.crs
    if not present.any():
        return frame
    geoms = frame.geometry.to_numpy()
    name = _crs_name(crs)
    if bad[present].all():
        what = ("outside ±180/±90, so they are not longitude/latitude" if crs.is_geographic
                else "impossible")
        found.add("error", file, f"coordinates from {_extent(shapely.bounds(geoms[present]))} "
                  f"are {what} in {name}" + _hint(level, crs, geojson))
        return None
    keys = _as_text(frame[level.key]) if level.key in frame else None
    for row in np.flatnonzero(bad):
        found.add("error", file, f"coordinates {_extent(shapely.bounds(geoms[[row]]))} are "
                  f"impossible in {name}", feature=int(frame.index[row]),
                  key=None if keys is None else keys.iloc[row] or None)
    if judged.far is not None:
        found.add("error", file, f"the features lie at {judged.far}" + _hint(level, crs, geojson))
        return None
    return frame[~bad]
