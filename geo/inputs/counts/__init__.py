"""Read counts per area, year and variable from the CSV exports statistics offices produce.

Two layouts are accepted. Long form has the header ``area_id,year,variable,value``; wide form
has an area id column and one column per catalogue variable, with the year from ``year=``
(``--year``) or a ``year``/``Jahr`` column. Separators ``,``, ``;`` or tab, or the one an Excel
``sep=;`` first line names; UTF-8 with or without BOM, or Windows-1252; German table signs
(``–``/``-`` zero; ``.``, ``x``, ``…``, empty missing) and thousands separators (``1.234``).
Files larger than ``MAX_FILE_BYTES``, lines longer than ``MAX_LINE_BYTES`` and NUL bytes are
refused as they are read, in bounded memory.

Every problem is collected with its line number and reported in one CountsError. Messages name
areas, variables and lines, and echo a cell's text only when it cannot be a valid count, so
that an error log never discloses a count.

Modules, in the order data flows through them:

- ``problems``: problems with their line numbers, raised as one ``CountsError``; ``MAX_SHOWN``.
- ``source``: the file's bytes, read in chunks and refused early when too large, with an
  overlong line or a NUL byte; ``MAX_FILE_BYTES``, ``MAX_LINE_BYTES``.
- ``decode``: bytes to text, the separator (also from an Excel ``sep=;`` line), and a table of
  cell texts with line numbers; ``MAX_CELLS``.
- ``layout``: which header column holds the area id, the year and each variable.
- ``signs``: one cell's text as a count or a table sign; ``MAX_COUNT``, ``ZERO_SIGNS``,
  ``MISSING_SIGNS``.
- ``read``: ``read_counts``, the checks of every line and the resulting frame.
- ``combine``: ``read_counts_files``, several files as one; a cell given twice is refused.
"""

from geo.inputs.counts.combine import read_counts_files
from geo.inputs.counts.decode import MAX_CELLS
from geo.inputs.counts.problems import MAX_SHOWN
from geo.inputs.counts.read import COLUMNS, YEAR_MAX, YEAR_MIN, read_counts
from geo.inputs.counts.signs import MAX_COUNT, MISSING_SIGNS, ZERO_SIGNS
from geo.inputs.counts.source import MAX_FILE_BYTES, MAX_LINE_BYTES

__all__ = [
    "COLUMNS", "MAX_CELLS", "MAX_COUNT", "MAX_FILE_BYTES", "MAX_LINE_BYTES", "MAX_SHOWN",
    "MISSING_SIGNS", "YEAR_MAX", "YEAR_MIN", "ZERO_SIGNS", "read_counts", "read_counts_files",
]
