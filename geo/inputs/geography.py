"""Geographies: the ``geography.toml`` manifest, boundary loading and nesting checks.

A geography is a folder with a ``geography.toml`` and boundary files, one level per file
(coarsest first), or a level derived from the next finer one by dissolving it by parent key.
Loading validates every file and the nesting between levels and collects the problems in a
:class:`Report`; :func:`load_geography` raises when the report has errors,
:func:`check_geography` only returns it.
"""

from __future__ import annotations

import os
import re
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError
from tqdm import tqdm

from geo.errors import GeographyError, ManifestError, NotFoundError

MANIFEST = "geography.toml"
TOTAL = "total"
OUTPUT_CRS = "EPSG:4326"
INSIDE_TOLERANCE = 0.005
"""A child at least this close to fully inside its parent (share >= 99.5 %) counts as inside."""
MIN_INSIDE = 0.5
"""A child with less than this share of its area inside its parent is an error."""
GAP_TOLERANCE = 0.005
"""Gaps between siblings above this share of the parent's area are reported."""
OVERLAP_TOLERANCE = 0.005
"""Overlaps between siblings above this share of the parent's area are reported."""

Severity = Literal["error", "warning", "info"]
_POLYGONAL = ("Polygon", "MultiPolygon")
_READABLE_IN_ZIP = (".shp", ".gpkg", ".geojson", ".json", ".fgb")
_TOP_KEYS = {"id", "name", "attribution", "total_id", "total_name", "notice", "description",
             "source", "levels"}
_LEVEL_KEYS = {"id", "name", "file", "key", "label", "parent", "parent_prefix", "crs", "layer",
               "where", "names"}
_FILE_ONLY_KEYS = ("key", "label", "parent", "crs", "layer", "where")


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Finding:
    """One problem found in a geography: where it is and what is wrong.

    ``file`` is relative to the geography folder, ``feature`` the GDAL feature id (FID) in that
    file (None for a whole file or level), ``key`` the area id concerned.
    """

    severity: Severity
    file: str
    feature: int | None
    key: str | None
    message: str

    def format(self) -> str:
        """Return the finding as one line, e.g. ``error: a.geojson, feature 3, key '01': ...``."""
        where = [self.file]
        if self.feature is not None:
            where.append(f"feature {self.feature}")
        if self.key is not None:
            where.append(f"key '{self.key}'")
        return f"{self.severity}: {', '.join(where)}: {self.message}"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class Report:
    """Every finding of a geography check, errors first when formatted."""

    findings: tuple[Finding, ...] = ()
    source: str = ""

    @property
    def errors(self) -> list[Finding]:
        """Findings that stop a geography from loading."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings that a geography loads with but that deserve a look."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def infos(self) -> list[Finding]:
        """Findings for information only."""
        return [f for f in self.findings if f.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def lines(self) -> list[str]:
        """Return the findings as lines, errors first, then warnings, then infos."""
        order = {"error": 0, "warning": 1, "info": 2}
        ranked = sorted(self.findings, key=lambda f: order[f.severity])
        return [f.format() for f in ranked]

    def format(self) -> str:
        """Return a human-readable report: a summary line, then one line per finding."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        head = (f"{self.source}: " if self.source else "") + (
            f"{n_err} {_plural(n_err, 'error')}, {n_warn} {_plural(n_warn, 'warning')}")
        if not self.findings:
            return head + " - no problems found"
        return "\n".join([head, *self.lines()])


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class LevelSpec:
    """One level of a geography as the manifest describes it."""

    id: str
    name: str
    file: Path | None = None
    key: str | None = None
    label: str | None = None
    parent: str | None = None
    parent_prefix: int | None = None
    crs: str | None = None
    layer: str | None = None
    where: str | None = None
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def derived(self) -> bool:
        """True when the level has no file and is dissolved from the next finer level."""
        return self.file is None

    @property
    def parent_rule(self) -> Literal["field", "prefix", "overlap"]:
        """How the parent of each area is found: a field, a key prefix or the largest overlap."""
        if self.parent is not None:
            return "field"
        if self.parent_prefix is not None:
            return "prefix"
        return "overlap"


