"""Several counts files read as one, and measures read with their decimals."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.errors import CountsError
from geo.inputs.counts import read_counts, read_counts_files

AREAS = {"01", "02"}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_measures_keep_their_decimals(tmp_path: Path) -> None:
    """A measure reads 12,5 and 12.5 as decimals; counts in the same file stay whole."""
    path = write(tmp_path / "c.csv", "area_id;year;variable;value\n01;2024;laerm;\"55,25\"\n"
                 "02;2024;laerm;60.5\n01;2024;ew;10\n02;2024;ew;–\n")
    frame = read_counts(path, area_ids=AREAS, variables=["ew", "laerm"], measures=["laerm"])
    values = frame.set_index(["area_id", "variable"])["value"]
    assert values[("01", "laerm")] == 55.25 and values[("02", "laerm")] == 60.5
    assert values[("01", "ew")] == 10 and values[("02", "ew")] == 0
    assert str(frame["value"].dtype) == "Float64"


def test_a_decimal_count_is_still_refused(tmp_path: Path) -> None:
    """Only measures may have decimals."""
    path = write(tmp_path / "c.csv", "area_id,year,variable,value\n01,2024,ew,1.5\n")
    with pytest.raises(CountsError, match="not a whole number"):
        read_counts(path, area_ids=AREAS, variables=["ew", "laerm"], measures=["laerm"])


def test_files_combine(tmp_path: Path) -> None:
    """Two files with different cells give one frame sorted by area, variable, year."""
    a = write(tmp_path / "a.csv", "area_id,year,variable,value\n01,2024,ew,10\n02,2024,ew,7\n")
    b = write(tmp_path / "b.csv", "area_id,year,variable,value\n01,2024,kitas,1\n")
    frame = read_counts_files([a, b], area_ids=AREAS, variables=["ew", "kitas"])
    assert list(frame.columns) == ["area_id", "year", "variable", "value"]
    assert frame[["area_id", "variable"]].values.tolist() == [
        ["01", "ew"], ["01", "kitas"], ["02", "ew"]]


def test_a_cell_in_two_files_names_both(tmp_path: Path) -> None:
    """The same cell in two files is refused with both files and lines."""
    a = write(tmp_path / "a.csv", "area_id,year,variable,value\n01,2024,ew,10\n02,2024,ew,7\n")
    b = write(tmp_path / "b.csv", "area_id,year,variable,value\n02,2024,ew,7\n")
    with pytest.raises(CountsError, match="given in more than one counts file") as err:
        read_counts_files([a, b], area_ids=AREAS, variables=["ew"])
    assert err.value.problems == [
        "b.csv line 2: area '02', year 2024, variable 'ew' is also given in a.csv line 3"]
