"""The release CSVs are written by geo.release.csvtext.frame_csv: byte for byte what pandas'
``neutralise_frame(frame).to_csv`` wrote before, on hostile text and every column type."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.release import PublishedBuild, csvtext, read_build
from geo.release.csvtext import frame_bytes, frame_csv
from geo.release.files import _CELL_TEXT, _cells_text, write_build, write_csv
from geo.release.formulas import neutralise_frame
from geo.release.layout import suppression_log_path
from geo.render.csv import table_csv, values_csv
from geo.render.records import value_rows

HOSTILE = ["=1+1", "+49 202", "-2", "@SUM(A1)", "\tTab", "\rCR", "'=quoted", "''+twice",
           'say "hi"', "a,b", "a;b", "line\nbreak", "line\r\nbreak", "Düsseldorf", " space",
           "", "<script>", "ok", "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x")',
           "Straße 😀", '""', "-", "@"]


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


def _grid(indicators: int = 3, areas: int = 40, years: int = 5, seed: int = 5) -> pd.DataFrame:
    """A table sorted like values.csv (indicator > area > year): text in runs (areas) and in
    repeating patterns (areas within each indicator, years within each area), rounded rates,
    counts, flags and statuses with missing values."""
    rng = np.random.default_rng(seed)
    ids = [f"{HOSTILE[i % len(HOSTILE)]}{i}" for i in range(areas)]
    n = indicators * areas * years
    area = np.tile(np.repeat(np.arange(areas), years), indicators)
    year_keys: list[object] = [2019 + i for i in range(years - 1)] + ["2019-2021"]
    withheld = rng.random(n) < 0.3
    rate = np.round(rng.random(n) * 30, 2)
    rate[withheld] = np.nan
    return pd.DataFrame({
        "level": pd.Series(np.where(area < 3, "=total", "quartier"), dtype="str"),
        "area_id": pd.Series(np.array(ids, dtype=object)[area], dtype="str"),
        "indicator": np.repeat([f"{HOSTILE[i]}q" for i in range(indicators)], areas * years),
        "year": pd.Series(np.tile(np.array(year_keys, dtype=object), indicators * areas),
                          dtype=object),
        "numerator": pd.array(np.where(withheld, None, rng.integers(0, 99, n)), dtype="Int64"),
        "rate": rate,
        "ci_low": np.where(withheld, np.nan, np.round(rate / 100, 4)),
        "status": np.where(withheld, "suppressed", "published"),
        "vs_total": pd.Series(rng.choice(["higher", "lower", "similar"], n), dtype="str")
                      .where(~withheld),
        "reliable": pd.array(np.where(withheld, None, rng.random(n) < 0.5), dtype="boolean"),
        "flag": rng.random(n) < 0.2,
    })


@pytest.mark.parametrize("chunk", [csvtext._CHUNK_BYTES, 64])
def test_frame_bytes_sorted_table_is_pandas_byte_for_byte(chunk: int,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs, repeating patterns (a break in the last one), rounded decimals and the records
    assembled in one part or in many: the bytes pandas writes, hostile text neutralised."""
    monkeypatch.setattr(csvtext, "_CHUNK_BYTES", chunk)
    frame = _grid()
    assert frame_bytes(frame) == _pandas(frame).encode()
    # the paths this table is made to take: patterns found, decimals addressed directly
    years = frame["year"].to_numpy()
    assert csvtext._period(years) == 5
    assert csvtext._period(np.append(years[:-1], 2019)) == len(years)  # broken in the last row
    assert csvtext._decimal_codes(frame["rate"].to_numpy()) is not None
    assert csvtext._decimal_codes(frame["ci_low"].to_numpy()) is not None
    broken = frame.copy()
    broken.loc[len(broken) - 1, "year"] = 2019  # the year pattern breaks in the last row
    broken.loc[len(broken) - 7, "area_id"] = "=other"  # and the area pattern once
    assert frame_bytes(broken) == _pandas(broken).encode()
    text = ["level", "area_id"]
    assert frame_bytes(frame, text, sep=";", lineterminator="\r\n") == _pandas(
        frame, text, sep=";", end="\r\n").encode()


def test_frame_bytes_numbers_that_need_hashing() -> None:
    """Floats that are not rounded decimals (-0.0 beside 0.0, inf, a wide range, many
    digits) and one kind of number besides text: the same bytes as pandas."""
    base = _grid()
    n = len(base)
    for values in ([-0.0, 0.0, 0.5], [np.inf, 1.5, -np.inf], [1e300, 1e-300, 2.5],
                   [1 / 3, 2 / 3, 0.1], [1e-05, 0.00012, 3.0]):
        frame = base.assign(rate=np.resize(np.array(values + [np.nan]), n))
        assert frame_bytes(frame) == _pandas(frame).encode(), values
    mixed = base.assign(year=pd.Series([1, True, 1.0, "1"] * (n // 4), dtype=object))
    assert frame_bytes(mixed) == _pandas(mixed).encode()


def test_frame_bytes_missing_values_and_odd_text() -> None:
    """pd.NA in object and string columns, a NUL byte and a very long field (written without
    fixed-width records), non-BMP text: the same bytes as pandas."""
    frame = _grid()
    n = len(frame)
    na = frame.assign(
        level=pd.Series(["a", pd.NA, "b", "b"] * (n // 4), dtype=object),
        area_id=pd.Series(["x", None, pd.NA, "=y"] * (n // 4), dtype="string"),
    )
    assert frame_bytes(na) == _pandas(na).encode()
    nul = frame.assign(area_id=frame["area_id"].where(np.arange(n) % 9 != 0, "a\0b"))
    assert frame_bytes(nul) == _pandas(nul).encode()
    long = frame.assign(area_id=frame["area_id"].where(np.arange(n) != 3, "=" + "x" * 50_000))
    assert frame_bytes(long) == _pandas(long).encode()
    assert frame_csv(long) == _pandas(long)


def test_suppression_log_is_written_as_pandas_wrote_it(tmp_path: Path) -> None:
    """The sign-off log (never published) keeps pandas' bytes: its cells are not neutralised."""
    frame = _grid()
    log = frame[["level", "area_id", "indicator", "year", "status"]].rename(
        columns={"indicator": "variable", "status": "reason"})
    write_csv(log, tmp_path / "new.csv", ())
    log.to_csv(tmp_path / "old.csv", index=False, lineterminator="\n")
    assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()
    assert b"\n=total," in (tmp_path / "new.csv").read_bytes()


def test_build_writes_the_suppression_log_in_pandas_bytes(hostile_data: Path) -> None:
    """The build's log (hostile ids) reads back and writes again to the very same bytes."""
    path = suppression_log_path(hostile_data / "hostile")
    written = path.read_bytes()
    log = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(log) and list(log.columns) == ["level", "area_id", "variable", "year", "reason"]
    assert log.to_csv(index=False, lineterminator="\n").encode() == written
