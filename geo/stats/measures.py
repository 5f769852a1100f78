"""Measures (decimals) aggregated to every level: sums, or weighted means of the children.

A measure with ``aggregate = "sum"`` (an area, a green area) is the sum of its children; one
with ``aggregate = "mean"`` (a mean noise level, a share of green space) is the mean of its
children weighted by ``weight``: ``"area"`` (the geodesic surface of each area, from its shape)
or a count or summed measure of the same year. A parent is missing when a child's value or
weight is missing, or when the weights sum to zero: never silently a mean of fewer children.
Measures never enter disclosure control (``geo.inputs.measures``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pyproj import Geod

from geo.inputs.measures import AREA_WEIGHT
from geo.stats.aggregate import CELL_COLUMNS, _ordered

if TYPE_CHECKING:
    from geo.inputs.catalogue import Catalogue
    from geo.inputs.geography import Geography

DECIMALS = 6
"""Decimals kept for aggregated measures."""
_GEOD = Geod(ellps="GRS80")


def area_hectares(geography: Geography) -> pd.DataFrame:
    """Geodesic area (ha) of every area of every level: ``level, area_id, value``."""
    frames = []
    for level in geography.level_ids:
        shapes = geography.shapes[level]
        area = [abs(_GEOD.geometry_area_perimeter(g)[0]) / 10_000 for g in shapes.geometry]
        frames.append(pd.DataFrame({"level": level, "area_id": shapes["area_id"].astype(str),
                                    "value": area}))
    total = frames[0]["value"].sum() if frames else 0.0
    frames.insert(0, pd.DataFrame({"level": ["total"], "area_id": [geography.spec.total_id],
                                   "value": [total]}))
    return pd.concat(frames, ignore_index=True)


def _up(child: pd.DataFrame, parents: pd.Series, parent_ids: list[str],
        years: list[int]) -> pd.DataFrame:
    """Sum ``num`` and ``den`` of children into parents; a missing child makes it missing."""
    frame = child.assign(parent=child["area_id"].map(parents))
    frame["na"] = frame["num"].isna() | frame["den"].isna()
    grouped = frame.groupby(["parent", "year"], sort=False).agg(
        num=("num", "sum"), den=("den", "sum"), na=("na", "any"))
    grouped.loc[grouped["na"], ["num", "den"]] = np.nan
    index = pd.MultiIndex.from_product([parent_ids, years], names=["parent", "year"])
    out = grouped[["num", "den"]].reindex(index).reset_index()
    return out.rename(columns={"parent": "area_id"})


def _weights(variable: str, weight: str, cells: pd.DataFrame, areas: pd.DataFrame,
             done: dict[str, pd.DataFrame], years: list[int]) -> pd.DataFrame:
    """``level, area_id, year, w`` for one mean: area, a count's cells or a summed measure."""
    if weight == AREA_WEIGHT:
        return pd.concat([areas.assign(year=y) for y in years], ignore_index=True).rename(
            columns={"value": "w"})
    source = done.get(weight)
    if source is None:
        source = cells[cells["variable"] == weight]
    frame = source[["level", "area_id", "year"]].copy()
    frame["w"] = pd.to_numeric(source["value"], errors="coerce").astype("float64").to_numpy()
    return frame


def aggregate_measures(geography: Geography, values: pd.DataFrame, catalogue: Catalogue,
                       cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cells of every measure variable for every level, the total and every year.

    ``values`` holds the finest level's measures (``area_id, year, variable, value``);
    ``cells`` the aggregated count cells (weights of means weighted by a count).
    """
    measures = [v for v in catalogue.variables if getattr(v, "type", "count") == "measure"]
    if not measures:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            CELL_COLUMNS, (str, str, str, "int64", "float64"), strict=True)})
    cells = cells if cells is not None else pd.DataFrame(columns=CELL_COLUMNS)
    areas = geography.areas
    levels = list(geography.level_ids)
    years = sorted(int(y) for y in values["year"].unique()) if len(values) else []
    hectares = area_hectares(geography) if any(
        v.aggregate == "mean" and v.weight == AREA_WEIGHT for v in measures) else None
    done: dict[str, pd.DataFrame] = {}
    # summed measures first: a mean may be weighted by one of them
    for var in sorted(measures, key=lambda v: v.aggregate != "sum"):
        finest_ids = areas.loc[areas["level"] == levels[-1], "area_id"].tolist()
        index = pd.MultiIndex.from_product([finest_ids, years], names=["area_id", "year"])
        given = values[values["variable"] == var.id].set_index(["area_id", "year"])["value"]
        x = given.astype("float64").reindex(index).reset_index()
        if var.aggregate == "mean":
            w = _weights(var.id, var.weight, cells, hectares if hectares is not None else
                         pd.DataFrame(columns=["level", "area_id", "value"]), done, years)
            w = w.set_index(["level", "area_id", "year"])["w"]
        by_level = {levels[-1]: x.assign(level=levels[-1])}
        child = x.assign(num=x["value"], den=1.0)
        for position in range(len(levels) - 1, -1, -1):
            child_level = levels[position]
            parent_level = levels[position - 1] if position > 0 else "total"
            if var.aggregate == "mean":
                key = pd.MultiIndex.from_arrays([[child_level] * len(child), child["area_id"],
                                                 child["year"]])
                weight = w.reindex(key).to_numpy() if position == len(levels) - 1 else None
                if weight is not None:
                    child = child.assign(num=child["value"] * weight, den=weight)
            kids = areas[areas["level"] == child_level]
            parents = pd.Series(kids["parent_id"].to_numpy(), index=kids["area_id"])
            parent_ids = areas.loc[areas["level"] == parent_level, "area_id"].tolist()
            child = _up(child, parents, parent_ids, years)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(child["den"] > 0, child["num"] / child["den"], np.nan)
            child["value"] = child["num"] if var.aggregate == "sum" else mean
            by_level[parent_level] = child.assign(level=parent_level)
        frame = pd.concat([by_level[lv] for lv in ["total", *levels]], ignore_index=True)
        frame["variable"] = var.id
        frame["value"] = frame["value"].astype("float64").round(DECIMALS)
        done[var.id] = frame[CELL_COLUMNS]
    result = pd.concat(done.values(), ignore_index=True)
    result["year"] = result["year"].astype("int64")
    return _ordered(result, geography, [v.id for v in measures])
