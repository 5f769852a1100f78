"""Areal interpolation: counts of other areas (postcodes, say) onto the finest areas.

Each source area's count is split over the pieces ``source ∩ area`` by a weight, then summed
per area (as tobler's ``area_interpolate`` does for extensive variables):

- by area (default): the piece's share of the source area's surface;
- by a weight raster (``--weights``, dasymetric, e.g. population): the piece's share of the
  raster sum over the source area, with exact coverage fractions (``raster``). A source area
  whose weight sum is zero falls back to area, and is reported.

Shares are taken of the whole source area, so the part of a source area outside the
geography carries its share away (reported, never silently). An area that receives a share
of a missing source count is missing. Intersections run in a metric CRS: the boundary file's
CRS when projected (its UTM zone otherwise); the weight raster is read in its own CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.inputs.counts import read_counts
from geo.inputs.intake.output import Column, round_counts
from geo.inputs.intake.provenance import Drop
from geo.inputs.intake.raster import Stat, raster_stats
from geo.inputs.intake.table import read_table
from geo.inputs.intake.zones import Zones

OUTSIDE_TOLERANCE = 0.005
"""A source area with more than this share of its weight outside the geography is reported."""
_NOT_VARIABLES = {"area_id", "year", "jahr", "name", "variable", "value"}


@dataclass(frozen=True)
class Interpolated:
    """The counts per area (one column per variable and year) and what was reported."""

    columns: list[Column]
    drops: list[Drop]
    crs: dict[str, str]


def source_variables(path: Path, id_column: str | None) -> list[str]:
    """The variables a counts file holds: the ``variable`` column or the wide columns."""
    table = read_table(path)
    lower = {n.casefold(): n for n in table.names}
    if "variable" in lower and "value" in lower:
        found = pd.unique(pd.Series(table.columns[lower["variable"]]).astype(str).str.strip())
        return sorted(v for v in found if v)
    names = [n for n in table.names if n != id_column]
    if id_column is None and "area_id" not in lower:
        names = names[1:]  # the first column holds the ids
    return [n for n in names if n.casefold() not in _NOT_VARIABLES]


def _weights(source: Zones, geoms: np.ndarray, crs_geoms: np.ndarray, target: Zones,
             pairs: tuple[np.ndarray, np.ndarray], weights: Path | None,
             progress: bool) -> tuple[np.ndarray, np.ndarray, dict[str, str], int]:
    """Share of each source area in each piece, and each source area's share outside."""
    src_i, tgt_i = pairs
    pieces = shapely.intersection(crs_geoms[src_i], geoms[tgt_i])
    whole = shapely.area(crs_geoms)
    share = shapely.area(pieces) / whole[src_i]
    fallback = np.zeros(len(whole), dtype=bool)
    crs = {"computation": f"{target.crs.to_string()} (intersections)"}
    if weights is not None:
        piece_zones = Zones("pieces", "piece", "Teilfläche", np.arange(len(pieces)),
                            pieces, target.crs, ())
        whole_zones = Zones("sources", "source", "Quelle", source.ids, crs_geoms, target.crs, ())
        piece_sum, raster_crs = raster_stats(weights, piece_zones, Stat("sum"),
                                             progress=progress)
        whole_sum, _ = raster_stats(weights, whole_zones, Stat("sum"))
        total = np.nan_to_num(whole_sum.values)
        fallback = total <= 0
        dasy = np.nan_to_num(piece_sum.values) / np.where(fallback, 1.0, total)[src_i]
        share = np.where(fallback[src_i], share, dasy)
        crs["weights"] = f"{raster_crs['raster']} (the weight raster's CRS)"
    kept = np.bincount(src_i, weights=share, minlength=len(whole))
    return share, np.clip(1.0 - kept, 0.0, 1.0), crs, int(fallback.sum())


def interpolate(counts: Path, source: Zones, target: Zones, *, weights: Path | None = None,
                year: int | None = None, id_column: str | None = None,
                progress: bool = False) -> Interpolated:
    """Counts of the source areas apportioned to the target areas (rounded estimates)."""
    variables = source_variables(counts, id_column)
    frame = read_counts(counts, area_ids=source.ids.tolist(), variables=variables, year=year,
                        id_column=id_column, level_name=source.level_name)
    geoms, _ = target.metric()
    crs_geoms = source.to_crs(target.metric()[1])
    tgt_i, src_i = shapely.STRtree(geoms).query(crs_geoms, predicate="intersects")[::-1]
    share, outside, crs, fallback = _weights(source, geoms, crs_geoms, target,
                                             (src_i, tgt_i), weights, progress)
    crs["source areas"] = source.crs.to_string()
    crs["areas"] = target.crs.to_string()
    position = {a: i for i, a in enumerate(source.ids.tolist())}
    columns = []
    for (variable, yr), rows in frame.groupby(["variable", "year"], sort=True):
        value = np.full(len(source.ids), np.nan)
        idx = [position[a] for a in rows["area_id"]]
        value[idx] = rows["value"].to_numpy(dtype="float64", na_value=np.nan)
        given = np.zeros(len(source.ids), dtype=bool)
        given[idx] = True
        contribution = np.nan_to_num(value[src_i]) * share
        total = np.bincount(tgt_i, weights=contribution, minlength=len(target.ids))
        unknown = np.bincount(tgt_i, weights=(np.isnan(value[src_i]) & given[src_i]
                                              & (share > 1e-9)) * 1.0,
                              minlength=len(target.ids))
        columns.append(Column(str(variable), int(yr),
                              np.where(unknown > 0, np.nan, round_counts(total))))
    drops = []
    far = outside > OUTSIDE_TOLERANCE
    if far.any():
        drops.append(Drop("outside", "Quellgebiete ragen über die Geografie hinaus (ihr Anteil "
                          "außerhalb geht verloren)", int(far.sum()),
                          tuple(str(a) for a in source.ids[far][:20]), "Gebiete"))
    if fallback:
        drops.append(Drop("no_weight", "Quellgebiete ohne Gewicht im Raster, nach Fläche "
                          "verteilt", fallback, (), "Gebiete"))
    return Interpolated(columns, drops, crs)
