"""HTTP behaviour every route shares: headers, CORS, HEAD, unknown parameters, limits, names."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, decode_tile, free_port, serving_config
from fastapi.testclient import TestClient

from geo.release import TILES_FILE, read_build
from geo.render.tiles import PMTilesArchive
from service.cli import server_config
from service.main import create_app
from service.settings import Settings

HTML_PAGES = ["/", "/builds", "/maps/mini/auslaenderanteil", "/docs", "/redoc",
              "/static/index.html"]


@pytest.fixture(scope="module")
def client(mini_data: Path) -> TestClient:
    """The whole app over the small build."""
    return TestClient(create_app(Settings(data=mini_data, reload_check_seconds=0)))


@contextmanager
def quartier_server(data: Path) -> Iterator[str]:
    """The app in a thread, run as ``quartier serve`` runs it (``server_config``)."""
    settings = Settings(data=data)
    port = free_port()
    config = server_config(create_app(settings), settings, host="127.0.0.1", port=port,
                           access_log=False)
    config.log_level = "warning"
    with serving_config(config) as url:
        yield url


def _tile(build_dir: Path) -> tuple[int, int, int]:
    z, x, y, _ = next(PMTilesArchive(build_dir / TILES_FILE).tiles())
    return z, x, y


def route_urls(spec: dict[str, Any], build_dir: Path) -> list[tuple[str, str]]:
    """(method, URL) for every operation of the OpenAPI document, with real parameters;
    every value of an enumerated parameter (``format``) once."""
    build = read_build(build_dir)
    gid = build.geography.id
    z, x, y = _tile(build_dir)
    level = build.geography.level_ids[-1]
    area = str(build.areas[build.areas["level"] == level]["area_id"].iloc[0])
    path_values = {
        "geography": gid, "indicator": build.catalogue.indicators[0].id,
        "collectionId": f"{gid}.{level}", "featureId": area, "level": level, "area_id": area,
        "z": str(z), "x": str(x), "y": str(y), "name": "values.csv",
    }
    query_values = {"q": area}  # required query parameters (area search)
    urls = []
    for path, operations in spec["paths"].items():
        url = re.sub(r"\{(\w+)\}", lambda m: path_values[m.group(1)], path)
        for method, operation in operations.items():
            required = "&".join(f"{p['name']}={query_values[p['name']]}"
                                for p in operation.get("parameters", [])
                                if p["in"] == "query" and p.get("required"))
            base = f"?{required}" if required else ""
            variants = [base]
            for param in operation.get("parameters", []):
                enum = param.get("schema", {}).get("enum")
                if param["in"] == "query" and enum:  # each value once, beside the required
                    variants += [f"{base}{'&' if base else '?'}{param['name']}={value}"
                                 for value in enum]
            urls += [(method.upper(), url + v) for v in variants]
    urls += [("GET", f"/downloads/{gid}/{name}") for name in build.downloads]
    return urls


# --- every route, for a build whose every text is hostile ---------------------------------------


def test_every_route_answers_200_for_hostile_text(hostile_data: Path) -> None:
    """Names, total, multi-line attribution, notice and unit with HTML and formula starters:
    every route of the OpenAPI document (and the pages) answers 200 through a real server."""
    spec = create_app(Settings(data=hostile_data)).openapi()
    urls = route_urls(spec, hostile_data / "hostile")
    urls += [("GET", u) for u in ("/", "/builds", "/docs", "/redoc", "/openapi.json",
                                  "/styles/sprite.json", "/styles/sprite@2x.png")]
    assert len(urls) > 25
    failures = []
    with quartier_server(hostile_data) as base, httpx.Client(base_url=base) as http:
        for method, url in urls:
            try:
                response = http.request(method, url)
            except httpx.HTTPError as exc:  # the server dropped the response
                failures.append(f"{method} {url}: {exc!r}")
                continue
            if response.status_code != 200:
                failures.append(f"{method} {url}: {response.status_code}")
            attribution = response.headers.get("x-attribution")
            if attribution is not None:
                assert "\n" not in attribution and "Quelle: <b>Amt</b>" in attribution
    assert not failures, failures


# --- headers every response carries -------------------------------------------------------------


def test_nosniff_on_every_response(client: TestClient, mini_data: Path) -> None:
    """X-Content-Type-Options: nosniff on pages, data, tiles, files, static files and errors."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    urls = [u for _, u in route_urls(spec, mini_data / "mini")]
    urls += [*HTML_PAGES, "/static/viewer.js", "/nowhere", "/api/geographies/nowhere"]
    for url in urls:
        assert client.get(url).headers.get("x-content-type-options") == "nosniff", url


