"""Tests for geo.inputs.counts: reading counts CSVs as offices export them, and problems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import CountsError
from geo.inputs.counts import MAX_COUNT, MAX_SHOWN, read_counts

AREAS = ["00", "01", "05", "10", "11"]
VARIABLES = ["einwohner", "auslaender"]
BERLIN = Path(__file__).resolve().parents[2] / "shared/data/berlin-lor-2021"


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = tmp_path / "counts.csv"
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def read(path: Path, **kwargs: object) -> pd.DataFrame:
    options: dict = {"area_ids": AREAS, "variables": VARIABLES, **kwargs}
    return read_counts(path, **options)


def problems(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(CountsError) as err:
        read(path, **kwargs)
    return err.value.problems


def values(frame: pd.DataFrame) -> dict[tuple[str, int, str], object]:
    return {
        (a, y, v): (None if pd.isna(x) else int(x)) for a, y, v, x in frame.itertuples(index=False)
    }


LONG = """area_id,year,variable,value
05,2022,einwohner,1200
05,2022,auslaender,150
00,2022,einwohner,800
00,2021,einwohner,790
"""


def test_long_form(tmp_path: Path) -> None:
    """The long form gives one row per line with typed columns."""
    frame = read(write(tmp_path, LONG))
    assert list(frame.columns) == ["area_id", "year", "variable", "value"]
    assert str(frame["area_id"].dtype) == "str" and str(frame["variable"].dtype) == "str"
    assert frame["year"].dtype == np.int64 and str(frame["value"].dtype) == "Int64"
    assert values(frame) == {
        ("05", 2022, "einwohner"): 1200,
        ("05", 2022, "auslaender"): 150,
        ("00", 2022, "einwohner"): 800,
        ("00", 2021, "einwohner"): 790,
    }


def test_rows_are_sorted_by_area_variable_year(tmp_path: Path) -> None:
    """Rows come sorted by area_id, variable, year whatever the file order."""
    frame = read(write(tmp_path, LONG))
    keys = list(zip(frame["area_id"], frame["variable"], frame["year"], strict=True))
    assert keys == sorted(keys)
    assert frame.index.tolist() == list(range(4))


def test_wide_form_with_year_argument(tmp_path: Path) -> None:
    """Wide form has one column per variable; the year comes from year=."""
    path = write(tmp_path, "area_id,einwohner,auslaender\n05,1200,150\n10,300,20\n")
    assert values(read(path, year=2022)) == {
        ("05", 2022, "einwohner"): 1200,
        ("05", 2022, "auslaender"): 150,
        ("10", 2022, "einwohner"): 300,
        ("10", 2022, "auslaender"): 20,
    }


def test_wide_form_with_jahr_column(tmp_path: Path) -> None:
    """A `Jahr` column gives the year of each row of a wide file."""
    path = write(tmp_path, "area_id;Jahr;einwohner\n05;2021;1190\n05;2022;1200\n")
    assert values(read(path)) == {("05", 2021, "einwohner"): 1190, ("05", 2022, "einwohner"): 1200}


def test_wide_form_without_year_explains_the_year_option(tmp_path: Path) -> None:
    """A wide file without a year column needs --year; the error says so."""
    found = problems(write(tmp_path, "area_id,einwohner\n05,1200\n"))
    assert found == [
        "counts.csv line 1: wide form without a year: pass the year of the counts with "
        "--year (year= in Python) or add a 'year' column"
    ]


def test_name_column_is_ignored(tmp_path: Path) -> None:
    """A `Name` column beside the id is ignored."""
    path = write(tmp_path, 'area_id,Name,einwohner\n05,"Mitte, Nord",1200\n')
    assert values(read(path, year=2022)) == {("05", 2022, "einwohner"): 1200}


def test_single_other_column_is_the_area_id(tmp_path: Path) -> None:
    """Without `area_id`, the one column that is no variable, year or name holds the ids."""
    path = write(tmp_path, "Quartier;einwohner\n05;1200\n")
    assert values(read(path, year=2022)) == {("05", 2022, "einwohner"): 1200}


def test_id_column_argument(tmp_path: Path) -> None:
    """id_column= names the id column of an office export."""
    path = write(tmp_path, "einwohner;PLR-ID;name\n1200;05;Mitte\n")
    assert values(read(path, year=2022, id_column="PLR-ID")) == {("05", 2022, "einwohner"): 1200}


def test_missing_id_column_argument(tmp_path: Path) -> None:
    """An id_column that is not in the header is reported with the header's columns."""
    found = problems(write(tmp_path, "Quartier;einwohner\n05;1200\n"), year=2022, id_column="QU")
    assert found == [
        "counts.csv line 1: id column 'QU' is not in the header (columns: Quartier, einwohner)"
    ]


