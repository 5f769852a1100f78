"""Generated intake inputs over Berlin whose answers are known exactly (docs/INTAKE.md).

Writes into --out (default /tmp/quartier-intake):

- ``kitas.csv``: 5,000 points as an office exports them (``;``, decimal comma, Windows-1252,
  EPSG:25833 columns Rechtswert/Hochwert, a column Traeger), some outside Berlin, one row
  without coordinates and one with text in a coordinate;
- ``einsen_100m.tif``: 1 per 100 m cell (sum = area in hectares);
- ``rechtswert_100m.tif``: the cell centre's easting (area-weighted mean = centroid);
- ``gruen_10m.tif``: 1 west of 13.4° E (about x = 392,000), else 0 (share:1 = share west of it);
- ``Zensus2022_Bevoelkerungszahl_1km-Gitter.csv``: a Zensus-format grid in EPSG:3035 with
  100 persons per 1 km cell (sum = area in km² x 100), a few cells "–" (unknown).

    .venv/bin/python scripts/make_intake_examples.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.transform import Affine

from geo.inputs.intake.zones import load_zones

BERLIN = Path(__file__).resolve().parents[1] / "boundaries" / "berlin-lor-2021"


def _raster(path: Path, bounds: np.ndarray, cell: float, fill: str) -> None:
    x0, y1 = np.floor(bounds[0] / cell) * cell - cell, np.ceil(bounds[3] / cell) * cell + cell
    width, height = int((bounds[2] - x0) / cell) + 2, int((y1 - bounds[1]) / cell) + 2
    centres = x0 + cell * (np.arange(width) + 0.5)
    if fill == "ones":
        data = np.ones((height, width), dtype="float32")
    elif fill == "easting":
        data = np.repeat(centres[None, :], height, axis=0)
    else:
        data = np.repeat((centres < 392_000)[None, :], height, axis=0).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype=data.dtype, crs="EPSG:25833", tiled=True, compress="deflate",
                       transform=Affine(cell, 0, x0, 0, -cell, y1)) as dst:
        dst.write(data, 1)


def main() -> None:
    """Write the example inputs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/quartier-intake"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    zones = load_zones(BERLIN)
    bounds = shapely.total_bounds(zones.geoms)
    rng = np.random.default_rng(2024)
    n = 5000
    x = rng.uniform(bounds[0] - 1000, bounds[2] + 1000, n)
    y = rng.uniform(bounds[1] - 1000, bounds[3] + 1000, n)
    east = [f"{v:.2f}".replace(".", ",") for v in x]
    north = [f"{v:.2f}".replace(".", ",") for v in y]
    east[3], north[7] = "", "unbekannt"
    pd.DataFrame({"Name": [f"Kita {i}" for i in range(n)],
                  "Traeger": rng.choice(["städtisch", "frei"], n),
                  "Rechtswert": east, "Hochwert": north}).to_csv(
        out / "kitas.csv", sep=";", index=False, encoding="cp1252")
    _raster(out / "einsen_100m.tif", bounds, 100.0, "ones")
    _raster(out / "rechtswert_100m.tif", bounds, 100.0, "easting")
    _raster(out / "gruen_10m.tif", bounds, 10.0, "green")
    b = shapely.total_bounds(zones.to_crs("EPSG:3035"))
    e, nn = np.meshgrid(np.arange(np.floor(b[0] / 1000) * 1000, b[2], 1000),
                        np.arange(np.floor(b[1] / 1000) * 1000, b[3], 1000))
    e, nn = e.ravel().astype(int), nn.ravel().astype(int)
    values = np.full(len(e), "100", dtype=object)
    values[:3] = "–"
    pd.DataFrame({"GITTER_ID_1km": [f"CRS3035RES1000mN{b}E{a}" for a, b in zip(e, nn,
                                                                               strict=True)],
                  "x_mp_1km": e + 500, "y_mp_1km": nn + 500, "Einwohner": values}).to_csv(
        out / "Zensus2022_Bevoelkerungszahl_1km-Gitter.csv", sep=";", index=False)
    print(out)


if __name__ == "__main__":
    main()