def _directives(policy: str) -> dict[str, list[str]]:
    parts = [p.split() for p in policy.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


def test_every_html_page_has_a_csp(client: TestClient) -> None:
    """The viewer, the build list, map pages and the API docs each send a CSP."""
    for url in HTML_PAGES:
        response = client.get(url)
        assert response.headers["content-type"].startswith("text/html"), url
        policy = _directives(response.headers.get("content-security-policy", ""))
        scripts = policy.get("script-src", policy["default-src"])
        assert "'unsafe-inline'" not in scripts and "*" not in scripts, (url, policy)
        assert "'none'" in policy.get("object-src", policy["default-src"]), url


def test_map_page_script_src_lists_its_own_inline_scripts(client: TestClient) -> None:
    """A map page's CSP names a hash per inline script, never 'unsafe-inline' for scripts."""
    response = client.get("/maps/mini/auslaenderanteil")
    policy = response.headers["content-security-policy"]
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    assert scripts and policy.count("'sha256-") >= len(set(scripts))
    assert "frame-ancestors" not in policy  # any report embeds the map, file: included


# --- HEAD, CORS ---------------------------------------------------------------------------------


def test_head_on_every_get_route(client: TestClient, mini_data: Path) -> None:
    """HEAD answers like GET (status and type), without a body, on every route."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    urls = [u for m, u in route_urls(spec, mini_data / "mini") if m == "GET"]
    for url in [*urls, *HTML_PAGES, "/static/viewer.js"]:
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code == 200, url
        assert head.content == b"", url
        assert head.headers["content-type"] == get.headers["content-type"], url


def test_cors_on_api_ogc_tiles_and_downloads(client: TestClient, mini_data: Path) -> None:
    """Public read-only data: any origin may read it, ETag/Content-Range are exposed."""
    origin = {"Origin": "https://bericht.example.org"}
    z, x, y = _tile(mini_data / "mini")
    for url in ("/api/geographies", "/api/geographies/mini/values?format=csv", "/ogc/collections",
                "/ogc/collections/mini.quartier/items", f"/tiles/mini/{z}/{x}/{y}.mvt",
                "/tiles/mini.json", "/styles/mini/auslaenderanteil.json",
                "/downloads/mini/values.csv"):
        for headers in (origin, {}):  # the same answer with or without Origin (shared caches)
            response = client.get(url, headers=headers)
            assert response.headers["access-control-allow-origin"] == "*", url
            exposed = response.headers["access-control-expose-headers"]
            assert "ETag" in exposed and "Content-Range" in exposed, url
    ranged = client.get("/tiles/mini.pmtiles", headers={**origin, "Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("url", ["/tiles/mini/0/0/0.mvt", "/tiles/mini.pmtiles",
                                 "/api/geographies/mini/values", "/ogc/collections"])
def test_preflight_for_range_and_conditional_requests(client: TestClient, url: str) -> None:
    """OPTIONS preflights (tiles, archive, API, OGC) allow GET/HEAD with Range and If-*."""
    response = client.options(url, headers={
        "Origin": "https://bericht.example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "range, if-none-match"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "POST" not in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "range" in allowed and "if-none-match" in allowed


# --- unknown query parameters -------------------------------------------------------------------


def test_unknown_query_parameter_is_422_naming_the_valid_ones(client: TestClient) -> None:
    """Year=2021 (misspelt) is refused, not ignored; the message lists the valid names."""
    response = client.get("/api/geographies/mini/values?Year=2021")
    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert "Year" in message and all(n in message for n in ("year", "level", "format"))
    for url in ("/maps/mini/auslaenderanteil?jahr=2023", "/maps/mini/auslaenderanteil.png?x=1",
                "/styles/mini/auslaenderanteil.json?levle=quartier", "/tiles/mini.json?V=1",
                "/api/geographies?q=1", "/downloads/mini/values.csv?a=b", "/builds?x=1",
                "/docs?x=1"):
        assert client.get(url).status_code == 422, url


def test_declared_parameters_still_work(client: TestClient, mini_data: Path) -> None:
    """v= (cache busting) on tiles and styles, f= on OGC, year/level on maps are accepted."""
    release = read_build(mini_data / "mini").release_id
    for url in (f"/tiles/mini.json?v={release}", f"/styles/mini/sgb2_quote.json?v={release}",
                "/ogc/collections?f=json", "/maps/mini/sgb2_quote?year=2023&level=quartier",
                "/api/geographies/mini/values?year=2023&format=csv"):
        assert client.get(url).status_code == 200, url


def test_ogc_unknown_parameter_stays_400(client: TestClient) -> None:
    """The OGC API answers an unknown parameter with 400, as the standard requires."""
    response = client.get("/ogc/collections/mini.quartier/items?limt=5")
    assert response.status_code == 400
    assert "limt" in response.json()["description"] and "limit" in response.json()["description"]


# --- request limits -----------------------------------------------------------------------------


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def test_huge_request_header_is_refused_without_buffering(mini_data: Path) -> None:
    """`quartier serve` refuses a 100 MB header early: the server stops reading long before
    100 MB, its peak memory hardly moves, and it keeps serving."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--data", str(mini_data),
         "--port", str(port), "--no-access-log", "--workers", "1"],  # the pid reads the head
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/geographies").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "quartier serve did not start"
            time.sleep(0.2)
        before = _peak_rss_kib(server.pid)
        chunk = b"a" * (1 << 20)
        sent = 0
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /api/geographies HTTP/1.1\r\nHost: x\r\nX-Big: ")
            try:
                while sent < 100 * (1 << 20):
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # the server closed the connection: what we want
            sock.settimeout(5)
            try:
                answer = sock.recv(200)
            except OSError:
                answer = b""
        assert sent < 100 * (1 << 20), "the server read a 100 MB header"
        assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431"))
        assert _peak_rss_kib(server.pid) - before < 20 * 1024
        assert httpx.get(f"http://127.0.0.1:{port}/api/geographies").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)


