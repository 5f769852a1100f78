"""The deployment of docs/DEPLOY.md: nginx (Debian package) serves the archives and the viewer's
files, ``quartier serve --workers 2`` the rest; Chromium opens the viewer through nginx.

The nginx configuration is read from docs/DEPLOY.md itself (its one ``nginx`` block), with the
paths and ports of this test put in, so the documented configuration is the tested one.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import CHROMIUM_ARGS, ROOT, free_port, write_small_geography

from geo.build import build
from geo.release import TILES_FILE
from geo.release.layout import release_dir
from geo.render.tiles import PMTilesArchive

DOC = ROOT / "docs" / "DEPLOY.md"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian package `nginx`: `make browser-deps`)")


def documented_config() -> str:
    """The nginx block of docs/DEPLOY.md."""
    blocks = re.findall(r"```nginx\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/DEPLOY.md should hold exactly one nginx block"
    return blocks[0]


@dataclass(frozen=True)
class Deployment:
    """nginx (site and archive host) in front of ``quartier serve``, on free ports."""

    site: str
    archives: str
    service: str
    data: Path
    a: str
    b: str
    access_log: Path
    service_log: Path

    def log(self) -> list[str]:
        """nginx's access log so far: ``port "request" status "range" upstream``."""
        return self.access_log.read_text(encoding="utf-8").splitlines()


def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET"
         ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def _wait(url: str, proc: subprocess.Popen[bytes], what: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.3)
    raise AssertionError(f"{what} did not answer {url}")


def _wait_workers(log: Path, proc: subprocess.Popen[bytes], workers: int,
                  seconds: float = 180) -> None:
    """Wait until each worker of ``quartier serve`` has started its app."""
    deadline = time.monotonic() + seconds
    while log.read_text().count("Application startup complete") < workers:
        assert proc.poll() is None, f"quartier serve exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{workers} workers did not start: {log.read_text()}"
        time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _nginx_conf(tmp: Path, data: Path, site: int, archives: int, service: int) -> Path:
    """The documented server blocks inside a main context of this test's own (no root paths)."""
    snippet = documented_config()
    for old, new in (("/srv/quartier/data", str(data)),
                     ("/srv/quartier/static", str(ROOT / "static")),
                     ("server 127.0.0.1:8000;", f"server 127.0.0.1:{service};"),
                     ("listen 80;", f"listen 127.0.0.1:{site};"),
                     ("listen 8080;", f"listen 127.0.0.1:{archives};")):
        assert old in snippet, f"docs/DEPLOY.md's nginx block no longer has {old!r}"
        snippet = snippet.replace(old, new)
    temp = tmp / "temp"
    temp.mkdir()
    # as root the workers would switch to 'nobody', who cannot read pytest's private folders
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 2;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "  include /etc/nginx/mime.types;\n"
        "  default_type application/octet-stream;\n"
        "  log_format deploy '$server_port \"$request\" $status \"$http_range\" "
        "$upstream_addr';\n"
        f"  access_log {tmp / 'access.log'} deploy;\n"
        + "".join(f"  {kind}_temp_path {temp / kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + snippet + "\n}\n",
        encoding="utf-8")
    return conf


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """mini built twice (A kept, B current); quartier serve --workers 2 with
    QUARTIER_TILES_URL naming the archive host; nginx with the documented configuration."""
    tmp = tmp_path_factory.mktemp("deploy")
    source = write_small_geography(tmp / "src" / "mini")
    data = tmp / "data"
    a = build(source, out=data / "mini", data_dir=data, say=lambda _: None).published.release_id
    counts = source / "counts.csv"
    counts.write_text(counts.read_text(encoding="utf-8").replace("1200", "1300"),
                      encoding="utf-8")
    b = build(source, out=data / "mini", data_dir=data, say=lambda _: None).published.release_id
    site, archives, service = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARTIER_")}
    env["QUARTIER_TILES_URL"] = f"http://127.0.0.1:{archives}"
    log = open(tmp / "quartier.log", "wb")  # noqa: SIM115 - closed when the server stops
    quartier = subprocess.Popen(  # uvicorn logs to stderr, its access log to stdout
        [sys.executable, "-m", "service.cli", "serve", "--data", str(data), "--port",
         str(service), "--workers", "2"],
        cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=log)
    nginx: subprocess.Popen[bytes] | None = None
    try:
        conf = _nginx_conf(tmp, data, site, archives, service)
        test = subprocess.run([str(NGINX), "-t", "-p", str(tmp), "-c", str(conf), "-e",
                               str(tmp / "error.log")], capture_output=True, text=True)
        assert test.returncode == 0, test.stderr
        nginx = subprocess.Popen(
            [str(NGINX), "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log"),
             "-g", "daemon off;"], start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(f"http://127.0.0.1:{service}/tiles/index.json", quartier, "quartier serve")
        _wait_workers(tmp / "quartier.log", quartier, 2)
        _wait(f"http://127.0.0.1:{site}/static/viewer.js", nginx, "nginx")
        yield Deployment(f"http://127.0.0.1:{site}", f"http://127.0.0.1:{archives}",
                         f"http://127.0.0.1:{service}", data, a, b, tmp / "access.log",
                         tmp / "quartier.log")
    finally:
        if nginx is not None:
            _stop(nginx)
        _stop(quartier)
        log.close()


