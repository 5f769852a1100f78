"""Loading a geography: every step in order, output in EPSG:4326, and the public loaders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj.exceptions import ProjError
from tqdm import tqdm

from geo.errors import GeographyError, ManifestError, NotFoundError
from geo.inputs.geography.files import _read_level
from geo.inputs.geography.manifest import (
    MANIFEST,
    TOTAL,
    GeographySpec,
    LevelSpec,
    _absolute,
    load_manifest,
)
from geo.inputs.geography.nesting import _Level, _nest
from geo.inputs.geography.report import Finding, Report, _Findings, _plural
from geo.inputs.geography.rows import _check_rows, _polygonal

OUTPUT_CRS = "EPSG:4326"
_GEOMETRY_ERRORS = (shapely.errors.GEOSException, ProjError)


@dataclass(frozen=True, eq=False)
class Geography:
    """A loaded, validated geography: area table, shapes per level (EPSG:4326) and the report."""

    spec: GeographySpec
    areas: pd.DataFrame
    shapes: dict[str, gpd.GeoDataFrame]
    report: Report
    crs: str = OUTPUT_CRS
    """The geography's own CRS (``EPSG:25832``): the first projected CRS of its files, in which
    the GeoPackage is written; the shapes above are in EPSG:4326."""

    @property
    def id(self) -> str:
        """The geography id from the manifest."""
        return self.spec.id

    @property
    def level_ids(self) -> tuple[str, ...]:
        """Level ids, coarsest first (without ``"total"``)."""
        return self.spec.level_ids

    @property
    def finest(self) -> str:
        """Id of the finest level, the one counts come in."""
        return self.spec.levels[-1].id

    def level(self, level_id: str) -> LevelSpec:
        """Return the spec of one level; raise :class:`NotFoundError` for an unknown id."""
        for level in self.spec.levels:
            if level.id == level_id:
                return level
        raise NotFoundError(f"geography '{self.id}' has no level '{level_id}' "
                            f"(levels: {', '.join(self.level_ids)})")


def _to_output(frame: gpd.GeoDataFrame, file: str, found: _Findings) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326, sorted by area_id, valid (multi)polygons."""
    out = frame.to_crs(OUTPUT_CRS)
    geoms = out.geometry.to_numpy().copy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = _polygonal(shapely.make_valid(geoms[invalid], method="structure",
                                                       keep_collapsed=False))
        keys = ", ".join(out["area_id"][invalid])
        found.add("info", file, f"repaired {int(invalid.sum())} geometries made invalid by "
                  f"reprojection to {OUTPUT_CRS}: {keys}")
    out = gpd.GeoDataFrame(
        {"area_id": out["area_id"].astype(str), "name": out["name"].astype(str),
         "parent_id": out["parent_id"].astype(str)},
        geometry=geoms, crs=OUTPUT_CRS)
    return out.sort_values("area_id", kind="stable").reset_index(drop=True)


def _source_name(spec: GeographySpec) -> str:
    return f"{spec.manifest_path} ({spec.id})"


def _output(spec: GeographySpec, levels: list[_Level], union: shapely.Geometry,
            found: _Findings) -> Geography:
    """Assemble the Geography: shapes in EPSG:4326 and the areas table, total first."""
    crs = levels[0].frame.crs if levels[0].frame is not None else None
    total = gpd.GeoDataFrame({"area_id": [spec.total_id], "name": [spec.total_name],
                              "parent_id": [""]}, geometry=_polygonal(np.array([union])), crs=crs)
    shapes = {TOTAL: _to_output(total, MANIFEST, found)}
    for level in levels:
        assert level.frame is not None
        shapes[level.spec.id] = _to_output(level.frame, level.file, found)
    areas = pd.concat(
        [shapes[key][["area_id", "name", "parent_id"]].assign(level=key)
         for key in (TOTAL, *spec.level_ids)], ignore_index=True)
    areas = areas[["level", "area_id", "name", "parent_id"]].astype(str)
    authority = crs.to_authority() if crs is not None else None
    return Geography(spec=spec, areas=areas, shapes=shapes,
                     report=Report(tuple(found.items), source=_source_name(spec)),
                     crs=":".join(authority) if authority else OUTPUT_CRS)


def _display(spec: GeographySpec, level: LevelSpec) -> str:
    """The level's file as findings name it: relative to the geography folder."""
    if level.file is None:
        return f"{level.id} (derived)"
    return level.file.relative_to(_absolute(spec.folder)).as_posix()


def _load(spec: GeographySpec, found: _Findings, progress: bool) -> Geography | None:
    """Run every step; return the geography, or None when an error stops it."""
    levels = [_Level(lvl, _display(spec, lvl)) for lvl in spec.levels]
    current = MANIFEST  # the file a geometry operation that fails is named by
    try:
        with tqdm(total=len(levels) + 2, disable=not progress, desc=spec.id, unit="step") as bar:
            for level in levels:
                current = level.file
                bar.set_postfix_str(f"reading {level.spec.id}")
                frame = None if level.spec.derived else _read_level(level.spec, level.file, found)
                if frame is not None:
                    level.frame = _check_rows(level.spec, level.file, frame, found)
                bar.update()
            if any(lvl.frame is None for lvl in levels if not lvl.spec.derived):
                return None
            current = MANIFEST
            bar.set_postfix_str("nesting")
            union = _nest(spec, levels, found)
            bar.update()
            if any(f.severity == "error" for f in found.items):
                return None
            bar.set_postfix_str("output")
            geography = _output(spec, levels, union, found)
            bar.update()
    except _GEOMETRY_ERRORS as exc:
        # the checks before should leave GEOS and PROJ nothing to fail on; if they do, say where
        found.add("error", current, f"the geometries cannot be processed ({exc}); check the "
                  "boundary files and their CRS")
        return None
    return geography


def check_geography(folder: Path) -> Report:
    """Validate a geography folder and return every finding; never raises on bad data."""
    folder = Path(folder)
    try:
        spec = load_manifest(folder)
    except ManifestError as exc:
        message = str(exc).removeprefix(f"{MANIFEST}: ")
        return Report((Finding("error", MANIFEST, None, None, message),),
                      source=str(folder / MANIFEST))
    found = _Findings()
    _load(spec, found, progress=False)
    return Report(tuple(found.items), source=_source_name(spec))


def load_geography(folder: Path, *, progress: bool = False) -> Geography:
    """Load and validate a geography folder.

    Raises:
        ManifestError: the ``geography.toml`` is missing or wrong.
        GeographyError: the boundary files have errors (``problems`` lists every finding).
    """
    spec = load_manifest(Path(folder))
    found = _Findings()
    geography = _load(spec, found, progress)
    if geography is None:
        report = Report(tuple(found.items), source=_source_name(spec))
        n = len(report.errors)
        raise GeographyError(f"{spec.manifest_path}: geography '{spec.id}' has {n} "
                             f"{_plural(n, 'error')}", problems=report.lines())
    return geography
