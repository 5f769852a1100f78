"""The long value rows of a release as CSV: plain (comma, point) or German (for Excel)."""

from __future__ import annotations

import io

import pandas as pd

from geo.inputs.periods import YearKey
from geo.release import TOTAL, PublishedBuild
from geo.release.csvtext import frame_csv
from geo.release.formulas import neutralise_frame
from geo.render import words
from geo.render.change import change_rows, german_change
from geo.render.records import value_rows

TOTAL_LEVEL = "Gesamtgebiet"
"""What the German CSV's ``Ebene`` says for the row of the whole area."""


def _german_words(frame: pd.DataFrame, published: PublishedBuild) -> pd.DataFrame:
    """German headers and German words in the cells (level, indicator, status, comparison)."""
    levels = {lv.id: lv.name for lv in published.geography.levels} | {TOTAL: TOTAL_LEVEL}
    names = {i.id: i.name for i in published.catalogue.indicators}
    frame = frame.assign(
        level=frame["level"].map(levels).fillna(frame["level"]),
        indicator=frame["indicator"].map(names).fillna(frame["indicator"]),
        status=frame["status"].map(words.STATUS).fillna(frame["status"]),
        vs_total=frame["vs_total"].map(words.COMPARISON),
        reliable=frame["reliable"].map({True: words.YES, False: words.NO}).astype(object),
    )
    return frame.rename(columns=words.CSV_HEADERS)


def _csv_bytes(frame: pd.DataFrame, *, german: bool) -> bytes:
    # made for spreadsheets: no text cell (an area's name, say) may start a formula
    if not german:  # frame_csv neutralises while it writes
        frame = frame.copy()
        frame["reliable"] = frame["reliable"].map({True: "true", False: "false"}).astype(object)
        return frame_csv(frame).encode("utf-8")
    # Excel opens this directly: semicolons, decimal comma, a BOM so it reads UTF-8
    buf = io.StringIO()
    neutralise_frame(frame).to_csv(buf, index=False, sep=";", decimal=",", lineterminator="\r\n")
    return buf.getvalue().encode("utf-8-sig")


def values_csv(published: PublishedBuild, level: str, indicator: str | None = None,
               year: YearKey | None = None, *, german: bool = False,
               compare: YearKey | None = None) -> bytes:
    """The value rows of ``geo.render.records.value_rows`` as CSV (withheld = empty).

    ``german=True`` writes German headers and words, semicolons, decimal commas, CRLF and a
    UTF-8 BOM; the plain CSV keeps the English keys of the JSON. ``compare`` adds the change
    since that year (``geo.render.change.change_rows``).
    """
    if compare is None:
        frame = value_rows(published, level, indicator, year)
    else:
        frame = change_rows(published, level, indicator, year, compare)
    if german:
        frame = _german_words(german_change(frame), published)
    return _csv_bytes(frame, german=german)


def table_csv(frame: pd.DataFrame, *, german: bool = True) -> bytes:
    """Any table of published values as CSV (csv-de by default: semicolons, decimal commas,
    CRLF, UTF-8 BOM); booleans as true/false, text that could start a formula quoted with '."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column]):
            out[column] = out[column].map({True: "true", False: "false"}).astype(object)
    if not german:
        return frame_csv(out).encode("utf-8")
    out = neutralise_frame(out)
    buf = io.StringIO()
    out.to_csv(buf, index=False, sep=";", decimal=",", lineterminator="\r\n")
    return buf.getvalue().encode("utf-8-sig")
