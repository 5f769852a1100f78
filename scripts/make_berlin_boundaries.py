"""Write the bundled Berlin LOR 2021 boundaries (Bezirke, Prognoseräume) from ../shared/data.

Coordinates are snapped to a 1 cm grid in EPSG:25833 (shapely.set_precision keeps every
polygon valid); shapes are otherwise unchanged. Re-runnable and deterministic:

    .venv/bin/python scripts/make_berlin_boundaries.py [--out boundaries/berlin-lor-2021]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import shapely

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path(__file__).resolve().parents[2] / "shared/data/berlin-lor-2021"
OUT = REPO / "boundaries/berlin-lor-2021"
GRID = 0.01  # metres


def _snap(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = frame.copy()
    frame["geometry"] = shapely.set_precision(frame.geometry.values, GRID)
    bad = frame[~frame.is_valid | frame.is_empty]
    if len(bad):
        raise SystemExit(f"snapping made {len(bad)} geometries invalid or empty")
    return frame


def _write(frame: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GeoJSON", engine="pyogrio",
                  layer_options={"COORDINATE_PRECISION": 2, "RFC7946": "NO",
                                 "WRITE_NAME": "NO"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)

    pgr = gpd.read_file(SOURCE / "lor_prognoseraeume_2021_epsg25833.geojson")
    bez = gpd.read_file(SOURCE / "bezirke_dissolved_from_pgr_2021_epsg25833.geojson")
    names = dict(zip(bez["BEZ"], bez["BEZ_NAME"], strict=True))

    pgr = pgr.assign(BEZ_NAME=pgr["BEZ"].map(names))
    pgr = pgr[["PGR_ID", "PGR_NAME", "BEZ", "BEZ_NAME", "geometry"]].sort_values("PGR_ID")
    bez = bez[["BEZ", "BEZ_NAME", "geometry"]].sort_values("BEZ")

    _write(_snap(bez).reset_index(drop=True), out / "bezirke.geojson")
    _write(_snap(pgr).reset_index(drop=True), out / "prognoseraeume.geojson")


if __name__ == "__main__":
    main()
