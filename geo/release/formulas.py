"""Spreadsheet formula neutralising: no CSV cell a user downloads may start a formula.

A text cell that Excel or LibreOffice would read as a formula (``=``, ``+``, ``-``, ``@``, tab
or carriage return first, as OWASP's "CSV Injection" lists them) is written with a leading
apostrophe, which spreadsheets show as text. Text that already starts with apostrophes before
such a character gets one more, so ``restore`` gives back exactly what was written. Only text
cells are touched: a number (``-2`` in a numeric column) stays a number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

FORMULA_STARTS = "=+-@\t\r"
"""Characters that make a spreadsheet read a cell as a formula (OWASP)."""
_NEEDS_QUOTE = re.compile(f"^'*[{re.escape(FORMULA_STARTS)}]")
_QUOTED = re.compile(f"^''*[{re.escape(FORMULA_STARTS)}]")


def neutralise(text: str) -> str:
    """The cell as written: a leading apostrophe when it would start a formula."""
    return "'" + text if _NEEDS_QUOTE.match(text) else text


def restore(text: str) -> str:
    """The inverse of ``neutralise``: the text as it was before writing."""
    return text[1:] if _QUOTED.match(text) else text


def _map_text(frame: pd.DataFrame, columns: Iterable[str], pattern: re.Pattern[str],
              change: Callable[[pd.Series], pd.Series]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        if column not in out:
            continue
        series = out[column]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue  # numbers and booleans are not text cells
        is_text = series.map(lambda v: isinstance(v, str)).to_numpy(bool)  # year keys mix
        hit = np.zeros(len(series), dtype=bool)
        hit[is_text] = series[is_text].str.match(pattern.pattern).to_numpy(bool)
        if hit.any():
            changed = series.to_numpy(object).copy()
            changed[hit] = change(series[hit]).to_numpy(object)
            out[column] = series.where(~hit, changed)
    return out


def neutralise_frame(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised: those of ``columns`` (numbers
    written as text stay out), by default of every text column (numeric ones untouched)."""
    return _map_text(frame, frame.columns if columns is None else columns, _NEEDS_QUOTE,
                     lambda s: "'" + s)


def restore_frame(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` read from CSV with ``columns`` (default: every text column) restored."""
    return _map_text(frame, frame.columns if columns is None else columns, _QUOTED,
                     lambda s: s.str[1:])


__all__ = ["FORMULA_STARTS", "neutralise", "neutralise_frame", "restore", "restore_frame"]
