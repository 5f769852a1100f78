"""Reading counts: ``read_counts`` checks areas, years, variables and values of every line."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import CountsError
from geo.inputs.counts.decode import _read_table
from geo.inputs.counts.layout import _layout
from geo.inputs.counts.problems import _hint, _known_list, _Problems, _show
from geo.inputs.counts.signs import (
    _MISSING,
    _OK,
    _parse_count,
    _parse_measure,
    _value_problem,
)
from geo.inputs.counts.source import MAX_FILE_BYTES, MAX_LINE_BYTES

YEAR_MIN, YEAR_MAX = 1900, 2100
COLUMNS = ["area_id", "year", "variable", "value"]
"""Columns of the frame ``read_counts`` returns (and of the long form)."""
_LAYOUT_ROWS = 2000
"""Rows ``_layout`` looks at to tell the area id column."""


def _factorize_stripped(codes: np.ndarray, texts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes and uniques of the stripped texts, given codes into the distinct raw texts (one
    Python call per distinct text)."""
    stripped = [str(u).strip() for u in texts]
    canon, canon_uniques = pd.factorize(np.array(stripped, dtype=object))
    return canon[codes], [str(u) for u in canon_uniques]


def _check_year_argument(year: Any, fname: str) -> int | None:
    if year is None:
        return None
    try:
        value = operator.index(year)
    except TypeError:
        value = None
    if isinstance(year, bool) or value is None or not YEAR_MIN <= value <= YEAR_MAX:
        raise CountsError(f"{fname}: year={year!r} is not a year ({YEAR_MIN}–{YEAR_MAX})")
    return value


def _parse_year(text: str) -> int | None:
    if len(text) == 4 and text.isascii() and text.isdigit() and YEAR_MIN <= int(text) <= YEAR_MAX:
        return int(text)
    return None


def _zero_hints(known_areas: set[str]) -> dict[str, str]:
    """Map an id without its leading zeros to the id, for ids that have them."""
    hints: dict[str, str] = {}
    for area in sorted(known_areas):
        if area.startswith("0") and area.isdigit():
            hints.setdefault(area.lstrip("0") or "0", area)
    return hints


def _area_messages(
    uniques: list[str], known: np.ndarray, known_areas: set[str], level_name: str
) -> list[str]:
    """The problem text for each distinct unknown area id ("" for known ones)."""
    zero_hints = _zero_hints(known_areas)
    messages = []
    for text, ok in zip(uniques, known, strict=True):
        if ok:
            messages.append("")
            continue
        if not text:
            messages.append("the area id is empty")
            continue
        message = f"area {_show(text)} is not a {level_name} of this geography"
        wanted = zero_hints.get(text.lstrip("0") or "0") if text.isdigit() else None
        if wanted is not None and len(wanted) > len(text):
            message += (
                f"; did you mean '{wanted}'? Excel drops leading zeros: format the column as text"
            )
        messages.append(message)
    return messages


