"""The release CSVs are written by geo.release.csvtext.frame_csv: byte for byte what pandas'
``neutralise_frame(frame).to_csv`` wrote before, on hostile text and every column type."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.release import PublishedBuild, read_build
from geo.release.csvtext import frame_csv
from geo.release.files import _CELL_TEXT, _cells_text, write_build
from geo.release.formulas import neutralise_frame
from geo.render.csv import table_csv, values_csv
from geo.render.records import value_rows

HOSTILE = ["=1+1", "+49 202", "-2", "@SUM(A1)", "\tTab", "\rCR", "'=quoted", "''+twice",
           'say "hi"', "a,b", "a;b", "line\nbreak", "line\r\nbreak", "Düsseldorf", " space",
           "", "<script>", "ok"]


def _pandas(frame: pd.DataFrame, text: list[str] | None = None, *, sep: str = ",",
            end: str = "\n") -> str:
    """What the writers wrote before: pandas' to_csv of the neutralised frame."""
    return neutralise_frame(frame, text).to_csv(index=False, sep=sep, lineterminator=end)


def _frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    text = [HOSTILE[i % len(HOSTILE)] for i in range(rows)]
    floats = rng.choice([0.1, 2.5, 1e-05, 1e16, 123456.789, -0.0, 0.0, np.nan, np.inf, 1 / 3],
                        rows)
    years: list[object] = [2021 if i % 3 else "2019-2021" for i in range(rows)]
    return pd.DataFrame({
        "name": pd.Series(text, dtype="str").where(np.arange(rows) % 7 != 0),
        "object": pd.Series(text, dtype=object).where(np.arange(rows) % 5 != 0, None),
        "year": pd.Series(years, dtype=object),
        "count": pd.array([i if i % 4 else None for i in range(rows)], dtype="Int64"),
        "flag": pd.array([bool(i % 2) if i % 6 else None for i in range(rows)],
                         dtype="boolean"),
        "rate": floats,
        "ints": np.arange(rows, dtype=np.int64) - 5,
        "bools": np.arange(rows) % 3 == 0,
        "mixed": pd.Series([1, 1.0, True, "1", None, 2.5] * (rows // 6), dtype=object),
        "value": pd.Series([str(-i) for i in range(rows)], dtype="str"),
    })


@pytest.mark.parametrize(("sep", "end"), [(",", "\n"), (";", "\r\n")])
def test_frame_csv_is_pandas_byte_for_byte(sep: str, end: str) -> None:
    """Hostile text (formula starts, quotes, separators, line breaks), missing values of every
    kind, -0.0 and 0.0, 1, 1.0 and True in one column: the same text as pandas writes."""
    frame = _frame()
    assert frame_csv(frame, sep=sep, lineterminator=end) == _pandas(frame, sep=sep, end=end)


def test_frame_csv_neutralises_only_the_named_text_columns() -> None:
    """``text`` as in cells.csv: the numbers-as-text column ("-2") stays as it is."""
    frame = _frame()
    text = ["name", "object"]
    written = frame_csv(frame, text)
    assert written == _pandas(frame, text)
    assert "\n-3," not in written and ",-3\n" in written  # the value column, not neutralised
    assert ",'=1+1," in written


def test_frame_csv_small_and_odd_frames() -> None:
    """Empty frames, one column (an empty cell is written ""), and repeated values."""
    empty = _frame().iloc[:0]
    assert frame_csv(empty) == _pandas(empty)
    one = pd.DataFrame({"a": ["", "=x", "y"]})
    assert frame_csv(one) == _pandas(one)
    many = pd.DataFrame({"level": ["a", "b"] * 500, "id": [f"{i % 7}" for i in range(1000)],
                         "status": ["published", "suppressed"] * 500})
    assert frame_csv(many) == _pandas(many)


def _old_write_build(published: PublishedBuild) -> dict[str, bytes]:
    """The CSV files as the writer before produced them (pandas' to_csv)."""
    return {
        "areas.csv": _pandas(published.areas).encode(),
        "cells.csv": _pandas(_cells_text(published), list(_CELL_TEXT)).encode(),
        "values.csv": _pandas(published.values).encode(),
    }


@pytest.mark.parametrize("fixture", ["mini_data", "hostile_data"])
def test_release_csvs_are_byte_identical(fixture: str, request: pytest.FixtureRequest,
                                         tmp_path: Path) -> None:
    """write_build's CSV files equal what pandas wrote, on the small and the hostile builds."""
    data: Path = request.getfixturevalue(fixture)
    gid = "mini" if fixture == "mini_data" else "hostile"
    published = read_build(data / gid)
    write_build(published, tmp_path)
    for name, expected in _old_write_build(published).items():
        assert (tmp_path / name).read_bytes() == expected, name


def test_plain_download_csv_is_byte_identical(hostile_data: Path) -> None:
    """The plain values CSV of the service (and table_csv) equal pandas' output."""
    published = read_build(hostile_data / "hostile")
    for level in published.geography.level_ids:
        frame = value_rows(published, level).copy()
        frame["reliable"] = frame["reliable"].map({True: "true", False: "false"}).astype(object)
        assert values_csv(published, level) == _pandas(frame).encode()
    table = published.values.head(40)
    out = table.copy()
    out["reliable"] = out["reliable"].map({True: "true", False: "false"}).astype(object)
    buf = io.StringIO()
    neutralise_frame(out).to_csv(buf, index=False, lineterminator="\n")
    assert table_csv(table, german=False) == buf.getvalue().encode()
