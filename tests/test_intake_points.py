"""Points counted per area: each point once, the border rule, outside and bad rows reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.inputs.intake.points import assign_points
from tests.conftest import BERLIN, quartier


def _counts(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"area_id": str})


def _random_points(zones: Any, n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    b = shapely.total_bounds(zones.geoms)
    rng = np.random.default_rng(seed)
    return rng.uniform(b[0] - 500, b[2] + 500, n), rng.uniform(b[1] - 500, b[3] + 500, n)


def test_each_area_counts_the_points_inside_it(berlin_zones: Any) -> None:
    """Random points: the area found is the one whose interior holds the point (brute force)."""
    x, y = _random_points(berlin_zones, 20_000)
    found = assign_points(x, y, berlin_zones.geoms)
    points = shapely.points(x, y)
    expected = np.full(len(x), -1)
    for i, geom in enumerate(berlin_zones.geoms):
        expected[shapely.contains(geom, points) & (expected < 0)] = i
    assert (found == expected).all()
    assert (found >= 0).sum() > 5_000 and (found < 0).sum() > 1_000


def test_border_points_count_once_in_the_smallest_area_id(berlin_zones: Any) -> None:
    """Vertices on shared borders go to the smallest area_id among the areas touching them."""
    geoms = berlin_zones.geoms
    xy = np.unique(shapely.get_coordinates(shapely.boundary(geoms)), axis=0)
    found = assign_points(xy[:, 0], xy[:, 1], geoms)
    points = shapely.points(xy[:, 0], xy[:, 1])
    touching = np.array([shapely.intersects(g, points) for g in geoms])  # areas x points
    shared = touching.sum(axis=0) >= 2
    assert shared.sum() > 1000
    assert (found >= 0).all()
    assert (found[shared] == np.argmax(touching[:, shared], axis=0)).all()


def test_lookup_grid_agrees_with_the_exact_test_everywhere(small_geography: Path) -> None:
    """Points on the 2 km squares' edges and corners: the smallest key wins, nothing is lost."""
    from geo.inputs.intake.zones import load_zones

    zones = load_zones(small_geography)
    x = np.array([362000.0, 362000.0, 362000.0, 361000.0, 364000.0, 366000.0, 359999.0])
    y = np.array([5681000.0, 5682000.0, 5683000.0, 5682000.0, 5682000.0, 5681000.0, 5681000.0])
    found = zones.ids[assign_points(x, y, zones.geoms)[:6]].tolist()
    assert found == ["10", "10", "20", "10", "11", "12"]
    assert assign_points(x, y, zones.geoms)[6] == -1


def _write_points(path: Path, rows: list[str], header: str = "Name;Art;Rechtswert;Hochwert",
                  encoding: str = "cp1252") -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def test_cli_counts_reports_outside_and_bad_rows(small_geography: Path, tmp_path: Path) -> None:
    """`;`, decimal comma, cp1252: outside points and a bad row are named by line, not lost."""
    rows = [
        "Grundschule Nord;Schule;361000,5;5681000,25",  # line 2: Quartier 10
        "Kita Süd;Kita;362000;5681000",  # 3: border 10|11 -> 10
        "Draußen;Kita;390000;5681000",  # 4: outside
        "Weit weg;Schule;100;200",  # 5: outside
        "Ohne;Schule;;5681000",  # 6: no coordinate
        "Kaputt;Schule;36x000;5681000",  # 7: not a number
        "Eckbusch;Kita;363500;5683500",  # 8: Quartier 21
    ]
    points = _write_points(tmp_path / "einrichtungen.csv", rows)
    out = tmp_path / "out" / "einrichtungen_counts.csv"
    code, stdout, stderr = quartier("intake", "points", points, "--geography", small_geography,
                                    "--variable", "einrichtungen", "--year", "2024",
                                    "--crs", "EPSG:25832", "--out", out)
    assert code == 0, stderr
    assert "2 Punkte außerhalb der Geografie (Zeilen 4, 5)" in stderr
    assert "1 Zeile ohne Koordinaten (Zeile 6)" in stderr
    assert "(Zeile 7)" in stderr and "keine Zahlen" in stderr
    counts = _counts(out).set_index("area_id")["value"]
    assert counts.to_dict() == {"10": 2, "11": 0, "12": 0, "20": 0, "21": 1}
    provenance = json.loads(out.with_name(out.name + ".provenance.json").read_text("utf-8"))
    assert provenance["dropped"]["outside"] == {
        "what": "Punkte außerhalb der Geografie", "count": 2, "unit": "Zeilen", "first": [4, 5]}
    assert provenance["dropped"]["unparsable"]["first"] == [7]
    assert provenance["inputs"][0]["sha256"].startswith("sha256:")
    assert provenance["crs"]["computation"].startswith("EPSG:25832")
    assert provenance["command"].startswith("quartier intake points")
    assert "count" not in json.dumps(provenance["variables"]).replace('"count"', "")


def test_quoted_field_across_lines_keeps_line_numbers(small_geography: Path,
                                                      tmp_path: Path) -> None:
    """A quoted name spanning two lines: the bad row after it is named by its real line."""
    rows = ['"Kita\nam Markt";a;361000;5681000', "Zweite;b;361000;abc"]
    points = _write_points(tmp_path / "p.csv", rows, encoding="utf-8")
    code, _, stderr = quartier("intake", "points", points, "--geography", small_geography,
                               "--variable", "p", "--year", "2024", "--crs", "EPSG:25832",
                               "--out", tmp_path / "o.csv")
    assert code == 0, stderr
    assert "keine Zahlen" in stderr and "(Zeile 4)" in stderr