@dataclass(frozen=True)
class GeographySpec:
    """A parsed ``geography.toml``: identity, attribution and levels (coarsest first)."""

    id: str
    name: str
    attribution: str
    total_id: str
    total_name: str
    levels: tuple[LevelSpec, ...]
    folder: Path
    notice: str | None = None
    description: str = ""
    source: str = ""

    @property
    def manifest_path(self) -> Path:
        """Path of the ``geography.toml``."""
        return self.folder / MANIFEST

    @property
    def level_ids(self) -> tuple[str, ...]:
        """Level ids, coarsest first."""
        return tuple(level.id for level in self.levels)


def _optional(table: Mapping[str, Any], name: str, where: str) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}'{name}' must be a non-empty string, not {value!r}")
    return value.strip()


def _required(table: Mapping[str, Any], name: str, where: str) -> str:
    value = _optional(table, name, where)
    if value is None:
        raise ManifestError(f"{where}'{name}' is missing")
    return value


def _unknown_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ManifestError(f"{where}unknown key '{unknown[0]}' "
                            f"(known: {', '.join(sorted(known))})")


def _absolute(path: Path) -> Path:
    """Absolute, normalised path; symlinks are kept (a link placed in the folder is allowed)."""
    return Path(os.path.normpath(path.absolute()))


def _relative_file(folder: Path, value: str, where: str) -> Path:
    path = _absolute(folder / value)
    if not path.is_relative_to(_absolute(folder)):
        raise ManifestError(f"{where}'file' {value!r} lies outside the geography folder {folder}")
    return path


def _parse_level(raw: Any, index: int, folder: Path) -> LevelSpec:
    where = f"{MANIFEST}: levels[{index}]: "
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}must be a table ([[levels]]), not {raw!r}")
    level_id = _required(raw, "id", where)
    where = f"{MANIFEST}: levels[{index}] '{level_id}': "
    _unknown_keys(raw, _LEVEL_KEYS, where)
    if level_id == TOTAL:
        raise ManifestError(f"{where}the level id '{TOTAL}' is reserved for the whole area")
    name = _required(raw, "name", where)
    written = _optional(raw, "file", where)
    file = _relative_file(folder, written, where) if written is not None else None
    if file is None:
        given = [k for k in _FILE_ONLY_KEYS if k in raw]
        if given:
            raise ManifestError(f"{where}'{given[0]}' needs a 'file' (a level without file is "
                                "derived from the next finer level)")
    key = _required(raw, "key", where) if file is not None else None
    parent = _optional(raw, "parent", where)
    prefix = raw.get("parent_prefix")
    if prefix is not None:
        if isinstance(prefix, bool) or not isinstance(prefix, int) or prefix < 1:
            raise ManifestError(f"{where}'parent_prefix' must be a positive integer, "
                                f"not {prefix!r}")
        if parent is not None:
            raise ManifestError(f"{where}give either 'parent' or 'parent_prefix', not both")
    crs = _optional(raw, "crs", where)
    if crs is not None:
        try:
            CRS.from_user_input(crs)
        except CRSError as exc:
            raise ManifestError(f"{where}'crs' {crs!r} is not a known CRS ({exc})") from None
    names = raw.get("names", {})
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise ManifestError(f"{where}'names' must be a table of key = \"name\"")
    if names and file is not None:
        raise ManifestError(f"{where}'names' is only for derived levels (without 'file'); "
                            "use 'label' for a file")
    return LevelSpec(
        id=level_id, name=name, file=file, key=key,
        label=_optional(raw, "label", where), parent=parent, parent_prefix=prefix,
        crs=crs, layer=_optional(raw, "layer", where), where=_optional(raw, "where", where),
        names=MappingProxyType({str(k).strip(): v for k, v in names.items()}),
    )


