"""Aggregation of finest-level counts to every level and the whole area, and pooled periods."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo.errors import CatalogueError
from geo.inputs.periods import year_sort_key
from geo.stats.codes import factorize

if TYPE_CHECKING:
    from geo.inputs.catalogue import Catalogue
    from geo.inputs.geography import Geography

CELL_COLUMNS = ["level", "area_id", "variable", "year", "value"]


class _Grid:
    """Counts of one level as a dense array: area (in ``ids`` order) x variable x year."""

    def __init__(self, ids: list[str], value: np.ndarray, missing: np.ndarray) -> None:
        self.ids, self.value, self.missing = ids, value, missing


def _finest(counts: pd.DataFrame, ids: list[str], variables: list[str],
            years: list[int]) -> _Grid:
    """The finest level's grid: absent cells missing, counts of other areas left out."""
    shape = (len(ids), len(variables), len(years))
    value = np.zeros(shape, dtype=np.int64)
    missing = np.ones(shape, dtype=bool)
    area_code, area_names = factorize(counts["area_id"])
    variable_code, variable_names = factorize(counts["variable"])
    area = pd.Index(ids).get_indexer(area_names)[area_code] if len(ids) else area_code * 0 - 1
    variable = pd.Index(variables).get_indexer(variable_names)[variable_code]
    year = np.searchsorted(np.asarray(years, dtype=np.int64),
                           counts["year"].to_numpy(dtype=np.int64))
    keep = (area >= 0) & (variable >= 0)
    flat = np.ravel_multi_index((area[keep], variable[keep], year[keep]), shape)
    if len(flat) and np.bincount(flat, minlength=value.size).max() > 1:
        raise ValueError("cannot reindex on an axis with duplicate labels")
    given = counts["value"].astype("Int64").array
    value.reshape(-1)[flat] = given.to_numpy(dtype=np.int64, na_value=0)[keep]
    missing.reshape(-1)[flat] = given.isna()[keep]
    return _Grid(ids, value, missing)


def _sum_to_parents(child: _Grid, parent_of: list[str], parent_ids: list[str]) -> _Grid:
    """Sum child cells into their parents; one missing child makes the parent missing, and a
    parent without any child has no data: missing, never zero."""
    parent = pd.Index(parent_ids).get_indexer(pd.Index(parent_of, dtype=object))
    shape = (len(parent_ids), *child.value.shape[1:])
    value = np.zeros(shape, dtype=np.int64)
    missing = np.ones(shape, dtype=bool)
    known = np.flatnonzero(parent >= 0)
    if len(known):
        order = known[np.argsort(parent[known], kind="stable")]
        groups = parent[order]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        value[groups[starts]] = np.add.reduceat(child.value[order], starts, axis=0)
        missing[groups[starts]] = np.logical_or.reduceat(child.missing[order], starts, axis=0)
    return _Grid(parent_ids, value, missing)