def test_group_where_and_year_column(small_geography: Path, tmp_path: Path) -> None:
    """--group-column writes <ID>_<value>; --where selects; --year-column gives each year."""
    header = "x,y,art,jahr,traeger"
    rows = ["361000.5,5681000,Grundschule,2023,stadt", "361100,5681000,Grundschule,2024,stadt",
            "361200,5681000,Gymnasium,2024,stadt", "361300,5681000,Gymnasium,2024,privat",
            "361400,5681000,Gymnasium,20x4,stadt"]
    points = _write_points(tmp_path / "schulen.csv", rows, header, "utf-8-sig")
    out = tmp_path / "schulen_counts.csv"
    code, _, stderr = quartier("intake", "points", points, "--geography", small_geography,
                               "--variable", "schulen", "--year-column", "jahr",
                               "--crs", "EPSG:25832", "--group-column", "art",
                               "--where", "traeger=stadt", "--out", out)
    assert code == 0, stderr
    assert "ohne gültiges Jahr in Spalte 'jahr' (Zeile 6)" in stderr
    table = _counts(out)
    q10 = table[table["area_id"] == "10"].set_index(["variable", "year"])["value"].to_dict()
    assert q10 == {("schulen_Grundschule", 2023): 1, ("schulen_Grundschule", 2024): 1,
                   ("schulen_Gymnasium", 2023): 0, ("schulen_Gymnasium", 2024): 1}
    assert set(table["area_id"]) == {"10", "11", "12", "20", "21"}


def test_lon_lat_columns_need_no_crs(small_geography: Path, tmp_path: Path) -> None:
    """Columns named lon/lat are EPSG:4326 without --crs."""
    x, y = 361000.0, 5681000.0
    lon, lat = gpd.GeoSeries(gpd.points_from_xy([x], [y]), crs=25832).to_crs(4326).iloc[0].xy
    points = _write_points(tmp_path / "p.csv", [f"{lon[0]!r},{lat[0]!r}"], "lon,lat", "utf-8")
    out = tmp_path / "p_counts.csv"
    code, _, stderr = quartier("intake", "points", points, "--geography", small_geography,
                               "--variable", "p", "--year", "2024", "--out", out)
    assert code == 0, stderr
    assert _counts(out).set_index("area_id")["value"]["10"] == 1


def test_vector_file_of_points(small_geography: Path, tmp_path: Path) -> None:
    """A GeoPackage of points reads with its own CRS; an empty geometry is reported."""
    frame = gpd.GeoDataFrame({"art": ["a", "b", "c"]},
                             geometry=[shapely.Point(361000, 5681000), shapely.Point(363500,
                                       5683500), None], crs="EPSG:25832")
    path = tmp_path / "p.gpkg"
    frame.to_file(path)
    out = tmp_path / "p_counts.csv"
    code, _, stderr = quartier("intake", "points", path, "--geography", small_geography,
                               "--variable", "p", "--year", "2024", "--out", out)
    assert code == 0, stderr
    assert "1 Feature ohne Geometrie" in stderr
    assert _counts(out)["value"].sum() == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--x", "ost"], "no column 'ost' for --x"),
        ([], "give the CRS of columns 'Rechtswert'/'Hochwert' with --crs"),
        (["--crs", "EPSG:99999999"], "is not a CRS"),
    ],
)
def test_bad_input_is_a_clear_error(small_geography: Path, tmp_path: Path, argv: list[str],
                                    message: str) -> None:
    """Bad input exits 2 with a message naming the column or option, never a traceback."""
    points = _write_points(tmp_path / "p.csv", ["a;b;361000;5681000"])
    code, _, stderr = quartier("intake", "points", points, "--geography", small_geography,
                               "--variable", "p", "--year", "2024", "--out", tmp_path / "o.csv",
                               *(argv + (["--y", "Hochwert"] if "--x" in argv else [])))
    assert code == 2
    assert message in stderr
    assert "Traceback" not in stderr


def test_variable_id_is_checked(small_geography: Path, tmp_path: Path) -> None:
    """A variable id the catalogue would refuse stops the intake before any work."""
    points = _write_points(tmp_path / "p.csv", ["a;b;361000;5681000"])
    code, _, stderr = quartier("intake", "points", points, "--geography", small_geography,
                               "--variable", "schulen neu", "--year", "2024", "--crs",
                               "EPSG:25832", "--out", tmp_path / "o.csv")
    assert code == 2 and "may not contain spaces" in stderr


@pytest.mark.slow
def test_berlin_million_points_run(tmp_path: Path) -> None:
    """A million points run through the CLI (timed in `make bench`, not asserted here)."""
    from geo.inputs.intake.zones import load_zones

    zones = load_zones(BERLIN)
    x, y = _random_points(zones, 1_000_000, seed=9)
    path = tmp_path / "p.csv"
    pd.DataFrame({"x": x.round(2), "y": y.round(2)}).to_csv(path, index=False)
    out = tmp_path / "o.csv"
    code, _, stderr = quartier("intake", "points", path, "--geography", BERLIN, "--variable",
                               "p", "--year", "2024", "--crs", "EPSG:25833", "--out", out)
    assert code == 0, stderr
    outside = json.loads(out.with_name("o.csv.provenance.json").read_text())["dropped"]
    assert _counts(out)["value"].sum() + outside["outside"]["count"] == 1_000_000
