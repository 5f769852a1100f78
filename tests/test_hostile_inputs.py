"""Hostile inputs: `quartier check` and `build` answer every broken input with an error, never a
traceback.

Each case breaks one file of a small, valid geography (tests/conftest.py) and runs the real
command line (``service.cli.main``, the ``quartier`` entry point) on it. It must exit non-zero
with an error naming the file and the line or key, and print no traceback; an exception that
escapes ``main`` fails the test with its traceback. Two cases run ``python -m service.cli`` in
a subprocess, as a user would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest

from service.cli import main

ROOT = Path(__file__).resolve().parents[1]
Break = Callable[[Path], None]


def _replace(name: str, old: str, new: str) -> Break:
    def apply(folder: Path) -> None:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def _append(name: str, text: str) -> Break:
    def apply(folder: Path) -> None:
        with (folder / name).open("a", encoding="utf-8") as handle:
            handle.write(text)

    return apply


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _toml(data: dict) -> str:
    """Write parsed TOML back: scalars first, then arrays of tables ([[levels]])."""
    def is_tables(value: object) -> bool:
        return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)

    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not is_tables(v)]
    for key, tables in data.items():
        if is_tables(tables):
            for table in tables:
                lines += [f"\n[[{key}]]", *(f"{k} = {_toml_value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


def _edit(name: str, change: Callable[[dict], None]) -> Break:
    """Parse a TOML file, change it as data, write it back."""

    def apply(folder: Path) -> None:
        path = folder / name
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(_toml(data), encoding="utf-8")

    return apply


def _put(*keys: str | int, value: object) -> Callable[[dict], None]:
    """Set ``data[k1][k2]...`` to ``value``."""

    def change(data: dict) -> None:
        target: object = data
        for key in keys[:-1]:
            target = target[key]  # type: ignore[index]
        target[keys[-1]] = value  # type: ignore[index]

    return change


def _bytes(name: str, data: bytes) -> Break:
    def apply(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return apply


def _transform(name: str, change: Callable[[bytes], bytes]) -> Break:
    def apply(folder: Path) -> None:
        path = folder / name
        path.write_bytes(change(path.read_bytes()))

    return apply


def _folder_instead(name: str) -> Break:
    def apply(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    return apply


def _remove(name: str) -> Break:
    def apply(folder: Path) -> None:
        (folder / name).unlink()

    return apply


def _features(change: Callable[[list[dict]], None], *, crs: bool = True) -> Break:
    """Change the features of quartiere.geojson (and drop its 'crs' member with crs=False)."""

    def apply(folder: Path) -> None:
        path = folder / "quartiere.geojson"
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data["features"])
        if not crs:
            del data["crs"]
        path.write_text(json.dumps(data), encoding="utf-8")

    return apply


def _set(index: int, key: str, value: object) -> Callable[[list[dict]], None]:
    def change(features: list[dict]) -> None:
        target = features[index]["properties"] if key.isupper() else features[index]
        target[key] = value

    return change


def _boundary_as(suffix: str, write: Callable[[gpd.GeoDataFrame, Path], None]) -> Break:
    """Rewrite the Quartiere in another format and point the manifest at it."""

    def apply(folder: Path) -> None:
        frame = gpd.read_file(folder / "quartiere.geojson")
        write(frame, folder / f"q{suffix}")
        _replace("geography.toml", 'file = "quartiere.geojson"', f'file = "q{suffix}"')(folder)

    return apply


def _shapefile_without(extension: str) -> Break:
    def write(frame: gpd.GeoDataFrame, path: Path) -> None:
        frame.to_file(path)
        path.with_suffix(extension).unlink()

    return _boundary_as(".shp", write)


def _zip_without_shapefile(frame: gpd.GeoDataFrame, path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("LIESMICH.txt", "Quartiere, siehe Shapefile")


def _empty_layer(frame: gpd.GeoDataFrame, path: Path) -> None:
    frame.iloc[:0].to_file(path, layer="quartiere")


def _table_without_geometry(frame: gpd.GeoDataFrame, path: Path) -> None:
    import pyogrio

    pyogrio.write_dataframe(frame.drop(columns="geometry"), path, layer="quartiere")


SQUARE = [[360000, 5680000], [362000, 5680000], [362000, 5682000], [360000, 5682000],
          [360000, 5680000]]

# name -> (how the input is broken, what the error must say: file, line or key, what is wrong)
MANIFEST_CASES: dict[str, tuple[Break, str]] = {
    "manifest missing": (_remove("geography.toml"), r"no geography.toml in"),
    "manifest empty": (_bytes("geography.toml", b""), r"'levels' is missing"),
    "manifest binary": (_bytes("geography.toml", b"\x00\xff\xfe\x9c garbage"),
                        r"geography.toml: not (valid TOML|UTF-8 text)"),
    "manifest latin-1": (_transform("geography.toml",
                                    lambda b: b.decode().encode("latin-1")),
                         r"geography.toml: not UTF-8 text \(byte \d+\)"),
    "manifest truncated": (_transform("geography.toml", lambda b: b[:20]),
                           r"geography.toml: not valid TOML: Unterminated string"),
    "manifest syntax": (_append("geography.toml", "[[levels]\n"),
                        r"geography.toml: not valid TOML: .*line \d+"),
    "manifest nested": (_append("geography.toml", "x = " + "[" * 50_000 + "]" * 50_000),
                        r"geography.toml: not valid TOML: nested too deeply"),
    "manifest is a folder": (_folder_instead("geography.toml"),
                             r"cannot read geography.toml: Is a directory"),
    "id escapes": (_replace("geography.toml", 'id = "mini"', 'id = "../escaped"'),
                   r"geography.toml: 'id' '\.\./escaped' is not a valid id"),
    "id formula": (_replace("geography.toml", 'id = "mini"', 'id = "=1+2"'),
                   r"'id' '=1\+2' is not a valid id"),
    "level id html": (_replace("geography.toml", 'id = "quartier"', 'id = "<b>q</b>"'),
                      r"levels\[1\]: 'id' '<b>q</b>' is not a valid id"),
    "total_id html": (_replace("geography.toml", 'total_id = "mini"', 'total_id = "<i>"'),
                      r"'total_id' '<i>' is not a valid id"),
    "unknown key": (_replace("geography.toml", "[[levels]]", 'colour = "red"\n[[levels]]'),
                    r"geography.toml: unknown key 'colour'"),
    "file outside": (_replace("geography.toml", 'file = "quartiere.geojson"',
                              'file = "../../etc/passwd"'),
                     r"'file' '\.\./\.\./etc/passwd' lies outside the geography folder"),
    "levels a string": (_transform("geography.toml", lambda b: b.split(b"[[levels]]")[0]
                                   + b'levels = "quartier"\n'),
                        r"'levels' is missing \(give at least one \[\[levels\]\] table\)"),
    "level a number": (_transform("geography.toml", lambda b: b.split(b"[[levels]]")[0]
                                  + b"levels = [1]\n"),
                       r"levels\[0\]: must be a table"),
}
# every key of the manifest with a value of the wrong type
for _key, _bad in [("id", 5), ("name", 5), ("attribution", []), ("total_id", True),
                   ("total_name", {}), ("notice", 1), ("description", 2), ("source", 3.5)]:
    MANIFEST_CASES[f"manifest {_key} of wrong type"] = (
        _edit("geography.toml", _put(_key, value=_bad)), rf"geography.toml: '{_key}' must be")
for _key, _bad in [("id", 1), ("name", 1), ("file", 1), ("key", 1), ("label", []),
                   ("parent_prefix", "1"), ("crs", 25832), ("layer", 1), ("where", 1.5),
                   ("parent", False)]:
    MANIFEST_CASES[f"level {_key} of wrong type"] = (
        _edit("geography.toml", _put("levels", 1, _key, value=_bad)),
        rf"geography.toml: levels\[1\]( 'quartier')?: '{_key}' must be")
MANIFEST_CASES["level names of wrong type"] = (
    _replace("geography.toml", 'names = { "1" = "Nord", "2" = "Süd" }', 'names = ["Nord"]'),
    r"levels\[0\] 'stadtbezirk': 'names' must be a table")

BOUNDARY_CASES: dict[str, tuple[Break, str]] = {
    "file missing": (_remove("quartiere.geojson"), r"quartiere.geojson: file not found"),
    "file empty": (_bytes("quartiere.geojson", b""), r"quartiere.geojson: cannot read the file"),
    "file binary": (_bytes("quartiere.geojson", bytes(range(256)) * 8),
                    r"quartiere.geojson: cannot read the file"),
    "file truncated": (_transform("quartiere.geojson", lambda b: b[: len(b) // 2]),
                       r"quartiere.geojson: cannot read the file"),
    "file utf-16": (_transform("quartiere.geojson", lambda b: b.decode().encode("utf-16")),
                    r"quartiere.geojson: cannot read the file"),
    "file is a folder": (_folder_instead("quartiere.geojson"),
                         r"quartiere.geojson: cannot read the file"),
    "zip without shapefile": (_boundary_as(".zip", _zip_without_shapefile),
                              r"q.zip: cannot read the file: the zip must hold exactly one"),
    "zip corrupt": (_boundary_as(".zip", lambda f, p: p.write_bytes(b"PK\x03\x04" + b"x" * 99)),
                    r"q.zip: cannot read the file: File is not a zip file"),
    "shapefile without prj": (_shapefile_without(".prj"),
                              r"q.shp: the file has no CRS; set 'crs' for level 'quartier'"),
    "shapefile without shx": (_shapefile_without(".shx"), r"q.shp: cannot read the file"),
    "shapefile without dbf": (_shapefile_without(".dbf"), r"q.shp: field 'QUARTIER' is missing"),
    "empty layer": (_boundary_as(".gpkg", _empty_layer), r"q.gpkg: no features"),
    "table without geometry": (_boundary_as(".gpkg", _table_without_geometry),
                               r"q.gpkg: the layer has no geometry"),
    "no features": (_features(lambda f: f.clear()), r"quartiere.geojson: field 'QUARTIER' is "
                                                    r"missing \(fields: none\)"),
    "null geometry": (_features(_set(0, "geometry", None)),
                      r"quartiere.geojson, feature 0, key '10': feature has no geometry"),
    "point geometry": (_features(_set(1, "geometry", {"type": "Point",
                                                      "coordinates": [360000, 5680000]})),
                       r"feature 1, key '11': geometry is a Point, not a Polygon"),
    "collapsed polygon": (_features(_set(2, "geometry", {
        "type": "Polygon", "coordinates": [[[360000, 5680000]] * 4]})),
        r"feature 2, key '12': invalid geometry .* cannot be repaired"),
    "duplicate keys": (_features(_set(1, "QUARTIER", "10")),
                       r"key '10': duplicate key in field 'QUARTIER' \(features 0, 1\)"),
    "empty key": (_features(_set(1, "QUARTIER", None)),
                  r"quartiere.geojson, feature 1: empty key in field 'QUARTIER'"),
    "projected without crs": (_features(lambda f: None, crs=False),
                              r"quartiere.geojson: coordinates from \(360000, 5680000\) .* "
                              r"outside ±180/±90.*crs = \"EPSG:25832\""),
    "impossible coordinates": (_features(_set(4, "geometry", {
        "type": "Polygon", "coordinates": [[[c * 1e300 for c in xy] for xy in SQUARE]]})),
        r"feature 4, key '21': coordinates .* are impossible in EPSG:25832"),
    "lon/lat as utm": (_features(lambda f: [_set(i, "geometry", {
        "type": "Polygon", "coordinates": [[[7.1 + x / 1e6, 51.2 + y / 1e8] for x, y in SQUARE]]
    })(f) for i in range(len(f))]),
        r"quartiere.geojson: the features lie at .* far outside where EPSG:25832 is used"),
    "crs unknown": (_append("geography.toml", 'crs = "EPSG:999999"\n'),
                    r"levels\[1\] 'quartier': 'crs' 'EPSG:999999' is not a known CRS"),
    "where broken": (_append("geography.toml", 'where = "QUARTIER = ((("\n'),
                     r"quartiere.geojson: cannot read the file: Invalid SQL"),
}

CATALOGUE_CASES: dict[str, tuple[Break, str]] = {
    "catalogue missing": (_remove("indicators.toml"), r"indicators.toml: indicator catalogue "
                                                      r"not found"),
    "catalogue empty": (_bytes("indicators.toml", b""),
                        r"indicators.toml: no \[\[variables\]\] declared"),
    "catalogue binary": (_bytes("indicators.toml", b"\xff\xfe\x00\x01"),
                         r"indicators.toml: not (valid TOML|UTF-8 text)"),
    "catalogue latin-1": (_transform("indicators.toml", lambda b: b.decode().encode("latin-1")),
                          r"indicators.toml: not UTF-8 text \(byte \d+\)"),
    "catalogue syntax": (_append("indicators.toml", "[[variables]\n"),
                         r"indicators.toml: not valid TOML: .*line \d+"),
    "catalogue nested": (_append("indicators.toml", "themes = " + "[" * 50_000),
                         r"indicators.toml: not valid TOML"),
    "catalogue is a folder": (_folder_instead("indicators.toml"),
                              r"cannot read the indicator catalogue: .*Is a directory"),
    "indicator id formula and html": (
        _replace("indicators.toml", 'id = "sgb2_quote"', 'id = "=1+2<b>x"'),
        r"indicators\[2\] '=1\+2<b>x': 'id' '=1\+2<b>x' is not a valid id"),
    "variable id with a slash": (_replace("indicators.toml", 'id = "sgb2"', 'id = "a/b"'),
                                 r"variables\[3\] 'a/b': 'id' 'a/b' is not a valid id"),
    "duplicate variable": (_replace("indicators.toml", 'id = "sgb2"', 'id = "einwohner"'),
                           r"variables\[3\] 'einwohner': duplicate id"),
    "unknown top-level key": (_edit("indicators.toml", _put("farbe", value="rot")),
                              r"unknown top-level key 'farbe'"),
    "themes of wrong type": (_transform("indicators.toml", lambda b: b"themes = 3\n" + b),
                             r"'themes' must be a list of theme names"),
    "variables a table": (_bytes("indicators.toml", b'[variables]\nid = "x"\n'),
                          r"'variables' must be an array of tables"),
    "sum parts of wrong type": (_append("indicators.toml",
                                        '[[sums]]\ntotal = "einwohner"\nparts = [1, 2]\n'),
                                r"sums\[1\] 'einwohner': parts must be a list of variable ids"),
    "sum total of wrong type": (_append("indicators.toml",
                                        '[[sums]]\ntotal = 1\nparts = ["sgb2", "auslaender"]\n'),
                                r"sums\[1\]: 'total' must be str, found 1"),
}
for _key, _bad in [("id", 7), ("name", []), ("sensitive", "no"), ("source", 1),
                   ("definition", True), ("estimate", "yes"), ("year_note", 2023)]:
    CATALOGUE_CASES[f"variable {_key} of wrong type"] = (
        _edit("indicators.toml", _put("variables", 2, _key, value=_bad)),
        rf"indicators.toml: .*variables\[3\].*: '{_key}' must be")
for _key, _bad in [("id", 1), ("name", 2), ("theme", []), ("numerator", 3),
                   ("denominator", {}), ("per", "100"), ("unit", 0), ("kind", 1),
                   ("description", False)]:
    CATALOGUE_CASES[f"indicator {_key} of wrong type"] = (
        _edit("indicators.toml", _put("indicators", 0, _key, value=_bad)),
        rf"indicators.toml: .*indicators\[1\].*: '{_key}' must be")
CATALOGUE_CASES |= {
    "periods of wrong type": (_transform("indicators.toml", lambda b: b'periods = "x"\n' + b),
                              r"'periods' must be an array of tables \(\[\[periods\]\]\)"),
    "period reversed": (_append("indicators.toml", "[[periods]]\nfirst = 2023\nlast = 2021\n"),
                        r"periods\[1\] '2023-2021': expected 1900 <= first < last <= 2100"),
    "period variables of wrong type": (
        _append("indicators.toml", '[[periods]]\nfirst = 2021\nlast = 2022\nvariables = [3]\n'),
        r"periods\[1\] '2021-2022': 'variables' must be a non-empty list of variable ids"),
}
CATALOGUE_CASES["indicator per infinite"] = (_replace("indicators.toml", "per = 100", "per = inf"),
                                             r"indicators\[1\].*per must be a positive number")

_HEADER = "area_id,year,variable,value\n"
COUNTS_CASES: dict[str, tuple[Break, str]] = {
    "counts missing": (_remove("counts.csv"), r"counts.csv: cannot read the counts file: No such"),
    "counts empty": (_bytes("counts.csv", b""), r"counts.csv: the file is empty"),
    "counts binary": (_bytes("counts.csv", bytes(range(256)) * 4),
                      r"counts.csv line 1: holds a NUL byte"),
    "counts NUL": (_transform("counts.csv", lambda b: b.replace(b"1200", b"12\x0000")),
                   r"counts.csv line 2: holds a NUL byte"),
    "counts utf-16": (_transform("counts.csv", lambda b: b.decode().encode("utf-16")),
                      r"counts.csv: the file is UTF-16"),
    "counts utf-16 without BOM": (_transform("counts.csv",
                                             lambda b: b.decode().encode("utf-16-le")),
                                  r"counts.csv line 1: holds a NUL byte.*UTF-16"),
    "counts neither utf-8 nor cp1252": (_transform("counts.csv", lambda b: b + b"\x81\x8d\n"),
                                        r"counts.csv: the file is neither UTF-8 nor "
                                        r"Windows-1252"),
    "counts is a folder": (_folder_instead("counts.csv"), r"counts.csv: cannot read the counts "
                                                          r"file: Is a directory"),
    "counts header only": (_bytes("counts.csv", _HEADER.encode()),
                           r"counts.csv line 1: the file has a header but no data rows"),
    "counts truncated": (_transform("counts.csv", lambda b: b[: b.index(b"\n", 40) + 6]),
                         r"counts.csv line 3: has fewer fields than the header \(4\)"),
    "counts unclosed quote": (_transform("counts.csv", lambda b: b.replace(b"\n10,", b'\n"10,')),
                              r"counts.csv: cannot read as CSV"),
    "counts enormous number": (_transform("counts.csv", lambda b: b.replace(b"1200", b"9" * 400)),
                               r"counts.csv line 2: value for 'einwohner' is larger than "
                               r"100,000,000"),
    "counts negative": (_transform("counts.csv", lambda b: b.replace(b"1200", b"-1200")),
                        r"counts.csv line 2: value '-1200' for 'einwohner' is negative"),
    "counts decimal": (_transform("counts.csv", lambda b: b.replace(b"1200", b"12.5")),
                       r"counts.csv line 2: value '12.5' for 'einwohner' is not a whole number"),
    "counts unknown area": (_append("counts.csv", "99,2023,einwohner,5\n"),
                            r"counts.csv line 17: area '99' is not a quartier"),
    "counts formula area": (_append("counts.csv", "=1+2,2023,einwohner,5\n"),
                            r"counts.csv line 17: area '=1\+2' is not a quartier"),
    "counts unknown variable": (_append("counts.csv", "10,2023,<b>x</b>,5\n"),
                                r"counts.csv line 17: variable '<b>x</b>' is not in the "
                                r"catalogue"),
    "counts duplicate": (_append("counts.csv", "10,2023,einwohner,5\n"),
                         r"counts.csv line 17: duplicate of line 2"),
    "counts year nonsense": (_append("counts.csv", "10,99999999999999999999,einwohner,5\n"),
                             r"counts.csv line 17: year '99999999999999999999' is not a year"),
    "counts bad sep line": (_transform("counts.csv", lambda b: b"sep=7\r\n" + b),
                            r"counts.csv line 1: 'sep=7' names no separator"),
    "counts overlong line": (_transform("counts.csv", lambda b: b + b"1" * (2**20 + 10)),
                             r"counts.csv line 17: is longer than 1,048,576 bytes"),
}
EXPECTED = {**MANIFEST_CASES, **BOUNDARY_CASES, **CATALOGUE_CASES, **COUNTS_CASES}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `quartier ARGS` in-process; any exception escaping it fails the test with its trace."""
    code = main(args)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    return code, text


