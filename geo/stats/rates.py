"""Rates, 95 % intervals, comparison with the whole area and reliability flags.

Indicators of counts (``proportion``, ``rate``) get intervals; indicators of measures
(``value``: one measure as it is, ``ratio``: a measure divided by a measure) get none, and
their ``numerator``/``denominator`` columns stay empty (the measures are in the cells).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from geo.inputs.periods import is_period
from geo.stats.codes import combined, factorize

if TYPE_CHECKING:
    from geo.inputs.catalogue import Catalogue

Z95 = 1.959963984540054
RELIABLE_MIN = 300
"""Denominators below this make a rate unreliable (small base)."""
BYAR_FROM = 10
"""Rates use exact Poisson limits below this many events and Byar's approximation above."""
DECIMALS = 4

VALUE_COLUMNS = [
    "level",
    "area_id",
    "name",
    "indicator",
    "year",
    "numerator",
    "denominator",
    "rate",
    "ci_low",
    "ci_high",
    "status",
    "vs_total",
    "reliable",
]


def wilson_interval(k: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions k/n (n > 0)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def poisson_interval(k: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Interval for a Poisson count: exact below BYAR_FROM events, Byar's method above."""
    k = np.asarray(k, dtype=float)
    alpha = 2 * (1 - _norm_cdf(z))
    with np.errstate(invalid="ignore", divide="ignore"):
        exact_lo = np.where(k > 0, chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
        exact_hi = chi2.ppf(1 - alpha / 2, 2 * (k + 1)) / 2
        byar_lo = k * (1 - 1 / (9 * k) - z / (3 * np.sqrt(k))) ** 3
        k1 = k + 1
        byar_hi = k1 * (1 - 1 / (9 * k1) + z / (3 * np.sqrt(k1))) ** 3
    small = k < BYAR_FROM
    return np.where(small, exact_lo, byar_lo), np.where(small, exact_hi, byar_hi)


def _norm_cdf(z: float) -> float:
    from math import erf, sqrt

    return 0.5 * (1 + erf(z / sqrt(2)))


def _base(cells: pd.DataFrame, measures: pd.DataFrame | None,
          catalogue: Catalogue) -> pd.DataFrame:
    """Every (level, area_id, year) of the cells and measures, in cell order."""
    # cell order: per area its years, then its periods (of any variable)
    base = cells[["level", "area_id", "year"]].drop_duplicates()
    if measures is not None and len(measures):
        extra = measures.loc[measures["variable"] == measures["variable"].iloc[0],
                             ["level", "area_id", "year"]]
        base = pd.concat([base, extra]).drop_duplicates()
    return base.reset_index(drop=True)


_KEYS = ["level", "area_id", "year"]


def _codes(frame: pd.DataFrame) -> np.ndarray:
    """One integer per (level, area_id, year) of ``frame``."""
    return combined(frame, _KEYS)


def _dense(keys: np.ndarray, *more: np.ndarray) -> tuple[np.ndarray, ...]:
    """``keys`` (and ``more`` of the same kind) renumbered into 0..n-1 (n: distinct keys)."""
    every = np.concatenate([keys, *more])
    if len(every) and every.max() > 4 * len(every) + 2**20:
        codes = pd.factorize(every)[0]
    else:
        slot = np.zeros(int(every.max()) + 1 if len(every) else 0, dtype=np.int64)
        slot[every] = 1
        codes = (np.cumsum(slot) - 1)[every]
    bounds = np.cumsum([len(keys), *(len(m) for m in more)])
    return tuple(np.split(codes, bounds[:-1]))


def _base_and_locator(cells: pd.DataFrame, measures: pd.DataFrame | None, catalogue: Catalogue
                      ) -> tuple[pd.DataFrame, Callable[[str], np.ndarray]]:
    """``_base`` and a ``_locator`` into it; without measures both come from the cells' keys
    (the base is their first occurrences, as ``drop_duplicates`` keeps them)."""
    if measures is not None and len(measures):
        base = _base(cells, measures, catalogue)
        both = _codes(pd.concat([cells[_KEYS], base[_KEYS]], ignore_index=True))
        return base, _locator(cells, both[:len(cells)], both[len(cells):])
    codes = _dense(_codes(cells))[0]
    first = np.full(int(codes.max()) + 1 if len(codes) else 0, len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    first = np.sort(first)
    return cells[_KEYS].iloc[first].reset_index(drop=True), _locator(cells, codes, codes[first])


def _locator(cells: pd.DataFrame, cell_keys: np.ndarray, base_keys: np.ndarray
             ) -> Callable[[str], np.ndarray]:
    """For a variable, the row of ``cells`` holding each base row (-1: none), given both as
    ``_codes``; one table of rows per base row and variable instead of a lookup per call."""
    variables, names = factorize(cells["variable"])
    cell_at, base_at = _dense(cell_keys, base_keys)
    # keys of cells that no base row has get a row of their own, never looked at
    rows = int(max(cell_at.max(initial=-1), base_at.max(initial=-1))) + 1
    table = np.full((rows, max(len(names), 1)), -1, dtype=np.intp)
    flat = cell_at * table.shape[1] + variables
    if len(flat) and np.bincount(flat, minlength=table.size).max() > 1:
        raise pd.errors.InvalidIndexError("Reindexing only valid with uniquely valued Index "
                                          "objects")
    table.reshape(-1)[flat] = np.arange(len(cells))
    where = {name: i for i, name in enumerate(names)}

    def locate(variable: str) -> np.ndarray:
        if variable not in where:
            return np.full(len(base_at), -1, dtype=np.intp)
        return table[base_at, where[variable]]

    return locate


def _take(values: np.ndarray, at: np.ndarray, missing: Any) -> np.ndarray:
    """``values[at]`` with ``missing`` where ``at`` is -1."""
    if not len(values):
        return np.full(len(at), missing, dtype=values.dtype)
    out = values[at]
    out[at < 0] = missing
    return out


class _Rows:
    """One indicator's rows: which base rows, and its columns as arrays."""

    def __init__(self, at: np.ndarray, num: np.ndarray, den: np.ndarray, rate: np.ndarray,
                 ci: tuple[np.ndarray, np.ndarray], status: np.ndarray, reliable: np.ndarray,
                 vs_total: np.ndarray) -> None:
        self.at, self.num, self.den, self.rate, self.ci = at, num, den, rate, ci
        self.status, self.reliable, self.vs_total = status, reliable, vs_total


def _measure_values(ind: Any, base: pd.DataFrame, at: np.ndarray,
                    measures: pd.DataFrame | None) -> _Rows:
    """Rows of a ``value`` or ``ratio`` indicator: the measure (or ratio) x per, no interval."""
    keyed = (measures if measures is not None else pd.DataFrame(
        columns=["level", "area_id", "variable", "year", "value"])).set_index(
        ["level", "area_id", "variable", "year"])["value"]
    roles = [ind.numerator] + ([ind.denominator] if ind.kind == "ratio" else [])
    parts = []
    for variable in roles:
        index = pd.MultiIndex.from_frame(
            base.assign(variable=variable)[["level", "area_id", "variable", "year"]])
        parts.append(keyed.reindex(index).to_numpy(dtype="float64", na_value=np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = parts[0] if len(parts) == 1 else np.where(parts[1] != 0, parts[0] / parts[1],
                                                           np.nan)
    known = ~np.isnan(value)
    empty = np.full(len(base), np.nan)
    return _Rows(at, empty, empty, np.where(known, np.round(value * float(ind.per), DECIMALS),
                                            np.nan), (empty, empty),
                 np.where(known, 0, 2).astype(np.int8), np.full(len(base), -1, dtype=np.int8),
                 np.full(len(base), -1, dtype=np.int8))


def _count_values(ind: Any, keep: np.ndarray, at_num: np.ndarray, at_den: np.ndarray,
                  status_of: np.ndarray, value_of: np.ndarray, reliable_min: int,
                  is_total: np.ndarray, year_codes: np.ndarray) -> _Rows:
    """Rows of a ``proportion`` or ``rate`` indicator: published only when both cells are."""
    code = np.maximum(_take(status_of, at_num, 2), _take(status_of, at_den, 2))
    num, den = _take(value_of, at_num, np.nan), _take(value_of, at_den, np.nan)
    published = code == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = published & (den > 0)
        if ind.kind == "rate":
            lo, hi = poisson_interval(np.where(ok, num, 0))
            rate = num / den
            ci_lo, ci_hi = lo / den, hi / den
        else:
            lo, hi = wilson_interval(np.where(ok, num, 0), np.where(ok, den, 1))
            rate = num / den
            ci_lo, ci_hi = lo, hi
    scale = float(ind.per)
    rate = np.where(ok, np.round(rate * scale, DECIMALS), np.nan)
    ci = (np.where(ok, np.round(ci_lo * scale, DECIMALS), np.nan),
          np.where(ok, np.round(ci_hi * scale, DECIMALS), np.nan))
    # -1: no value (not published); 1 / 0: reliable or not
    reliable = np.where(published, (den >= reliable_min).astype(np.int8), -1).astype(np.int8)
    return _Rows(keep, np.where(published, num, np.nan), np.where(published, den, np.nan),
                 rate, ci, code, reliable,
                 _compare_with_total(rate, ci[0], ci[1], is_total[keep], year_codes[keep]))


def _assemble(base_all: pd.DataFrame, ids: list[str], parts: list[_Rows]) -> pd.DataFrame:
    """The values table: every indicator's rows, each column built once."""
    values = base_all.take(np.concatenate([p.at for p in parts])).reset_index(drop=True)
    sizes = [len(p.at) for p in parts]
    values["indicator"] = pd.array(np.array(ids, dtype=object), dtype="str").take(
        np.repeat(np.arange(len(ids)), sizes))
    for column, arrays in (("numerator", [p.num for p in parts]),
                           ("denominator", [p.den for p in parts])):
        values[column] = pd.array(np.concatenate(arrays)).astype("Int64")
    values["rate"] = np.concatenate([p.rate for p in parts])
    values["ci_low"] = np.concatenate([p.ci[0] for p in parts])
    values["ci_high"] = np.concatenate([p.ci[1] for p in parts])
    values["status"] = pd.array(_STATUS, dtype="str").take(
        np.concatenate([p.status for p in parts]).astype(np.intp))
    reliable = np.concatenate([p.reliable for p in parts])
    values["reliable"] = pd.arrays.BooleanArray(reliable == 1, reliable < 0)
    compared = np.concatenate([p.vs_total for p in parts]).astype(np.intp)
    # text where any row has a comparison (empty: NaN), else no text at all (None, object)
    values["vs_total"] = (
        pd.array(_COMPARISON, dtype="str").take(compared, allow_fill=True)
        if (compared >= 0).any() else pd.Series(np.full(len(compared), None, dtype=object),
                                                index=values.index))
    return values[VALUE_COLUMNS].reset_index(drop=True)


def compute_values(
    cells: pd.DataFrame,
    areas: pd.DataFrame,
    catalogue: Catalogue,
    *,
    reliable_min: int = RELIABLE_MIN,
    measures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Return the values table (one row per indicator, area and year).

    ``cells`` must be the published cells (``status`` column; ``value`` empty unless
    published): a row is published only when both its cells are, so nothing here can be
    computed from a withheld count. ``measures`` holds the measure cells (never withheld).
    """
    names = areas.set_index(["level", "area_id"])["name"]
    total_level = "total"
    base_all, locate = _base_and_locator(cells, measures, catalogue)
    base_all["name"] = names.reindex(
        pd.MultiIndex.from_frame(base_all[["level", "area_id"]])).to_numpy()
    year_codes, year_keys = factorize(base_all["year"])
    single = ~np.array([is_period(y) for y in year_keys], dtype=bool)[year_codes]
    is_total = (base_all["level"] == total_level).to_numpy(dtype=bool)
    # 0 published, 1 suppressed, 2 missing: a row takes the worse status of its two cells
    status_of = _status_codes(cells["status"])
    value_of = cells["value"].to_numpy(dtype="float64", na_value=np.nan)
    parts = []
    for ind in catalogue.indicators:
        if ind.kind in ("value", "ratio"):
            parts.append(_measure_values(ind, base_all[single].reset_index(drop=True),
                                         np.flatnonzero(single), measures))
            continue
        # every year, and the periods that pool both (pooled numerator / pooled denominator)
        at_num, at_den = locate(ind.numerator), locate(ind.denominator)
        keep = single | ((at_num >= 0) & (at_den >= 0))
        parts.append(_count_values(ind, np.flatnonzero(keep), at_num[keep], at_den[keep],
                                   status_of, value_of, reliable_min, is_total, year_codes))
    if not parts:
        values = pd.DataFrame(columns=VALUE_COLUMNS)
        values["vs_total"] = pd.Series(dtype=object)
        return values
    return _assemble(base_all, [ind.id for ind in catalogue.indicators], parts)


_STATUS = np.array(["published", "suppressed", "missing"], dtype=object)


def _status_codes(status: pd.Series) -> np.ndarray:
    """0 published, 1 suppressed, 2 missing (or empty) per cell."""
    codes, uniques = factorize(status)
    table = np.array([2 if pd.isna(u) or u == "missing" else 1 if u == "suppressed" else 0
                      for u in uniques], dtype=np.int8)
    return table[codes] if len(uniques) else np.zeros(0, dtype=np.int8)


_COMPARISON = np.array(["similar", "higher", "lower"], dtype=object)


def _compare_with_total(rate: np.ndarray, lo: np.ndarray, hi: np.ndarray, is_total: np.ndarray,
                        year: np.ndarray) -> np.ndarray:
    """higher/lower/similar (codes into ``_COMPARISON``; -1: no comparison) for one
    indicator's rows: does the area's interval exclude the total's rate of the same year."""
    ref_of = np.full(int(year.max()) + 1 if len(year) else 0, np.nan)
    ref_of[year[is_total]] = rate[is_total]
    ref = ref_of[year]
    out = np.full(len(rate), -1, dtype=np.int8)
    valid = ~np.isnan(ref) & ~np.isnan(lo) & ~is_total
    out[valid] = 0
    out[valid & (lo > ref)] = 1
    out[valid & (hi < ref)] = 2
    return out
