"""Write the Wuppertal test fixture: a zipped shapefile in the schema of the official file.

NOT REAL GEOMETRY. Six made-up 1 km squares near Wuppertal in EPSG:25832, with the official
fields QUARTIER (2-digit text code) and NAME: three Quartiere of Stadtbezirk 0 ("00"-"02")
and three of Stadtbezirk 1 ("10"-"12"). The zip is byte-reproducible (fixed member dates).

    .venv/bin/python scripts/make_wuppertal_fixture.py [--out tests/fixtures/wuppertal]
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
from shapely.geometry import box

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests/fixtures/wuppertal"
ZIP_NAME = "FIXTURE_Quartiere_EPSG25832_SHAPE.zip"
STEM = "FIXTURE_Quartiere"
X0, Y0, SIZE = 370_000.0, 5_680_000.0, 1_000.0
QUARTIERE = [  # (code, name, column, row)
    ("00", "Fixture-Quartier 00 (keine echte Geometrie)", 0, 1),
    ("01", "Fixture-Quartier 01 (keine echte Geometrie)", 1, 1),
    ("02", "Fixture-Quartier 02 (keine echte Geometrie)", 2, 1),
    ("10", "Fixture-Quartier 10 (keine echte Geometrie)", 0, 0),
    ("11", "Fixture-Quartier 11 (keine echte Geometrie)", 1, 0),
    ("12", "Fixture-Quartier 12 (keine echte Geometrie)", 2, 0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    frame = gpd.GeoDataFrame(
        {
            "QUARTIER": [code for code, *_ in QUARTIERE],
            "NAME": [name for _, name, *_ in QUARTIERE],
        },
        geometry=[
            box(X0 + col * SIZE, Y0 + row * SIZE, X0 + (col + 1) * SIZE, Y0 + (row + 1) * SIZE)
            for *_, col, row in QUARTIERE
        ],
        crs="EPSG:25832",
    )
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / f"{STEM}.shp"
        frame.to_file(shp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
        dbf = shp.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[1:4] = bytes([2021 - 1900, 1, 1])  # dBASE "last update" date: keep it fixed
        dbf.write_bytes(bytes(data))
        target = out / ZIP_NAME
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(Path(tmp).iterdir()):
                info = zipfile.ZipInfo(part.name, date_time=(2021, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, part.read_bytes())


if __name__ == "__main__":
    main()
