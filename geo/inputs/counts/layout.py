"""Layout: which column of the header holds the area id, the year and each variable.

Long form has the header ``area_id,year,variable,value``; wide form has an area id column and
one column per catalogue variable, with the year from ``year=`` or a ``year``/``Jahr`` column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geo.inputs.counts.problems import _hint, _known_list, _Problems
from geo.inputs.counts.signs import (
    _COMMA_GROUPS,
    _NEGATIVE,
    _NOT_WHOLE,
    _OK,
    _TOO_LARGE,
    _parse_count,
)

_YEAR_NAMES = frozenset({"year", "jahr"})
_IGNORED_NAMES = frozenset({"name"})


def _looks_numeric(name: str) -> bool:
    return _parse_count(name)[1] in (_OK, _NOT_WHOLE, _NEGATIVE, _TOO_LARGE, _COMMA_GROUPS)


@dataclass
class _Layout:
    """Which column holds what."""

    area: int | None = None
    year: int | None = None
    variable: int | None = None  # long form
    value: int | None = None  # long form
    variables: dict[int, str] = field(default_factory=dict)  # wide form: column -> variable

    @property
    def long(self) -> bool:
        return self.variable is not None and self.value is not None


def _area_share(column: np.ndarray, known_areas: set[str]) -> float:
    sample = [str(v).strip() for v in column[:2000]]
    sample = [v for v in sample if v]
    return sum(v in known_areas for v in sample) / len(sample) if sample else 0.0


def _layout(
    names: list[str],
    rows: np.ndarray,
    *,
    variables: tuple[str, ...],
    known_areas: set[str],
    year: int | None,
    id_column: str | None,
    problems: _Problems,
) -> _Layout:
    """Assign columns from the header; header problems are reported on its line."""
    layout = _Layout()
    known_vars = set(variables)
    seen: dict[str, int] = {}
    others: list[int] = []
    for col, name in enumerate(names):
        key = name.casefold()
        if not name:
            problems.add(problems.header, f"column {col + 1} of the header has no name")
            continue
        if name in seen:
            shown = f"'{name}'" if not _looks_numeric(name) else "with a number as name"
            problems.add(
                problems.header, f"column {col + 1} repeats column {seen[name] + 1} {shown}"
            )
            continue
        seen[name] = col
        if id_column is not None and name == id_column:
            layout.area = col
        elif id_column is None and key == "area_id":
            layout.area = col
        elif key in _YEAR_NAMES and layout.year is None:
            layout.year = col
        elif key == "variable" and layout.variable is None:
            layout.variable = col
        elif key == "value" and layout.value is None:
            layout.value = col
        elif key in _IGNORED_NAMES:
            continue
        else:
            others.append(col)

    if (layout.variable is None) != (layout.value is None):
        # one of the two: the names are probably meant as wide-form variables
        for maybe in (layout.variable, layout.value):
            if maybe is not None:
                others.append(maybe)
        layout.variable = layout.value = None
    if not layout.long:
        for col in list(others):
            if names[col] in known_vars:
                layout.variables[col] = names[col]
                others.remove(col)

    if id_column is not None and layout.area is None:
        listed = [n for n in names if n and not _looks_numeric(n)]
        problems.add(
            1, f"id column '{id_column}' is not in the header (columns: {_known_list(listed)})"
        )
        others = []  # reported as a whole: don't also call each column unknown
    elif layout.area is None:
        if len(others) == 1:
            layout.area = others.pop()
        elif others:
            shares = {col: _area_share(rows[:, col], known_areas) for col in others}
            best = max(shares.values())
            winners = [col for col, share in shares.items() if share == best]
            if best >= 0.5 and len(winners) == 1:
                layout.area = winners[0]
                others.remove(winners[0])
        if layout.area is None:
            problems.add(
                problems.header,
                "cannot tell which column holds the area ids: name it 'area_id' or pass id_column=",
            )
            others = []  # reported as a whole: don't also call each column unknown

    for col in others:
        name = names[col]
        if _looks_numeric(name):
            problems.add(
                problems.header,
                f"column {col + 1} is named by a number, not a variable: "
                "is the header line missing?",
            )
        elif layout.long:
            problems.add(
                problems.header,
                f"unexpected column '{name}' (long form: area_id, year, variable, value; "
                "a 'name' column is ignored)",
            )
        else:
            problems.add(
                problems.header,
                f"column '{name}' is not a catalogue variable{_hint(name, variables)} "
                f"(known: {_known_list(variables)})",
            )
    if not layout.long and not layout.variables and layout.area is not None:
        problems.add(
            problems.header,
            "no column is a catalogue variable: expected the long form header "
            f"area_id,year,variable,value or columns named {_known_list(variables)}",
        )
    if layout.year is None and year is None:
        if layout.long:
            problems.add(
                problems.header, "no year column: add a 'year' column or pass the year (--year)"
            )
        else:
            problems.add(
                problems.header,
                "wide form without a year: pass the year of the counts with --year "
                "(year= in Python) or add a 'year' column",
            )
    return layout