def _error_text(text: str) -> str:
    """The error part of the output: `error:` lines of a report, or the `Fehler` paragraph."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if line.startswith(("error:", "Fehler / error:"))), None)
    assert start is not None, text
    return "\n".join(line for line in lines[start:] if "step/s" not in line)


@pytest.mark.parametrize("case", [*MANIFEST_CASES, *BOUNDARY_CASES])
def test_check_refuses_broken_geography(
    case: str, small_geography: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`quartier check` reports a broken manifest or boundary file with file, key and reason."""
    breaking, expected = EXPECTED[case]
    breaking(small_geography)
    code, text = _run(["check", str(small_geography)], capsys)
    assert code == 1
    assert re.search(expected, _error_text(text)), text


@pytest.mark.parametrize("case", list(EXPECTED))
def test_build_refuses_broken_input(
    case: str, small_geography: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`quartier build` refuses every broken input with exit 2, one error, nothing written."""
    breaking, expected = EXPECTED[case]
    breaking(small_geography)
    out = tmp_path / "data" / "mini"
    code, text = _run(["build", str(small_geography), "--out", str(out)], capsys)
    assert code == 2
    error = _error_text(text)
    assert re.search(expected, error, flags=re.IGNORECASE), error
    assert not out.exists()


@pytest.mark.parametrize("args, expected", [
    (["--out", "{tmp}/afile"], r"afile exists and is not a folder"),
    (["--out", "/"], r"name the build folder itself, not the root"),
    (["--out", "{tmp}/folder"], r"exists and is not a Quartier build; refusing to replace it"),
    (["--protection", str(10**20)], r"protection must be at most 100,000,000"),
    (["--min-count", "0"], r"min_count must be at least 1"),
    (["--year", "0"], r"counts.csv: year=0 is not a year"),
    (["--counts", "{tmp}/folder"], r"cannot read the counts file: Is a directory"),
    (["--indicators", "{tmp}/afile"], r"afile: no \[\[variables\]\] declared|not valid TOML"),
    (["--id-column", "<b>"], r"counts.csv line 1: id column '<b>' is not in the header"),
])
def test_build_refuses_bad_arguments(
    args: list[str], expected: str, small_geography: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bad options are errors naming the option or file, with exit 2."""
    (tmp_path / "afile").write_text("kein TOML [")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("keep")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "data" / "mini")]
    code, text = _run(["build", str(small_geography), *args], capsys)
    assert code == 2
    assert re.search(expected, _error_text(text)), text