def _check_years(
    column: tuple[np.ndarray, np.ndarray], lines: np.ndarray, year: int | None,
    problems: _Problems,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a year column (codes, texts): the years (0 where invalid) and which rows are
    valid."""
    code, uniques = _factorize_stripped(*column)
    parsed = [_parse_year(u) for u in uniques]
    values = np.array([y or 0 for y in parsed], dtype=np.int64)[code]
    valid = np.array([y is not None for y in parsed], dtype=bool)[code]
    for i in np.flatnonzero(~valid):
        text = uniques[code[i]]
        problems.add(
            int(lines[i]),
            f"year {_show(text)} is not a year (four digits, {YEAR_MIN}–{YEAR_MAX})"
            if text
            else "the year is empty",
        )
    if year is not None:
        for i in np.flatnonzero(valid & (values != year)):
            problems.add(int(lines[i]), f"year {values[i]} differs from the year given ({year})")
        valid &= values == year
    return values, valid


def _duplicates(key: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """(row, first row with the same key) for every repeated key among the valid rows."""
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(key[idx], kind="stable")]
    new = np.empty(len(order), dtype=bool)
    new[:1] = True
    np.not_equal(key[order][1:], key[order][:-1], out=new[1:])
    first = order[new][np.cumsum(new) - 1]  # the group's first row (the sort is stable)
    repeated = np.flatnonzero(first != order)
    return sorted((int(order[j]), int(first[j])) for j in repeated)


def _rank(uniques: list[str]) -> np.ndarray:
    order = np.argsort(np.array(uniques, dtype=object), kind="stable")
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[order] = np.arange(len(uniques))
    return rank


def _counts_frame(
    area_uniques: list[str],
    area_code: np.ndarray,
    years: np.ndarray,
    var_names: list[str],
    var_code: np.ndarray,
    values: np.ndarray,
    missing: np.ndarray,
    lines: np.ndarray | None = None,
) -> pd.DataFrame:
    """Assemble the checked cells, sorted by area_id, variable, year."""
    order = np.lexsort((years, _rank(var_names)[var_code], _rank(area_uniques)[area_code]))
    areas = np.array(area_uniques, dtype=object)
    names = np.array(var_names, dtype=object)
    array = (pd.arrays.FloatingArray(values[order], missing[order]) if values.dtype.kind == "f"
             else pd.arrays.IntegerArray(values[order], missing[order]))
    frame = pd.DataFrame(
        {
            "area_id": pd.array(areas[area_code[order]], dtype="str"),
            "year": years[order].astype(np.int64),
            "variable": pd.array(names[var_code[order]], dtype="str"),
            "value": array,
        }
    )
    if lines is not None:
        frame["line"] = lines[order]
    return frame


def read_counts(
    path: Path | str,
    *,
    area_ids: Iterable[str],
    variables: Iterable[str],
    year: int | None = None,
    level_name: str = "Quartier",
    id_column: str | None = None,
    measures: Iterable[str] = (),
    with_lines: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> pd.DataFrame:
    """Read a long or wide counts CSV for the finest level and check every line.

    Args:
        area_ids: ids of the finest level (strings, leading zeros kept).
        variables: catalogue variable ids.
        year: the year of a wide file without a year column (``--year``); with a year
            column, every row must have this year.
        level_name: name of the finest level, used in messages ("Quartier").
        id_column: header name of the area id column; default ``area_id`` or the one
            column that is neither a variable, a year nor ``name``.
        measures: variables with decimals (``type = "measure"``); the value column is then
            ``Float64`` (counts stay whole).
        with_lines: add a ``line`` column, each cell's line in the file.
        max_bytes: larger files are refused before they are parsed.
        max_line_bytes: a longer line is refused as soon as it is read (bounded memory).

    Returns:
        Columns ``area_id`` (str), ``year`` (int64), ``variable`` (str), ``value`` (Int64,
        ``<NA>`` = missing), sorted by area_id, variable, year. Areas absent from the file
        have no rows.

    Raises:
        CountsError: listing every problem with its line number (``.problems``).
    """
    path = Path(path)
    problems = _Problems(path.name)
    year = _check_year_argument(year, path.name)
    variables = tuple(dict.fromkeys(str(v) for v in variables))
    known_vars = set(variables)

    names, rows, lines = _read_table(
        path, problems, max_bytes=max_bytes, max_line_bytes=max_line_bytes
    )
    known_areas = {str(a) for a in area_ids}  # after parsing: the ids may still be loading
    layout = _layout(
        names,
        rows.head(_LAYOUT_ROWS),
        variables=variables,
        known_areas=known_areas,
        year=year,
        id_column=id_column,
        problems=problems,
    )
    if layout.area is None or (layout.year is None and year is None):
        problems.raise_if_any()
    if len(rows) == 0:
        problems.add(problems.header, "the file has a header but no data rows")
        problems.raise_if_any()
    assert layout.area is not None

    # rows: area and year
    area_code, area_uniques = _factorize_stripped(*rows.column(layout.area))
    area_known = np.array([a in known_areas for a in area_uniques], dtype=bool)
    row_ok = area_known[area_code]
    area_messages = _area_messages(area_uniques, area_known, known_areas, level_name)
    for i in np.flatnonzero(~row_ok):
        problems.add(int(lines[i]), area_messages[area_code[i]])

    if layout.year is not None:
        year_values, year_valid = _check_years(rows.column(layout.year), lines, year, problems)
        row_ok &= year_valid
    else:
        year_values = np.full(len(rows), year, dtype=np.int64)

    # cells: variable and value
    if layout.long:
        assert layout.variable is not None and layout.value is not None
        cell_row = np.arange(len(rows))
        var_code, var_uniques = _factorize_stripped(*rows.column(layout.variable))
        var_known = np.array([v in known_vars for v in var_uniques], dtype=bool)
        for i in np.flatnonzero(~var_known[var_code]):
            text = var_uniques[var_code[i]]
            problems.add(
                int(lines[i]),
                f"variable {_show(text)} is not in the catalogue{_hint(text, variables)} "
                f"(known: {_known_list(variables)})"
                if text
                else "the variable is empty",
            )
        cell_raw = rows.column(layout.value)
        var_names = var_uniques
    else:
        columns = list(layout.variables)
        cell_row = np.repeat(np.arange(len(rows)), len(columns))
        var_code = np.tile(np.arange(len(columns)), len(rows))
        var_names = [layout.variables[c] for c in columns]
        var_known = np.ones(len(columns), dtype=bool)
        cell_raw = rows.cells(columns)

    value_code, value_uniques = _factorize_stripped(*cell_raw)
    parsed_values = [_parse_count(u) for u in value_uniques]
    unique_values = np.array([v for v, _ in parsed_values], dtype=np.int64)
    unique_kinds = np.array([k for _, k in parsed_values], dtype=np.int64)
    kinds = unique_kinds[value_code]
    measured = {str(m) for m in measures}
    cell_values: np.ndarray = unique_values[value_code]
    if measured:
        is_measure = np.array([n in measured for n in var_names], dtype=bool)[var_code]
        decimals = [_parse_measure(u) for u in value_uniques]
        decimal_values = np.array([v for v, _ in decimals], dtype=np.float64)[value_code]
        decimal_kinds = np.array([k for _, k in decimals], dtype=np.int64)[value_code]
        cell_values = np.where(is_measure, decimal_values, cell_values.astype(np.float64))
        kinds = np.where(is_measure, decimal_kinds, kinds)
    for i in np.flatnonzero((kinds != _OK) & (kinds != _MISSING)):
        text = value_uniques[value_code[i]]
        problems.add(
            int(lines[cell_row[i]]), _value_problem(int(kinds[i]), text, var_names[var_code[i]])
        )

    if layout.long:
        valid = row_ok & var_known[var_code]
        key = (area_code * (len(var_names) + 1) + var_code) * 4096 + (year_values - YEAR_MIN)
    else:
        valid, key = row_ok, area_code.astype(np.int64) * 4096 + (year_values - YEAR_MIN)
    for row, first in _duplicates(key, valid):
        area, first_line = area_uniques[area_code[row]], int(lines[first])
        if layout.long:
            message = (
                f"duplicate of line {first_line} (area '{area}', year {year_values[row]}, "
                f"variable '{var_names[var_code[row]]}')"
            )
        else:
            message = (
                f"area '{area}', year {year_values[row]} appears again (first on line {first_line})"
            )
        problems.add(int(lines[row]), message)

    problems.raise_if_any()
    return _counts_frame(
        area_uniques,
        area_code[cell_row],
        year_values[cell_row],
        var_names,
        var_code,
        cell_values,
        kinds == _MISSING,
        lines[cell_row] if with_lines else None,
    )
