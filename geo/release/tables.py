"""Tables derived from a release, computed once per release and shared by every renderer.

Two shapes of the same published values:

- ``indicator_rows``: the rows of one indicator, level and year (the "level x indicator x
  year" selection behind maps, styles and the data API), one per area of the level in area
  order; an area without a row is ``missing``.
- ``wide_values``: one row per area of a level with every indicator's value and fields as
  columns (the GeoPackage, tiles, QGIS styles and OGC API Features).

Both are memoised on the ``PublishedBuild`` (a release never changes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from geo.inputs.periods import YearKey, is_period, parse_year_key
from geo.release.published import PublishedBuild

WIDE_FIELDS = (
    "ci_low",
    "ci_high",
    "numerator",
    "denominator",
    "reliable",
    "vs_total",
    "status",
    "year",
)
"""Per indicator, the wide tables carry ``<ind>`` (the rate) and ``<ind>_<field>``."""

T = TypeVar("T")


def memoised(published: PublishedBuild, key: tuple[Any, ...], make: Callable[[], T]) -> T:
    """Compute a derived table of this release once (thread-safe)."""
    with published.memo_lock:
        if key in published.memo:
            return published.memo[key]  # type: ignore[no-any-return]
    made = make()
    with published.memo_lock:
        return published.memo.setdefault(key, made)  # type: ignore[no-any-return]


def _groups(published: PublishedBuild) -> dict[tuple[str, YearKey, str], np.ndarray]:
    def make() -> dict[tuple[str, YearKey, str], np.ndarray]:
        # the rows of each (indicator, year, level), ascending (as ``groupby().indices``)
        (ind, inds), (year, years), (level, levels) = (
            published.value_codes[col] for col in ("indicator", "year", "level"))
        key = (ind * len(years) + year) * len(levels) + level
        order = np.argsort(key, kind="stable")
        starts = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]])
        groups = {}
        for begin, end in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
            k = int(key[order[begin]])
            i, y, lv = inds[k // len(levels) // len(years)], years[k // len(levels) % len(
                years)], levels[k % len(levels)]
            if not (pd.isna(i) or pd.isna(y) or pd.isna(lv)):
                groups[(str(i), parse_year_key(y), str(lv))] = order[begin:end]
        return groups

    return memoised(published, ("groups",), make)


def level_area_ids(published: PublishedBuild, level: str) -> pd.Index:
    """Area ids of one level (``total`` included) in the release's order."""

    def make() -> pd.Index:
        areas = published.areas
        return pd.Index(areas.loc[areas["level"] == level, "area_id"].to_numpy(), name="area_id")

    published.geography.level(level)
    return memoised(published, ("area_ids", level), make)


def resolve_year(published: PublishedBuild, indicator: str, year: Any) -> YearKey:
    """The year or period asked for (a key or its text, checked), or the indicator's latest
    single year with data."""
    if year is None:
        return published.latest_year(indicator)
    return published.check_year(year)


def indicator_rows(
    published: PublishedBuild, indicator: str, level: str, year: YearKey | None = None
) -> pd.DataFrame:
    """The values rows of one indicator, level and year, one per area, indexed by area_id.

    ``year=None`` takes the indicator's latest year with data. Areas without a row get
    status ``missing`` and empty fields.
    """
    ind = published.catalogue.indicator(indicator)
    chosen = resolve_year(published, ind.id, year)
    ids = level_area_ids(published, level)

    def make() -> pd.DataFrame:
        idx = _groups(published).get((ind.id, chosen, level))
        rows = published.values.iloc[idx if idx is not None else []]
        out = rows.set_index("area_id").reindex(ids)
        out["status"] = out["status"].fillna("missing")
        out["level"] = level
        out["indicator"] = ind.id
        out["year"] = chosen
        return out

    return memoised(published, ("rows", ind.id, chosen, level), make)


def total_rate(
    published: PublishedBuild, indicator: str, year: YearKey | None = None
) -> float | None:
    """The whole area's published rate of one indicator and year, or None."""
    rows = indicator_rows(published, indicator, "total", year)
    rate = rows["rate"].iloc[0] if len(rows) else np.nan
    return None if pd.isna(rate) else float(rate)


def wide_values(
    published: PublishedBuild, level: str, year: YearKey | None = None
) -> pd.DataFrame:
    """One row per area of ``level``: ids, names and every indicator's published values.

    ``year=None`` takes each indicator's latest year with data. Computed once per release,
    level and year; callers must not modify the frame they get.
    """
    published.geography.level(level)
    if year is not None:
        year = published.check_year(year)

    def make() -> pd.DataFrame:
        areas = published.areas[published.areas["level"] == level][["area_id", "name", "parent_id"]]
        out = areas.reset_index(drop=True)
        columns: dict[str, Any] = {}
        for ind in published.catalogue.indicators:
            rows = indicator_rows(published, ind.id, level, year)
            chosen = rows["year"].iloc[0] if len(rows) else resolve_year(
                published, ind.id, year)
            columns[ind.id] = rows["rate"].to_numpy()
            for fld in WIDE_FIELDS:
                if fld == "year":  # a period's label is text
                    columns[f"{ind.id}_year"] = np.full(
                        len(out), chosen, dtype=object if is_period(chosen) else "int64")
                elif fld == "status":
                    columns[f"{ind.id}_status"] = rows["status"].to_numpy(dtype=object)
                else:
                    columns[f"{ind.id}_{fld}"] = rows[fld].array
        return pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)

    return memoised(published, ("wide", level, year), make)
