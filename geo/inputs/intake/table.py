"""Office CSV exports as columns of text: encoding, separator, decimal comma, line numbers.

``;``, ``,`` or tab between fields; UTF-8 (with or without BOM) or Windows-1252; every row
keeps its line number in the file, also after quoted fields that span lines. ``numbers``
reads decimals written either way (``7,25``, ``7.25``, ``385.123,5``).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import IntakeError

_SEPARATORS = (";", ",", "\t")


@dataclass(frozen=True)
class Table:
    """A CSV file as text columns by header name, with each data row's line number."""

    path: Path
    names: tuple[str, ...]
    columns: dict[str, np.ndarray]
    lines: np.ndarray
    separator: str
    encoding: str
    numeric: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Columns read as numbers (``read_table(numeric=...)``): values and which were empty."""

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, name: str, role: str) -> np.ndarray:
        """The column ``name``; raise IntakeError listing the header when it is absent."""
        if name not in self.columns:
            raise IntakeError(f"{self.path.name} line 1: no column '{name}' for {role} "
                              f"(columns: {', '.join(self.names)})")
        return self.columns[name]


def _decode(data: bytes, name: str) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IntakeError(f"{name}: the file is UTF-16; save it as CSV (UTF-8 or Windows-1252)")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _text(path: Path) -> tuple[str, str, str, str]:
    """The file's text (newlines normalised), encoding, header line and separator."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IntakeError(f"{path}: cannot read the file: {exc.strerror}") from None
    text, encoding = _decode(raw, path.name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header = text.split("\n", 1)[0]
    if not header.strip():
        raise IntakeError(f"{path.name} line 1: the header line is empty")
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    sep = max(_SEPARATORS, key=lambda s: counts[s])
    if not counts[sep]:
        raise IntakeError(f"{path.name} line 1: no ';', ',' or tab separates the columns")
    return text, encoding, header, sep


def _names(columns: Sequence[object], header: str, fname: str) -> tuple[str, ...]:
    names = tuple(str(c).strip() for c in columns)
    if len(set(names)) != len(names) or any(n.startswith("Unnamed:") for n in names):
        raise IntakeError(f"{fname} line 1: every column needs its own name "
                          f"(header: {header[:120]})")
    return names


def read_header(path: Path) -> tuple[str, ...]:
    """The column names of a CSV export (the whole file is decoded, nothing else parsed)."""
    path = Path(path)
    _, _, header, sep = _text(path)
    return _names(read_header_names(header, sep), header, path.name)


def _read_numbers(path: Path, text: str, encoding: str, header: str, sep: str,
                  numeric: Sequence[str], others: Sequence[str]) -> Table:
    """Only the named columns; ``numeric`` ones straight to numbers by the C parser."""
    sample = "\n".join(text[:65536].split("\n")[1:-1])
    comma = sep != "," and "," in sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        frame = pd.read_csv(io.StringIO(text), sep=sep, usecols=[*numeric, *others],
                            dtype={c: str for c in others}, decimal="," if comma else ".",
                            keep_default_na=False, na_values={c: [""] for c in numeric},
                            skip_blank_lines=False, engine="c", index_col=False)
    frame.columns = [str(c).strip() for c in frame.columns]
    values = {}
    for name in numeric:
        column = frame[name].to_numpy()
        if column.dtype.kind in "fi":
            parsed = column.astype(float)
        else:
            raw = np.array([isinstance(v, str) for v in column.tolist()], dtype=bool)
            parsed = np.full(len(column), np.nan)
            parsed[~raw] = column[~raw].astype(float)
            parsed[raw] = _slow(column[raw])
        parsed[~np.isfinite(parsed)] = np.nan
        empty = np.isnan(parsed)
        if empty.any():
            texts = pd.Series(column[empty], dtype=object)
            empty[empty] = texts.isna().to_numpy() | texts.astype(str).str.strip().eq(
                "").to_numpy()
        values[name] = (parsed, empty)
    lengths = np.diff(np.flatnonzero(np.frombuffer(("\n" + text + "\n").encode(
        "utf-8", "surrogatepass"), dtype=np.uint8) == 10)) - 1
    blank = lengths[1:len(frame) + 1] == 0  # line 2 onwards; an empty line is no row
    keep = ~blank if len(blank) == len(frame) else np.ones(len(frame), dtype=bool)
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)[keep]
    columns = {n: frame[n].to_numpy(dtype=object)[keep] for n in others}
    numbers_kept = {n: (v[keep], e[keep]) for n, (v, e) in values.items()}
    return Table(path, _names(read_header_names(header, sep), header, path.name), columns,
                 lines, sep, encoding, numbers_kept)


