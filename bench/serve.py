"""Tile serving: ``quartier serve`` against tileserver-gl-light and nginx serving files.

The nrw-demo build's ``tiles.pmtiles`` is served on loopback by

- ``quartier serve`` as ``make run`` starts it (its defaults) and with the steps of issue 13
  taken back one by one (the other number of processes; tiles on the ASGI fast path instead
  of in the protocol, ``QUARTIER_PROTOCOL_TILES=0``; tiles through the routes,
  ``QUARTIER_FAST_TILES=0``; the access log), to record what each step bought;
- tileserver-gl-light (npm, installed into a cache folder outside the repository), the peer;
- nginx (Debian package) serving the archive's stored tile bytes as files with
  ``Content-Encoding: gzip``: the ceiling of a static server here.

wrk requests every non-empty tile in turn with ``Accept-Encoding: gzip`` for a fixed time; the
servers take turns and the best round counts (the machine is shared). Before loading, every
tile is fetched once and compared with the archive's bytes (unpacked for tileserver-gl-light,
which re-compresses). The defaults also get a run with 256 connections, errors counted.
Run as ``python -m bench.serve [--data DIR]`` or through ``make bench``.
"""

from __future__ import annotations

import argparse
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

from geo.build import build
from geo.release import TILES_FILE
from geo.render.tiles import PMTilesArchive
from service.settings import default_workers

ROOT = Path(__file__).resolve().parents[1]
SERVE_GEOGRAPHY = "nrw-demo"
TILESERVER = "tileserver-gl-light@5.6.0"
NODE_DIR = Path.home() / ".cache" / "quartier" / "bench-node"
WRK_SECONDS = 10
WRK_THREADS = 2
WRK_CONNECTIONS = 64
MANY_CONNECTIONS = 256
ROUNDS = 2
_DEFAULT_WORKERS = default_workers()
_OTHER_WORKERS = 1 if _DEFAULT_WORKERS != 1 else 2
QUARTIER_RUNS: tuple[tuple[str, list[str], dict[str, str]], ...] = (
    (f"quartier serve, defaults (as `make run` starts it: {_DEFAULT_WORKERS} "
     f"process{'es' if _DEFAULT_WORKERS > 1 else ''}, tiles in the protocol, no access log)",
     [], {}),
    (f"quartier serve --workers {_OTHER_WORKERS}", ["--workers", str(_OTHER_WORKERS)], {}),
    ("quartier serve --workers 1, QUARTIER_PROTOCOL_TILES=0 (tiles on the ASGI fast path)",
     ["--workers", "1"], {"QUARTIER_PROTOCOL_TILES": "0"}),
    ("quartier serve --workers 1, QUARTIER_FAST_TILES=0 (tiles through the routes)",
     ["--workers", "1"], {"QUARTIER_FAST_TILES": "0"}),
    ("quartier serve --workers 1 --access-log, QUARTIER_FAST_TILES=0 (the defaults before "
     "issue 13)", ["--workers", "1", "--access-log"], {"QUARTIER_FAST_TILES": "0"}),
)
"""Label, ``quartier serve`` flags and environment of each quartier row; the first is the
default, the others take the steps back one by one."""


@dataclass
class Load:
    """One wrk run."""

    rps: float
    p99_ms: float
    errors: int
    """Non-2xx/3xx answers plus socket errors (connect, read, write, timeout)."""
    kinds: str
    """The errors by kind, e.g. ``timeout 12`` (wrk's timeout: no answer within 2 s)."""
    cpu_us: float = float("nan")
    """CPU time (user + system) the server's processes spent per request answered."""


@dataclass
class Server:
    """A running server and the tile URLs it answers, in the archive's order."""

    label: str
    proc: subprocess.Popen[bytes]
    base: str
    paths: list[str]
    unpack: bool = False
    """Compare unpacked bytes (the server re-compresses each tile)."""