def test_semicolon_cp1252_crlf(tmp_path: Path) -> None:
    """An Excel export: `;`, Windows-1252 (ä in a name) and CRLF line ends."""
    text = "Quartier;Name;einwohner;auslaender\n05;Südstadt;1.200;150\n10;Hölzerne Brücke;300;–\n"
    path = write(tmp_path, text, encoding="cp1252", newline="\r\n")
    assert values(read(path, year=2022)) == {
        ("05", 2022, "einwohner"): 1200,
        ("05", 2022, "auslaender"): 150,
        ("10", 2022, "einwohner"): 300,
        ("10", 2022, "auslaender"): 0,
    }


def test_utf8_with_bom(tmp_path: Path) -> None:
    """A UTF-8 byte order mark does not end up in the first column name."""
    path = write(tmp_path, LONG, encoding="utf-8-sig")
    assert len(read(path)) == 4


def test_tab_separated(tmp_path: Path) -> None:
    """Tab-separated text (Excel's "Text") is read as well."""
    path = write(tmp_path, "area_id\tyear\tvariable\tvalue\n05\t2022\teinwohner\t7\n")
    assert values(read(path)) == {("05", 2022, "einwohner"): 7}


@pytest.mark.parametrize("sign", ["–", "-", "0"])
def test_dashes_mean_zero(tmp_path: Path, sign: str) -> None:
    """`–` (U+2013) and `-` are the German sign for zero ("nichts vorhanden")."""
    path = write(tmp_path, f"area_id;year;variable;value\n05;2022;auslaender;{sign}\n")
    assert values(read(path)) == {("05", 2022, "auslaender"): 0}


@pytest.mark.parametrize("sign", [".", "x", "X", "…", "...", "", " "])
def test_signs_for_missing(tmp_path: Path, sign: str) -> None:
    """`.`, `x`, `…`, `...` and an empty cell mean missing (<NA>), not zero."""
    path = write(tmp_path, f"area_id;year;variable;value\n05;2022;auslaender;{sign}\n")
    frame = read(path)
    assert len(frame) == 1 and frame["value"].isna().all()


@pytest.mark.parametrize(
    ("text", "number"), [("1.234", 1234), ("12.345.678", 12345678), ("007", 7), ("15.0", 15)]
)
def test_german_thousands_separator(tmp_path: Path, text: str, number: int) -> None:
    """`1.234` with groups of three digits is 1234; a float export `15.0` is 15."""
    path = write(tmp_path, f"area_id;year;variable;value\n05;2022;einwohner;{text}\n")
    assert values(read(path)) == {("05", 2022, "einwohner"): number}


def test_areas_absent_from_the_file_have_no_rows(tmp_path: Path) -> None:
    """Areas that the file does not mention are simply absent (missing later)."""
    frame = read(write(tmp_path, LONG))
    assert set(frame["area_id"]) == {"00", "05"}


def test_unknown_area(tmp_path: Path) -> None:
    """An id that is not an area of the level is reported with its line and the level name."""
    path = write(
        tmp_path, "area_id,year,variable,value\n05,2022,einwohner,3\n0815,2022,einwohner,4\n"
    )
    assert problems(path) == ["counts.csv line 3: area '0815' is not a Quartier of this geography"]


def test_level_name_in_messages(tmp_path: Path) -> None:
    """level_name names the level in area messages."""
    path = write(tmp_path, "area_id,year,variable,value\n99,2022,einwohner,3\n")
    assert "is not a Planungsraum of" in problems(path, level_name="Planungsraum")[0]


def test_hint_when_excel_dropped_a_leading_zero(tmp_path: Path) -> None:
    """'5' when '05' exists gets a hint about Excel and leading zeros."""
    path = write(tmp_path, "area_id,year,variable,value\n5,2022,einwohner,3\n0,2022,einwohner,3\n")
    assert problems(path) == [
        "counts.csv line 2: area '5' is not a Quartier of this geography; did you mean '05'? "
        "Excel drops leading zeros: format the column as text",
        "counts.csv line 3: area '0' is not a Quartier of this geography; did you mean '00'? "
        "Excel drops leading zeros: format the column as text",
    ]


