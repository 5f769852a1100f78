"""Aggregation of finest-level counts to every level and the whole area, and pooled periods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo.errors import CatalogueError
from geo.inputs.periods import year_sort_key

if TYPE_CHECKING:
    from geo.inputs.catalogue import Catalogue
    from geo.inputs.geography import Geography

CELL_COLUMNS = ["level", "area_id", "variable", "year", "value"]


def _sum_to_parents(child: pd.DataFrame, parents: pd.Series, parent_ids: list[str]) -> pd.DataFrame:
    """Sum child cells into their parents; one missing child makes the parent missing."""
    frame = child.assign(parent=child["area_id"].map(parents), na=child["value"].isna())
    frame["value"] = frame["value"].fillna(0)
    grouped = frame.groupby(["parent", "variable", "year"], sort=False, observed=True).agg(
        value=("value", "sum"), na=("na", "any")
    )
    values = grouped["value"].astype("Int64").mask(grouped["na"])
    variables = child["variable"].unique()
    years = child["year"].unique()
    index = pd.MultiIndex.from_product(
        [parent_ids, variables, years], names=["parent", "variable", "year"]
    )
    # a parent without any child has no data: missing, never zero
    values = values.reindex(index)
    out = values.rename("value").reset_index().rename(columns={"parent": "area_id"})
    return out


def aggregate(geography: Geography, counts: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """Return cells for every level, the total, every count variable and every year, then
    the pooled cells of every catalogue period (``year`` = ``"2010-2012"``, dtype object).

    Counts are given for the finest level. Parents are sums of their children, never
    averages of rates; a sum over a missing cell is missing, never silently smaller.
    Measures (``type = "measure"``) are left out: ``geo.stats.measures`` aggregates them.
    """
    areas = geography.areas
    levels = list(geography.level_ids)
    finest = levels[-1]
    variables = [v.id for v in catalogue.variables if getattr(v, "type", "count") == "count"]
    years = sorted(int(y) for y in counts["year"].unique()) if len(counts) else []
    counts = counts[counts["variable"].isin(variables)]
    finest_ids = areas.loc[areas["level"] == finest, "area_id"].tolist()

    index = pd.MultiIndex.from_product(
        [finest_ids, variables, years], names=["area_id", "variable", "year"]
    )
    given = counts.set_index(["area_id", "variable", "year"])["value"].astype("Int64")
    finest_cells = given.reindex(index).rename("value").reset_index()

    by_level: dict[str, pd.DataFrame] = {finest: finest_cells}
    child = finest_cells
    for position in range(len(levels) - 1, -1, -1):
        parent_level = levels[position - 1] if position > 0 else "total"
        child_level = levels[position]
        child_areas = areas[areas["level"] == child_level]
        parents = pd.Series(child_areas["parent_id"].to_numpy(), index=child_areas["area_id"])
        parent_ids = areas.loc[areas["level"] == parent_level, "area_id"].tolist()
        child = _sum_to_parents(child, parents, parent_ids)
        by_level[parent_level] = child

    frames = []
    for level in ["total", *levels]:
        frame = by_level[level].copy()
        frame.insert(0, "level", level)
        frames.append(frame)
    cells = pd.concat(frames, ignore_index=True)
    cells["year"] = cells["year"].astype("int64")
    cells["value"] = cells["value"].astype("Int64")
    pools = pooled(cells, catalogue, years)
    cells["year"] = cells["year"].astype(object)
    if len(pools):
        cells = pd.concat([cells, pools], ignore_index=True)
        cells["value"] = cells["value"].astype("Int64")
    return _ordered(cells, geography, variables)


def pooled(cells: pd.DataFrame, catalogue: Catalogue, years: list[int]) -> pd.DataFrame:
    """Cells of every catalogue period: per area and variable the sum of its years.

    A pooled cell is missing when any of its years is missing.

    Raises:
        CatalogueError: a period needs years the counts do not have.
    """
    frames = []
    for period in getattr(catalogue, "periods", ()):
        absent = [y for y in period.years if y not in years]
        if absent:
            have = ", ".join(str(y) for y in years) or "none"
            raise CatalogueError(
                f"{_source(catalogue)}: period {period.label} pools the years "
                f"{period.first}-{period.last}, but the counts have no "
                f"{', '.join(str(y) for y in absent)} (they have: {have})"
            )
        rows = cells[cells["year"].isin(period.years)
                     & cells["variable"].map(period.covers).astype(bool)]
        frame = rows.assign(na=rows["value"].isna(), value=rows["value"].fillna(0))
        grouped = frame.groupby(["level", "area_id", "variable"], sort=False).agg(
            value=("value", "sum"), na=("na", "any"))
        grouped["value"] = grouped["value"].astype("Int64").mask(grouped["na"])
        out = grouped.reset_index()[["level", "area_id", "variable", "value"]]
        out.insert(3, "year", pd.Series(period.label, index=out.index, dtype=object))
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=CELL_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def _source(catalogue: Catalogue) -> str:
    path = getattr(catalogue, "path", None)
    return path.name if path is not None else "indicators.toml"


def _ranks(column: pd.Series, rank: dict[Any, int]) -> np.ndarray:
    """Each value's place in ``rank`` (values not in it after all others), one lookup per
    distinct value."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return np.array([rank.get(u, len(rank)) for u in uniques], dtype=np.int64)[codes]


def _ordered(cells: pd.DataFrame, geography: Geography, variables: list[str]) -> pd.DataFrame:
    """Sort cells deterministically: total, levels coarsest first, area, variable, year."""
    areas = pd.unique(cells["area_id"])
    years = sorted(pd.unique(cells["year"]), key=year_sort_key)
    order = np.lexsort((
        _ranks(cells["year"], {y: i for i, y in enumerate(years)}),
        _ranks(cells["variable"], {v: i for i, v in enumerate(variables)}),
        _ranks(cells["area_id"], {a: i for i, a in enumerate(sorted(areas))}),
        _ranks(cells["level"], {lv: i for i, lv in enumerate(["total", *geography.level_ids])}),
    ))
    return cells.iloc[order][CELL_COLUMNS].reset_index(drop=True)