def _archive(data: Path, release: str | None = None) -> bytes:
    folder = release_dir(data / "mini", release) if release else (data / "mini").resolve()
    return (folder / TILES_FILE).read_bytes()


def test_nginx_serves_the_archives_with_ranges(deployment: Deployment) -> None:
    """/tiles/<geo>.pmtiles from nginx: byte ranges of the release the URL names, CORS,
    immutable caching only for a URL naming a release, a preflight answered."""
    d = deployment
    current, old = _archive(d.data), _archive(d.data, d.a)
    status, headers, body = _get(f"{d.site}/tiles/mini.pmtiles", {"Range": "bytes=0-126"})
    assert status == 206 and body == current[:127]
    assert headers["content-range"] == f"bytes 0-126/{len(current)}"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["x-content-type-options"] == "nosniff"
    assert "immutable" not in headers["cache-control"] and headers["etag"]
    status, headers, body = _get(f"{d.site}/tiles/mini.pmtiles?release={d.a}",
                                 {"Range": "bytes=100-1099"})
    assert status == 206 and body == old[100:1100] and "immutable" in headers["cache-control"]
    status, headers, body = _get(f"{d.site}/tiles/mini.pmtiles?v={d.b}",
                                 {"Range": f"bytes=-{len(current)}"})
    assert status == 206 and body == current and "immutable" in headers["cache-control"]
    etag = headers["etag"]
    assert _get(f"{d.site}/tiles/mini.pmtiles?v={d.b}", {"If-None-Match": etag})[0] == 304
    status, headers, _ = _get(f"{d.site}/tiles/mini.pmtiles", method="OPTIONS",
                              headers={"Origin": "https://report.example",
                                       "Access-Control-Request-Method": "GET",
                                       "Access-Control-Request-Headers": "range"})
    assert status == 204 and "Range" in headers["access-control-allow-headers"]
    assert _get(f"{d.site}/tiles/mini.pmtiles?release=0000")[0] == 404
    status, headers, body = _get(f"{d.archives}/mini.releases/{d.a}/tiles.pmtiles",
                                 {"Range": "bytes=0-126"})
    assert status == 206 and body == old[:127] and "immutable" in headers["cache-control"]
    assert headers["access-control-allow-origin"] == "*"


def test_nothing_but_archives_leaves_the_data_folder(deployment: Deployment) -> None:
    """The key file, suppression logs and build files are not reachable through nginx."""
    d = deployment
    for url in (f"{d.archives}/.quartier-key", f"{d.archives}/mini.suppression.csv",
                f"{d.archives}/mini.releases/{d.a}.suppression.csv",
                f"{d.archives}/mini/manifest.json", f"{d.archives}/mini/tiles.pmtiles/",
                f"{d.archives}/mini.releases/{d.a}/values.csv",
                f"{d.site}/tiles/..%2F.quartier-key.pmtiles",
                f"{d.site}/tiles/mini.pmtiles?release=..%2F..%2Fmini"):
        status, _, body = _get(url)
        assert status in (404, 422) or b"QUARTIER" not in body.upper(), url
        assert status != 200 or body[:7] == b"PMTiles", url