def _session_cpu(session: int) -> float:
    """CPU seconds (user + system) used so far by the living processes of a session (each
    server runs in a session of its own: workers, nginx's worker processes, node)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[3]) == session:  # after the name: state ppid pgrp session ...
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, seconds: float = 300) -> None:
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


def _nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                     else None)


def _quartier(label: str, data: Path, flags: list[str], env: dict[str, str],
              paths: list[str]) -> Server:
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QUARTIER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--data", str(data), "--port", str(port),
         *flags], cwd=ROOT, env={**clean, **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    return Server(label, proc, f"http://127.0.0.1:{port}", paths)


def _nginx(tmp: Path, tiles: dict[tuple[int, int, int], bytes]) -> Server | None:
    """nginx serving each stored tile as a file ``/tiles/<geo>/z/x/y.mvt``."""
    binary = _nginx_binary()
    if binary is None:
        return None
    root = tmp / "nginx-static"
    for (z, x, y), data in tiles.items():
        path = root / "tiles" / SERVE_GEOGRAPHY / str(z) / str(x) / f"{y}.mvt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    gzipped = all(data[:2] == b"\x1f\x8b" for data in tiles.values())
    port = _free_port()
    temp = tmp / "nginx-temp"
    temp.mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes auto;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'nginx.err'};\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n"
        "  keepalive_requests 1000000;\n"
        + "".join(f"  {kind}_temp_path {temp / kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  server {{\n    listen 127.0.0.1:{port};\n    root {root};\n"
        "    location /tiles/ {\n      types { application/vnd.mapbox-vector-tile mvt; }\n"
        + ("      add_header Content-Encoding gzip;\n" if gzipped else "")
        + "    }\n  }\n}\n", encoding="utf-8")
    proc = subprocess.Popen(
        [binary, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx.err"),
         "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    paths = [f"/tiles/{SERVE_GEOGRAPHY}/{z}/{x}/{y}.mvt" for z, x, y in tiles]
    return Server("nginx, stored tiles as files (Debian package)", proc,
                  f"http://127.0.0.1:{port}", paths)


def _wrk(server: Server, tmp: Path, connections: int = WRK_CONNECTIONS) -> Load:
    script = tmp / f"paths-{server.base.rsplit(':', 1)[1]}.lua"
    if not script.exists():
        body = ",\n".join(f'"{p}"' for p in server.paths)
        script.write_text(
            "local paths = {\n" + body + "\n}\nlocal i = 0\n"
            "request = function()\n  i = i % #paths + 1\n"
            '  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})\nend\n',
            encoding="utf-8")
    cpu = _session_cpu(server.proc.pid)
    out = subprocess.run(
        ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{WRK_SECONDS}s", "--latency",
         "-s", str(script), server.base],
        check=True, capture_output=True, text=True, timeout=WRK_SECONDS + 60).stdout
    cpu = _session_cpu(server.proc.pid) - cpu
    answered = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert rps is not None and p99 is not None, out
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        out)
    kinds = {"non-2xx": int(errors.group(1)) if errors else 0}
    if sockets:
        kinds.update(zip(("connect", "read", "write", "timeout"),
                         (int(n) for n in sockets.groups()), strict=True))
    return Load(float(rps.group(1)), float(p99.group(1)) * scale, sum(kinds.values()),
                ", ".join(f"{kind} {n}" for kind, n in kinds.items() if n),
                cpu * 1e6 / int(answered.group(1)) if answered else float("nan"))


def _unpacked(data: bytes) -> bytes:
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _identical(server: Server, stored: list[bytes]) -> int:
    """How many tiles the server answers with the archive's bytes."""
    same = 0
    for path, data in zip(server.paths, stored, strict=True):
        request = urllib.request.Request(server.base + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        same += (_unpacked(body) == _unpacked(data)) if server.unpack else body == data
    return same


def serve_section(data: Path, tmp: Path) -> list[str]:
    """The serving table over the build of ``SERVE_GEOGRAPHY`` in ``data``."""
    with PMTilesArchive(data / SERVE_GEOGRAPHY / TILES_FILE) as archive:
        tiles = {(z, x, y): bytes(t) for z, x, y, t in archive.tiles()}
    stored = list(tiles.values())
    ours = [f"/tiles/{SERVE_GEOGRAPHY}/{z}/{x}/{y}.mvt" for z, x, y in tiles]
    header = [
        f"### Serving: `/tiles/{{g}}/{{z}}/{{x}}/{{y}}.mvt` ({SERVE_GEOGRAPHY}, {len(tiles)} "
        "tiles in turn) vs tileserver-gl-light and nginx (bench/serve.py)", ""]
    if shutil.which("wrk") is None:
        return [*header, "skipped: wrk is not installed (`make browser-deps`).", ""]
    servers: list[Server] = []
    notes: list[str] = []
    try:
        for label, flags, env in QUARTIER_RUNS:
            servers.append(_quartier(label, data, flags, env, ours))
        port = _free_port()
        peer = _tileserver(tmp, data / SERVE_GEOGRAPHY / TILES_FILE, port)
        if peer is None:
            notes.append("tileserver-gl-light: skipped, node/npm not found.")
        else:
            servers.append(Server(f"{TILESERVER} (node)", peer, f"http://127.0.0.1:{port}",
                                  [f"/data/q/{z}/{x}/{y}.pbf" for z, x, y in tiles], True))
        static = _nginx(tmp, tiles)
        if static is None:
            notes.append("nginx: skipped, not installed (Debian package `nginx`).")
        else:
            servers.append(static)
        for server in servers:
            _wait(server.base + server.paths[len(server.paths) // 2])
        same = {s.label: _identical(s, stored) for s in servers}
        best: dict[str, Load] = {}
        for _ in range(ROUNDS):
            for server in servers:
                subprocess.run(["wrk", "-t1", "-c4", "-d2s", server.base], capture_output=True,
                               check=False)
                load = _wrk(server, tmp)
                if server.label not in best or load.rps > best[server.label].rps:
                    best[server.label] = load
        many = _wrk(servers[0], tmp, MANY_CONNECTIONS)
    finally:
        for server in servers:
            _stop(server.proc)
    peer_rps = next((best[s.label].rps for s in servers if s.label.startswith(TILESERVER)), None)
    rows = [(s.label, best[s.label], same[s.label]) for s in servers]
    rows.insert(1, (f"{servers[0].label}, {MANY_CONNECTIONS} connections", many,
                    same[servers[0].label]))
    lines = [
        *header,
        f"wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} connections, {WRK_SECONDS} s per run, "
        f"best of {ROUNDS} alternating runs (one run with {MANY_CONNECTIONS} connections), "
        f"loopback, same machine ({os.cpu_count()} cores shared by server and wrk). All get "
        "`Accept-Encoding: gzip`; Quartier and nginx send the stored gzip bytes, "
        "tileserver-gl-light unpacks and re-compresses each tile. *Same bytes*: tiles answered "
        "with the archive's bytes (tileserver-gl-light: once unpacked). *Errors*: non-2xx "
        "answers plus socket errors (*timeout*: no answer within wrk's 2 s). *CPU µs per "
        "request*: user + system time of the server's processes during the run over the "
        "requests answered (what a request costs, little affected by other jobs on the "
        "machine).",
        "",
        "| server | requests/s | p99 latency ms | CPU µs per request | errors | same bytes "
        "| requests/s × peer |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, load, identical in rows:
        ratio = f"{load.rps / peer_rps:.1f}×" if peer_rps else "–"
        errors = f"{load.errors} ({load.kinds})" if load.errors else "0"
        lines.append(f"| {label} | {load.rps:.0f} | {load.p99_ms:.1f} | {load.cpu_us:.0f} "
                     f"| {errors} "
                     f"| {identical}/{len(tiles)} | {ratio} |")
    return [*lines, "", *notes, ""] if notes else [*lines, ""]


def run(data: Path | None = None) -> str:
    """Build the served geography (unless ``data`` holds it) and return the markdown section."""
    with tempfile.TemporaryDirectory(prefix="quartier-bench-serve-") as name:
        tmp = Path(name)
        if data is None:
            data = tmp / "data"
            build(ROOT / "boundaries" / SERVE_GEOGRAPHY, out=data / SERVE_GEOGRAPHY,
                  data_dir=data, say=lambda _: None)
        return "\n".join(["## Tile serving (bench/serve.py)", "", *serve_section(data, tmp)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--data", type=Path, help=f"a data folder holding {SERVE_GEOGRAPHY} "
                        f"(default: build it; tileserver-gl-light goes to {NODE_DIR})")
    print(run(parser.parse_args().data))
