"""Memory of ``quartier serve`` under load: tiles, API, maps and OGC mixed in one wrk run.

Both bundled geographies are built into a temporary data folder and served by the production
command (as ``make run`` starts it). Every URL of the mix is fetched once (cold renders fill the
caches), then wrk cycles through all of them for ``WRK_SECONDS`` while this process samples the
resident and proportional set size of the serving process tree once a second. Each cache's share
of the mix fits in it (``QUARTIER_CACHE_ENTRIES``, 256), so after the warm-up every answer comes
from a cache or the tile archive: memory that still grows is a leak or a cache without a bound.
Run as ``python -m bench.memory`` or through ``make bench``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
import warnings
from pathlib import Path

import httpx

from bench.api import ROOT, _free_port, _serve, _wait
from bench.build import _pss, _rss, _tree
from geo.build import build

GEOGRAPHIES = ("berlin-lor-2021", "nrw-demo")
WRK_SECONDS = 60
WRK_THREADS = 2
WRK_CONNECTIONS = 16
SAMPLE_SECONDS = 1.0


def _paths(data: Path) -> dict[str, list[str]]:
    """The URL mix by kind: every tile; values as JSON and csv-de for every indicator and
    level, GeoJSON for the finest; a map page for every indicator and level, a PNG for the
    finest; OGC items of every level."""
    from geo.release import TILES_FILE, read_build
    from geo.render.tiles import PMTilesArchive

    kinds: dict[str, list[str]] = {"tiles": [], "api": [], "maps": [], "ogc": []}
    for gid in GEOGRAPHIES:
        archive = PMTilesArchive(data / gid / TILES_FILE)
        kinds["tiles"] += [f"/tiles/{gid}/{z}/{x}/{y}.mvt" for z, x, y, _ in archive.tiles()]
        archive.close()
        published = read_build(data / gid)
        levels = published.geography.level_ids
        for ind in published.catalogue.indicators:
            for level in levels:
                base = f"/api/geographies/{gid}/values?indicator={ind.id}&level={level}"
                kinds["api"] += [base, base + "&format=csv-de"]
                kinds["maps"].append(f"/maps/{gid}/{ind.id}?level={level}")
            kinds["api"].append(base + "&format=geojson")
            kinds["maps"].append(f"/maps/{gid}/{ind.id}.png?level={levels[-1]}")
        kinds["ogc"] += [f"/ogc/collections/{gid}.{level}/items?limit=100" for level in levels]
    return kinds


def _wrk(base: str, paths: list[str], script_dir: Path) -> tuple[float, int, int]:
    """Requests/s, requests and errors (non-2xx/3xx plus socket errors) of one wrk run."""
    import re

    script = script_dir / "mix.lua"
    body = ",\n".join(f'"{p}"' for p in paths)
    script.write_text(
        "local paths = {\n" + body + "\n}\nlocal threads = 0\n"
        # each thread starts elsewhere in the mix, so they do not ask for the same URL in step
        "setup = function(thread)\n  thread:set('start', threads * 7919)\n"
        "  threads = threads + 1\nend\n"
        "init = function(args)\n  i = start % #paths\nend\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})\nend\n',
        encoding="utf-8")
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--timeout",
         "10s", "-s", str(script), base],
        check=True, capture_output=True, text=True, timeout=WRK_SECONDS + 120).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          out):
        errors += sum(int(g) for g in found.groups())
    return rps, requests, errors


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def run() -> str:
    """Build, serve, warm every URL, sample memory through a wrk run over the mix."""
    title = "## Service memory under load (issue 13, goal 3)"
    if shutil.which("wrk") is None:
        return f"{title}\n\nSkipped: `wrk` is not installed (`make browser-deps`).\n"
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="quartier-bench-memory-") as name:
        tmp = Path(name)
        data = tmp / "data"
        for gid in GEOGRAPHIES:
            build(ROOT / "boundaries" / gid, out=data / gid, data_dir=data, say=lambda _m: None)
        kinds = _paths(data)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _serve(data, port)
        samples: list[tuple[float, int, int]] = []
        try:
            _wait(base)
            start_rss = _rss(_tree(server.pid))
            warm_start, warm_bytes = time.perf_counter(), 0
            with httpx.Client(base_url=base, timeout=120) as client:
                for paths in kinds.values():
                    for path in paths:
                        response = client.get(path, headers={"Accept-Encoding": "gzip"})
                        response.raise_for_status()
                        warm_bytes += len(response.content)
            warm_s = time.perf_counter() - warm_start
            warm_rss = _rss(_tree(server.pid))
            # interleave the kinds so every stretch of the run touches all of them
            groups = [paths for paths in kinds.values() if paths]
            mix = [g[i % len(g)] for i in range(max(map(len, groups))) for g in groups]
            stop = threading.Event()

            def sample() -> None:
                began = time.perf_counter()
                while not stop.is_set():
                    pids = _tree(server.pid)
                    samples.append((time.perf_counter() - began, _rss(pids), _pss(pids)))
                    stop.wait(SAMPLE_SECONDS)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            rps, requests, errors = _wrk(base, mix, tmp)
            stop.set()
            sampler.join()
        finally:
            server.terminate()
            server.wait(timeout=20)
    return "\n".join(_report(title, kinds, (start_rss, warm_rss, warm_s, warm_bytes), samples,
                             (rps, requests, errors)))


def _report(title: str, kinds: dict[str, list[str]], warm: tuple[int, int, float, int],
            samples: list[tuple[float, int, int]], load: tuple[float, int, int]) -> list[str]:
    """The markdown section: the memory timeline and what it says about growth."""
    start_rss, warm_rss, warm_s, warm_bytes = warm
    rps, requests, errors = load
    counts = ", ".join(f"{len(v):,} {k}" for k, v in kinds.items())
    at = [s for s in samples if s[0] >= 10] or samples
    first, last = at[0], samples[-1]
    peak_rss = max(s[1] for s in samples)
    peak_pss = max(s[2] for s in samples)
    minutes = max(last[0] - first[0], 1e-9) / 60
    lines = [
        title,
        "",
        f"`quartier serve` (as `make run` starts it: its defaults, 2 processes) serving "
        f"{' and '.join(GEOGRAPHIES)}; the mix: {counts} distinct URLs (each cache keeps 256 "
        f"entries: all fit), interleaved; every URL fetched once first ({warm_s:.0f} s: cold "
        f"maps, PNGs and collections; {_mb(warm_bytes)} of bodies), then wrk {WRK_THREADS} "
        f"threads, {WRK_CONNECTIONS} connections, "
        f"{WRK_SECONDS} s, resident set of the serving process tree sampled every "
        f"{SAMPLE_SECONDS:.0f} s.",
        "",
        f"- started: {_mb(start_rss)} RSS; after the warm-up pass: {_mb(warm_rss)}",
        f"- under load: peak **{_mb(peak_rss)}** RSS, {_mb(peak_pss)} PSS; "
        f"at {first[0]:.0f} s {_mb(first[1])}, at {last[0]:.0f} s {_mb(last[1])}: "
        f"**{(last[1] - first[1]) / 2**20 / minutes:+,.1f} MiB/min** after the first 10 s",
        f"- wrk: {rps:,.0f} requests/s, {requests:,} requests, {errors} errors",
        "",
        "| s | RSS | PSS |",
        "|---:|---:|---:|",
    ]
    step = max(1, len(samples) // 12)
    for t, rss, pss in samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        lines.append(f"| {t:.0f} | {_mb(rss)} | {_mb(pss)} |")
    lines.append("")
    return lines


if __name__ == "__main__":
    print(run())
