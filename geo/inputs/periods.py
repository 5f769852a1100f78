"""Years and pooled periods: the year keys every stage shares, and the ``[[periods]]`` table.

A *year key* is an ``int`` for a single year (2021) or the text ``"first-last"`` for a pooled
period ("2010-2012", both years inclusive). A pooled cell is the sum of its years. Frames keep
one ``year`` column of dtype object holding both; JSON shows ``2023`` and ``"2010-2012"``, CSV
the label. Order: single years ascending, then periods by (first, last).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import ParameterError

YearKey = int | str
"""A single year (int) or a pooled period's label (``"2010-2012"``)."""

FIRST_YEAR, LAST_YEAR = 1900, 2100
"""Years outside this range are refused as typing errors."""

_PERIOD = re.compile(r"^\s*(\d{4})\s*[-–]\s*(\d{4})\s*$")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")
_PERIOD_KEYS = {"first": int, "last": int, "variables": list}


@dataclass(frozen=True)
class Period:
    """A pooled period ``first``–``last`` (inclusive) of some variables (empty = all)."""

    first: int
    last: int
    variables: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The period's year key, e.g. ``"2010-2012"``."""
        return f"{self.first}-{self.last}"

    @property
    def years(self) -> tuple[int, ...]:
        """The single years it pools."""
        return tuple(range(self.first, self.last + 1))

    def covers(self, variable: str) -> bool:
        """Is ``variable`` pooled in this period?"""
        return not self.variables or variable in self.variables


def _expected(text: object, known: Iterable[YearKey] | None) -> str:
    shown = f" (known: {', '.join(year_label(k) for k in known)})" if known is not None else ""
    return (f"year '{text}' is neither a year (2021) nor a period (2010-2012){shown}")


def parse_year_key(value: Any, known: Iterable[YearKey] | None = None) -> YearKey:
    """A year key from ``2021``, ``"2021"``, ``"2010-2012"`` or ``"2010–2012"`` (en dash).

    Raises:
        ParameterError: anything else (naming the known keys when given).
    """
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(_expected(value, known))
    if isinstance(value, (int, np.integer)):
        year = int(value)
        if FIRST_YEAR <= year <= LAST_YEAR:
            return year
        raise ParameterError(_expected(value, known))
    if isinstance(value, str):
        if match := _YEAR.match(value):
            return parse_year_key(int(match.group(1)), known)
        if match := _PERIOD.match(value):
            first, last = int(match.group(1)), int(match.group(2))
            if FIRST_YEAR <= first < last <= LAST_YEAR:
                return f"{first}-{last}"
    raise ParameterError(_expected(value, known))


def is_period(key: YearKey) -> bool:
    """Is the year key a pooled period?"""
    return isinstance(key, str)


def period_years(key: YearKey) -> tuple[int, ...]:
    """The single years of a year key (one for a year)."""
    if isinstance(key, str):
        first, last = (int(p) for p in key.split("-"))
        return tuple(range(first, last + 1))
    return (int(key),)


def year_sort_key(key: YearKey) -> tuple[int, int, int]:
    """Single years ascending, then periods by (first, last)."""
    years = period_years(key)
    return (1 if isinstance(key, str) else 0, years[0], years[-1])


def sorted_year_keys(keys: Iterable[Any]) -> tuple[YearKey, ...]:
    """Distinct year keys (parsed) in the stable order."""
    return tuple(sorted({parse_year_key(k) for k in keys}, key=year_sort_key))


def year_label(key: YearKey) -> str:
    """The text of a year key: ``"2021"`` or ``"2010-2012"``."""
    return str(key)


def year_column(values: Iterable[Any]) -> pd.Series:
    """A ``year`` column of year keys (dtype object: ints for years, labels for periods)."""
    codes, uniques = pd.factorize(pd.Series(list(values), dtype=object))
    keys = np.array([parse_year_key(u) for u in uniques] + [None], dtype=object)
    return pd.Series(keys[codes], dtype=object)


def parse_periods(raw: Any, declared: set[str], problems: list[str]) -> tuple[Period, ...]:
    """The ``[[periods]]`` tables of a catalogue; problems are appended, never raised."""
    if not isinstance(raw, list):
        problems.append("'periods' must be an array of tables ([[periods]])")
        return ()
    out: list[Period] = []
    for i, entry in enumerate(raw):
        label = f"periods[{i + 1}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{label}: expected a table, found {type(entry).__name__}")
            continue
        bad = [k for k in entry if k not in _PERIOD_KEYS]
        if bad:
            problems.append(f"{label}: unknown key '{bad[0]}'; allowed: first, last, variables")
        first, last = entry.get("first"), entry.get("last")
        if not all(isinstance(y, int) and not isinstance(y, bool) for y in (first, last)):
            problems.append(f"{label}: 'first' and 'last' must be years (numbers), "
                            f"found {first!r} and {last!r}")
            continue
        assert isinstance(first, int) and isinstance(last, int)
        label = f"{label} '{first}-{last}'"
        if not (FIRST_YEAR <= first < last <= LAST_YEAR):
            problems.append(f"{label}: expected {FIRST_YEAR} <= first < last <= {LAST_YEAR} "
                            "(a period pools at least two years)")
            continue
        names = entry.get("variables", None)
        if names is not None and (not isinstance(names, list) or not names
                                  or not all(isinstance(n, str) for n in names)):
            problems.append(f"{label}: 'variables' must be a non-empty list of variable ids")
            continue
        for name in names or []:
            if name not in declared:
                problems.append(f"{label}: variable '{name}' is not a declared variable")
        period = Period(first, last, tuple(dict.fromkeys(names or [])))
        if any((p.first, p.last) == (first, last) for p in out):
            problems.append(f"{label}: declared twice")
            continue
        out.append(period)
    return tuple(out)


def period_dict(period: Period) -> dict[str, Any]:
    """Plain JSON form of a period (``variables`` left out when it pools all)."""
    data: dict[str, Any] = {"first": period.first, "last": period.last}
    if period.variables:
        data["variables"] = list(period.variables)
    return data
