"""Integer codes of key columns: ``pd.factorize`` that hashes each run of equal values once.

Cells, values and counts are sorted by their keys, so a key column (level, area id, variable,
status) is long runs of one value; comparing neighbours is several times cheaper than hashing
every string of a 1.2-million-row column again.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_FEW_RUNS = 4
"""Runs are used when there are at most a quarter as many runs as rows."""
_SAMPLE = 4096
"""Rows whose runs are counted first (a column without runs is hashed at once)."""


def _direct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` without its scan for missing values when there are none."""
    codes, uniques = pd.factorize(values)
    if len(codes) and codes.min() < 0:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes, np.asarray(uniques, dtype=object)


def _run_heads(values: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values starts."""
    change = np.empty(len(values), dtype=bool)
    change[:1] = True
    try:
        np.not_equal(values[1:], values[:-1], out=change[1:])
    except TypeError:  # pd.NA has no truth value
        change[1:] = True
    return np.flatnonzero(change)


def factorize(column: Any) -> tuple[np.ndarray, np.ndarray]:
    """Codes and uniques (object array) as ``pd.factorize(column, use_na_sentinel=False)``."""
    values = np.asarray(column.to_numpy() if hasattr(column, "to_numpy") else column)
    if values.dtype.kind != "O" or len(_run_heads(values[:_SAMPLE])) * _FEW_RUNS > _SAMPLE:
        return _direct(values)
    heads = _run_heads(values)
    if len(heads) * _FEW_RUNS > len(values):
        return _direct(values)
    head_codes, uniques = _direct(values[heads])
    return np.repeat(head_codes, np.diff(np.append(heads, len(values)))), uniques


def combined(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One integer per distinct combination of ``columns`` (mixed radix of their codes)."""
    codes = np.zeros(len(frame), dtype=np.int64)
    for col in columns:
        found, uniques = factorize(frame[col])
        codes = codes * max(len(uniques), 1) + found
    return codes
