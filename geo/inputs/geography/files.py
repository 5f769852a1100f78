"""Reading one level's boundary file: zipped datasets, layer, ``where`` filter and CRS."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from geo.inputs.geography.coordinates import _check_coordinates, coordinates_fit
from geo.inputs.geography.manifest import MANIFEST, LevelSpec
from geo.inputs.geography.report import _Findings

_READABLE_IN_ZIP = (".shp", ".gpkg", ".geojson", ".json", ".fgb")


def _zip_member(path: Path, layer: str | None) -> str:
    """Return the GDAL path of the dataset inside a zip (the single readable file or ``layer``)."""
    with zipfile.ZipFile(path) as archive:
        members = [n for n in archive.namelist()
                   if n.lower().endswith(_READABLE_IN_ZIP) and not n.startswith("__MACOSX")]
    if layer is not None:
        matching = [n for n in members if Path(n).stem == layer]
        members = matching or members
    if len(members) != 1:
        found = ", ".join(members) or "none"
        raise ValueError(f"the zip must hold exactly one shapefile or dataset (found: {found}); "
                         "name one with 'layer'")
    return f"/vsizip/{path}/{members[0]}"


def _source(level: LevelSpec) -> tuple[str, str | None]:
    """Return the path GDAL opens and the layer to read."""
    assert level.file is not None
    if level.file.suffix.lower() == ".zip":
        inner = _zip_member(level.file, level.layer)
        layer = level.layer if level.layer and not inner.lower().endswith(".shp") else None
        return inner, layer
    return str(level.file), level.layer


def _columns(fields: list[str], level: LevelSpec) -> list[str]:
    """Columns to read: key, label and parent plus every field the ``where`` filter names."""
    wanted = [c for c in (level.key, level.label, level.parent) if c]
    if level.where:
        # GDAL ignores the filter on fields that are not read, so keep the ones it names.
        words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", level.where)}
        wanted += [f for f in fields if f.lower() in words]
    return list(dict.fromkeys(wanted))


def _same_crs(a: CRS, b: CRS) -> bool:
    return a.equals(b, ignore_axis_order=True) or (
        a.to_epsg() is not None and a.to_epsg() == b.to_epsg())


def _read_level(level: LevelSpec, file: str, found: _Findings) -> gpd.GeoDataFrame | None:
    """Read one level's file, or add an error finding and return None."""
    if level.file is None or not level.file.exists():
        found.add("error", file, f"file not found ({level.file})")
        return None
    try:
        source, layer = _source(level)
        if layer is None:
            layers = [str(name) for name in pyogrio.list_layers(source)[:, 0]]
            if len(layers) > 1:
                found.add("error", file, f"the file has several layers ({', '.join(layers)}); "
                          f"set 'layer' for level '{level.id}' in {MANIFEST}")
                return None
        info = pyogrio.read_info(source, layer=layer)
        if info["geometry_type"] is None:
            found.add("error", file, "the layer has no geometry (a table without shapes?); name "
                      f"the layer with the boundaries with 'layer' for level '{level.id}'")
            return None
        fields = [str(f) for f in info["fields"]]
        missing = [c for c in (level.key, level.label, level.parent) if c and c not in fields]
        if missing:
            for column in missing:
                found.add("error", file, f"field '{column}' is missing (fields: "
                          f"{', '.join(fields) or 'none'})")
            return None
        frame = pyogrio.read_dataframe(source, layer=layer, columns=_columns(fields, level),
                                       where=level.where, fid_as_index=True)
    except (DataSourceError, DataLayerError, ValueError, OSError, zipfile.BadZipFile) as exc:
        found.add("error", file, f"cannot read the file: {exc}")
        return None
    if frame.crs is None:
        if level.crs is None:
            found.add("error", file, "the file has no CRS; set 'crs' for level "
                      f"'{level.id}' in {MANIFEST}")
            return None
        frame = frame.set_crs(level.crs)
    elif level.crs is not None and not _same_crs(CRS.from_user_input(level.crs), frame.crs):
        if coordinates_fit(frame):
            found.add("warning", file, f"the file's CRS {frame.crs.to_string()} is used, not "
                      f"'crs' {level.crs} from {MANIFEST}")
        else:
            # e.g. a GeoJSON without a 'crs' member (WGS84 by RFC 7946) holding UTM coordinates
            found.add("info", file, f"the file's CRS {frame.crs.to_string()} does not fit its "
                      f"coordinates; 'crs' {level.crs} from {MANIFEST} is used")
            frame = frame.set_crs(level.crs, allow_override=True)
    if frame.empty:
        filtered = f" with where = {level.where!r}" if level.where else ""
        found.add("error", file, f"no features{filtered}")
        return None
    return _check_coordinates(frame, level, file, found, geojson=info["driver"] == "GeoJSON")
