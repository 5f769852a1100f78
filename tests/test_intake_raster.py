"""Raster zonal statistics with exact area weighting, checked against answers known exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import Affine

from geo.inputs.intake import coverage
from geo.inputs.intake.raster import parse_stat, raster_stats
from tests.conftest import BERLIN, quartier

CELL = 100.0


def write_raster(path: Path, zones: Any, fill: str, *, cell: float = CELL, crs: str = "",
                 nodata: float | None = None, dtype: str = "float64") -> Path:
    """A raster over the zones: ``ones`` (1 per cell), ``easting`` (cell centre x), ``left``."""
    geoms = zones.to_crs(crs) if crs else zones.geoms
    b = shapely.total_bounds(geoms)
    x0, y1 = np.floor(b[0] / cell) * cell - 3 * cell + 0.37, np.ceil(b[3] / cell) * cell + 3 * cell
    width, height = int((b[2] - x0) / cell) + 4, int((y1 - b[1]) / cell) + 4
    centres = x0 + cell * (np.arange(width) + 0.5)
    if fill == "ones":
        data = np.ones((height, width))
    elif fill == "easting":
        data = np.repeat(centres[None, :], height, axis=0)
    else:  # "left": 1 west of the middle, 0 east of it
        data = np.repeat((centres < (b[0] + b[2]) / 2)[None, :], height, axis=0) * 1.0
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype=dtype, crs=crs or zones.crs.to_string(), nodata=nodata,
                       transform=Affine(cell, 0, x0, 0, -cell, y1), tiled=True,
                       blockxsize=256, blockysize=256) as dst:
        dst.write(data.astype(dtype), 1)
    return path


def test_ones_give_every_area_its_hectares(berlin_zones: Any, tmp_path: Path) -> None:
    """A raster of 1 per 100 m cell sums to each area's area in hectares (within 0.2 %)."""
    raster = write_raster(tmp_path / "ones.tif", berlin_zones, "ones")
    out = tmp_path / "flaeche.csv"
    code, _, stderr = quartier("intake", "raster", raster, "--geography", BERLIN, "--variable",
                               "flaeche_ha", "--year", "2024", "--stat", "sum", "--out", out)
    assert code == 0, stderr
    counts = pd.read_csv(out, dtype={"area_id": str}).set_index("area_id")["value"]
    hectares = pd.Series(shapely.area(berlin_zones.geoms) / 10_000, index=berlin_zones.ids)
    assert (abs(counts / hectares - 1) < 0.002).all()
    provenance = json.loads(out.with_name("flaeche.csv.provenance.json").read_text())
    assert provenance["variables"] == [{"id": "flaeche_ha", "type": "count", "estimate": True}]
    assert "Schätzung" not in stderr and 'estimate = true' in stderr


def test_sums_are_exact_not_centroid_in_polygon(berlin_zones: Any) -> None:
    """The unrounded sums equal the areas to 1e-9: partial cells count by their fraction."""
    from tempfile import TemporaryDirectory

    with TemporaryDirectory() as tmp:
        raster = write_raster(Path(tmp) / "ones.tif", berlin_zones, "ones", cell=250.0)
        zonal, crs = raster_stats(raster, berlin_zones, parse_stat("sum"))
    exact = shapely.area(berlin_zones.geoms) / 250.0**2
    assert np.allclose(zonal.values, exact, rtol=1e-9)
    assert np.allclose(zonal.coverage, 1.0)
    assert crs["computation"].startswith("EPSG:25833")


def test_easting_mean_is_the_centroid(berlin_zones: Any, tmp_path: Path) -> None:
    """A raster of the easting: each area's area-weighted mean is its centroid (within 20 m)."""
    raster = write_raster(tmp_path / "east.tif", berlin_zones, "easting")
    out = tmp_path / "east.csv"
    code, _, stderr = quartier("intake", "raster", raster, "--geography", BERLIN, "--variable",
                               "ost_mittel", "--year", "2024", "--stat", "mean", "--out", out)
    assert code == 0, stderr
    means = pd.read_csv(out, dtype={"area_id": str}).set_index("area_id")["value"]
    centroids = pd.Series(shapely.get_x(shapely.centroid(berlin_zones.geoms)),
                          index=berlin_zones.ids)
    assert (abs(means - centroids) < 20).all()
    assert (means % 1 != 0).any()  # a measure keeps its decimals
    assert 'type = "measure"' in stderr and 'aggregate = "mean"' in stderr


def test_raster_in_another_crs(berlin_zones: Any, tmp_path: Path) -> None:
    """A raster in EPSG:3035: the areas are reprojected to it and still sum to their area."""
    raster = write_raster(tmp_path / "ones3035.tif", berlin_zones, "ones", crs="EPSG:3035")
    zonal, crs = raster_stats(raster, berlin_zones, parse_stat("sum"))
    exact = shapely.area(berlin_zones.to_crs("EPSG:3035")) / CELL**2
    assert np.allclose(zonal.values, exact, rtol=1e-9)
    assert crs["computation"].startswith("EPSG:3035")
    assert np.allclose(zonal.values / (shapely.area(berlin_zones.geoms) / CELL**2), 1, atol=2e-3)