def test_the_rest_goes_to_quartier_and_static_files_come_from_disk(
        deployment: Deployment) -> None:
    """The viewer's files (/static/) are nginx's; the viewer page (its CSP allowing the archive
    host), the API and z/x/y tiles are the service's (proxied); the index sends the viewer to
    the archive host (QUARTIER_TILES_URL)."""
    d = deployment
    status, headers, body = _get(f"{d.site}/static/viewer.js")
    assert status == 200 and body == (ROOT / "static" / "viewer.js").read_bytes()
    assert headers["cache-control"] == "no-cache"
    status, headers, _ = _get(f"{d.site}/static/vendor/pmtiles/pmtiles.js")
    assert status == 200 and "max-age=604800" in headers["cache-control"]
    status, headers, body = _get(f"{d.site}/")
    assert status == 200 and body == (ROOT / "static" / "index.html").read_bytes()
    connect = next(part for part in headers["content-security-policy"].split(";")
                   if part.strip().startswith("connect-src"))
    assert d.archives in connect.split()
    index = _get(f"{d.site}/tiles/index.json")
    assert index[0] == 200
    assert f'"pmtiles":"{d.archives}/mini.releases/{d.b}/tiles.pmtiles?v={d.b}"' in \
        index[2].decode().replace(" ", "")
    with PMTilesArchive(d.data / "mini" / TILES_FILE) as arc:
        z, x, y, data = next(arc.tiles())
    status, headers, body = _get(f"{d.site}/tiles/mini/{z}/{x}/{y}.mvt")
    assert status == 200 and body == data and headers["content-encoding"] == "gzip"
    assert _get(f"{d.site}/api/geographies")[0] == 200
    started = re.findall(r"Started server process \[(\d+)\]", d.service_log.read_text())
    assert len(set(started)) == 2, "quartier serve --workers 2 should run two processes"
    assert "/api/geographies" not in d.service_log.read_text(), "no access log by default"
    log = d.log()
    static = [line for line in log if '"GET /static/' in line]
    proxied = [line for line in log if f'"GET /tiles/mini/{z}/{x}/{y}.mvt' in line
               or '"GET / ' in line]
    assert static and all(line.endswith(" -") for line in static)  # nginx's own files
    assert len(proxied) >= 2
    assert all(line.endswith(d.service.removeprefix("http://")) for line in proxied)


@pytest.mark.browser
def test_viewer_through_nginx_reads_the_archive_host(deployment: Deployment) -> None:
    """Chromium opens the viewer through nginx; the map's tiles come from the archive host's
    tiles.pmtiles by Range requests (nginx's log says 206), no request leaves 127.0.0.1."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (`make browser-deps` installs it)")
    from playwright.sync_api import sync_playwright

    d = deployment
    hosts: set[str] = set()
    ranges: list[str] = []
    xyz: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))

        def seen(request: object) -> None:
            url = request.url  # type: ignore[attr-defined]
            if urlparse(url).scheme in ("http", "https"):
                hosts.add(urlparse(url).hostname or "")
            if url.split("?")[0].endswith(".mvt"):
                xyz.append(url)
            if ".pmtiles" in url:
                ranges.append(request.headers.get("range", ""))  # type: ignore[attr-defined]

        page.on("request", seen)
        page.goto(f"{d.site}/#g=mini&l=quartier")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=90000)
        rendered = page.evaluate("""(() => {
            const l = quartier.state().l;
            const layers = quartier.map.getStyle().layers  // classes, withheld, no data
                .filter(x => x.type === 'fill' && x.id.startsWith(l + '-')).map(x => x.id);
            return [...new Set(quartier.map.queryRenderedFeatures({layers})
                .map(f => f.properties.area_id))].sort(); })()""")
        source = page.evaluate("quartier.map.getStyle().sources.quartier.url")
        browser.close()
    assert rendered == ["10", "11", "12", "20", "21"]
    assert source == f"pmtiles://{d.archives}/mini.releases/{d.b}/tiles.pmtiles?v={d.b}"
    assert hosts == {"127.0.0.1"}
    assert ranges and all(r.startswith("bytes=") for r in ranges)
    archive_port = d.archives.rsplit(":", 1)[1]
    served = [line for line in d.log() if line.startswith(f"{archive_port} ")
              and f"/mini.releases/{d.b}/tiles.pmtiles" in line]
    assert served and all(' 206 "bytes=' in line for line in served), served
    assert not xyz, "the viewer read z/x/y tiles instead of the archive"
    assert errors == []