@pytest.mark.parametrize("target", ["afile", "missing"])
def test_check_and_build_of_a_non_folder(
    target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file or a missing path given as the geography folder is an error, not a traceback."""
    (tmp_path / "afile").write_text("x")
    code, text = _run(["check", str(tmp_path / target)], capsys)
    assert code == 1 and re.search(r"is a file, not a geography folder|no geography.toml", text)
    code, text = _run(["build", str(tmp_path / target), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "Fehler / error:" in text


def test_formula_keys_in_a_boundary_file_are_only_warned_about(
    small_geography: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Area keys are the city's: '=1+2' loads, with a warning that names the feature."""
    _features(_set(4, "QUARTIER", "+21"))(small_geography)
    code, text = _run(["check", str(small_geography)], capsys)
    assert code == 0
    assert "warning: quartiere.geojson, feature 4, key '+21': key starts with = + - @" in text


@pytest.mark.parametrize("name", ["geography.toml", "quartiere.geojson", "indicators.toml",
                                  "counts.csv"])
def test_unreadable_file(
    name: str, small_geography: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that cannot be read (a folder in its place: unreadable even for root, who
    reads files whatever their permissions) is an error naming it."""
    (small_geography / name).unlink()
    (small_geography / name).mkdir()
    code, text = _run(["build", str(small_geography), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and name in _error_text(text)


@pytest.mark.parametrize("name, reader", [
    ("geography.toml", "geography.toml: cannot read geography.toml: Permission denied"),
    ("indicators.toml", "cannot read the indicator catalogue: [Errno 13] Permission denied"),
    ("counts.csv", "counts.csv: cannot read the counts file: Permission denied"),
])
def test_permission_denied_is_an_error(
    name: str, reader: str, small_geography: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Permission denied (simulated: tests may run as root) is an error naming the file."""
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object) -> object:
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", denied)
    code, text = _run(["build", str(small_geography), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and reader in _error_text(text)


def _quartier(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_real_process_check_of_projected_geojson_without_crs(small_geography: Path) -> None:
    """`python -m service.cli check`: the issue's GEOS traceback is now one error with the fix."""
    _features(lambda f: None, crs=False)(small_geography)
    result = _quartier("check", str(small_geography))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "a GeoJSON without a 'crs' member is WGS84" in result.stdout


def test_real_process_build_of_binary_counts(small_geography: Path, tmp_path: Path) -> None:
    """`python -m service.cli build` with a binary counts file: exit 2, one error, no trace."""
    (small_geography / "counts.csv").write_bytes(os.urandom(4096) + b"\0")
    result = _quartier("build", str(small_geography), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.search(r"Fehler / error: counts.csv(:| line \d+:) ", result.stderr)
