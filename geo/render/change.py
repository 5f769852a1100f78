"""Published values with their change since another year (the data API's ``compare=``).

- ``comparison_years``: the year shown and the year compared with, checked like with like.
- ``change_rows``: the long value rows of the year with ``change``, ``change_ci_low``,
  ``change_ci_high`` and ``change_direction`` (``geo.stats.change``), the total's row too.
- ``change_document``: those rows as the data API's JSON body, with ``year`` and ``compare``.
- ``wide_change``: the same four fields per indicator as ``<indicator>_change…`` columns.
- ``level_change``: one indicator's areas of a level with both years and the change (maps).
- ``german_change``: the German words of ``change_direction`` (German CSV).

The change is computed only from the published numerators and denominators of both years;
a row whose either side is withheld or missing gets four empty fields.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geo.errors import NotFoundError, ParameterError
from geo.inputs.catalogue import Indicator
from geo.inputs.measures import MEASURE_KINDS
from geo.release import PublishedBuild, indicator_rows
from geo.render import words
from geo.render.records import rows_document, value_rows
from geo.stats.change import CHANGE_FIELDS, change_table, comparable_years, measure_change


def _indicator_ids(published: PublishedBuild, indicator: str | None) -> list[str]:
    if indicator:
        return [published.catalogue.indicator(indicator).id]
    return [i.id for i in published.catalogue.indicators]


def comparison_years(published: PublishedBuild, indicator: str | None, year: Any,
                     compare: Any) -> tuple[Any, Any]:
    """The year shown and the year compared with, both in the release.

    Without ``year`` the indicator's latest year is shown; for every indicator only if they
    all share it.

    Raises:
        ParameterError: no common latest year, or the two do not compare like with like.
        NotFoundError: an unknown indicator, or a year or period the release does not have.
    """
    if year is None:
        latest = {i: published.latest_year(i) for i in _indicator_ids(published, indicator)}
        if len(set(latest.values())) != 1:
            shown = ", ".join(f"{i} {y}" for i, y in latest.items())
            raise ParameterError(
                f"compare={compare} needs year=: the indicators' latest years differ ({shown})")
        year = next(iter(latest.values()))
    key, key0 = comparable_years(year, compare)
    keys: tuple[Any, Any] = (key, key0)  # a year (int) or a period ("2010-2012")
    chosen = published.check_year(keys[0])
    try:
        return chosen, published.check_year(keys[1])
    except NotFoundError as exc:
        raise NotFoundError(f"compare={key0}: {exc}") from None


def _counts(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A count (or value) column as floats, NaN where the row is not published."""
    values = pd.array(frame[column], dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    return np.where(frame["status"].to_numpy() == "published", values, np.nan)


def change_rows(published: PublishedBuild, level: str, indicator: str | None = None,
                year: Any = None, compare: Any = None) -> pd.DataFrame:
    """The value rows of ``year`` (level rows, then the total) with the change since
    ``compare`` (see ``comparison_years``) as four more columns."""
    chosen, base = comparison_years(published, indicator, year, compare)
    now = value_rows(published, level, indicator, chosen)
    then = value_rows(published, level, indicator, base)
    keys = ["level", "area_id", "indicator"]
    then = then.set_index(keys).reindex(pd.MultiIndex.from_frame(now[keys]))
    then["status"] = then["status"].fillna("missing")
    fields: dict[str, np.ndarray] = {c: np.full(len(now), np.nan) for c in CHANGE_FIELDS[:3]}
    fields["change_direction"] = np.full(len(now), None, dtype=object)
    ids = now["indicator"].to_numpy()
    for ind in published.catalogue.indicators:
        rows = np.flatnonzero(ids == ind.id)
        if len(rows):
            table = _change(ind, now.iloc[rows], then.iloc[rows])
            for column in CHANGE_FIELDS:
                fields[column][rows] = table[column].to_numpy()
    return pd.concat([now, pd.DataFrame(fields, index=now.index).astype(
        {"change_direction": object})], axis=1)


def _change(ind: Indicator, now: pd.DataFrame, then: pd.DataFrame) -> pd.DataFrame:
    """The change fields of aligned rows of one indicator (``geo.stats.change``)."""
    if ind.kind in MEASURE_KINDS:  # no counts, no interval: the difference only
        return measure_change(_counts(now, "rate"), _counts(then, "rate"))
    return change_table(_counts(now, "numerator"), _counts(now, "denominator"),
                        _counts(then, "numerator"), _counts(then, "denominator"),
                        kind=ind.kind, per=ind.per)


def level_change(published: PublishedBuild, indicator: str, level: str, year: Any,
                 compare: Any) -> pd.DataFrame:
    """Every area of one level (by ``area_id``, in area order) with both years' ``rate``,
    ``status`` and ``reliable`` (``…0`` for ``compare``) and the change fields (for maps).

    ``status`` is the change's: ``suppressed`` if either side is withheld, else ``missing``
    if either has no published rate, else ``published``.
    """
    ind = published.catalogue.indicator(indicator)
    chosen, base = comparison_years(published, ind.id, year, compare)
    now = indicator_rows(published, ind.id, level, chosen)
    then = indicator_rows(published, ind.id, level, base).reindex(now.index)
    then["status"] = then["status"].fillna("missing")
    table = _change(ind, now, then).set_axis(now.index)
    sides = pd.DataFrame({"now": now["status"], "then": then["status"]})
    withheld = (sides == "suppressed").any(axis=1)
    status = np.where(withheld, "suppressed",
                      np.where(table["change"].notna(), "published", "missing"))
    return pd.DataFrame({
        "rate": now["rate"], "rate0": then["rate"], "status_now": now["status"],
        "status0": then["status"], "reliable": now["reliable"], "reliable0": then["reliable"],
        **{c: table[c] for c in CHANGE_FIELDS}, "status": status,
    }, index=now.index)


def change_document(published: PublishedBuild, level: str, indicator: str | None = None,
                    year: Any = None, compare: Any = None) -> dict[str, Any]:
    """``change_rows`` as the data API's JSON body, naming the two years compared."""
    chosen, base = comparison_years(published, indicator, year, compare)
    frame = change_rows(published, level, indicator, chosen, base)
    return rows_document(published, level, frame, year=chosen, compare=base)


def wide_change(published: PublishedBuild, level: str, area_ids: pd.Index,
                indicator: str | None, year: Any, compare: Any) -> pd.DataFrame:
    """``<indicator>_change``, ``…_change_ci_low``, ``…_change_ci_high`` and
    ``…_change_direction`` of every (or one) indicator for ``area_ids`` of the level."""
    rows = change_rows(published, level, indicator, year, compare)
    rows = rows[rows["level"] == level]
    parts = []
    for ind in _indicator_ids(published, indicator):
        part = rows[rows["indicator"] == ind].set_index("area_id")[CHANGE_FIELDS]
        parts.append(part.reindex(area_ids).rename(columns=lambda c, i=ind: f"{i}_{c}"))
    return pd.concat(parts, axis=1)


def german_change(frame: pd.DataFrame) -> pd.DataFrame:
    """The direction in German words (``geo.render.words.DIRECTION``); the German CSV's
    headers come from ``words.CSV_HEADERS``."""
    if "change_direction" not in frame.columns:
        return frame
    return frame.assign(
        change_direction=frame["change_direction"].map(words.DIRECTION).astype(object))
