"""Nesting between levels: derived levels, parents, nesting, gaps and overlaps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.inputs.geography.manifest import MANIFEST, GeographySpec, LevelSpec
from geo.inputs.geography.report import _Findings
from geo.inputs.geography.rows import _polygonal

INSIDE_TOLERANCE = 0.005
"""A child at least this close to fully inside its parent (share >= 99.5 %) counts as inside."""
MIN_INSIDE = 0.5
"""A child with less than this share of its area inside its parent is an error."""
GAP_TOLERANCE = 0.005
"""Gaps between siblings above this share of the parent's area are reported."""
OVERLAP_TOLERANCE = 0.005
"""Overlaps between siblings above this share of the parent's area are reported."""


@dataclass
class _Level:
    """Working state of one level while loading: rows in the working CRS, indexed by feature."""

    spec: LevelSpec
    file: str
    frame: gpd.GeoDataFrame | None = None
    share: pd.Series | None = None


def _working_crs(levels: list[_Level]) -> CRS:
    """A metric CRS for areas: the first projected CRS of a level, else an estimated UTM zone."""
    frames = [lvl.frame for lvl in levels if lvl.frame is not None]
    for frame in frames:
        if frame.crs is not None and frame.crs.is_projected:
            return CRS.from_user_input(frame.crs)
    if not frames:
        return CRS.from_user_input("EPSG:3857")
    try:
        return CRS.from_user_input(frames[0].estimate_utm_crs())
    except RuntimeError:
        # beyond UTM (near a pole): an equal-area projection centred on the areas
        west, south, east, north = frames[0].total_bounds
        return CRS.from_proj4(f"+proj=laea +lat_0={(south + north) / 2:.6f} "
                              f"+lon_0={(west + east) / 2:.6f} +datum=WGS84 +units=m")


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
