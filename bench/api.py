"""Load on the data API, the map pages and OGC API Features: wrk against ``quartier serve``.

Both bundled geographies are built into a temporary data folder and served by the production
command (``quartier serve``, one uvicorn process, access log on) on loopback. Each URL is
first fetched once (the cold time includes rendering a map or serialising a collection; later
requests hit the in-memory caches), then wrk runs for a fixed time with several connections.
A run counts every non-2xx answer and socket error: concurrent requests must give none.
Run as ``python -m bench.api`` or through ``make bench``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx

from geo.build import build

ROOT = Path(__file__).resolve().parents[1]
GEOGRAPHIES = ("berlin-lor-2021", "nrw-demo")
WRK_SECONDS = 10
WRK_THREADS = 2
WRK_CONNECTIONS = 16


@dataclass
class Load:
    """What wrk measured for one URL."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _wrk(url: str) -> Load:
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency",
         "-H", "Accept-Encoding: identity", url],
        capture_output=True, text=True, check=True,
    ).stdout
    latency = dict(re.findall(r"^\s*(50|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", out, re.M))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"unexpected wrk output for {url}:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          out):
        errors += sum(int(g) for g in found.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Load(rps, _ms(latency["50"]), _ms(latency["99"]), requests, errors)


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "import sys; from service.cli import main; sys.exit(main())",
               "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _wait(base: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{base}/api/geographies", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("quartier serve did not start")


def _urls(data: Path) -> list[tuple[str, str]]:
    from geo.release import read_build

    berlin = read_build(data / "berlin-lor-2021")
    nrw = read_build(data / "nrw-demo")
    b_ind, n_ind = berlin.catalogue.indicators[0].id, nrw.catalogue.indicators[0].id
    b_fine, n_fine = berlin.geography.level_ids[-1], nrw.geography.level_ids[-1]
    return [
        ("API values JSON, nrw-demo Gemeinden",
         f"/api/geographies/nrw-demo/values?indicator={n_ind}&level={n_fine}"),
        ("API values csv-de, nrw-demo Gemeinden",
         f"/api/geographies/nrw-demo/values?indicator={n_ind}&level={n_fine}&format=csv-de"),
        ("API values GeoJSON, Berlin Prognoseräume",
         f"/api/geographies/berlin-lor-2021/values?indicator={b_ind}&level={b_fine}"
         "&format=geojson"),
        ("Map page, Berlin Prognoseräume", f"/maps/berlin-lor-2021/{b_ind}?level={b_fine}"),
        ("Map page, nrw-demo Gemeinden", f"/maps/nrw-demo/{n_ind}?level={n_fine}"),
        ("Map PNG, nrw-demo Gemeinden", f"/maps/nrw-demo/{n_ind}.png?level={n_fine}"),
        ("OGC items (limit 1000), nrw-demo Gemeinden",
         "/ogc/collections/nrw-demo.gemeinde/items?limit=1000"),
    ]


def run() -> str:
    """Build, serve, load every URL with wrk; return the markdown section."""
    if shutil.which("wrk") is None:
        return ("## API and maps under load\n\n"
                "Skipped: `wrk` is not installed (`make browser-deps`).\n")
    warnings.simplefilter("ignore")
    lines = [
        "## API, maps and OGC API Features under load",
        "",
        f"`quartier serve` (one uvicorn process, access log on) on loopback; wrk with "
        f"{WRK_THREADS} threads and {WRK_CONNECTIONS} connections for {WRK_SECONDS} s per URL "
        f"on {os.cpu_count()} cores, client and server on the same machine. Cold = the first "
        "request (renders the map or serialises the collection; later ones come from the "
        "in-memory cache per release and parameters). Errors = non-2xx answers plus socket "
        "errors.",
        "",
        "| URL | body | cold | req/s | p50 | p99 | requests | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory(prefix="quartier-bench-api-") as tmp:
        data = Path(tmp) / "data"
        for geography in GEOGRAPHIES:
            build(ROOT / "boundaries" / geography, out=data / geography, data_dir=data,
                  say=lambda _m: None)
        sizes = _page_sizes(data)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _serve(data, port)
        try:
            _wait(base)
            for label, path in _urls(data):
                start = time.perf_counter()
                response = httpx.get(base + path, timeout=120)
                cold = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                load = _wrk(base + path)
                lines.append(
                    f"| {label} (`{path.split('?')[0]}`) | {len(response.content) / 1024:,.0f} KiB "
                    f"| {cold:,.0f} ms | {load.requests_per_second:,.0f} | {load.p50_ms:,.1f} ms "
                    f"| {load.p99_ms:,.1f} ms | {load.requests:,} | {load.errors} |"
                )
        finally:
            server.terminate()
            server.wait(timeout=20)
    lines += [
        "",
        "Map pages (finest level, first indicator) with and without shapely's coverage "
        "simplification (tolerance 1/5000 of the map's diagonal, shared borders kept; "
        "coordinates rounded to 5 decimals in both):",
        "",
        "| map | areas | vertices | simplified | page | unsimplified page | render (cold) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *sizes,
        "",
    ]
    return "\n".join(lines)


def _page_sizes(data: Path) -> list[str]:
    """Vertices and page size of each finest-level map, simplified and not."""
    import shapely

    from geo.release import read_build
    from geo.render import folium_page, maps

    rows = []
    for geography in GEOGRAPHIES:
        published = read_build(data / geography)
        level = published.geography.level_ids[-1]
        indicator = published.catalogue.indicators[0].id
        start = time.perf_counter()
        simple = maps.map_data(published, indicator, level=level)
        page = folium_page.folium_map(simple)
        seconds = time.perf_counter() - start
        full = maps.map_data(published, indicator, level=level, simplify=0)
        original = shapely.get_num_coordinates(full.frame.geometry.to_numpy()).sum()
        reduced = shapely.get_num_coordinates(simple.frame.geometry.to_numpy()).sum()
        rows.append(
            f"| {geography} {level} | {len(simple.frame)} | {original:,} | {reduced:,} "
            f"| {len(page.encode()) / 1024:,.0f} KiB "
            f"| {len(folium_page.folium_map(full).encode()) / 1024:,.0f} KiB | {seconds:.2f} s |"
        )
    return rows


if __name__ == "__main__":
    report = run()
    print(report)
