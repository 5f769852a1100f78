"""A frame as CSV text, byte for byte what ``DataFrame.to_csv`` writes, in a fraction of its time.

Release tables repeat few distinct values over a million rows (levels, ids, indicators, years,
statuses, rounded rates), so each column is factorised once and only its distinct values are
formatted (as pandas formats them: ``str`` of the value, floats as numpy prints them, missing
= empty), neutralised against spreadsheet formulas (``geo.release.formulas``) where the column
is text, and quoted where the csv module would quote them; the rows are then joined in one
pass. A frame with a column type not handled here is written by pandas itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from geo.release.formulas import neutralise, neutralise_frame

_Field = tuple[np.ndarray, np.ndarray]
"""A column (or neighbouring columns) as row codes into the distinct fields' text."""
_SPECIAL = frozenset(',"\r\n')
"""Characters for which the csv module may quote a field (here always decided by it)."""


def _csv_field(text: str, sep: str, end: str, special: frozenset[str]) -> str:
    """The field as ``csv.writer`` writes it (quoted and quotes doubled where needed)."""
    if special.isdisjoint(text):
        return text
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator=end).writerow([text, ""])
    return buf.getvalue()[: -len(sep) - len(end)]


def _is_text(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)


def _plain_kind(series: pd.Series) -> str | None:
    """How a column is formatted: 'float' (numpy astype(str)), 'str' (str of each value),
    or None for a type pandas should format itself."""
    dtype = series.dtype
    if _is_text(series) or isinstance(dtype, (pd.Int64Dtype, pd.BooleanDtype)):
        return "str"
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            return "float"
        if dtype.kind in "iub":
            return "str"
    return None


def _float_safe(values: np.ndarray) -> bool:
    """Whether factorising keeps every written form apart (it takes 0.0 and -0.0 as one)."""
    return not bool(np.any((values == 0) & np.signbit(values)))


def _text_codes(objects: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a text column; sorted tables repeat a value over many rows (level, area,
    indicator), so only the first row of each run is hashed where runs are long."""
    if missing.any():  # compared as None (pd.NA cannot say whether it equals itself)
        objects = objects.copy()
        objects[missing] = None
    if len(objects) > 1:
        starts = np.flatnonzero(np.concatenate(([True], objects[1:] != objects[:-1])))
        if len(starts) <= len(objects) // 4:
            codes, uniques = pd.factorize(objects[starts], sort=False, use_na_sentinel=True)
            lengths = np.diff(np.append(starts, len(objects)))
            return np.repeat(codes, lengths), np.asarray(uniques, dtype=object)
    codes, uniques = pd.factorize(objects, sort=False, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _codes(series: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Row codes (-1 = missing) into the column's distinct values."""
    if isinstance(series.dtype, pd.StringDtype):
        objects = series.to_numpy(dtype=object)
        return _text_codes(objects, pd.isna(objects))
    if pd.api.types.is_object_dtype(series.dtype):
        # one kind of value besides text: 1, 1.0 and True would count as one
        objects = series.to_numpy()
        missing = pd.isna(objects)
        kinds = set(map(type, objects[~missing])) - {str}
        if len(kinds) <= 1 and not any(issubclass(k, (float, np.floating)) for k in kinds):
            return _text_codes(objects, missing)
    elif kind != "float" or _float_safe(series.to_numpy()):
        codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
        return codes, np.asarray(uniques)
    # every row its own value (mixed objects, where 1, 1.0 and True would count as one)
    missing = series.isna().to_numpy()
    values = series.to_numpy(dtype=object if kind == "str" else None)[~missing]
    codes = np.full(len(series), -1, dtype=np.intp)
    codes[~missing] = np.arange(len(values))
    return codes, values


def _column(series: pd.Series, sep: str, end: str, *, text: bool) -> _Field:
    """A column as codes into its distinct fields (formatted once; the last one empty)."""
    kind = _plain_kind(series)
    codes, values = _codes(series, kind or "str")
    if kind == "float":
        shown = values.astype(str).astype(object)
    else:
        shown = np.array([str(v) for v in values.astype(object)], dtype=object)
    if text:  # no text cell may start a formula (numbers in a text column stay as they are)
        is_str = np.array([isinstance(v, str) for v in values.astype(object)], dtype=bool)
        shown[is_str] = [neutralise(s) for s in shown[is_str]]
    fields = np.empty(len(shown) + 1, dtype=object)
    if _is_text(series) or sep not in ",;\t" or end not in ("\n", "\r\n"):
        # numbers and booleans are never quoted with these separators
        special = _SPECIAL.union(sep, end)
        fields[:-1] = [_csv_field(s, sep, end, special) for s in shown]
    else:
        fields[:-1] = shown
    fields[-1] = ""  # missing
    return np.where(codes < 0, len(shown), codes), fields


def _joined(left: _Field, right: _Field, sep: str, limit: int) -> _Field | None:
    """Two neighbouring columns as one field (``a,b``) when they have at most ``limit``
    combinations (the rows are then joined from fewer parts)."""
    (left_codes, left_text), (right_codes, right_text) = left, right
    if len(left_text) * len(right_text) > limit:
        return None
    text = np.repeat(left_text, len(right_text)) + sep + np.tile(right_text, len(left_text))
    return left_codes * len(right_text) + right_codes, text


def frame_csv(frame: pd.DataFrame, text: Collection[str] | None = None, *, sep: str = ",",
              lineterminator: str = "\n") -> str:
    """``neutralise_frame(frame, text).to_csv(index=False, sep=sep, lineterminator=...)``.

    ``text`` names the columns whose text cells are neutralised (default: every text column).
    """
    columns = list(frame.columns)
    text_columns = set(columns if text is None else text)
    if (len(columns) < 2 or not frame.columns.is_unique
            or any(_plain_kind(frame[c]) is None for c in columns)):
        return neutralise_frame(frame, text).to_csv(
            index=False, sep=sep, lineterminator=lineterminator)
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator=lineterminator).writerow(columns)
    if not len(frame):
        return buf.getvalue()
    # neighbouring columns with few combinations (level and id; status and flags) as one
    limit = max(len(frame) // 4, 1)
    fields: list[_Field] = []
    for column in columns:
        field = _column(frame[column], sep, lineterminator,
                        text=column in text_columns and _is_text(frame[column]))
        both = _joined(fields[-1], field, sep, limit) if fields else None
        if both is None:
            fields.append(field)
        else:
            fields[-1] = both
    rows: Sequence[np.ndarray] = [text[codes] for codes, text in fields]
    if len(rows) == 1:
        body = lineterminator.join(rows[0].tolist())
    else:
        body = lineterminator.join(map(sep.join, zip(*rows, strict=True)))
    return buf.getvalue() + body + lineterminator


__all__ = ["frame_csv"]