def read_header_names(header: str, sep: str) -> list[str]:
    """The names in a header line."""
    return [str(c) for c in pd.read_csv(io.StringIO(header), sep=sep, dtype=str,
                                        index_col=False).columns]


def read_table(path: Path, *, numeric: Sequence[str] = (),
               only: Sequence[str] | None = None) -> Table:
    """Read a CSV export into text columns; raise IntakeError naming the file and line.

    With ``only``, just those columns are read, and the ``numeric`` ones go straight to
    numbers through the C parser (``Table.numeric``): a million coordinates in a second.
    Files with quotes are read whole (a quoted field may span lines).
    """
    path = Path(path)
    text, encoding, header, sep = _text(path)
    if only is not None and '"' not in text:
        names = _names(read_header_names(header, sep), header, path.name)
        for name in [*numeric, *only]:
            if name not in names:
                raise IntakeError(f"{path.name} line 1: no column '{name}' "
                                  f"(columns: {', '.join(names)})")
        try:
            return _read_numbers(path, text, encoding, header, sep, list(numeric),
                                 [n for n in dict.fromkeys(only) if n not in numeric])
        except (pd.errors.ParserError, ValueError) as exc:
            raise IntakeError(f"{path.name}: cannot read as CSV: {exc}") from None
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                            skip_blank_lines=False, engine="c", index_col=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise IntakeError(f"{path.name}: cannot read as CSV: {exc}") from None
    names = _names(frame.columns, header, path.name)
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)
    if '"' in text and text.count("\n") + (not text.endswith("\n")) != len(frame) + 1:
        # a quoted field spanning lines shifts the line numbers of every later row
        extra = np.zeros(len(frame), dtype=np.int64)
        for col in frame.columns:
            extra += frame[col].str.count("\n").to_numpy(dtype=np.int64)
        lines = lines + np.concatenate([[0], np.cumsum(extra)[:-1]])
    blank = np.ones(len(frame), dtype=bool)
    for col in frame.columns:
        blank &= frame[col].eq("").to_numpy()
    keep = ~blank
    columns = {n: frame[c].to_numpy(dtype=object)[keep] for n, c in zip(names, frame.columns,
                                                                          strict=True)}
    table = Table(path, names, columns, lines[keep], sep, encoding)
    return replace(table, numeric={n: numbers(table.column(n, "numbers")) for n in numeric})


def _slow(texts: np.ndarray) -> np.ndarray:
    """Decimals from text one rule at a time (used only where the C parser gave up)."""
    text = pd.Series(texts, dtype=object).astype(str).str.strip().str.replace(
        "−", "-", regex=False)
    both = text.str.contains(",", regex=False) & text.str.contains(".", regex=False)
    text = text.where(~both, text.str.replace(".", "", regex=False))
    text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, copy=True)


def _parse_fast(texts: np.ndarray) -> np.ndarray:
    """The texts through pandas' C parser: floats, and the raw text where it gave up."""
    joined = "\n".join(texts.tolist())
    comma = "," in joined
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        frame = pd.read_csv(io.StringIO(joined), header=None, names=["v"], sep="\x1f",
                            decimal="," if comma else ".",
                            quoting=csv.QUOTE_NONE, skip_blank_lines=False,
                            keep_default_na=False, na_values=[""], engine="c")
    column = frame["v"].to_numpy()
    if len(column) != len(texts):
        return texts
    return column


def numbers(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimals from text: values (NaN where not a number) and which cells were empty.

    ``.`` is the decimal point unless the text also has a ``,`` (then ``.`` groups thousands
    and ``,`` is the decimal comma); a ``,`` alone is a decimal comma. The C parser reads a
    column at once; only the chunks it cannot read go through the rules one by one.
    """
    texts = np.asarray(texts, dtype=object)
    if not len(texts):
        return np.zeros(0), np.zeros(0, dtype=bool)
    column = _parse_fast(texts)
    if column.dtype.kind in "fi":
        values = column.astype(float)
    else:
        raw = np.array([isinstance(v, str) for v in column.tolist()], dtype=bool)
        values = np.full(len(texts), np.nan)
        values[~raw] = column[~raw].astype(float)
        values[raw] = _slow(texts[raw])
    values[~np.isfinite(values)] = np.nan
    empty = np.isnan(values)
    if empty.any():
        empty[empty] = pd.Series(texts[empty], dtype=object).astype(str).str.strip().eq(
            "").to_numpy()
    return values, empty
