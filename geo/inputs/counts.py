"""Read counts per area, year and variable from the CSV exports statistics offices produce.

Two layouts are accepted. Long form has the header ``area_id,year,variable,value``; wide form
has an area id column and one column per catalogue variable, with the year from ``year=``
(``--year``) or a ``year``/``Jahr`` column. Separators ``,``, ``;`` or tab; UTF-8 with or without
BOM, or Windows-1252; German table signs (``–``/``-`` zero; ``.``, ``x``, ``…``, empty missing) and
thousands separators (``1.234``).

Every problem is collected with its line number and reported in one CountsError. Messages name
areas, variables and lines, and echo a cell's text only when it cannot be a valid count, so
that an error log never discloses a count.
"""

from __future__ import annotations

import difflib
import io
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import CountsError

MAX_COUNT = 100_000_000
"""Values above this are rejected as implausible for a count of people in one area."""

MAX_SHOWN = 20
"""How many problems the CountsError message lists (``problems`` holds all of them)."""

YEAR_MIN, YEAR_MAX = 1900, 2100
ZERO_SIGNS = frozenset({"-", "–"})
"""German table signs for "nichts vorhanden" (zero)."""
MISSING_SIGNS = frozenset({"", ".", "x", "X", "…", "..."})
"""German table signs for unknown, secret, blocked or not yet available, and an empty cell."""

COLUMNS = ["area_id", "year", "variable", "value"]
_SEPARATORS = (";", ",", "\t")
_YEAR_NAMES = frozenset({"year", "jahr"})
_IGNORED_NAMES = frozenset({"name"})

# value kinds of _parse_count
_OK, _MISSING, _NOT_NUMBER, _NOT_WHOLE, _NEGATIVE, _TOO_LARGE, _COMMA_GROUPS, _MIXED = range(8)

_DIGITS = re.compile(r"[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
_FLOAT_ZERO = re.compile(r"[0-9]+\.0")  # what pandas or R write for a whole float
_COMMA_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_DECIMAL = re.compile(r"[0-9]+[.,][0-9]+|[.,][0-9]+")
_NEGATIVE_RE = re.compile(r"[-–−]\s*([0-9][0-9.,]*)")


def _parse_count(text: str) -> tuple[int, int]:
    """Return ``(value, kind)`` for one stripped cell text; value is 0 unless kind is _OK."""
    if text in ZERO_SIGNS:
        return 0, _OK
    if text in MISSING_SIGNS:
        return 0, _MISSING
    if _DIGITS.fullmatch(text):
        digits = text
    elif _THOUSANDS.fullmatch(text):
        digits = text.replace(".", "")
    elif _FLOAT_ZERO.fullmatch(text):
        digits = text[:-2]
    elif _COMMA_THOUSANDS.fullmatch(text):
        return 0, _COMMA_GROUPS
    elif _DECIMAL.fullmatch(text):
        return 0, _NOT_WHOLE
    elif match := _NEGATIVE_RE.fullmatch(text):
        if set(match.group(1)) <= set("0.,"):
            return 0, _OK
        return 0, _NEGATIVE
    elif any(c.isdigit() for c in text):
        return 0, _MIXED
    else:
        return 0, _NOT_NUMBER
    if len(digits.lstrip("0")) > len(str(MAX_COUNT)):
        return 0, _TOO_LARGE
    value = int(digits)
    if value > MAX_COUNT:
        return 0, _TOO_LARGE
    return value, _OK


def _show(text: str, limit: int = 30) -> str:
    """Quote a cell text for a message, shortened."""
    return f"'{text if len(text) <= limit else text[:limit] + '…'}'"


def _value_problem(kind: int, text: str, variable: str) -> str:
    """Describe a bad value; the text is echoed only when it cannot hide a valid count."""
    if kind == _NOT_WHOLE:
        return f"value {_show(text)} for '{variable}' is not a whole number"
    if kind == _NEGATIVE:
        return f"value {_show(text)} for '{variable}' is negative"
    if kind == _TOO_LARGE:
        return f"value for '{variable}' is larger than {MAX_COUNT:,}: not a plausible count"
    if kind == _COMMA_GROUPS:
        return (
            f"value for '{variable}' has ',' between groups of three digits: write counts "
            "without a thousands separator or with '.' (1.234); decimals are not counts"
        )
    if kind == _MIXED:
        return (
            f"value for '{variable}' mixes digits with other characters (a footnote mark or "
            "a space?): a count must be digits only"
        )
    return (
        f"value {_show(text)} for '{variable}' is not a number (signs: '–' or '-' for zero; "
        "'.', 'x', '…' or empty for missing)"
    )


def _known_list(ids: Iterable[str], limit: int = 30) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:limit])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > limit else "") if ids else "none"


