"""A release as plain JSON records: its summary, its indicators and its long value rows.

What the data API answers, without the HTTP: every value is a plain Python scalar (withheld
= None), so any JSON encoder can write it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from geo.inputs.catalogue import Indicator
from geo.inputs.periods import YearKey
from geo.release import TOTAL, PublishedBuild
from geo.render.profiles.definitions import definition_record, indicator_definition
from geo.render.years import indicator_year, indicator_years

VALUE_FIELDS = ["level", "area_id", "name", "parent_id", "indicator", "year", "numerator",
                "denominator", "rate", "ci_low", "ci_high", "status", "vs_total", "reliable"]
"""The columns of the long value rows, in order (JSON keys and CSV header)."""


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: pandas/numpy missing values become None, numpy types Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame as dicts of plain JSON values (withheld = None)."""
    columns = list(frame.columns)
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def geography_record(published: PublishedBuild) -> dict[str, Any]:
    """What a release says about its geography: levels, years, attribution, release id."""
    geo = published.geography
    return {
        "id": geo.id,
        "name": geo.name,
        "attribution": geo.attribution,
        "notice": geo.notice or None,
        "release_id": published.release_id,
        "created": published.created,
        "total": {"id": geo.total_id, "name": geo.total_name},
        "levels": [{"id": lv.id, "name": lv.name, "count": lv.count} for lv in geo.levels],
        "years": list(published.years),
    }


def _variable_facts(published: PublishedBuild, ind: Indicator) -> dict[str, Any]:
    """What the indicator's variables are: estimates, measures, and where intake made them."""
    ids = [v for v in (ind.numerator, ind.denominator) if v]
    variables = [published.catalogue.variable(v) for v in ids]
    provenance = {v.id: dict(v.provenance) for v in variables if v.provenance}
    return {
        "estimate": any(v.estimate for v in variables),
        "measure": ind.kind in ("value", "ratio"),
        "variables": [{"id": v.id, "name": v.name, "type": v.type, "estimate": v.estimate}
                      for v in variables],
        "provenance": provenance or None,
    }


def indicator_record(published: PublishedBuild, ind: Indicator) -> dict[str, Any]:
    """One catalogue indicator with the years this release has values for (and the latest),
    and its definition (description, counts, source and reference date from the catalogue).

    ``estimate`` (shown as "Schätzung"), ``measure`` (no interval) and ``provenance`` (the
    intake that made a variable) tell where the values come from.
    """
    definition = definition_record(indicator_definition(published.catalogue, ind))
    return {
        "id": ind.id, "name": ind.name, "theme": ind.theme, "unit": ind.unit, "per": ind.per,
        "kind": ind.kind, "numerator": ind.numerator, "denominator": ind.denominator,
        "description": ind.description or None, "latest_year": published.latest_year(ind.id),
        "higher_is": ind.higher_is, "source": definition["source"],
        "reference_date": definition["reference_date"], "definition": definition,
        "years": list(indicator_years(published, ind.id)),
        **_variable_facts(published, ind),
    }


def _parents(published: PublishedBuild) -> pd.DataFrame:
    """``parent_id`` by level and area_id (empty for the total)."""
    areas = published.areas[["level", "area_id", "parent_id"]]
    return areas.assign(parent_id=areas["parent_id"].where(areas["parent_id"] != "", None))


def value_rows(published: PublishedBuild, level: str, indicator: str | None = None,
               year: YearKey | None = None) -> pd.DataFrame:
    """Long rows of one level (then the total, for comparison) of one or every indicator.

    ``year`` is a year or a pooled period ("2010-2012"); ``year=None`` takes each indicator's
    latest single year with values. Areas without a row in the release are left out. Raises
    NotFoundError for an unknown level, year or indicator, and for a year in which the one
    indicator asked for has no value.
    """
    published.geography.level(level)
    if year is not None:
        year = published.check_year(year)
    if indicator:
        indicator_year(published, indicator, year)
    indicators = ([published.catalogue.indicator(indicator).id] if indicator
                  else [i.id for i in published.catalogue.indicators])
    values = published.values
    frames = []
    for ind in indicators:
        chosen = year if year is not None else published.latest_year(ind)
        rows = values[(values["indicator"] == ind) & (values["year"] == chosen)]
        # the level's areas in area order, then the total for comparison
        frames.append(rows[rows["level"] == level])
        if level != TOTAL:
            frames.append(rows[rows["level"] == TOTAL])
    rows = pd.concat(frames, ignore_index=True)
    rows = rows.merge(_parents(published), on=["level", "area_id"], how="left", sort=False)
    return rows[VALUE_FIELDS]


def values_document(published: PublishedBuild, level: str, indicator: str | None = None,
                    year: YearKey | None = None) -> dict[str, Any]:
    """The value rows with the release's id and attribution (the data API's JSON body)."""
    return rows_document(published, level, value_rows(published, level, indicator, year))


def rows_document(published: PublishedBuild, level: str, frame: pd.DataFrame,
                  **extra: Any) -> dict[str, Any]:
    """Value rows of a level as the data API's JSON body (``extra`` keys before the rows)."""
    return {
        "geography": published.geography.id,
        "release_id": published.release_id,
        "attribution": published.geography.attribution,
        "notice": published.geography.notice or None,
        "level": level,
        **extra,
        "indicators": {i: {k: v for k, v in _variable_facts(
            published, published.catalogue.indicator(i)).items() if k != "variables"}
            for i in dict.fromkeys(frame["indicator"])},
        "values": records(frame),
    }