def _check_levels(levels: list[LevelSpec]) -> None:
    seen: set[str] = set()
    for index, level in enumerate(levels):
        where = f"{MANIFEST}: levels[{index}] '{level.id}': "
        if level.id in seen:
            raise ManifestError(f"{where}the level id '{level.id}' is used twice")
        seen.add(level.id)
        if index == 0 and (level.parent is not None or level.parent_prefix is not None):
            raise ManifestError(f"{where}the coarsest level has no parent level; remove "
                                "'parent'/'parent_prefix'")
        if level.derived:
            if index == len(levels) - 1:
                raise ManifestError(f"{where}'file' is missing (only a level with a finer level "
                                    "below it can be derived)")
            finer = levels[index + 1]
            if finer.parent_rule == "overlap":
                raise ManifestError(
                    f"{MANIFEST}: levels[{index + 1}] '{finer.id}': 'parent' or 'parent_prefix' "
                    f"is missing (level '{level.id}' is derived from it)")
            if finer.derived and finer.parent_rule == "field":
                raise ManifestError(f"{MANIFEST}: levels[{index + 1}] '{finer.id}': a derived "
                                    "level needs 'parent_prefix', it has no field 'parent'")


def load_manifest(folder: Path) -> GeographySpec:
    """Read and check ``folder/geography.toml``; raise :class:`ManifestError` when it is wrong."""
    folder = Path(folder)
    path = folder / MANIFEST
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no {MANIFEST} in {folder}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{MANIFEST}: not valid TOML: {exc}") from None
    where = f"{MANIFEST}: "
    _unknown_keys(raw, _TOP_KEYS, where)
    raw_levels = raw.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        raise ManifestError(f"{where}'levels' is missing (give at least one [[levels]] table)")
    levels = [_parse_level(item, i, folder) for i, item in enumerate(raw_levels)]
    _check_levels(levels)
    return GeographySpec(
        id=_required(raw, "id", where), name=_required(raw, "name", where),
        attribution=_required(raw, "attribution", where),
        total_id=_required(raw, "total_id", where),
        total_name=_required(raw, "total_name", where),
        levels=tuple(levels), folder=folder, notice=_optional(raw, "notice", where),
        description=_optional(raw, "description", where) or "",
        source=_optional(raw, "source", where) or "",
    )


# --------------------------------------------------------------------------- geography


@dataclass(frozen=True, eq=False)
class Geography:
    """A loaded, validated geography: area table, shapes per level (EPSG:4326) and the report."""

    spec: GeographySpec
    areas: pd.DataFrame
    shapes: dict[str, gpd.GeoDataFrame]
    report: Report

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


@dataclass
class _Level:
    """Working state of one level while loading: rows in the working CRS, indexed by feature."""

    spec: LevelSpec
    file: str
    frame: gpd.GeoDataFrame | None = None
    share: pd.Series | None = None


class _Findings:
    """Collects findings while a geography loads."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, severity: Severity, file: str, message: str, *,
            feature: int | None = None, key: str | None = None) -> None:
        self.items.append(Finding(severity, file, feature, key, message))


def _as_text(values: pd.Series) -> pd.Series:
    """Keys as text: 11, 11.0 and "11" all become "11"; missing becomes ""; zeros kept in text."""

    def one(value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return ""
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        if isinstance(value, bytes):
            value = value.decode()
        return str(value).strip()

    return pd.Series([one(v) for v in values.tolist()], index=values.index, dtype=str)


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
        found.add("warning", file, f"the file's CRS {frame.crs.to_string()} is used, not "
                  f"'crs' {level.crs} from {MANIFEST}")
    if frame.empty:
        filtered = f" with where = {level.where!r}" if level.where else ""
        found.add("error", file, f"no features{filtered}")
        return None
    return frame


def _same_crs(a: CRS, b: CRS) -> bool:
    return a.equals(b, ignore_axis_order=True) or (
        a.to_epsg() is not None and a.to_epsg() == b.to_epsg())


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (as Polygon or MultiPolygon)."""
    out = geoms.copy()
    other = ~np.isin(shapely.get_type_id(geoms), (3, 6))
    for i in np.flatnonzero(other):
        parts = shapely.get_parts(shapely.get_parts(geoms[i]))
        polys = [p for p in parts if p.geom_type in _POLYGONAL and not p.is_empty]
        out[i] = shapely.multipolygons(polys) if len(polys) > 1 else (
            polys[0] if polys else shapely.Polygon())
    return out


