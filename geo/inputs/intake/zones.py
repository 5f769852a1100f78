"""The finest level of a geography as intake needs it: ids and shapes in their source CRS.

``load_geography`` validates the folder and hands out its shapes in EPSG:4326 for output.
Intake works on the areas as they were drawn, in the CRS of the boundary file (EPSG:25833 for
Berlin, EPSG:25832 for Wuppertal), so that a point on a shared border stays exactly on it and
areas keep their metric size. ``Zones.to_crs`` reprojects them for rasters and grids in other
CRSs, densified first (``DENSIFY``) so that long straight edges stay where they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.errors import IntakeError
from geo.inputs.geography import MANIFEST, load_geography
from geo.inputs.geography.files import _read_level
from geo.inputs.geography.report import _Findings
from geo.inputs.geography.rows import _check_rows, _polygonal

DENSIFY = 100.0
"""Longest edge (metres) before a reprojection: a straight 100 m edge between two ETRS89
projections bends by far less than a millimetre."""
_DEGREE = 111_000.0


@dataclass(frozen=True, eq=False)
class Zones:
    """The finest areas of a geography: ids in text order and shapes in ``crs``."""

    geography_id: str
    level: str
    level_name: str
    ids: np.ndarray
    geoms: np.ndarray
    crs: CRS
    files: tuple[Path, ...]

    def to_crs(self, crs: CRS | str) -> np.ndarray:
        """The shapes in ``crs`` (densified to ``DENSIFY`` before reprojecting)."""
        return reproject(self.geoms, self.crs, CRS.from_user_input(crs))

    def metric(self) -> tuple[np.ndarray, CRS]:
        """Shapes in a metric CRS: the source CRS when projected, else its UTM zone."""
        if self.crs.is_projected:
            return self.geoms, self.crs
        lon, lat = shapely.get_coordinates(shapely.centroid(shapely.union_all(self.geoms)))[0]
        zone = int((lon + 180) // 6) + 1
        utm = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
        return self.to_crs(utm), utm


def reproject(geoms: np.ndarray, source: CRS, target: CRS) -> np.ndarray:
    """Reproject shapes, densified first so that straight edges stay straight in ``target``."""
    if source.equals(target, ignore_axis_order=True):
        return geoms
    step = DENSIFY if source.is_projected else DENSIFY / _DEGREE
    dense = shapely.segmentize(geoms, step)
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def move(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(dense, move)
    invalid = ~shapely.is_valid(out)
    if invalid.any():
        out[invalid] = _polygonal(shapely.make_valid(out[invalid]))
    return out


def load_zones(folder: Path | str) -> Zones:
    """Validate a geography folder and return its finest areas in the boundary file's CRS.

    Raises:
        ManifestError, GeographyError: the folder is not a valid geography.
        IntakeError: the finest level cannot be read again in its own CRS.
    """
    folder = Path(folder)
    geography = load_geography(folder)
    spec = geography.spec.levels[-1]
    if spec.file is None:
        raise IntakeError(f"{folder / MANIFEST}: the finest level '{spec.id}' has no file")
    found = _Findings()
    display = spec.file.name
    frame = _read_level(spec, display, found)
    rows = None if frame is None else _check_rows(spec, display, frame, found)
    if rows is None or rows.crs is None:
        detail = "; ".join(f.message for f in found.items if f.severity == "error")
        raise IntakeError(f"{spec.file}: cannot read the areas again ({detail or 'no CRS'})")
    areas = geography.areas
    wanted = set(areas.loc[areas["level"] == spec.id, "area_id"])
    rows = rows[rows["area_id"].isin(wanted)].sort_values("area_id", kind="stable")
    files = [geography.spec.manifest_path, spec.file]
    if spec.file.suffix.lower() == ".shp":
        files += sorted(p for p in spec.file.parent.glob(spec.file.stem + ".*") if p != spec.file)
    return Zones(
        geography_id=geography.id,
        level=spec.id,
        level_name=spec.name,
        ids=rows["area_id"].to_numpy(dtype=object),
        geoms=_polygonal(rows.geometry.to_numpy()),
        crs=CRS.from_user_input(rows.crs),
        files=tuple(files),
    )