def test_share_of_a_value(small_geography: Path, tmp_path: Path) -> None:
    """share:1 is the share of each area where the raster is 1 (exact for the squares)."""
    from geo.inputs.intake.zones import load_zones

    zones = load_zones(small_geography)
    raster = write_raster(tmp_path / "left.tif", zones, "left", cell=10.0, dtype="uint8",
                          nodata=255)
    zonal, _ = raster_stats(raster, zones, parse_stat("share:1"))
    b = shapely.total_bounds(zones.geoms)
    middle = (b[0] + b[2]) / 2
    cells = np.floor((middle - (np.floor(b[0] / 10) * 10 - 30 + 0.37)) / 10 - 0.5) + 1
    edge = np.floor(b[0] / 10) * 10 - 30 + 0.37 + cells * 10
    left = shapely.area(shapely.clip_by_rect(zones.geoms, -1e9, -1e9, edge, 1e9))
    assert np.allclose(zonal.values, left / shapely.area(zones.geoms), atol=1e-9)


def test_nodata_is_left_out_and_reported(small_geography: Path, tmp_path: Path) -> None:
    """Nodata cells do not count; an area without valid cells is missing, and reported."""
    from geo.inputs.intake.zones import load_zones

    zones = load_zones(small_geography)
    raster = write_raster(tmp_path / "r.tif", zones, "ones", cell=50.0, nodata=-1)
    with rasterio.open(raster, "r+") as dst:
        data = dst.read(1)
        west = int((362000.37 - dst.transform.c) / 50.0)  # every cell west of x = 362000.37
        data[:, :west] = -1  # Quartiere 10 and 20
        dst.write(data, 1)
    out = tmp_path / "r.csv"
    code, _, stderr = quartier("intake", "raster", raster, "--geography", small_geography,
                               "--variable", "v", "--year", "2024", "--out", out)
    assert code == 0, stderr
    values = pd.read_csv(out, dtype={"area_id": str}, keep_default_na=False)
    values = values.set_index("area_id")["value"].astype(str).to_dict()
    assert values["10"] == "" and values["20"] == ""
    assert values["11"] == "1600"
    assert "Gebiete nicht ganz von gültigen Rasterzellen bedeckt" in stderr
    assert "10 (0%)" in stderr


def test_small_blocks_give_the_same_answer(berlin_zones: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows read in many small blocks (a raster larger than memory) give the same sums."""
    raster = write_raster(tmp_path / "east.tif", berlin_zones, "easting", cell=500.0)
    whole, _ = raster_stats(raster, berlin_zones, parse_stat("mean"))
    monkeypatch.setattr(coverage.blocks, "__defaults__", (5,))
    small, _ = raster_stats(raster, berlin_zones, parse_stat("mean"))
    assert np.allclose(whole.values, small.values, rtol=1e-10)


def test_coverage_fractions_match_exactextract(berlin_zones: Any, tmp_path: Path) -> None:
    """Our coverage fractions equal exactextract's on the same raster and polygons."""
    exactextract = pytest.importorskip("exactextract", reason="exactextract is not installed")
    raster = write_raster(tmp_path / "east.tif", berlin_zones, "easting", cell=250.0)
    ours, _ = raster_stats(raster, berlin_zones, parse_stat("sum"))
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"area_id": berlin_zones.ids}, geometry=berlin_zones.geoms,
                             crs=berlin_zones.crs)
    theirs = exactextract.exact_extract(str(raster), frame, ["sum"], include_cols=["area_id"],
                                        output="pandas")
    assert np.allclose(ours.values, theirs["sum"].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--stat", "median"], "--stat 'median': expected one of sum, mean, share:VALUE"),
     (["--band", "2"], "no band 2 (the raster has 1)")],
)
def test_raster_errors(small_geography: Path, tmp_path: Path, argv: list[str],
                       message: str) -> None:
    """A bad statistic or band exits 2 with the message."""
    from geo.inputs.intake.zones import load_zones

    raster = write_raster(tmp_path / "r.tif", load_zones(small_geography), "ones")
    code, _, stderr = quartier("intake", "raster", raster, "--geography", small_geography,
                               "--variable", "v", "--year", "2024", "--out",
                               tmp_path / "o.csv", *argv)
    assert code == 2 and message in stderr


def test_a_raster_that_is_not_one(small_geography: Path, tmp_path: Path) -> None:
    """A file GDAL cannot open as a raster is named in the error."""
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    code, _, stderr = quartier("intake", "raster", bad, "--geography", small_geography,
                               "--variable", "v", "--year", "2024", "--out", tmp_path / "o.csv")
    assert code == 2 and "cannot open the raster" in stderr