def _key_problems(ids: pd.Series, features: np.ndarray, level: LevelSpec, file: str,
                  found: _Findings) -> np.ndarray:
    """Report empty and duplicate keys; return the rows to drop (the first duplicate stays)."""
    empty = (ids == "").to_numpy()
    for fid in features[empty]:
        found.add("error", file, f"empty key in field '{level.key}'", feature=int(fid))
    duplicated = ids.duplicated(keep=False).to_numpy() & ~empty
    for key, fids in pd.Series(features[duplicated]).groupby(ids[duplicated].to_numpy()):
        listed = ", ".join(str(f) for f in fids)
        found.add("error", file, f"duplicate key in field '{level.key}' (features {listed})",
                  key=str(key))
    return empty | (ids.duplicated(keep="first").to_numpy() & ~empty)


def _geometry_problems(geoms: np.ndarray, ids: pd.Series, features: np.ndarray, bad: np.ndarray,
                       file: str, found: _Findings) -> np.ndarray:
    """Report missing and non-polygonal geometries, repair invalid ones in place (reported).

    Returns the rows to drop.
    """
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for fid, key in zip(features[missing], ids[missing], strict=True):
        found.add("error", file, "feature has no geometry", feature=int(fid), key=key)
    wrong = ~missing & ~np.isin(shapely.get_type_id(geoms), (3, 6))
    for fid, key, geom in zip(features[wrong], ids[wrong], geoms[wrong], strict=True):
        found.add("error", file, f"geometry is a {geom.geom_type}, not a Polygon or MultiPolygon",
                  feature=int(fid), key=key)
    drop = missing | wrong

    invalid = ~bad & ~drop & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        before = shapely.area(geoms[invalid])
        repaired = _polygonal(shapely.make_valid(geoms[invalid], method="structure",
                                                 keep_collapsed=False))
        after = shapely.area(repaired)
        for fid, key, reason, a0, a1, geom in zip(features[invalid], ids[invalid], reasons,
                                                  before, after, repaired, strict=True):
            if geom.is_empty:
                found.add("error", file, f"invalid geometry ({reason}) cannot be repaired",
                          feature=int(fid), key=key)
            else:
                change = abs(a1 - a0) / a0 * 100 if a0 else 0.0
                found.add("warning", file, f"invalid geometry ({reason}) repaired with "
                          f"make_valid (area changed by {change:.2f} %)", feature=int(fid),
                          key=key)
        geoms[invalid] = repaired
        drop[np.flatnonzero(invalid)[shapely.is_empty(repaired)]] = True
    return drop


def _parent_keys(frame: gpd.GeoDataFrame, ids: pd.Series, features: np.ndarray,
                 bad: np.ndarray, level: LevelSpec, file: str,
                 found: _Findings) -> tuple[pd.Series, np.ndarray]:
    """Parent keys from the parent field or the key prefix ("" = by overlap, found later)."""
    drop = np.zeros(len(ids), dtype=bool)
    if level.parent is not None:
        parent_ids = _as_text(frame[level.parent])
        drop = ~bad & (parent_ids == "").to_numpy()
        for fid, key in zip(features[drop], ids[drop], strict=True):
            found.add("error", file, f"empty parent key in field '{level.parent}'",
                      feature=int(fid), key=key)
        return parent_ids, drop
    if level.parent_prefix is not None:
        n = level.parent_prefix
        drop = ~bad & (ids.str.len() <= n).to_numpy()
        for fid, key in zip(features[drop], ids[drop], strict=True):
            found.add("error", file, f"key is too short for parent_prefix = {n}",
                      feature=int(fid), key=key)
        return ids.str[:n], drop
    return pd.Series("", index=frame.index, dtype=str), drop


def _check_rows(level: LevelSpec, file: str, frame: gpd.GeoDataFrame,
                found: _Findings) -> gpd.GeoDataFrame:
    """Turn a read file into rows ``area_id, name, parent_id, geometry``, dropping bad rows."""
    assert level.key is not None
    ids = _as_text(frame[level.key])
    features = frame.index.to_numpy()
    bad = _key_problems(ids, features, level, file, found)
    geoms = frame.geometry.to_numpy().copy()
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    bad |= _geometry_problems(geoms, ids, features, bad, file, found)

    names = _as_text(frame[level.label]) if level.label else ids
    unnamed = ~bad & (names == "").to_numpy()
    for fid, key in zip(features[unnamed], ids[unnamed], strict=True):
        found.add("warning", file, f"empty name in field '{level.label}'; the key is used",
                  feature=int(fid), key=key)
    names = names.where(names != "", ids)

    parent_ids, no_parent = _parent_keys(frame, ids, features, bad, level, file, found)
    rows = gpd.GeoDataFrame({"area_id": ids, "name": names, "parent_id": parent_ids},
                            geometry=geoms, crs=frame.crs, index=frame.index)
    return rows[~(bad | no_parent)]


