"""Areal interpolation: counts of other areas onto the finest areas, by area or a raster."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.transform import Affine

from tests.conftest import BERLIN, quartier


def squares_geography(folder: Path, zones: Any, size: float) -> tuple[Path, gpd.GeoDataFrame]:
    """Source areas: a grid of squares (like postcode areas) over the zones, one level."""
    b = shapely.total_bounds(zones.geoms)
    xs = np.arange(b[0] - 10, b[2] + size, size)
    ys = np.arange(b[1] - 10, b[3] + size, size)
    boxes = [shapely.box(x, y, x + size, y + size) for x in xs for y in ys]
    frame = gpd.GeoDataFrame({"PLZ": [f"{10000 + i}" for i in range(len(boxes))]},
                             geometry=boxes, crs=zones.crs)
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_file(folder / "plz.gpkg")
    (folder / "geography.toml").write_text(
        'id = "plz"\nname = "PLZ"\nattribution = "erzeugt"\ntotal_id = "alle"\n'
        'total_name = "Alle"\n\n[[levels]]\nid = "plz"\nname = "Postleitzahl"\n'
        'file = "plz.gpkg"\nkey = "PLZ"\n', encoding="utf-8")
    return folder, frame


def test_uniform_density_gives_each_area_its_share(berlin_zones: Any, tmp_path: Path) -> None:
    """One person per hectare in every square: each area receives its own hectares."""
    source, frame = squares_geography(tmp_path / "plz", berlin_zones, 5000.0)
    counts = tmp_path / "jobcenter.csv"
    pd.DataFrame({"area_id": frame["PLZ"], "year": 2023, "variable": "sgb2_bg",
                  "value": 2500}).to_csv(counts, index=False)
    out = tmp_path / "sgb2.csv"
    code, _, stderr = quartier("intake", "areas", counts, "--from", source, "--geography",
                               BERLIN, "--out", out)
    assert code == 0, stderr
    got = pd.read_csv(out, dtype={"area_id": str}).set_index("area_id")["value"]
    hectares = pd.Series(shapely.area(berlin_zones.geoms) / 10_000, index=berlin_zones.ids)
    assert (abs(got - hectares) <= 0.5 + 1e-9).all()
    provenance = json.loads(out.with_name("sgb2.csv.provenance.json").read_text("utf-8"))
    assert provenance["parameters"]["method"] == "area-weighted"
    assert provenance["variables"] == [{"id": "sgb2_bg", "type": "count", "estimate": True}]
    assert "Quellgebiete ragen über die Geografie hinaus" in stderr


def test_weight_raster_moves_counts_where_people_live(small_geography: Path,
                                                     tmp_path: Path) -> None:
    """Dasymetric: weight only in the east half of a source area sends its count there."""
    from geo.inputs.intake.zones import load_zones

    zones = load_zones(small_geography)
    source = tmp_path / "src"
    source.mkdir()
    one = gpd.GeoDataFrame({"ID": ["A"]}, geometry=[shapely.box(360000, 5680000, 364000,
                                                                5682000)], crs=zones.crs)
    one.to_file(source / "a.gpkg")
    (source / "geography.toml").write_text(
        'id = "src"\nname = "S"\nattribution = "x"\ntotal_id = "t"\ntotal_name = "T"\n\n'
        '[[levels]]\nid = "s"\nname = "Quelle"\nfile = "a.gpkg"\nkey = "ID"\n')
    counts = tmp_path / "c.csv"
    counts.write_text("area_id;year;variable;value\nA;2023;kunden;1000\n")
    weights = tmp_path / "w.tif"
    data = np.zeros((40, 80))
    data[:, 40:] = 1.0  # x >= 362000: Quartier 11
    with rasterio.open(weights, "w", driver="GTiff", width=80, height=40, count=1,
                       dtype="float64", crs=zones.crs.to_string(),
                       transform=Affine(50, 0, 360000, 0, -50, 5682000)) as dst:
        dst.write(data, 1)
    by_area, by_weight = tmp_path / "a.csv", tmp_path / "w.csv"
    assert quartier("intake", "areas", counts, "--from", source, "--geography",
                    small_geography, "--out", by_area)[0] == 0
    code, _, stderr = quartier("intake", "areas", counts, "--from", source, "--geography",
                               small_geography, "--weights", weights, "--out", by_weight)
    assert code == 0, stderr
    area = pd.read_csv(by_area, dtype={"area_id": str}).set_index("area_id")["value"]
    dasy = pd.read_csv(by_weight, dtype={"area_id": str}).set_index("area_id")["value"]
    assert area["10"] == 500 and area["11"] == 500
    assert dasy["10"] == 0 and dasy["11"] == 1000


def test_real_bezirke_onto_prognoseraeume(tmp_path: Path) -> None:
    """Real residents 2022 of the 12 Bezirke, spread by area: totals kept, Bezirke exact."""
    source = tmp_path / "bezirke"
    source.mkdir()
    shutil.copy(BERLIN / "bezirke.geojson", source)
    (source / "geography.toml").write_text(
        'id = "bezirke"\nname = "Bezirke"\nattribution = "ASBB"\ntotal_id = "berlin"\n'
        'total_name = "Berlin"\n\n[[levels]]\nid = "bezirk"\nname = "Bezirk"\n'
        'file = "bezirke.geojson"\nkey = "BEZ"\nlabel = "BEZ_NAME"\n')
    real = pd.read_csv(BERLIN / "counts.csv", dtype={"area_id": str})
    real = real[(real["variable"] == "einwohner") & (real["year"] == 2022)]
    per_bezirk = real.groupby(real["area_id"].str[:2])["value"].sum()
    counts = tmp_path / "bezirke.csv"
    pd.DataFrame({"area_id": per_bezirk.index, "einwohner": per_bezirk.values}).to_csv(
        counts, index=False, sep=";")
    out = tmp_path / "ew.csv"
    code, _, stderr = quartier("intake", "areas", counts, "--from", source, "--geography",
                               BERLIN, "--year", "2022", "--out", out)
    assert code == 0, stderr
    got = pd.read_csv(out, dtype={"area_id": str})
    by_bezirk = got.groupby(got["area_id"].str[:2])["value"].sum()
    assert (abs(by_bezirk - per_bezirk) <= 6).all()  # rounding of at most 6 Prognoseräume
    truth = real.set_index("area_id")["value"]
    error = (got.set_index("area_id")["value"] - truth).abs() / truth
    assert error.median() < 0.5  # by area only: an honest estimate, not the truth
