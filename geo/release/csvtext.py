"""A frame as CSV, byte for byte what ``DataFrame.to_csv`` writes, in a fraction of its time.

Release tables repeat few distinct values over a million rows (levels, ids, indicators, years,
statuses, rounded rates), so each column is coded once and only its distinct values are
formatted (as pandas formats them: ``str`` of the value, floats as numpy prints them, missing
= empty), neutralised against spreadsheet formulas (``geo.release.formulas``) where the column
is text, and quoted where the csv module would quote them. Coding avoids hashing a million
values where it can: text runs over sorted rows and repeats in a pattern (areas within each
indicator, years within each area), rounded decimals are whole numbers once scaled. The rows
are then assembled as fixed-width byte records whose padding is dropped in one pass. A frame
with a column type not handled here is written by pandas itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from itertools import chain

import numpy as np
import pandas as pd

from geo.release.formulas import neutralise, neutralise_frame

_Field = tuple[np.ndarray, np.ndarray]
"""A column as row codes into its distinct fields' text (the last field: missing)."""
_SPECIAL = frozenset(',"\r\n')
"""Characters for which the csv module may quote a field (here always decided by it)."""
_CHUNK_BYTES = 1 << 20
"""About how many bytes of padded rows are assembled at a time (they stay in cache)."""
_PATTERN_TRIES = 2
"""How many recurrences of a column's first value are tried as the period of its runs."""


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