def _working_crs(levels: list[_Level]) -> CRS:
    """A metric CRS for areas: the first projected CRS of a level, else an estimated UTM zone."""
    frames = [lvl.frame for lvl in levels if lvl.frame is not None]
    for frame in frames:
        if frame.crs is not None and frame.crs.is_projected:
            return CRS.from_user_input(frame.crs)
    utm = frames[0].estimate_utm_crs() if frames else None
    return utm if utm is not None else CRS.from_user_input("EPSG:3857")


def _union(geoms: np.ndarray) -> shapely.Geometry:
    """Union of polygons; the much faster coverage union when they form a clean coverage."""
    if len(geoms) > 1 and shapely.coverage_is_valid(geoms):
        return shapely.coverage_union_all(geoms)
    return shapely.union_all(geoms)


def _union_by(keys: np.ndarray, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union geometries grouped by key; return unique keys, unions and summed areas."""
    order = np.argsort(keys, kind="stable")
    unique, starts = np.unique(keys[order], return_index=True)
    groups = np.split(geoms[order], starts[1:])
    unions = np.array([_union(g) for g in groups], dtype=object)
    sums = np.add.reduceat(shapely.area(geoms[order]), starts) if len(keys) else np.array([])
    return unique, unions, sums


def _dissolve(finer: _Level, level: LevelSpec, found: _Findings) -> gpd.GeoDataFrame:
    """Derive a level by dissolving the finer level's areas by their parent key."""
    assert finer.frame is not None
    keys = finer.frame["parent_id"].to_numpy(dtype=object)
    unique, unions, _ = _union_by(keys, finer.frame.geometry.to_numpy())
    ids = [str(k) for k in unique]
    unknown = sorted(set(level.names) - set(ids))
    if unknown:
        found.add("warning", MANIFEST, f"level '{level.id}': 'names' has keys that are no "
                  f"area: {', '.join(unknown)}")
    unnamed = [k for k in ids if k not in level.names]
    if unnamed and level.names:
        found.add("warning", MANIFEST, f"level '{level.id}': no name in 'names' for "
                  f"{', '.join(unnamed)}; the key is used")
    names = [level.names.get(k, k) for k in ids]
    parents = [k[: level.parent_prefix] for k in ids] if level.parent_prefix else [""] * len(ids)
    geoms = _polygonal(np.asarray(unions))
    return gpd.GeoDataFrame({"area_id": ids, "name": names, "parent_id": parents},
                            geometry=geoms, crs=finer.frame.crs)


def _overlap_parents(coarse: gpd.GeoDataFrame, fine: gpd.GeoDataFrame) -> tuple[
        np.ndarray, np.ndarray]:
    """For each fine area, the coarse area it overlaps most and the share of it inside."""
    child = fine.geometry.to_numpy()
    parent = coarse.geometry.to_numpy()
    tree = shapely.STRtree(parent)
    ci, pi = tree.query(child, predicate="intersects")
    overlap = shapely.area(shapely.intersection(child[ci], parent[pi]))
    best = (pd.DataFrame({"c": ci, "p": pi, "a": overlap})
            .sort_values("a", ascending=False, kind="stable").drop_duplicates("c"))
    parent_ids = np.full(len(child), "", dtype=object)
    inside = np.zeros(len(child))
    rows = best["c"].to_numpy()
    parent_ids[rows] = coarse["area_id"].to_numpy(dtype=object)[best["p"].to_numpy()]
    inside[rows] = best["a"].to_numpy()
    area = shapely.area(child)
    share = np.divide(inside, area, out=np.zeros_like(inside), where=area > 0)
    return parent_ids, share


def _share_inside(coarse: gpd.GeoDataFrame, fine: gpd.GeoDataFrame) -> np.ndarray:
    """Share of each fine area's area inside its parent (aligned by parent key)."""
    child = fine.geometry.to_numpy()
    lookup = pd.Series(coarse.geometry.to_numpy(), index=coarse["area_id"].to_numpy())
    parent = lookup.loc[fine["parent_id"].to_numpy()].to_numpy()
    shapely.prepare(parent)
    share = np.ones(len(child))
    outside = ~shapely.covered_by(child, parent)
    if outside.any():
        area = shapely.area(child[outside])
        inside = shapely.area(shapely.intersection(child[outside], parent[outside]))
        share[outside] = np.divide(inside, area, out=np.ones_like(area), where=area > 0)
    return share


def _leading_zero_hint(key: str, known: set[str]) -> str:
    for candidate in (key.zfill(len(key) + 1), key.zfill(len(key) + 2), key.lstrip("0")):
        if candidate != key and candidate in known:
            return f" (did you mean '{candidate}'? a leading zero may have been lost)"
    return ""


def _check_nesting(coarse: _Level, fine: _Level, found: _Findings) -> None:
    """Check that every area of ``fine`` lies in an existing area of ``coarse``; sets parents."""
    assert coarse.frame is not None and fine.frame is not None
    spec, file = fine.spec, fine.file
    frame = fine.frame
    if spec.parent_rule == "overlap":
        parent_ids, share = _overlap_parents(coarse.frame, frame)
        frame = frame.assign(parent_id=pd.Series(parent_ids, index=frame.index, dtype=str))
        for fid, key in zip(frame.index[parent_ids == ""], frame["area_id"][parent_ids == ""],
                            strict=True):
            found.add("error", file, f"lies outside every {coarse.spec.id} area",
                      feature=_fid(fid, fine), key=key)
        frame, share = frame[parent_ids != ""], share[parent_ids != ""]
    else:
        known = set(coarse.frame["area_id"])
        unknown = ~frame["parent_id"].isin(known).to_numpy()
        for fid, key, parent in zip(frame.index[unknown], frame["area_id"][unknown],
                                    frame["parent_id"][unknown], strict=True):
            hint = _leading_zero_hint(parent, known)
            found.add("error", file, f"parent key '{parent}' is not a {coarse.spec.id} in "
                      f"{coarse.file}{hint}", feature=_fid(fid, fine), key=key)
        frame = frame[~unknown]
        share = _share_inside(coarse.frame, frame) if not coarse.spec.derived else np.ones(
            len(frame))
    fine.frame = frame

    placed = share > 0
    for fid, key, parent, s in zip(frame.index[placed], frame["area_id"][placed],
                                   frame["parent_id"][placed], share[placed], strict=True):
        if s < MIN_INSIDE:
            found.add("error", file, f"only {s * 100:.1f} % inside parent '{parent}' "
                      "(most of it lies outside)", feature=_fid(fid, fine), key=key)
        elif s < 1 - INSIDE_TOLERANCE:
            found.add("warning", file, f"{s * 100:.1f} % inside parent '{parent}'",
                      feature=_fid(fid, fine), key=key)
    if spec.parent_rule != "overlap":
        zero = ~placed
        for fid, key, parent in zip(frame.index[zero], frame["area_id"][zero],
                                    frame["parent_id"][zero], strict=True):
            found.add("error", file, f"lies entirely outside parent '{parent}'",
                      feature=_fid(fid, fine), key=key)

    childless = sorted(set(coarse.frame["area_id"]) - set(frame["parent_id"]))
    for key in childless:
        found.add("error", coarse.file, f"has no {spec.id} area in {file}", key=key)
    _check_coverage(coarse, fine, share >= 1.0, found)


def _fid(fid: Any, level: _Level) -> int | None:
    return None if level.spec.derived else int(fid)


def _check_coverage(coarse: _Level, fine: _Level, inside: np.ndarray, found: _Findings) -> None:
    """Warn about gaps and overlaps between the children of each parent.

    ``inside`` marks children lying wholly in their parent: where all of a parent's children
    do, the gap is simply the parent's area minus their union's, without an overlay.
    """
    assert coarse.frame is not None and fine.frame is not None
    parent_keys = fine.frame["parent_id"].to_numpy(dtype=object)
    keys, unions, sums = _union_by(parent_keys, fine.frame.geometry.to_numpy())
    parents = pd.Series(coarse.frame.geometry.to_numpy(), index=coarse.frame["area_id"].to_numpy())
    parent = parents.loc[keys].to_numpy()
    parent_area = shapely.area(parent)
    union_area = shapely.area(unions)
    overlap = (sums - union_area) / parent_area
    gap = np.zeros(len(keys))
    if not coarse.spec.derived:
        gap = (parent_area - union_area) / parent_area
        outside = set(parent_keys[~inside])
        spill = np.array([k in outside for k in keys], dtype=bool)
        if spill.any():
            uncovered = shapely.area(shapely.difference(parent[spill], unions[spill]))
            gap[spill] = uncovered / parent_area[spill]
    name = fine.spec.id
    for key, g, o in zip(keys, gap, overlap, strict=True):
        if g > GAP_TOLERANCE:
            found.add("warning", coarse.file, f"gaps: {g * 100:.1f} % of the area is not covered "
                      f"by any {name} area", key=str(key))
        if o > OVERLAP_TOLERANCE:
            found.add("warning", fine.file, f"{name} areas in parent '{key}' overlap by "
                      f"{o * 100:.1f} % of the parent's area", key=None)


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


def _nest(spec: GeographySpec, levels: list[_Level], found: _Findings) -> shapely.Geometry:
    """Derive levels without file, check every nesting; return the whole area's geometry."""
    crs = _working_crs(levels)
    for level in levels:
        if level.frame is not None:
            level.frame = level.frame.to_crs(crs)
    for index in range(len(levels) - 2, -1, -1):
        if levels[index].spec.derived:
            finer = levels[index + 1]
            levels[index].file = f"{levels[index].spec.id} (derived from {finer.file})"
            levels[index].frame = _dissolve(finer, levels[index].spec, found)
    for coarse, fine in zip(levels, levels[1:], strict=False):
        _check_nesting(coarse, fine, found)

    top = levels[0]
    assert top.frame is not None
    top_geoms = top.frame.geometry.to_numpy()
    union = _union(top_geoms)
    overlap = (shapely.area(top_geoms).sum() - union.area) / union.area if union.area else 0.0
    if overlap > OVERLAP_TOLERANCE:
        found.add("warning", top.file, f"{top.spec.id} areas overlap by {overlap * 100:.1f} % "
                  f"of the whole area '{spec.total_id}'")
    top.frame = top.frame.assign(parent_id=spec.total_id)
    return union


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
    return Geography(spec=spec, areas=areas, shapes=shapes,
                     report=Report(tuple(found.items), source=_source_name(spec)))


def _load(spec: GeographySpec, found: _Findings, progress: bool) -> Geography | None:
    """Run every step; return the geography, or None when an error stops it."""
    levels = [_Level(lvl, _display(spec, lvl)) for lvl in spec.levels]
    with tqdm(total=len(levels) + 2, disable=not progress, desc=spec.id, unit="step") as bar:
        for level in levels:
            bar.set_postfix_str(f"reading {level.spec.id}")
            frame = None if level.spec.derived else _read_level(level.spec, level.file, found)
            if frame is not None:
                level.frame = _check_rows(level.spec, level.file, frame, found)
            bar.update()
        if any(lvl.frame is None for lvl in levels if not lvl.spec.derived):
            return None
        bar.set_postfix_str("nesting")
        union = _nest(spec, levels, found)
        bar.update()
        if any(f.severity == "error" for f in found.items):
            return None
        bar.set_postfix_str("output")
        geography = _output(spec, levels, union, found)
        bar.update()
    return geography


def _display(spec: GeographySpec, level: LevelSpec) -> str:
    """The level's file as findings name it: relative to the geography folder."""
    if level.file is None:
        return f"{level.id} (derived)"
    return level.file.relative_to(_absolute(spec.folder)).as_posix()


def _source_name(spec: GeographySpec) -> str:
    return f"{spec.manifest_path} ({spec.id})"


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
