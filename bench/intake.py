"""Intake: a million points per Prognoseraum, and raster zonal statistics against two peers.

Points: ``quartier intake points`` on 1,000,000 generated points over Berlin (58
Prognoseräume, EPSG:25833), timed by step, against geopandas' ``sjoin`` on the same points.
Rasters: zonal sum and mean over the same 58 polygons by our exact coverage fractions,
rasterstats (cell centre in polygon) and exactextract (exact coverage), on rasters with
answers known exactly: a raster of ones (sum = area / cell area) and a raster of the cell
centre's easting (area-weighted mean -> the polygon's centroid).

    .venv/bin/python -m bench intake
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.transform import Affine

BERLIN = Path(__file__).resolve().parents[1] / "boundaries" / "berlin-lor-2021"
POINTS = 1_000_000
CELLS = (100.0, 25.0)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _points(zones: Any, folder: Path) -> list[str]:
    from geo.inputs.intake.output import write_long
    from geo.inputs.intake.points import count_points, read_points

    b = shapely.total_bounds(zones.geoms)
    rng = np.random.default_rng(11)
    x = rng.uniform(b[0], b[2], POINTS).round(2)
    y = rng.uniform(b[1], b[3], POINTS).round(2)
    path = folder / "punkte.csv"
    pd.DataFrame({"Rechtswert": x, "Hochwert": y}).to_csv(path, index=False, sep=";",
                                                         decimal=",")
    source, t_read = _timed(lambda: read_points(path, crs="EPSG:25833"))
    result, t_count = _timed(lambda: count_points(source, zones, variable="p", year=2024))
    _, t_write = _timed(lambda: write_long(folder / "out.csv", zones.ids, result.columns))
    ours = t_read + t_count + t_write

    import geopandas as gpd

    polygons = gpd.GeoDataFrame({"area_id": zones.ids}, geometry=zones.geoms, crs=zones.crs)
    frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=zones.crs)
    joined, t_sjoin = _timed(lambda: gpd.sjoin(frame, polygons, predicate="within"))
    inside = sum(int(c.values.sum()) for c in result.columns)
    return [
        f"1,000,000 points (`;`, decimal comma) over Berlin's bounding box; {inside:,} inside "
        f"the 58 Prognoseräume, the rest reported as outside.",
        "",
        "| step | s |",
        "|---|---:|",
        f"| read CSV (parse, decimal comma) | {t_read:.2f} |",
        f"| transform + border rule + count | {t_count:.2f} |",
        f"| write long CSV | {t_write:.2f} |",
        f"| **intake points total** | **{ours:.2f}** |",
        f"| geopandas `sjoin(predicate='within')` on the same points (no CSV) | {t_sjoin:.2f} |",
        "",
        f"Counting alone vs sjoin: {t_sjoin / t_count:.1f}x faster; points found by both: "
        f"{inside:,} vs {len(joined):,} (`within` misses a point exactly on a border; the "
        "border rule counts it once).",
        "",
    ]


def _write(path: Path, zones: Any, cell: float, fill: str) -> Path:
    b = shapely.total_bounds(zones.geoms)
    x0, y1 = np.floor(b[0] / cell) * cell - 2 * cell + 0.37, np.ceil(b[3] / cell) * cell + cell
    width, height = int((b[2] - x0) / cell) + 3, int((y1 - b[1]) / cell) + 3
    centres = x0 + cell * (np.arange(width) + 0.5)
    data = np.ones((height, width)) if fill == "ones" else np.repeat(centres[None, :], height, 0)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float64", crs=zones.crs.to_string(), tiled=True,
                       transform=Affine(cell, 0, x0, 0, -cell, y1)) as dst:
        dst.write(data, 1)
    return path


Pair = tuple[np.ndarray, np.ndarray]


def _ours(ones: Path, east: Path, zones: Any, frame: Any) -> Pair:
    from geo.inputs.intake.raster import parse_stat, raster_stats

    s = raster_stats(ones, zones, parse_stat("sum"))[0].values
    return s, raster_stats(east, zones, parse_stat("mean"))[0].values


def _rasterstats(ones: Path, east: Path, zones: Any, frame: Any) -> Pair:
    from rasterstats import zonal_stats

    s = [r["sum"] for r in zonal_stats(list(zones.geoms), str(ones), stats=["sum"])]
    m = [r["mean"] for r in zonal_stats(list(zones.geoms), str(east), stats=["mean"])]
    return np.array(s, dtype=float), np.array(m, dtype=float)


def _exactextract(ones: Path, east: Path, zones: Any, frame: Any) -> Pair:
    from exactextract import exact_extract

    s = exact_extract(str(ones), frame, ["sum"], output="pandas")["sum"]
    m = exact_extract(str(east), frame, ["mean"], output="pandas")["mean"]
    return s.to_numpy(dtype=float), m.to_numpy(dtype=float)


METHODS: dict[str, Callable[[Path, Path, Any, Any], Pair]] = {
    "Quartier (exact coverage)": _ours,
    "rasterstats (cell centre)": _rasterstats,
    "exactextract (exact coverage)": _exactextract,
}


def _rasters(zones: Any, folder: Path) -> list[str]:
    exact_area = shapely.area(zones.geoms)
    centroid = shapely.get_x(shapely.centroid(zones.geoms))
    lines = [
        "| raster | method | sum of ones: max rel. error vs exact area | easting mean: max error "
        "vs centroid (m) | time sum + mean (s) | time vs ours |",
        "|---|---|---:|---:|---:|---:|",
    ]
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"area_id": zones.ids}, geometry=zones.geoms, crs=zones.crs)
    for cell in CELLS:
        ones = _write(folder / f"ones{cell:g}.tif", zones, cell, "ones")
        east = _write(folder / f"east{cell:g}.tif", zones, cell, "easting")
        area_cells = exact_area / cell**2
        results: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        for name, method in METHODS.items():
            try:
                start = time.perf_counter()
                s, m = method(ones, east, zones, frame)
                t = time.perf_counter() - start
            except ImportError:
                lines.append(f"| {cell:g} m | {name}: not installed | | | | |")
                continue
            results[name] = (s, m, t)
        base = results["Quartier (exact coverage)"][2]
        for name, (s, m, t) in results.items():
            rel = np.max(np.abs(s / area_cells - 1))
            off = np.max(np.abs(m - centroid))
            lines.append(f"| {cell:g} m | {name} | {rel:.2e} | {off:.2f} | {t:.2f} | "
                         f"{t / base:.2f} |")
    return lines


def run() -> str:
    """Time 1 M points and compare zonal statistics with rasterstats and exactextract."""
    from geo.inputs.intake.zones import load_zones

    zones = load_zones(BERLIN)
    with tempfile.TemporaryDirectory() as tmp:
        points = _points(zones, Path(tmp))
        rasters = _rasters(zones, Path(tmp))
    return "\n".join([
        "## Intake: points, raster zonal statistics",
        "",
        "Berlin, 58 Prognoseräume (EPSG:25833).",
        "",
        "### 1 M points",
        "",
        *points,
        "### Raster zonal statistics against rasterstats and exactextract",
        "",
        "Rasters with exact answers: ones (sum = area / cell area) and the cell centre's "
        "easting (area-weighted mean = centroid, up to the raster's own steps).",
        "",
        *rasters,
        "",
    ])


if __name__ == "__main__":
    print(run())