def test_no_leading_zero_hint_when_the_id_is_longer(tmp_path: Path) -> None:
    """'005' is not a dropped zero of '05': no Excel hint."""
    path = write(tmp_path, "area_id,year,variable,value\n005,2022,einwohner,3\n")
    assert problems(path) == ["counts.csv line 2: area '005' is not a Quartier of this geography"]


def test_unknown_variable_in_long_form(tmp_path: Path) -> None:
    """An unknown variable is reported with a close match and the known ones."""
    path = write(tmp_path, "area_id,year,variable,value\n05,2022,einwohnr,3\n")
    assert problems(path) == [
        "counts.csv line 2: variable 'einwohnr' is not in the catalogue; did you mean "
        "'einwohner'? (known: einwohner, auslaender)"
    ]


def test_unknown_column_in_wide_form(tmp_path: Path) -> None:
    """A wide column that is not a catalogue variable is reported on line 1."""
    path = write(tmp_path, "area_id;einwohner;Auslaender\n05;3;1\n")
    assert problems(path, year=2022) == [
        "counts.csv line 1: column 'Auslaender' is not a catalogue variable; did you mean "
        "'auslaender'? (known: einwohner, auslaender)"
    ]


@pytest.mark.parametrize("text", ["22", "1850", "2022.0", "abc", "20222"])
def test_year_that_is_not_a_year(tmp_path: Path, text: str) -> None:
    """A year must be four digits between 1900 and 2100."""
    path = write(
        tmp_path, f"area_id,year,variable,value\n05,2022,einwohner,3\n05,{text},einwohner,3\n"
    )
    assert problems(path) == [
        f"counts.csv line 3: year '{text}' is not a year (four digits, 1900–2100)"
    ]


def test_year_column_must_match_year_argument(tmp_path: Path) -> None:
    """With year= and a year column, rows of another year are reported."""
    path = write(tmp_path, "area_id,year,variable,value\n05,2021,einwohner,3\n")
    assert problems(path, year=2022) == [
        "counts.csv line 2: year 2021 differs from the year given (2022)"
    ]


def test_invalid_year_argument(tmp_path: Path) -> None:
    """year= must itself be a plausible year."""
    with pytest.raises(CountsError, match="year=22 is not a year"):
        read(write(tmp_path, LONG), year=22)


@pytest.mark.parametrize("text", ["3,5", "3.5", "0,5"])
def test_decimal_is_not_a_whole_number(tmp_path: Path, text: str) -> None:
    """A decimal is reported as not a whole number, quoting the text."""
    path = write(tmp_path, f'area_id;year;variable;value\n05;2022;einwohner;"{text}"\n')
    assert problems(path) == [
        f"counts.csv line 2: value '{text}' for 'einwohner' is not a whole number"
    ]


def test_negative_value(tmp_path: Path) -> None:
    """A negative value is reported."""
    path = write(
        tmp_path, "area_id;year;variable;value\n05;2022;einwohner;4\n05;2022;auslaender;-3\n"
    )
    assert problems(path) == ["counts.csv line 3: value '-3' for 'auslaender' is negative"]


def test_text_value(tmp_path: Path) -> None:
    """Text that is no number and no table sign is reported with the signs that are allowed."""
    path = write(tmp_path, "area_id;year;variable;value\n05;2022;einwohner;k.A.\n")
    assert problems(path)[0].startswith(
        "counts.csv line 2: value 'k.A.' for 'einwohner' is not a number (signs:"
    )


def test_absurd_value_is_an_error_and_not_echoed(tmp_path: Path) -> None:
    """A value above MAX_COUNT is reported without printing it."""
    big = str(MAX_COUNT + 1)
    path = write(tmp_path, f"area_id;year;variable;value\n05;2022;einwohner;{big}\n")
    found = problems(path)
    assert found == [
        "counts.csv line 2: value for 'einwohner' is larger than 100,000,000: not a plausible count"
    ]