def _pooled(grid: _Grid, years: list[int], periods: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each period's sums of its years (area x variable x period); missing with any year
    missing."""
    shape = (len(grid.ids), grid.value.shape[1], len(periods))
    value = np.zeros(shape, dtype=np.int64)
    missing = np.ones(shape, dtype=bool)
    for k, period in enumerate(periods):
        at = [years.index(y) for y in period.years]
        value[:, :, k] = grid.value[:, :, at].sum(axis=2)
        missing[:, :, k] = grid.missing[:, :, at].any(axis=2)
    return value, missing


def _check_periods(catalogue: Catalogue, years: list[int]) -> None:
    """Raises CatalogueError: a period needs years the counts do not have."""
    for period in getattr(catalogue, "periods", ()):
        absent = [y for y in period.years if y not in years]
        if absent:
            have = ", ".join(str(y) for y in years) or "none"
            raise CatalogueError(
                f"{_source(catalogue)}: period {period.label} pools the years "
                f"{period.first}-{period.last}, but the counts have no "
                f"{', '.join(str(y) for y in absent)} (they have: {have})"
            )


def _frame(grids: list[tuple[str, _Grid]], variables: list[str], years: list[int],
           periods: list[Any]) -> pd.DataFrame:
    """The cells in their order: level, area (sorted), variable, years then covering periods."""
    covered = np.array([[p.covers(v) for p in periods] for v in variables],
                       dtype=bool).reshape(len(variables), len(periods))
    # the columns of one area: per variable its years, then the periods that cover it
    column_var = np.array([i for i, v in enumerate(variables)
                           for _ in range(len(years) + int(covered[i].sum()))], dtype=np.intp)
    column_year = np.array([y for i in range(len(variables)) for y in
                            [*years, *(p.label for p, c in zip(periods, covered[i],
                                                                strict=True) if c)]],
                           dtype=object)
    column_at = np.array([j for i in range(len(variables)) for j in
                          [*range(len(years)), *(len(years) + k for k in
                                                 np.flatnonzero(covered[i]))]], dtype=np.intp)
    width = len(column_var)
    levels, ids, values, missing = [], [], [], []
    for level, grid in grids:
        order = sorted(range(len(grid.ids)), key=grid.ids.__getitem__)
        pool_value, pool_missing = _pooled(grid, years, periods)
        both = np.concatenate([grid.value, pool_value], axis=2)[order]
        gaps = np.concatenate([grid.missing, pool_missing], axis=2)[order]
        values.append(both[:, column_var, column_at].reshape(-1))
        missing.append(gaps[:, column_var, column_at].reshape(-1))
        ids.append(np.repeat(np.array([grid.ids[i] for i in order], dtype=object), width))
        levels.append(np.full(len(order) * width, level, dtype=object))
    rows = sum(len(x) for x in levels)
    reps = rows // width if width else 0
    return pd.DataFrame({
        "level": pd.array(np.concatenate(levels), dtype="str"),
        "area_id": pd.array(np.concatenate(ids), dtype="str"),
        "variable": pd.array(np.tile(np.array(variables, dtype=object)[column_var], reps),
                             dtype="str"),
        "year": pd.Series(np.tile(column_year, reps), dtype=object),
        "value": pd.arrays.IntegerArray(np.concatenate(values), np.concatenate(missing)),
    })


def aggregate(geography: Geography, counts: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """Return cells for every level, the total, every count variable and every year, then
    the pooled cells of every catalogue period (``year`` = ``"2010-2012"``, dtype object).

    Counts are given for the finest level. Parents are sums of their children, never
    averages of rates; a sum over a missing cell is missing, never silently smaller.
    Measures (``type = "measure"``) are left out: ``geo.stats.measures`` aggregates them.
    """
    areas = geography.areas
    levels = list(geography.level_ids)
    variables = [v.id for v in catalogue.variables if getattr(v, "type", "count") == "count"]
    years = sorted(int(y) for y in counts["year"].unique()) if len(counts) else []
    _check_periods(catalogue, years)
    periods = sorted(getattr(catalogue, "periods", ()), key=lambda p: year_sort_key(p.label))
    level_of = areas["level"].to_numpy(dtype=object)
    ids_of = areas["area_id"].to_numpy(dtype=object)
    parents_of = areas["parent_id"].to_numpy(dtype=object)

    def ids(level: str) -> list[str]:
        return ids_of[level_of == level].tolist()

    child = _finest(counts, ids(levels[-1]), variables, years)
    grids = {levels[-1]: child}
    for position in range(len(levels) - 1, -1, -1):
        parent_level = levels[position - 1] if position > 0 else "total"
        parent_of = parents_of[level_of == levels[position]].tolist()
        child = _sum_to_parents(child, parent_of, ids(parent_level))
        grids[parent_level] = child
    return _frame([(lv, grids[lv]) for lv in ["total", *levels]], variables, years, periods)


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