def _hint(text: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(text, list(known), n=1)
    return f"; did you mean '{match[0]}'?" if match else ""


@dataclass
class _Problems:
    """Problems of one file, each with its line number; sorted by line when reported."""

    fname: str
    items: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.items.append((line, len(self.items), message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        problems = [f"{self.fname} line {line}: {msg}" for line, _, msg in sorted(self.items)]
        n = len(problems)
        shown = "\n  ".join(problems[:MAX_SHOWN])
        more = f"\n  … and {n - MAX_SHOWN} more" if n > MAX_SHOWN else ""
        raise CountsError(
            f"{self.fname}: {n} problem{'s' if n != 1 else ''} in the counts\n  {shown}{more}",
            problems=problems,
        )


def _decode(data: bytes, fname: str) -> str:
    """Decode UTF-8 (with or without BOM), else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CountsError(
            f"{fname}: the file is UTF-16 ('Unicode text'); save it as CSV (UTF-8 or Windows-1252)"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise CountsError(
            f"{fname}: the file is neither UTF-8 nor Windows-1252 (byte {exc.start + 1})"
        ) from None


def _sniff_separator(header: str) -> str | None:
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else None


def _separators_per_line(data: bytes, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Per physical line: all separators, and those outside quotes (= fields - 1)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    starts = np.flatnonzero(arr == ord("\n")) + 1
    starts = np.concatenate([[0], starts[starts < len(arr)]])
    positions = np.flatnonzero(arr == ord(sep))
    line = np.searchsorted(starts, positions, side="right") - 1
    every = np.bincount(line, minlength=len(starts))
    quotes = np.flatnonzero(arr == ord('"'))
    if not len(quotes):
        return every, every
    # a separator after an odd number of quote characters lies inside a quoted field
    outside = np.searchsorted(quotes, positions) % 2 == 0
    return every, np.bincount(line[outside], minlength=len(starts))


def _factorize_stripped(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes and uniques of the stripped texts (one Python call per distinct text)."""
    codes, uniques = pd.factorize(values)
    stripped = [str(u).strip() for u in uniques]
    canon, canon_uniques = pd.factorize(np.array(stripped, dtype=object))
    return canon[codes], [str(u) for u in canon_uniques]


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
    """Assign columns from the header; header problems are reported on line 1."""
    layout = _Layout()
    known_vars = set(variables)
    seen: dict[str, int] = {}
    others: list[int] = []
    for col, name in enumerate(names):
        key = name.casefold()
        if not name:
            problems.add(1, f"column {col + 1} of the header has no name")
            continue
        if name in seen:
            shown = f"'{name}'" if not _looks_numeric(name) else "with a number as name"
            problems.add(1, f"column {col + 1} repeats column {seen[name] + 1} {shown}")
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
                1,
                "cannot tell which column holds the area ids: name it 'area_id' or pass id_column=",
            )
            others = []  # reported as a whole: don't also call each column unknown

    for col in others:
        name = names[col]
        if _looks_numeric(name):
            problems.add(
                1,
                f"column {col + 1} is named by a number, not a variable: "
                "is the header line missing?",
            )
        elif layout.long:
            problems.add(
                1,
                f"unexpected column '{name}' (long form: area_id, year, variable, value; "
                "a 'name' column is ignored)",
            )
        else:
            problems.add(
                1,
                f"column '{name}' is not a catalogue variable{_hint(name, variables)} "
                f"(known: {_known_list(variables)})",
            )
    if not layout.long and not layout.variables and layout.area is not None:
        problems.add(
            1,
            "no column is a catalogue variable: expected the long form header "
            f"area_id,year,variable,value or columns named {_known_list(variables)}",
        )
    if layout.year is None and year is None:
        if layout.long:
            problems.add(1, "no year column: add a 'year' column or pass the year (--year)")
        else:
            problems.add(
                1,
                "wide form without a year: pass the year of the counts with --year "
                "(year= in Python) or add a 'year' column",
            )
    return layout


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


def _read_table(path: Path, problems: _Problems) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Parse the file into header names, a data matrix and each data row's line number.

    Blank rows and rows with the wrong number of fields are reported or dropped here.
    """
    fname = problems.fname
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CountsError(f"{path}: cannot read the counts file: {exc.strerror}") from None
    text = _decode(raw, fname)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise CountsError(f"{fname}: the file is empty")
    end = text.find("\n")
    header_line = text if end < 0 else text[:end]
    if not header_line.strip():
        raise CountsError(f"{fname} line 1: the header line is empty")
    sep = _sniff_separator(header_line)
    if sep is None:
        raise CountsError(
            f"{fname} line 1: cannot read the header: no ',' or ';' separates its columns"
        )
    # separators, newlines and quotes are single bytes in UTF-8 and cp1252 alike
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    seps, fields_minus_one = _separators_per_line(data, sep)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            names=range(int(seps.max()) + 1),
            dtype=object,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise CountsError(f"{fname}: cannot read as CSV: {exc}") from None
    table = frame.to_numpy(dtype=object)

    # a quoted field spanning lines shifts the line numbers of every later row
    line = np.arange(1, len(table) + 1)
    embedded = np.zeros(len(table), dtype=np.int64)
    if len(table) != len(seps):
        embedded = np.array([sum(str(v).count("\n") for v in row) for row in table])
        line = line + np.concatenate([[0], np.cumsum(embedded)[:-1]])

    header = [str(v).strip() for v in table[0]]
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    names = header[:width]
    body, line = table[1:], line[1:]
    embedded_body, body_lines = embedded[1:], line

    blank = (body == "").all(axis=1) if body.size else np.zeros(len(body), dtype=bool)
    too_long = (
        (body[:, width:] != "").any(axis=1) if body.shape[1] > width else np.zeros(len(body), bool)
    )
    nfields = fields_minus_one[body_lines - 1] + 1
    too_short = (embedded_body == 0) & (nfields < width) & ~blank
    for i in np.flatnonzero(too_long | too_short):
        problems.add(
            int(body_lines[i]),
            f"has {'more' if too_long[i] else 'fewer'} fields than the header ({width})",
        )
    keep = ~(blank | too_long | too_short)
    return names, body[keep, :width], body_lines[keep]


def _check_years(
    column: np.ndarray, lines: np.ndarray, year: int | None, problems: _Problems
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a year column: the years (0 where invalid) and which rows are valid."""
    code, uniques = _factorize_stripped(column)
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
    key_code, _ = pd.factorize(key[idx])
    _, first = np.unique(key_code, return_index=True)
    first_of = idx[first[key_code]]
    return [(int(idx[j]), int(first_of[j])) for j in np.flatnonzero(first_of != idx)]


def read_counts(
    path: Path | str,
    *,
    area_ids: Iterable[str],
    variables: Iterable[str],
    year: int | None = None,
    level_name: str = "Quartier",
    id_column: str | None = None,
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
    known_areas = {str(a) for a in area_ids}
    variables = tuple(dict.fromkeys(str(v) for v in variables))
    known_vars = set(variables)

    names, rows, lines = _read_table(path, problems)
    layout = _layout(
        names,
        rows,
        variables=variables,
        known_areas=known_areas,
        year=year,
        id_column=id_column,
        problems=problems,
    )
    if layout.area is None or (layout.year is None and year is None):
        problems.raise_if_any()
    if len(rows) == 0:
        problems.add(1, "the file has a header but no data rows")
        problems.raise_if_any()
    assert layout.area is not None

    # rows: area and year
    area_code, area_uniques = _factorize_stripped(rows[:, layout.area])
    area_known = np.array([a in known_areas for a in area_uniques], dtype=bool)
    row_ok = area_known[area_code]
    area_messages = _area_messages(area_uniques, area_known, known_areas, level_name)
    for i in np.flatnonzero(~row_ok):
        problems.add(int(lines[i]), area_messages[area_code[i]])

    if layout.year is not None:
        year_values, year_valid = _check_years(rows[:, layout.year], lines, year, problems)
        row_ok &= year_valid
    else:
        year_values = np.full(len(rows), year, dtype=np.int64)

    # cells: variable and value
    if layout.long:
        assert layout.variable is not None and layout.value is not None
        cell_row = np.arange(len(rows))
        var_code, var_uniques = _factorize_stripped(rows[:, layout.variable])
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
        cell_raw = rows[:, layout.value]
        var_names = var_uniques
    else:
        columns = list(layout.variables)
        cell_row = np.repeat(np.arange(len(rows)), len(columns))
        var_code = np.tile(np.arange(len(columns)), len(rows))
        var_names = [layout.variables[c] for c in columns]
        var_known = np.ones(len(columns), dtype=bool)
        cell_raw = rows[:, columns].ravel()

    value_code, value_uniques = _factorize_stripped(cell_raw)
    parsed_values = [_parse_count(u) for u in value_uniques]
    unique_values = np.array([v for v, _ in parsed_values], dtype=np.int64)
    unique_kinds = np.array([k for _, k in parsed_values], dtype=np.int64)
    kinds = unique_kinds[value_code]
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
        unique_values[value_code],
        kinds == _MISSING,
    )


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
) -> pd.DataFrame:
    """Assemble the checked cells, sorted by area_id, variable, year."""
    order = np.lexsort((years, _rank(var_names)[var_code], _rank(area_uniques)[area_code]))
    areas = np.array(area_uniques, dtype=object)
    names = np.array(var_names, dtype=object)
    return pd.DataFrame(
        {
            "area_id": pd.array(areas[area_code[order]], dtype="str"),
            "year": years[order].astype(np.int64),
            "variable": pd.array(names[var_code[order]], dtype="str"),
            "value": pd.arrays.IntegerArray(values[order], missing[order]),
        }
    )