@pytest.mark.parametrize("text", ["12*", "1 234", "3 p"])
def test_counts_with_marks_are_not_echoed(tmp_path: Path, text: str) -> None:
    """A count with a footnote mark or a space is an error that does not print the count."""
    path = write(tmp_path, f"area_id;year;variable;value\n05;2022;einwohner;{text}\n")
    (message,) = problems(path)
    assert "mixes digits with other characters" in message
    assert not any(ch.isdigit() for ch in message.split("line 2")[1])


def test_comma_thousands_are_not_echoed(tmp_path: Path) -> None:
    """`1,234` (English thousands or a decimal) is an error that does not print the digits."""
    path = write(tmp_path, 'area_id,year,variable,value\n05,2022,einwohner,"1,234"\n')
    (message,) = problems(path)
    assert "1,234" not in message and "thousands separator" in message


def test_duplicate_row_names_first_line_without_values(tmp_path: Path) -> None:
    """A second row for the same area, year and variable names the first; no value is shown."""
    path = write(
        tmp_path,
        "area_id,year,variable,value\n05,2022,einwohner,1234\n00,2022,einwohner,17\n"
        " 05 ,2022,einwohner,4321\n",
    )
    with pytest.raises(CountsError) as err:
        read(path)
    assert err.value.problems == [
        "counts.csv line 4: duplicate of line 2 (area '05', year 2022, variable 'einwohner')"
    ]
    assert "1234" not in str(err.value) and "4321" not in str(err.value)


def test_duplicate_area_in_wide_form(tmp_path: Path) -> None:
    """The same area twice in a wide file (same year) is reported once per line."""
    path = write(tmp_path, "area_id;einwohner;auslaender\n05;1234;11\n10;5;1\n05;1234;11\n")
    with pytest.raises(CountsError) as err:
        read(path, year=2022)
    assert err.value.problems == [
        "counts.csv line 4: area '05', year 2022 appears again (first on line 2)"
    ]
    assert "1234" not in str(err.value)


def test_every_problem_at_once_in_line_order(tmp_path: Path) -> None:
    """All problems of a file come in one error, sorted by line."""
    text = (
        "area_id;year;variable;value\n"
        "05;2022;einwohner;1200\n"  # 2 ok
        "99;2022;einwohner;5\n"  # 3 unknown area
        "05;22;einwohner;5\n"  # 4 bad year
        "05;2022;elb;5\n"  # 5 unknown variable
        "05;2022;auslaender;3,5\n"  # 6 decimal
        "05;2022;einwohner;7\n"  # 7 duplicate of 2
        "10;2022;auslaender;-1\n"  # 8 negative
    )
    found = problems(write(tmp_path, text))
    assert [p.split(":")[0] for p in found] == [f"counts.csv line {n}" for n in range(3, 9)]


def test_message_starts_with_file_and_count_and_lists_the_first_problems(tmp_path: Path) -> None:
    """The message names the file and the number of problems and shows the first MAX_SHOWN."""
    rows = "".join(f"99,2022,einwohner,{i}\n" for i in range(30))
    with pytest.raises(CountsError) as err:
        read(write(tmp_path, "area_id,year,variable,value\n" + rows))
    message = str(err.value)
    assert message.startswith("counts.csv: 30 problems in the counts\n")
    assert "line 21:" in message and "line 22:" not in message
    assert message.endswith(f"… and {30 - MAX_SHOWN} more")
    assert len(err.value.problems) == 30


def test_blank_lines_are_skipped_and_line_numbers_stay_right(tmp_path: Path) -> None:
    """Blank lines (also `;;;` lines) are skipped; later line numbers count them."""
    path = write(
        tmp_path, "area_id;year;variable;value\n\n05;2022;einwohner;1\n;;;\n99;2022;einwohner;1\n"
    )
    assert problems(path) == ["counts.csv line 5: area '99' is not a Quartier of this geography"]


def test_quoted_line_break_keeps_line_numbers(tmp_path: Path) -> None:
    """A quoted name spanning two lines does not shift later line numbers."""
    text = 'area_id;name;einwohner\n05;"Nord\nSüd";1\n99;x;1\n'
    assert problems(write(tmp_path, text), year=2022) == [
        "counts.csv line 4: area '99' is not a Quartier of this geography"
    ]


