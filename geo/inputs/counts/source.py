"""A counts file's bytes, read with limits: refused early, in bounded memory, when hostile.

The file is read in chunks and refused as soon as it is larger than ``max_bytes`` or one of its
lines is longer than ``max_line_bytes``, so a 1 GB single-line export costs one chunk and one
line of memory, not eight times the file. NUL bytes (a binary file, UTF-16 without BOM) are
refused with their line. Lines end in ``\\n``, ``\\r\\n`` or ``\\r`` and are numbered as an
editor shows them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geo.errors import CountsError

MAX_FILE_BYTES = 256 * 2**20
"""Counts files larger than this (256 MiB) are refused before they are parsed."""
MAX_LINE_BYTES = 2**20
"""Lines longer than this (1 MiB) are refused: no export of counts has such a line."""

_CHUNK = 2**18
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _line_breaks(data: bytes, after_cr: bool) -> int:
    """Line breaks in ``data``: ``\\n``, ``\\r`` and ``\\r\\n`` (also when split across chunks)."""
    n = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return n - 1 if after_cr and data.startswith(b"\n") else n


class _Lines:
    """Follows the open line's length across chunks (the line number only on a refusal)."""

    def __init__(self, fname: str, limit: int) -> None:
        self.fname, self.limit = fname, limit
        self.length = 0
        self.seen: list[bytes] = []

    def _refuse(self, chunk: bytes, position: int, why: str) -> CountsError:
        line = 1 + _line_breaks(b"".join([*self.seen, chunk[:position]]), False)
        return CountsError(f"{self.fname} line {line}: {why}")

    def _first_long_line(self, chunk: bytes) -> int:
        """Where the first line longer than the limit starts in ``chunk`` (-1: none)."""
        arr = np.frombuffer(chunk, dtype=np.uint8)
        breaks = np.flatnonzero((arr == 10) | (arr == 13))
        lengths = np.diff(breaks, prepend=-1) - 1  # of the lines each break ends
        if len(lengths):
            lengths[0] += self.length
        long = np.flatnonzero(lengths > self.limit)
        if len(long):
            return int(breaks[long[0] - 1]) + 1 if long[0] else 0
        tail_start = int(breaks[-1]) + 1 if len(breaks) else 0
        tail = len(chunk) - tail_start + (0 if len(breaks) else self.length)
        return tail_start if tail > self.limit else -1

    def feed(self, chunk: bytes) -> None:
        """Account for the next chunk; raise CountsError on a NUL byte or an overlong line."""
        nul = chunk.find(b"\0")
        if nul >= 0:
            raise self._refuse(
                chunk,
                nul,
                "holds a NUL byte: the file is binary or UTF-16, not "
                "a CSV text file (save it as CSV, UTF-8 or Windows-1252)",
            )
        if self.length + len(chunk) > self.limit:  # only then can a line be too long
            start = self._first_long_line(chunk)
            if start >= 0:
                raise self._refuse(
                    chunk,
                    start,
                    f"is longer than {self.limit:,} bytes: not a "
                    "line of counts (is it a CSV export with line breaks?)",
                )
        last = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        self.length = len(chunk) - 1 - last if last >= 0 else self.length + len(chunk)
        self.seen.append(chunk)


def read_limited(
    path: Path, fname: str, *, max_bytes: int = MAX_FILE_BYTES, max_line_bytes: int = MAX_LINE_BYTES
) -> bytes:
    """The bytes of a counts file, refused early when it is too large or not text.

    Raises:
        CountsError: unreadable, UTF-16, larger than ``max_bytes``, a line longer than
            ``max_line_bytes`` or a NUL byte (naming the line).
    """
    chunks: list[bytes] = []
    total = 0
    lines = _Lines(fname, max_line_bytes)
    try:
        with path.open("rb") as handle:
            size = path.stat().st_size if path.is_file() else 0
            if size > max_bytes:
                raise CountsError(
                    f"{fname}: the file has {size:,} bytes, more than the limit of "
                    f"{max_bytes:,} for a counts file"
                )
            while chunk := handle.read(_CHUNK):
                if not chunks and chunk.startswith(_UTF16_BOMS):
                    raise CountsError(
                        f"{fname}: the file is UTF-16 ('Unicode text'); save it as "
                        "CSV (UTF-8 or Windows-1252)"
                    )
                total += len(chunk)
                if total > max_bytes:
                    raise CountsError(
                        f"{fname}: the file is larger than the limit of "
                        f"{max_bytes:,} bytes for a counts file"
                    )
                lines.feed(chunk)
                chunks.append(chunk)
    except OSError as exc:
        raise CountsError(f"{path}: cannot read the counts file: {exc.strerror}") from None
    return b"".join(chunks)
