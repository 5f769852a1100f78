"""The report's tables: all areas of a level ranked, and the whole area's development."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geo.release import TOTAL, PublishedBuild, indicator_rows, resolve_year
from geo.render.profiles.data import indicator_years
from geo.render.profiles.ranking import level_table

RANKED_COLUMNS = ["rank", "rank_of", "level", "area_id", "name", "indicator", "year", "rate",
                  "ci_low", "ci_high", "numerator", "denominator", "status", "reliable",
                  "vs_total", "vs_parent"]
"""Columns of a ranked table (English, as in values.csv)."""
DEVELOPMENT_COLUMNS = ["year", "area_id", "name", "indicator", "rate", "ci_low", "ci_high",
                       "numerator", "denominator", "status", "reliable"]
_STATUS_ORDER = {"published": 0, "suppressed": 1, "missing": 2}


def ranked_table(published: PublishedBuild, indicator: str, level: str,
                 year: Any = None) -> pd.DataFrame:
    """Every area of the level: published values by rank (1 = highest), then withheld, then
    missing areas by name; withheld rows carry no number."""
    chosen = resolve_year(published, indicator, year)
    rows = level_table(published, indicator, level, chosen).reset_index()
    # an area without a values row (missing) still has its name
    rows["name"] = rows["area_id"].map(_names(published, level))
    rows["year"] = [chosen] * len(rows)
    order = rows["status"].map(_STATUS_ORDER).fillna(3)
    rank = rows["rank"].astype("Float64").fillna(np.inf).astype(float)
    rows = rows.assign(_order=order, _rank=rank, _name=rows["name"].astype(str).str.casefold())
    rows = rows.sort_values(["_order", "_rank", "_name"], kind="stable")
    return rows[RANKED_COLUMNS].reset_index(drop=True)


def _names(published: PublishedBuild, level: str) -> dict[str, str]:
    areas = published.areas[published.areas["level"] == level]
    return dict(zip(areas["area_id"].astype(str), areas["name"].astype(str), strict=True))


def development_table(published: PublishedBuild, indicator: str) -> pd.DataFrame:
    """The whole area's value in every year and period of the indicator (withheld: empty)."""
    frames = []
    for key in indicator_years(published, indicator):
        rows = indicator_rows(published, indicator, TOTAL, key).reset_index()
        rows["year"] = [key] * len(rows)
        frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=DEVELOPMENT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[DEVELOPMENT_COLUMNS]