def test_row_with_too_few_or_too_many_fields(tmp_path: Path) -> None:
    """A row whose field count differs from the header is reported (trailing `;` is fine)."""
    text = (
        "area_id;year;variable;value\n"
        "05;2022;einwohner\n05;2022;auslaender;1;9\n10;2022;einwohner;1;\n"
    )
    assert problems(write(tmp_path, text)) == [
        "counts.csv line 2: has fewer fields than the header (4)",
        "counts.csv line 3: has more fields than the header (4)",
    ]


def test_quoted_row_with_too_few_fields(tmp_path: Path) -> None:
    """Field counts are right in fully quoted files, with separators inside quotes."""
    text = (
        '"area_id";"name";"year";"variable";"value"\n'
        '"05";"a;b";"2022";"einwohner"\n"10";"c;d";"2022";"einwohner";"3"\n'
    )
    assert problems(write(tmp_path, text)) == [
        "counts.csv line 2: has fewer fields than the header (5)"
    ]


def test_header_without_area_column(tmp_path: Path) -> None:
    """Two candidate id columns and none named area_id is reported."""
    path = write(tmp_path, "Bezirk;Quartier;einwohner\nMitte;Nord;1\n")
    assert problems(path, year=2022) == [
        "counts.csv line 1: cannot tell which column holds the area ids: name it 'area_id' "
        "or pass id_column="
    ]


def test_missing_header_line_does_not_echo_counts(tmp_path: Path) -> None:
    """A file whose first line is data is reported without printing its numbers."""
    path = write(tmp_path, "05;1234;56\n10;17;2\n")
    with pytest.raises(CountsError) as err:
        read(path, year=2022)
    assert "is the header line missing?" in str(err.value)
    assert "1234" not in str(err.value) and "56" not in str(err.value)


def test_long_form_without_year(tmp_path: Path) -> None:
    """Long form without a year column and without year= is reported."""
    path = write(tmp_path, "area_id,variable,value\n05,einwohner,3\n")
    assert "no year column" in problems(path)[0]


def test_long_form_without_year_column_uses_year_argument(tmp_path: Path) -> None:
    """Long form without a year column takes year=."""
    path = write(tmp_path, "area_id,variable,value\n05,einwohner,3\n")
    assert values(read(path, year=2020)) == {("05", 2020, "einwohner"): 3}


def test_header_only(tmp_path: Path) -> None:
    """A header without data rows is an error."""
    assert problems(write(tmp_path, "area_id,year,variable,value\n")) == [
        "counts.csv line 1: the file has a header but no data rows"
    ]


def test_empty_file(tmp_path: Path) -> None:
    """An empty file is an error naming it."""
    with pytest.raises(CountsError, match="counts.csv: the file is empty"):
        read(write(tmp_path, "\n"))


def test_header_without_separator(tmp_path: Path) -> None:
    """A header without any separator is unreadable."""
    with pytest.raises(CountsError, match="line 1: cannot read the header"):
        read(write(tmp_path, "area_id year variable value\n"))


@pytest.mark.skipif(not BERLIN.exists(), reason="../shared/data is not available")
def test_real_berlin_export(tmp_path: Path) -> None:
    """The real Einwohnerbestand 2022 (`;`, BOM, CRLF, `–`, id column PLR-ID) reads as is."""
    lor = pd.read_csv(BERLIN / "LOR_2021.csv", dtype=str)
    plr = lor["Planungsraum (Nummer)"].tolist()
    columns = "Gesamt;unter6;6-15;15-18;18-27;27-45;45-55;55-65;65undmehr;weiblich;ausländer"
    variables = columns.split(";")
    frame = read_counts(
        BERLIN / "einwohnerbestand_06-2022_plr.csv",
        area_ids=plr,
        variables=variables,
        year=2022,
        id_column="PLR-ID",
        level_name="Planungsraum",
    )
    assert len(frame) == 542 * 11 and frame["value"].notna().all()
    table = frame.pivot(index="area_id", columns="variable", values="value")
    ages = ["unter6", "6-15", "15-18", "18-27", "27-45", "45-55", "55-65", "65undmehr"]
    assert (table[ages].sum(axis=1) == table["Gesamt"]).all()
    assert (table["Gesamt"] == 0).sum() == 2  # the two Planungsräume without residents
    assert table.loc["01100101", "Gesamt"] == 3503