# --- downloads ----------------------------------------------------------------------------------


def test_download_names_carry_geography_and_release(client: TestClient, mini_data: Path) -> None:
    """Saved file names say geography and release; the API's CSV also indicator, level, year."""
    release = read_build(mini_data / "mini").release_id
    disposition = client.get("/downloads/mini/values.csv").headers["content-disposition"]
    assert f'filename="mini-{release}-values.csv"' in disposition
    assert f"mini-{release}.gpkg" in client.get("/downloads/mini.gpkg").headers[
        "content-disposition"]
    csv = client.get("/api/geographies/mini/values?indicator=sgb2_quote&format=csv-de")
    assert f'filename="mini-{release}-sgb2_quote-quartier-2023.csv"' in csv.headers[
        "content-disposition"]


def test_downloads_refuse_symlinks(small_geography: Path, tmp_path: Path) -> None:
    """A symlink in a build folder (even under a listed name) is never followed."""
    from geo.build import build

    out = tmp_path / "data" / "mini"
    build(small_geography, out=out, say=lambda _: None)
    secret = tmp_path / "secret.txt"
    secret.write_text("geheim", encoding="utf-8")
    (out / "ATTRIBUTION.txt").unlink()
    (out / "ATTRIBUTION.txt").symlink_to(secret)
    client = TestClient(create_app(Settings(data=tmp_path / "data", reload_check_seconds=0)))
    response = client.get("/downloads/mini/ATTRIBUTION.txt")
    assert response.status_code == 404 and "geheim" not in response.text
    assert client.get("/downloads/mini/values.csv").status_code == 200


# --- static files -------------------------------------------------------------------------------


def test_static_files_are_compressed_and_cached(client: TestClient) -> None:
    """Text files are gzipped; vendored libraries cached long, the viewer revalidated."""
    vendor = client.get("/static/vendor/maplibre-gl/maplibre-gl.js",
                        headers={"Accept-Encoding": "gzip"})
    assert vendor.headers["content-encoding"] == "gzip"
    assert vendor.num_bytes_downloaded < len(vendor.content) / 2
    assert "max-age=604800" in vendor.headers["cache-control"]
    viewer = client.get("/static/viewer.js")
    assert viewer.headers["cache-control"] == "no-cache" and viewer.headers["etag"]
    assert client.get("/static/viewer.js",
                      headers={"If-None-Match": viewer.headers["etag"]}).status_code == 304
    png = client.get("/static/vendor/swagger-ui/favicon-32x32.png")
    assert "content-encoding" not in png.headers


def test_tiles_and_archives_are_not_compressed_twice(client: TestClient, mini_data: Path) -> None:
    """Tiles keep their stored gzip; the archive is sent as stored (ranges stay byte-exact)."""
    whole = client.get("/tiles/mini.pmtiles", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in whole.headers
    assert whole.content == (mini_data / "mini" / TILES_FILE).read_bytes()
    z, x, y = _tile(mini_data / "mini")
    tile = client.get(f"/tiles/mini/{z}/{x}/{y}.mvt", headers={"Accept-Encoding": "gzip"})
    assert tile.headers["content-encoding"] == "gzip"
    assert decode_tile(tile.content)  # httpx undid the one gzip: the protobuf is left