def _period(values: np.ndarray) -> int:
    """The shortest ``p`` found with ``values[i] == values[i + p]`` everywhere (tried at the
    first recurrences of the first value), else ``len(values)``."""
    n = len(values)
    if n < 4:
        return n
    head = min(n // 2, 4096)  # a short pattern is found without comparing half the column
    again = np.flatnonzero(values[1:head + 1] == values[0])[:_PATTERN_TRIES] + 1
    if not len(again):
        again = np.flatnonzero(values[head + 1:n // 2 + 1] == values[0])[:_PATTERN_TRIES]
        again += head + 1
    for p in again.tolist():
        if bool((values[p:] == values[:-p]).all()):
            return p
    return n


def _object_codes(objects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of text (or of one kind of number): only one period of the runs is hashed."""
    try:
        change = objects[1:] != objects[:-1]
    except TypeError:  # pd.NA cannot say whether it equals itself: compared as None
        objects = objects.copy()
        objects[pd.isna(objects)] = None
        change = objects[1:] != objects[:-1]
    many = int(np.count_nonzero(change)) >= len(objects) // 2  # then rows are not run
    starts = None if many else np.flatnonzero(np.concatenate(([True], change)))
    runs = objects if starts is None else objects[starts]
    period = _period(runs)
    codes, uniques = pd.factorize(runs[:period], sort=False, use_na_sentinel=True)
    if period < len(runs):
        codes = np.tile(codes, -(-len(runs) // period))[:len(runs)]  # the pattern repeated
    if starts is not None:
        codes = np.repeat(codes, np.diff(np.append(starts, len(objects))))
    return codes, np.asarray(uniques, dtype=object)


def _one_kind(objects: np.ndarray) -> bool:
    """Whether an object column holds text and at most one kind of number other than floats
    (1, 1.0 and True are equal, but are written differently)."""
    if pd.api.types.infer_dtype(objects, skipna=True) in ("string", "integer", "empty"):
        return True
    kinds = set(map(type, objects[~pd.isna(objects)])) - {str}
    return len(kinds) <= 1 and not any(issubclass(k, (float, np.floating)) for k in kinds)


def _decimal_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes of floats with a few decimals (rounded rates) from their scaled whole numbers,
    by direct addressing rather than hashing; None if they are not such numbers."""
    missing = np.isnan(values)
    present = values[~missing]
    if not len(present) or not np.isfinite(present).all() or (
            (present == 0) & np.signbit(present)).any():
        return None  # -0.0 is written apart from 0.0
    sample = present[:1000]
    for digits in range(7):
        scale = 10.0 ** digits
        if (np.rint(sample * scale) / scale == sample).all():
            break
    else:
        return None
    scaled = np.rint(present * scale)
    if not (scaled / scale == present).all():  # then each scaled number is one float
        return None
    low, high = float(scaled.min()), float(scaled.max())
    if high - low > 4 * len(values) + 1024:
        return None
    offsets = (scaled - low).astype(np.intp)
    seen = np.zeros(int(high - low) + 1, dtype=bool)
    seen[offsets] = True
    index = np.cumsum(seen, dtype=np.intp) - 1
    codes = np.full(len(values), -1, dtype=np.intp)
    codes[~missing] = index[offsets]
    return codes, (np.flatnonzero(seen) + low) / scale


def _float_safe(values: np.ndarray) -> bool:
    """Whether factorising keeps every written form apart (it takes 0.0 and -0.0 as one)."""
    return not bool(np.any((values == 0) & np.signbit(values)))


def _codes(series: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Row codes (-1 = missing) into the column's distinct values."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return _object_codes(np.asarray(series.array, dtype=object))  # not copied
    if pd.api.types.is_object_dtype(dtype):
        objects = series.to_numpy()
        if _one_kind(objects):
            return _object_codes(objects)
    elif isinstance(dtype, pd.BooleanDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "b"):
        missing = np.asarray(series.isna())
        truth = np.asarray(series.to_numpy(dtype=bool, na_value=False))
        codes = np.where(missing, -1, truth.astype(np.intp))
        return codes, np.array([False, True], dtype=object)
    elif kind == "float" and (found := _decimal_codes(series.to_numpy())) is not None:
        return found
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
        shown = values.astype(np.float64).astype(str).astype(object)
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
    np.putmask(codes, codes < 0, len(shown))  # codes are the column's own (no copy)
    return codes, fields


def _merged(fields: list[_Field], limit: int) -> list[_Field]:
    """Neighbouring columns with at most ``limit`` combinations as one field (``a,b``): the
    used combinations found by direct addressing, the rows then gathered once."""
    out = [fields[0]]
    for codes, table in fields[1:]:
        left_codes, left_table = out[-1]
        size = len(left_table) * len(table)
        if size > limit:
            out.append((codes, table))
            continue
        key = left_codes * len(table) + codes
        seen = np.zeros(size, dtype=bool)
        seen[key] = True
        used = np.flatnonzero(seen)
        index = np.empty(size, dtype=np.intp)
        index[used] = np.arange(len(used))
        out[-1] = index[key], left_table[used // len(table)] + table[used % len(table)]
    return out


def _records(fields: list[_Field], n: int) -> Iterator[bytes] | None:
    """The rows as fixed-width records (each field padded with NUL bytes) with the padding
    dropped, in parts as they are made; None where a field holds a NUL itself or padding
    would outweigh the text."""
    if any(b"\0" in b"".join(table) for _, table in fields):
        return None
    fixed = [np.array(table.tolist(), dtype=f"S{max(1, max(map(len, table)))}")
             for _, table in fields]
    record = np.dtype([(f"f{j}", t.dtype) for j, t in enumerate(fixed)])
    every = max(1, n // 4096)  # the text's length estimated from a sample of rows
    sample = sum(int(np.fromiter(map(len, table), np.intp, len(table))[codes[::every]].sum())
                 for codes, table in fields)
    if record.itemsize * n > 4 * sample * every + (1 << 20):
        return None
    return _record_parts([codes for codes, _ in fields], fixed, record, n)


def _record_parts(codes: list[np.ndarray], fixed: list[np.ndarray], record: np.dtype,
                  n: int) -> Iterator[bytes]:
    """The records a chunk of rows at a time (one buffer, which stays in cache)."""
    step = max(1, _CHUNK_BYTES // record.itemsize)
    rows = np.empty(step, dtype=record)
    for start in range(0, n, step):
        chunk = rows[:min(step, n - start)]
        for j, (column, table) in enumerate(zip(codes, fixed, strict=True)):
            chunk[f"f{j}"] = table[column[start:start + step]]
        yield chunk.tobytes().translate(None, b"\0")


def _joined(fields: list[_Field], n: int) -> Iterator[bytes]:
    """The rows as one join of every field's bytes."""
    pieces = np.empty((n, len(fields)), dtype=object)
    for j, (codes, table) in enumerate(fields):
        pieces[:, j] = table[codes]
    yield b"".join(pieces.ravel().tolist())


def _encoded(shown: np.ndarray, after: str, errors: str, *, plain: bool) -> np.ndarray:
    """The fields followed by ``after`` in UTF-8 (numbers and booleans at once: ASCII)."""
    if plain:
        ascii_fields = np.char.add(np.asarray(shown.tolist(), dtype="S"), after.encode("ascii"))
        return np.array(ascii_fields.tolist(), dtype=object)
    return np.array([(f + after).encode("utf-8", errors) for f in shown], dtype=object)


def frame_parts(frame: pd.DataFrame, text: Collection[str] | None = None, *, sep: str = ",",
                lineterminator: str = "\n", errors: str = "strict") -> Iterator[bytes]:
    """``frame_csv(frame, text, ...)`` in UTF-8 (``errors`` as ``str.encode``), in parts
    made as they are asked for (to be joined or written one after the other)."""
    columns = list(frame.columns)
    text_columns = set(columns if text is None else text)
    if (len(columns) < 2 or not frame.columns.is_unique
            or any(_plain_kind(frame[c]) is None for c in columns)):
        written = neutralise_frame(frame, text).to_csv(
            index=False, sep=sep, lineterminator=lineterminator)
        return iter([written.encode("utf-8", errors)])
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator=lineterminator).writerow(columns)
    head = buf.getvalue().encode("utf-8", errors)
    if not len(frame):
        return iter([head])
    # numbers and booleans: ASCII, never quoted with these separators (see _column)
    ascii_ends = sep in ",;\t" and lineterminator in ("\n", "\r\n")
    fields: list[_Field] = []
    for j, column in enumerate(columns):
        series = frame[column]
        codes, shown = _column(series, sep, lineterminator,
                               text=column in text_columns and _is_text(series))
        after = lineterminator if j == len(columns) - 1 else sep
        fields.append((codes, _encoded(shown, after, errors,
                                       plain=ascii_ends and not _is_text(series))))
    fields = _merged(fields, max(len(frame) // 8, 64))
    body = _records(fields, len(frame))
    return chain([head], body if body is not None else _joined(fields, len(frame)))


def frame_bytes(frame: pd.DataFrame, text: Collection[str] | None = None, *, sep: str = ",",
                lineterminator: str = "\n", errors: str = "strict") -> bytes:
    """``frame_csv(frame, text, ...)`` in UTF-8 (``errors`` as ``str.encode``)."""
    return b"".join(frame_parts(frame, text, sep=sep, lineterminator=lineterminator,
                                errors=errors))


def frame_csv(frame: pd.DataFrame, text: Collection[str] | None = None, *, sep: str = ",",
              lineterminator: str = "\n") -> str:
    """``neutralise_frame(frame, text).to_csv(index=False, sep=sep, lineterminator=...)``.

    ``text`` names the columns whose text cells are neutralised (default: every text column).
    """
    return frame_bytes(frame, text, sep=sep, lineterminator=lineterminator,
                       errors="surrogatepass").decode("utf-8", "surrogatepass")


__all__ = ["frame_bytes", "frame_csv", "frame_parts"]