@pytest.mark.slow
def test_a_million_rows_read_completely(tmp_path: Path) -> None:
    """11,000 areas x 20 variables x 5 years in long form are read without losing a row."""
    areas = [f"{i:08d}" for i in range(11_000)]
    variables = [f"v{j:02d}" for j in range(20)]
    frame = pd.DataFrame(
        {
            "area_id": np.repeat(areas, 100),
            "year": np.tile(np.arange(2019, 2024), 220_000),
            "variable": np.tile(np.repeat(variables, 5), 11_000),
            "value": np.random.default_rng(1).integers(0, 5000, 1_100_000),
        }
    )
    path = tmp_path / "counts.csv"
    frame.to_csv(path, index=False)
    counts = read_counts(path, area_ids=areas, variables=variables)
    assert len(counts) == 1_100_000 and counts["value"].sum() == frame["value"].sum()


# --------------------------------------------------------------------------- Excel's sep= line


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_excel_sep_line_sets_the_separator(tmp_path: Path, newline: str, bom: str) -> None:
    """A first line `sep=;` (German Excel) names the separator, with any BOM and line ending."""
    text = bom + "sep=;\narea_id;year;variable;value\n05;2022;einwohner;1.200\n"
    assert values(read(write(tmp_path, text, newline=newline))) == {
        ("05", 2022, "einwohner"): 1200
    }


def test_excel_sep_line_keeps_the_files_line_numbers(tmp_path: Path) -> None:
    """After a sep= line, the header is line 2 and data problems name the file's real lines."""
    text = "sep=,\r\narea_id,year,variable,value,Bemerkung\r\n05,2022,einwohner,1,\r\n"
    text += "99,2022,einwohner,1,\r\n05,2022,einwohner,2,\r\n"
    assert problems(write(tmp_path, text)) == [
        "counts.csv line 2: unexpected column 'Bemerkung' (long form: area_id, year, variable, "
        "value; a 'name' column is ignored)",
        "counts.csv line 4: area '99' is not a Quartier of this geography",
        "counts.csv line 5: duplicate of line 3 (area '05', year 2022, variable 'einwohner')",
    ]


def test_excel_sep_line_with_a_tab_and_quotes(tmp_path: Path) -> None:
    """`"sep=\t"` (quoted, a tab) is understood as well."""
    text = '"sep=\t"\narea_id\tyear\tvariable\tvalue\n05\t2022\teinwohner\t7\n'
    assert values(read(write(tmp_path, text))) == {("05", 2022, "einwohner"): 7}


def test_excel_sep_line_with_an_unusable_separator(tmp_path: Path) -> None:
    """`sep=x` names no separator Quartier can use: line 1 says so."""
    with pytest.raises(CountsError, match="counts.csv line 1: 'sep=x' names no separator"):
        read(write(tmp_path, "sep=x\narea_idxyear\n"))


def test_excel_sep_line_alone_is_an_empty_file(tmp_path: Path) -> None:
    """A file with only `sep=;` is empty."""
    with pytest.raises(CountsError, match="counts.csv: the file is empty"):
        read(write(tmp_path, "sep=;\r\n"))


def test_header_problems_after_a_sep_line_name_line_2(tmp_path: Path) -> None:
    """The header-only problem names the header's own line."""
    assert problems(write(tmp_path, "sep=;\narea_id;year;variable;value\n")) == [
        "counts.csv line 2: the file has a header but no data rows"
    ]


# --------------------------------------------------------------------------- hostile files


def test_nul_byte_is_refused_with_its_line(tmp_path: Path) -> None:
    """A NUL byte (binary file, UTF-16 without BOM) is refused naming its line."""
    path = tmp_path / "counts.csv"
    path.write_bytes(b"area_id,year,variable,value\r\n05,2022,einwohner,1\r\n05,20\x0022,x,1\r\n")
    with pytest.raises(CountsError, match=r"^counts.csv line 3: holds a NUL byte"):
        read(path)


def test_utf16_without_bom_is_refused_on_line_1(tmp_path: Path) -> None:
    """UTF-16 without BOM has a NUL in every ASCII character: refused at once."""
    path = write(tmp_path, LONG, encoding="utf-16-le")
    with pytest.raises(CountsError, match="counts.csv line 1: holds a NUL byte.*UTF-16"):
        read(path)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_overlong_line_is_refused_naming_file_and_line(tmp_path: Path, newline: str) -> None:
    """A line longer than max_line_bytes is refused with its line number."""
    text = LONG + "05,2022,einwohner," + "9" * 500 + "\n"
    with pytest.raises(CountsError, match=r"^counts.csv line 6: is longer than 100 bytes"):
        read(write(tmp_path, text, newline=newline), max_line_bytes=100)


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    """A file larger than max_bytes is refused before it is parsed."""
    with pytest.raises(CountsError, match=r"^counts.csv: the file has 118 bytes, more than the "
                                          r"limit of 100"):
        read(write(tmp_path, LONG), max_bytes=100)


