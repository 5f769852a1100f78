"""The years an indicator has data for, and the check that a year asked for has some.

A release's years are the years of any count; an indicator may have values in only some of
them (Berlin's Kinderarmut: 2020 only). Menus offer, and maps and the data API accept, only
the years with at least one non-missing value of the indicator, so a request never answers
with an all-grey map.
"""

from __future__ import annotations

from typing import Any

from geo.errors import NotFoundError
from geo.release import PublishedBuild, resolve_year
from geo.release.tables import memoised


def _years_by_indicator(published: PublishedBuild) -> dict[str, tuple[Any, ...]]:
    def make() -> dict[str, tuple[Any, ...]]:
        values = published.values
        present = values[values["status"] != "missing"].groupby("indicator")["year"].unique()
        out = {}
        for ind in published.catalogue.indicators:
            found = set(present.get(ind.id, []))
            out[ind.id] = tuple(y for y in published.years if y in found)
        return out

    return memoised(published, ("indicator_years",), make)


def indicator_years(published: PublishedBuild, indicator: str) -> tuple[Any, ...]:
    """The release's years in which the indicator has any published or withheld value."""
    ind = published.catalogue.indicator(indicator)
    return _years_by_indicator(published)[ind.id]


def _year_list(years: tuple[Any, ...]) -> str:
    return ", ".join(str(y) for y in years) or "keine"


def no_data_message(published: PublishedBuild, indicator: str, year: Any) -> str:
    """The German sentence a map page shows for a year without data of the indicator."""
    ind = published.catalogue.indicator(indicator)
    years = _year_list(indicator_years(published, ind.id))
    return f"Für {ind.name} gibt es im Jahr {year} keine Daten; vorhanden: {years}."


def has_data(published: PublishedBuild, indicator: str, year: Any) -> bool:
    """Does the indicator have any non-missing value in ``year`` (None: its latest year)?

    Raises:
        ParameterError: ``year`` is neither a year nor a period.
        NotFoundError: a year or period the release does not have.
    """
    if year is None:
        return bool(indicator_years(published, indicator))
    return published.check_year(year) in indicator_years(published, indicator)


def indicator_year(published: PublishedBuild, indicator: str, year: Any = None) -> Any:
    """The year asked for if the indicator has data in it, else its latest year with data.

    Raises:
        NotFoundError: unknown indicator, a year the release lacks, or a year in which the
            indicator has no value (the message lists the years it has).
    """
    ind = published.catalogue.indicator(indicator)
    chosen = resolve_year(published, ind.id, year)
    if year is not None and not has_data(published, ind.id, chosen):
        raise NotFoundError(
            f"indicator '{ind.id}' has no values in {chosen} of '{published.geography.id}' "
            f"(years with values: {_year_list(indicator_years(published, ind.id))})"
        )
    return chosen


__all__ = ["has_data", "indicator_year", "indicator_years", "no_data_message"]
