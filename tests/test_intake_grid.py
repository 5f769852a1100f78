"""Zensus grid tables (EPSG:3035) apportioned to areas (EPSG:25833) by exact area share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import IntakeError
from geo.inputs.intake.grid import apportion, read_grid
from tests.conftest import BERLIN, quartier


def zensus_table(zones: Any, size: int, seed: int = 4) -> tuple[pd.DataFrame, np.ndarray]:
    """Cells over the zones in EPSG:3035 with random counts: the table and the cell boxes."""
    b = shapely.total_bounds(zones.to_crs("EPSG:3035"))
    east = np.arange(np.floor(b[0] / size) * size, b[2], size)
    north = np.arange(np.floor(b[1] / size) * size, b[3], size)
    e, n = (a.ravel() for a in np.meshgrid(east, north))
    values = np.random.default_rng(seed).integers(0, 50, len(e))
    unit = f"{size}m" if size < 1000 else f"{size // 1000}km"
    table = pd.DataFrame({
        f"GITTER_ID_{unit}": [f"CRS3035RES{size}mN{int(y)}E{int(x)}" for x, y in zip(e, n,
                                                                                     strict=True)],
        f"x_mp_{unit}": (e + size / 2).astype(int), f"y_mp_{unit}": (n + size / 2).astype(int),
        "Einwohner": values,
    })
    return table, shapely.box(e, n, e + size, n + size)


def test_grid_onto_areas_matches_the_exact_share(berlin_zones: Any, tmp_path: Path) -> None:
    """1 km cells onto the Prognoseräume: within 0.2 % of the brute-force exact share."""
    table, boxes = zensus_table(berlin_zones, 1000)
    path = tmp_path / "Zensus2022_Bevoelkerungszahl_1km-Gitter.csv"
    table.to_csv(path, sep=";", index=False)
    out = tmp_path / "ew.csv"
    code, _, stderr = quartier("intake", "grid", path, "--geography", BERLIN, "--variable",
                               "einwohner_zensus", "--year", "2022", "--out", out)
    assert code == 0, stderr
    got = pd.read_csv(out, dtype={"area_id": str}).set_index("area_id")["value"]
    # reference: each cell reprojected to EPSG:25833 (densified) and intersected there
    from geo.inputs.intake.zones import reproject

    cells = reproject(boxes, _crs("EPSG:3035"), berlin_zones.crs)
    values = table["Einwohner"].to_numpy()
    for area_id, geom in zip(berlin_zones.ids, berlin_zones.geoms, strict=True):
        share = shapely.area(shapely.intersection(cells, geom)) / shapely.area(cells)
        exact = float(np.sum(values * share))
        assert abs(got[area_id] - exact) <= max(0.002 * exact, 0.5), area_id
    assert "Gitter: " in stderr and "1000 m" in stderr


def _crs(text: str) -> Any:
    from pyproj import CRS

    return CRS.from_user_input(text)


def test_hundred_metre_cells_of_ones_give_the_area(berlin_zones: Any, tmp_path: Path) -> None:
    """100 m cells of 1 over every area give its area in hectares (equal-area EPSG:3035)."""
    table, _ = zensus_table(berlin_zones, 100)
    table["Einwohner"] = 1
    path = tmp_path / "grid.csv"
    table.drop(columns=["GITTER_ID_100m"]).to_csv(path, sep=";", index=False)
    grid = read_grid(path)
    assert grid.size == 100.0 and grid.crs.to_epsg() == 3035
    zonal, drops, crs = apportion(grid, berlin_zones)
    hectares = shapely.area(berlin_zones.to_crs("EPSG:3035")) / 10_000
    assert np.allclose(zonal.values, hectares, rtol=1e-9)
    assert not drops and crs["computation"].startswith("EPSG:3035")


def test_unknown_cells_are_reported_not_zero(small_geography: Path, tmp_path: Path) -> None:
    """'–', '.' and negative values are unknown: left out, counted, their lines named."""
    from geo.inputs.intake.zones import load_zones

    zones = load_zones(small_geography)
    table, _ = zensus_table(zones, 1000)
    text = table.astype(str)
    text.loc[0, "Einwohner"], text.loc[1, "Einwohner"], text.loc[2, "Einwohner"] = "–", ".", "-3"
    text["werterlaeuternde_Zeichen"] = ""
    path = tmp_path / "grid.csv"
    text.to_csv(path, sep=";", index=False, encoding="utf-8")
    out = tmp_path / "g.csv"
    code, _, stderr = quartier("intake", "grid", path, "--geography", small_geography,
                               "--variable", "ew", "--year", "2022", "--out", out)
    assert code == 0, stderr
    assert "3 Gitterzellen ohne Wert" in stderr and "(Zeilen 2, 3, 4)" in stderr
    provenance = json.loads(out.with_name("g.csv.provenance.json").read_text("utf-8"))
    assert provenance["dropped"]["unknown"]["first"] == [2, 3, 4]
    assert provenance["variables"][0]["estimate"] is True


def test_value_column_must_be_named_when_there_are_several(tmp_path: Path) -> None:
    """Two value columns: the error lists them and asks for --value-column."""
    path = tmp_path / "grid.csv"
    path.write_text("GITTER_ID_100m;Einwohner;Frauen\nCRS3035RES100mN3270000E4550000;5;3\n")
    with pytest.raises(IntakeError, match="--value-column .*Einwohner, Frauen"):
        read_grid(path)
    assert read_grid(path, "Frauen").values.tolist() == [3.0]


def test_a_bad_cell_id_is_named_by_line(tmp_path: Path) -> None:
    """A GITTER_ID that is not one names its line."""
    path = tmp_path / "grid.csv"
    path.write_text("GITTER_ID_100m;Einwohner\nCRS3035RES100mN3270000E4550000;5\n100mN32;3\n")
    with pytest.raises(IntakeError, match="grid.csv line 3: 'GITTER_ID_100m' is not a grid"):
        read_grid(path)