def test_line_numbers_of_refusals_hold_across_chunks() -> None:
    """The line scanner counts \\n, \\r\\n and \\r as one line each, wherever chunks split."""
    from geo.inputs.counts.source import _Lines

    text = b"a\r\nbb\rccc\n\r\n" + b"d" * 40 + b"\r\nee\n"
    for cut in range(1, len(text)):
        lines = _Lines("counts.csv", limit=10)
        with pytest.raises(CountsError, match="^counts.csv line 5: is longer than 10 bytes"):
            lines.feed(text[:cut])
            lines.feed(text[cut:])


def test_a_line_with_huge_numbers_of_fields_is_refused(tmp_path: Path) -> None:
    """One line of 70,000 fields beside 1,000 lines is refused before pandas makes 70M cells."""
    text = "area_id,year,variable,value\n" + "," * 70_000 + "\n" + "\n" * 1000
    with pytest.raises(CountsError, match=r"^counts.csv line 2: has 70,001 fields \(the header "
                                          "has 4\\): too many to read"):
        read(write(tmp_path, text))


def _peak_bytes(call: object) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(CountsError) as err:
            call()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1], str(err.value)  # type: ignore[return-value]
    finally:
        tracemalloc.stop()


def _single_line(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.write(b"area_id,year,variable,value,")
        block = b"1234567," * 2**17
        for _ in range(size // len(block)):
            handle.write(block)
    return path


def test_200_mb_single_line_is_refused_in_small_memory(tmp_path: Path) -> None:
    """A ~200 MB file of one line is refused while Python's peak memory stays under 8 MB."""
    path = _single_line(tmp_path / "counts.csv", 200 * 2**20)
    peak, message = _peak_bytes(lambda: read(path))
    assert message.startswith("counts.csv line 1: is longer than 1,048,576 bytes")
    assert peak < 8 * 2**20


def test_200_mb_file_over_the_size_limit_is_refused_in_small_memory(tmp_path: Path) -> None:
    """Over max_bytes the size alone refuses the file, before anything is read."""
    path = _single_line(tmp_path / "counts.csv", 200 * 2**20)
    peak, message = _peak_bytes(lambda: read(path, max_bytes=100 * 2**20))
    assert message.startswith("counts.csv: the file has 209,715,228 bytes, more than the limit")
    assert peak < 2**20


_PIECES = ["area_id", "year", "variable", "value", "einwohner", "05", "99", "2022", "1.234",
           "-", "–", "x", "…", "1e9", "9" * 30, "-7", "3,5", '"', ";", ",", "\t", "\n", "\r",
           "\r\n", "sep=;", "\ufeff", "\x00", "ä", "=1+2", "<b>"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=40), raw=st.binary(max_size=60),
       encoding=st.sampled_from(["utf-8", "cp1252", "raw"]))
def test_any_input_reads_or_raises_counts_error(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[str], raw: bytes, encoding: str
) -> None:
    """Whatever the bytes, read_counts returns a frame or raises CountsError, nothing else."""
    text = "".join(pieces)
    data = raw if encoding == "raw" else text.encode(encoding, errors="replace")
    path = tmp_path_factory.mktemp("fuzz") / "counts.csv"
    path.write_bytes(data)
    try:
        frame = read(path, year=2022)
    except CountsError as exc:
        assert str(exc).startswith("counts.csv") or str(exc).startswith(str(path))
    else:
        assert list(frame.columns) == ["area_id", "year", "variable", "value"]


def test_control_characters_of_a_cell_are_escaped_in_messages(tmp_path: Path) -> None:
    """An area id holding an ANSI escape is echoed as \\x1b, not as a terminal command."""
    found = problems(write(tmp_path, "area_id,year,variable,value\n\x1b[2J,2022,einwohner,1\n"))
    assert found == ["counts.csv line 2: area '\\x1b[2J' is not a Quartier of this geography"]
