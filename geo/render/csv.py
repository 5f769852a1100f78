"""The long value rows of a release as CSV: plain (comma, point) or German (for Excel)."""

from __future__ import annotations

import io

import pandas as pd

from geo.release import PublishedBuild
from geo.render.records import value_rows


def _csv_bytes(frame: pd.DataFrame, *, german: bool) -> bytes:
    frame = frame.copy()
    frame["reliable"] = frame["reliable"].map({True: "true", False: "false"}).astype(object)
    buf = io.StringIO()
    if german:
        # Excel opens this directly: semicolons, decimal comma, a BOM so it reads UTF-8
        frame.to_csv(buf, index=False, sep=";", decimal=",", lineterminator="\r\n")
        return buf.getvalue().encode("utf-8-sig")
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def values_csv(published: PublishedBuild, level: str, indicator: str | None = None,
               year: int | None = None, *, german: bool = False) -> bytes:
    """The value rows of ``geo.render.records.value_rows`` as CSV (withheld = empty).

    ``german=True`` writes semicolons, decimal commas, CRLF and a UTF-8 BOM.
    """
    return _csv_bytes(value_rows(published, level, indicator, year), german=german)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these would run as a formula in a spreadsheet."""


def _defuse(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def table_csv(frame: pd.DataFrame, *, german: bool = True) -> bytes:
    """Any table of published values as CSV (csv-de by default: semicolons, decimal commas,
    CRLF, UTF-8 BOM); booleans as true/false, text that could start a formula quoted with '."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].map({True: "true", False: "false"}).astype(object)
        elif pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(
                out[column]):
            out[column] = out[column].map(_defuse).astype(object)
    buf = io.StringIO()
    if german:
        out.to_csv(buf, index=False, sep=";", decimal=",", lineterminator="\r\n")
        return buf.getvalue().encode("utf-8-sig")
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")
