"""Decoding a counts file: its bytes as text, the separator, and a table of cell texts.

UTF-8 with or without BOM, or Windows-1252; separators ``,``, ``;`` or tab, or the one an Excel
``sep=;`` first line names. Every data row keeps its line number in the file, also after quoted
fields that span lines and after a ``sep=`` line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import CountsError
from geo.inputs.counts.problems import _Problems
from geo.inputs.counts.source import MAX_FILE_BYTES, MAX_LINE_BYTES, read_limited

_SEPARATORS = (";", ",", "\t")
_SEP_LINE = re.compile(r'"?sep=(.?)"?[ ]*(?:\n|$)', re.IGNORECASE)
MAX_CELLS = 2**26
"""Lines times fields per line above this (67 million cells) are refused before parsing."""


def _decode(data: bytes, fname: str) -> str:
    """Decode UTF-8 (with or without BOM), else Windows-1252."""
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


def _excel_separator(text: str, fname: str) -> tuple[str | None, int]:
    """The separator an Excel ``sep=;`` first line names, and the length of that line."""
    match = _SEP_LINE.match(text)
    if match is None:
        return None, 0
    sep = match.group(1)
    if len(sep) != 1 or not sep.isascii() or sep.isalnum() or sep in "\"'":
        raise CountsError(
            f"{fname} line 1: {match.group(0).strip()!r} names no separator Quartier can use "
            "(',', ';', '|' or a tab)"
        )
    return sep, match.end()


def _sniff_separator(header: str) -> str | None:
    counts = {sep: header.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else None


def _separators_per_line(data: bytes, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Per physical line: all separators, and those outside quotes (= fields - 1)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    starts = np.flatnonzero(arr == ord("\n")) + 1
    starts = np.concatenate([[0], starts[starts < len(arr)]])
    is_sep = arr == ord(sep)
    quotes = np.flatnonzero(arr == ord('"'))
    if not len(quotes):  # no line is empty: each holds at least its newline or a character
        every = np.add.reduceat(is_sep, starts, dtype=np.intp) if len(arr) else starts * 0
        return every, every
    positions = np.flatnonzero(is_sep)
    line = np.searchsorted(starts, positions, side="right") - 1
    every = np.bincount(line, minlength=len(starts))
    # a separator after an odd number of quote characters lies inside a quoted field
    outside = np.searchsorted(quotes, positions) % 2 == 0
    return every, np.bincount(line[outside], minlength=len(starts))


def _check_size(fields: np.ndarray, width: int, header: int, fname: str) -> None:
    """Refuse a table whose parsed cells (lines x widest line) would not fit in memory."""
    widest = int(fields.max())
    if len(fields) * widest <= MAX_CELLS:
        return
    if widest > width + 1:
        line = int(np.argmax(fields)) + header
        raise CountsError(
            f"{fname} line {line}: has {widest:,} fields (the header has {width}): too many "
            f"to read beside {len(fields):,} lines (at most {MAX_CELLS:,} cells)"
        )
    raise CountsError(
        f"{fname}: {len(fields):,} lines of {widest:,} fields are more than {MAX_CELLS:,} "
        "cells: split the file"
    )


@dataclass(frozen=True)
class Table:
    """Cell texts by column: each row's code into the column's distinct texts."""

    codes: list[np.ndarray]
    texts: list[np.ndarray]
    length: int

    def __len__(self) -> int:
        return self.length

    def column(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Codes and distinct texts of one column."""
        return self.codes[j], self.texts[j]

    def cells(self, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Codes and texts of the cells of ``columns``, row by row (as ``ravel``)."""
        if not columns:
            return np.zeros(0, dtype=np.intp), np.empty(0, dtype=object)
        offsets = np.cumsum([0] + [len(self.texts[j]) for j in columns])
        codes = np.stack([self.codes[j] + offsets[i] for i, j in enumerate(columns)], axis=1)
        return codes.ravel(), np.concatenate([self.texts[j] for j in columns])

    def head(self, n: int) -> np.ndarray:
        """The texts of the first ``n`` rows as a matrix."""
        columns = [t[c[:n]] for c, t in zip(self.codes, self.texts, strict=True)]
        return np.stack(columns, axis=1) if columns else np.empty((min(n, len(self)), 0), object)

    def filled(self, j: int) -> np.ndarray:
        """Which rows have text in column ``j``."""
        empty = np.flatnonzero(self.texts[j] == "")
        return self.codes[j] != (empty[0] if len(empty) else -1)

    def rows(self, keep: np.ndarray, width: int) -> Table:
        """The rows ``keep`` of the first ``width`` columns."""
        return Table([c[keep] for c in self.codes[:width]], self.texts[:width],
                     int(np.count_nonzero(keep)))


def _read_table(
    path: Path,
    problems: _Problems,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> tuple[list[str], Table, np.ndarray]:
    """Parse the file into header names, a table of cell texts and each data row's line number.

    Blank rows and rows with the wrong number of fields are reported or dropped here. An Excel
    ``sep=;`` first line sets the separator; line numbers stay those of the file.
    """
    fname = problems.fname
    raw = read_limited(path, fname, max_bytes=max_bytes, max_line_bytes=max_line_bytes)
    text = _decode(raw, fname)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # separators, newlines and quotes are single bytes in UTF-8 and cp1252 alike
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    sep, skip = _excel_separator(text, fname)
    if sep is not None:
        text, data = text[skip:], data[skip:]
        problems.header = 2
    if not text.strip():
        raise CountsError(f"{fname}: the file is empty")
    end = text.find("\n")
    header_line = text if end < 0 else text[:end]
    if not header_line.strip():
        raise CountsError(f"{fname} line {problems.header}: the header line is empty")
    sep = sep or _sniff_separator(header_line)
    if sep is None:
        raise CountsError(
            f"{fname} line {problems.header}: cannot read the header: no ',' or ';' separates "
            "its columns"
        )
    seps, fields_minus_one = _separators_per_line(data, sep)
    _check_size(seps + 1, int(fields_minus_one[0]) + 1, problems.header, fname)
    try:
        # categories: the parser hashes each field's bytes, no Python string per cell
        frame = pd.read_csv(
            io.BytesIO(text.encode("utf-8")),
            sep=sep,
            header=None,
            names=range(int(seps.max()) + 1),
            dtype="category",
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            encoding="utf-8",
            low_memory=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise CountsError(f"{fname}: cannot read as CSV: {exc}") from None
    codes = [frame[c].cat.codes.to_numpy().astype(np.intp) for c in frame.columns]
    texts = [np.asarray(frame[c].cat.categories, dtype=object) for c in frame.columns]
    rows = len(frame)

    # a quoted field spanning lines shifts the line numbers of every later row
    line = np.arange(1, rows + 1)
    embedded = np.zeros(rows, dtype=np.int64)
    if rows != len(seps):
        for code, text_of in zip(codes, texts, strict=True):
            embedded += np.array([t.count("\n") for t in text_of], dtype=np.int64)[code]
        line = line + np.concatenate([[0], np.cumsum(embedded)[:-1]])

    header = [str(t[c[0]]).strip() for c, t in zip(codes, texts, strict=True)]
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    names = header[:width]
    body = Table([c[1:] for c in codes], texts, rows - 1)
    line = line[1:]
    embedded_body, body_lines = embedded[1:], line
    shift = problems.header - 1  # table lines to file lines

    filled = [body.filled(j) for j in range(len(codes))]
    blank = ~np.logical_or.reduce(filled) if filled else np.zeros(len(body), dtype=bool)
    too_long = (
        np.logical_or.reduce(filled[width:]) if len(filled) > width
        else np.zeros(len(body), bool)
    )
    nfields = fields_minus_one[body_lines - 1] + 1
    too_short = (embedded_body == 0) & (nfields < width) & ~blank
    for i in np.flatnonzero(too_long | too_short):
        problems.add(
            int(body_lines[i]) + shift,
            f"has {'more' if too_long[i] else 'fewer'} fields than the header ({width})",
        )
    keep = ~(blank | too_long | too_short)
    return names, body.rows(keep, width), body_lines[keep] + shift
