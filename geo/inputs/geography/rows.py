"""The rows of one level's file: key, name, geometry and parent key of each area, checked."""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.inputs.geography.manifest import LevelSpec
from geo.inputs.geography.report import _Findings

_POLYGONAL = ("Polygon", "MultiPolygon")
_FORMULA_OR_MARKUP = re.compile(r"^[=+@]|^-(?![0-9]+$)|[<>\"'`\\\x00-\x1f\x7f]")
"""Keys a spreadsheet may run as a formula or a browser read as markup."""


def _as_text(values: pd.Series) -> pd.Series:
    """Keys as text: 11, 11.0 and "11" all become "11"; missing becomes ""; zeros kept in text."""

    def one(value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return ""
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return str(value).strip()

    return pd.Series([one(v) for v in values.tolist()], index=values.index, dtype=str)


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

    risky = ~bad & ids.str.contains(_FORMULA_OR_MARKUP).to_numpy()
    for fid, key in zip(features[risky], ids[risky], strict=True):
        found.add("warning", file, "key starts with = + - @ or holds < > \" ' ` \\ or a control "
                  "character: a spreadsheet may run it as a formula, a page read it as markup "
                  "(it is published as given)", feature=int(fid), key=key)
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
