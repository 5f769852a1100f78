"""Ranks, comparison with the parent area and spine statistics of one level (published only).

Ranks: 1 = the highest published value; ties share the best rank (1, 2, 2, 4); ``rank_of``
counts the areas of the level with a published value. Withheld and missing areas have no
rank and take no part in ranks, quartiles or ranges, so none of them can be inferred.
``vs_parent`` is worked out like ``vs_total``: does the area's interval exclude the parent's
published rate; empty when the parent's rate is withheld or missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.release import TOTAL, PublishedBuild, indicator_rows, resolve_year, total_rate
from geo.release.tables import memoised
from geo.render.classes import published_rates


@dataclass(frozen=True)
class Spine:
    """Where the published values of a level lie: range, quartiles and the whole area's value."""

    n: int
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float
    total: float | None


def parent_level(published: PublishedBuild, level: str) -> str | None:
    """The next coarser level (``total`` above the first); None for ``total`` itself."""
    ids = published.geography.level_ids
    if level == TOTAL:
        return None
    published.geography.level(level)
    i = ids.index(level)
    return ids[i - 1] if i > 0 else TOTAL


def compare(low: np.ndarray, high: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``higher``/``lower``/``similar`` where the interval excludes ``ref`` or not; else None."""
    low, high, ref = (np.asarray(a, dtype=float) for a in (low, high, ref))
    out = np.full(len(low), None, dtype=object)
    valid = ~np.isnan(ref) & ~np.isnan(low) & ~np.isnan(high)
    out[valid] = "similar"
    out[valid & (low > ref)] = "higher"
    out[valid & (high < ref)] = "lower"
    return out


def level_table(published: PublishedBuild, indicator: str, level: str,
                year: Any = None) -> pd.DataFrame:
    """``indicator_rows`` of one level and year with ``rank``, ``rank_of``, ``parent_id``,
    ``parent_rate`` and ``vs_parent`` (computed once per release; do not modify)."""
    ind = published.catalogue.indicator(indicator)
    chosen = resolve_year(published, ind.id, year)

    def make() -> pd.DataFrame:
        rows = indicator_rows(published, ind.id, level, chosen).copy()
        shown = published_rates(rows)
        if level == TOTAL or shown.empty:
            rows["rank"] = pd.array([None] * len(rows), dtype="Int64")
            rows["rank_of"] = pd.array([None] * len(rows), dtype="Int64")
        else:
            ranks = shown.rank(method="min", ascending=False).reindex(rows.index)
            rows["rank"] = pd.array(ranks.to_numpy(), dtype="Float64").astype("Int64")
            of = np.where(ranks.notna(), len(shown), np.nan)
            rows["rank_of"] = pd.array(of, dtype="Float64").astype("Int64")
        parents = _parent_ids(published, level).reindex(rows.index)
        rows["parent_id"] = parents.to_numpy(dtype=object)
        upper = parent_level(published, level)
        if upper is None:
            ref = np.full(len(rows), np.nan)
        else:
            above = indicator_rows(published, ind.id, upper, chosen)
            published_above = above["rate"].where(above["status"] == "published")
            ref = published_above.reindex(parents.to_numpy()).to_numpy(dtype=float,
                                                                        na_value=np.nan)
        rows["parent_rate"] = ref
        rows["vs_parent"] = compare(rows["ci_low"].to_numpy(dtype=float, na_value=np.nan),
                                    rows["ci_high"].to_numpy(dtype=float, na_value=np.nan), ref)
        return rows

    return memoised(published, ("profile-level", ind.id, chosen, level), make)


def _parent_ids(published: PublishedBuild, level: str) -> pd.Series:
    areas = published.areas
    rows = areas[areas["level"] == level]
    return pd.Series(rows["parent_id"].astype(str).to_numpy(), index=rows["area_id"].to_numpy())


def spine(published: PublishedBuild, indicator: str, level: str,
          year: Any = None) -> Spine | None:
    """Range and quartiles of the level's published values and the whole area's rate."""
    chosen = resolve_year(published, indicator, year)
    values = published_rates(indicator_rows(published, indicator, level, chosen)).to_numpy()
    if level == TOTAL or values.size == 0:
        return None
    q1, median, q3 = (float(q) for q in np.percentile(values, [25, 50, 75]))
    return Spine(n=int(values.size), minimum=float(values.min()), q1=q1, median=median, q3=q3,
                 maximum=float(values.max()), total=total_rate(published, indicator, chosen))
