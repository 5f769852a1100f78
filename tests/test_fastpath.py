"""Tiles ahead of routing (service/fastpath.py): the same bytes and answers as the tile route."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from conftest import write_small_geography
from fastapi.testclient import TestClient

from geo.build import build
from geo.release import TILES_FILE, read_build
from geo.release.history import rollback
from geo.release.layout import release_dir
from geo.render.tiles import PMTilesArchive
from service.fastpath import TileAnswers, TileFastPath
from service.headers import NOSNIFF
from service.main import create_app
from service.settings import Settings
from service.store import BuildStore

VARYING = {"date", "server"}


def _clients(data: Path, **settings: Any) -> tuple[TestClient, TestClient]:
    """The app as served (fast path on) and the same app with every tile through the route."""
    fast = create_app(Settings(data=data, reload_check_seconds=0, **settings))
    normal = create_app(Settings(data=data, reload_check_seconds=0, fast_tiles=False, **settings))
    return TestClient(fast), TestClient(normal)


class Answer(NamedTuple):
    """Status, headers and the body as sent (not un-gzipped)."""

    status_code: int
    headers: dict[str, str]
    content: bytes


def _fetch(client: TestClient, method: str, url: str, headers: dict[str, str] | None = None
           ) -> Answer:
    with client.stream(method, url, headers=headers or {}) as response:
        body = b"".join(response.iter_raw())
        kept = {k: v for k, v in response.headers.items() if k not in VARYING}
        return Answer(response.status_code, kept, body)


def _same(fast: Answer, normal: Answer) -> None:
    """Status, body and headers equal (``nosniff``, which the fast path always sends, is
    compared where the app sends it too)."""
    assert fast.status_code == normal.status_code
    assert fast.content == normal.content
    got = dict(fast.headers)
    for name in NOSNIFF:
        if name.lower() not in normal.headers:
            got.pop(name.lower(), None)
    assert got == normal.headers


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """data/mini built twice with other counts: release A kept, B current."""
    tmp = tmp_path_factory.mktemp("fastpath")
    source = write_small_geography(tmp / "src" / "mini")
    data = tmp / "data"
    a = build(source, out=data / "mini", data_dir=data, say=lambda _: None).published.release_id
    counts = source / "counts.csv"
    counts.write_text(counts.read_text(encoding="utf-8").replace("1200", "1300"),
                      encoding="utf-8")
    b = build(source, out=data / "mini", data_dir=data, say=lambda _: None).published.release_id
    assert a != b
    return data, a, b


def _tiles(folder: Path) -> list[tuple[int, int, int, bytes]]:
    with PMTilesArchive(folder / TILES_FILE) as arc:
        return list(arc.tiles())


def test_every_tile_is_the_archives_bytes(mini_data: Path) -> None:
    """Each stored tile, through the fast path: PMTilesArchive.get's bytes, gzip as stored, and
    the normal route's answer."""
    fast, normal = _clients(mini_data)
    tiles = _tiles(mini_data / "mini")
    assert len(tiles) > 5
    with PMTilesArchive(mini_data / "mini" / TILES_FILE) as arc:
        for z, x, y, data in tiles:
            url = f"/tiles/mini/{z}/{x}/{y}.mvt"
            got = _fetch(fast, "GET", url)
            assert got.status_code == 200
            assert got.content == data == arc.get(z, x, y)
            assert got.headers["content-encoding"] == "gzip"
            assert got.headers["content-type"] == "application/vnd.mapbox-vector-tile"
            _same(got, _fetch(normal, "GET", url))


def _cases(z: int, x: int, y: int, release: str, minzoom: int, maxzoom: int
           ) -> list[tuple[str, str, dict[str, str]]]:
    """(method, url, request headers) that the two paths must answer alike."""
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    etag = f'"{release}-{z}-{x}-{y}"'
    return [
        ("GET", tile, {}),
        ("GET", f"{tile}?v={release}", {}),
        ("GET", f"{tile}?v=0123456789abcdef", {}),
        ("GET", f"{tile}?release={release}", {}),
        ("GET", f"{tile}?release={release}&v={release}", {}),
        ("HEAD", tile, {}),
        ("HEAD", f"{tile}?v={release}", {}),
        ("GET", tile, {"If-None-Match": etag}),
        ("GET", f"{tile}?v={release}", {"If-None-Match": f"W/{etag}"}),
        ("GET", tile, {"If-None-Match": '"other", *'}),
        ("GET", tile, {"If-None-Match": '"other"'}),
        ("GET", f"/tiles/mini/{minzoom}/0/0.mvt", {}),  # empty: 204
        ("GET", f"/tiles/mini/{maxzoom}/0/0.mvt?v={release}", {}),
        ("GET", f"/tiles/mini/{minzoom - 1}/0/0.mvt", {}),  # outside the zooms: 404
        ("GET", f"/tiles/mini/{maxzoom + 1}/0/0.mvt", {}),
        ("GET", f"/tiles/mini/{z}/{1 << z}/{y}.mvt", {}),  # outside the grid: 404
        ("GET", f"/tiles/mini/{z}/{x}/-1.mvt", {}),
        ("GET", f"/tiles/mini/0{z}/{x}/{y}.mvt", {}),  # same tile, spelt otherwise
        ("GET", f"/tiles/mini/{z}/{x}/{y}.mvt?foo=1", {}),  # unknown parameter
        ("GET", f"{tile}?v={release}&Release={release}", {}),
        ("GET", f"{tile}?v=a&v=b", {}),
        ("GET", f"{tile}?release=nope", {}),  # unknown release: 404
        ("GET", f"{tile}?release=", {}),
        ("GET", f"{tile}?release={'x' * 65}", {}),
        ("GET", f"/tiles/nowhere/{z}/{x}/{y}.mvt", {}),
        ("POST", tile, {}),
    ]


def test_every_answer_is_the_routes(mini_data: Path) -> None:
    """304, 204, 404, HEAD, v=, release=, unknown parameters and releases: the fast path
    answers exactly as the normal route (or leaves the request to it)."""
    fast, normal = _clients(mini_data)
    z, x, y, _ = _tiles(mini_data / "mini")[-1]
    release = read_build(mini_data / "mini").release_id
    with PMTilesArchive(mini_data / "mini" / TILES_FILE) as arc:
        minzoom, maxzoom = arc.minzoom, arc.maxzoom
        assert not arc.get(minzoom, 0, 0)
    for method, url, headers in _cases(z, x, y, release, minzoom, maxzoom):
        _same(_fetch(fast, method, url, headers), _fetch(normal, method, url, headers))
    assert fast.get(f"/tiles/mini/{minzoom}/0/0.mvt").status_code == 204
    assert fast.get(f"/tiles/mini/{z}/{x}/{y}.mvt",
                    headers={"If-None-Match": f'"{release}-{z}-{x}-{y}"'}).status_code == 304
    head = fast.head(f"/tiles/mini/{z}/{x}/{y}.mvt")
    assert head.content == b"" and int(head.headers["content-length"]) > 0


def test_caching_is_immutable_only_when_the_url_names_the_release(mini_data: Path) -> None:
    """?v=<current> and ?release= are cached for good, a plain or stale URL for a minute."""
    fast, _ = _clients(mini_data, cache_seconds=60)
    z, x, y, _ = _tiles(mini_data / "mini")[0]
    release = read_build(mini_data / "mini").release_id
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    assert fast.get(tile).headers["cache-control"] == "public, max-age=60"
    assert fast.get(f"{tile}?v=0ld").headers["cache-control"] == "public, max-age=60"
    for query in (f"v={release}", f"release={release}"):
        assert "immutable" in fast.get(f"{tile}?{query}").headers["cache-control"]
    assert fast.get(tile).headers["access-control-allow-origin"] == "*"
    assert fast.get(tile).headers["x-content-type-options"] == "nosniff"


class _Inner:
    """The app behind the fast path: records what reaches it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.paths.append(f"{scope['method']} {scope['path']}?{scope['query_string'].decode()}")
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _call(app: TileFastPath, method: str, path: str, query: str = "") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(b"accept-encoding", b"gzip")]}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_plain_requests_never_reach_the_app(mini_data: Path) -> None:
    """Tiles, empty tiles, v= and release= are answered by the fast path itself; anything
    else (an unknown parameter, a repeated one, another method, a tile outside the archive)
    goes on to the app, whose rules (422, 404) apply."""
    inner = _Inner()
    store = BuildStore(mini_data, check_seconds=0)
    app = TileFastPath(inner, answers=TileAnswers(store, Settings(data=mini_data)))
    z, x, y, data = _tiles(mini_data / "mini")[0]
    release = read_build(mini_data / "mini").release_id
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    assert _call(app, "GET", tile) == (200, data)
    assert _call(app, "GET", tile, f"v={release}") == (200, data)
    assert _call(app, "GET", tile, f"release={release}&v={release}") == (200, data)
    assert _call(app, "HEAD", tile) == (200, b"")
    assert _call(app, "GET", f"/tiles/mini/{z}/0/0.mvt")[0] == 204
    assert inner.paths == []
    passed = [("GET", tile, "foo=1"), ("GET", tile, "v=a&v=a"), ("GET", tile, "v=%41"),
              ("POST", tile, ""), ("GET", f"/tiles/mini/{z + 20}/0/0.mvt", ""),
              ("GET", "/tiles/mini.pmtiles", ""), ("GET", f"/tiles/zzz/{z}/{x}/{y}.mvt", ""),
              ("GET", tile, "release=0000")]
    for method, path, query in passed:
        assert _call(app, method, path, query)[0] == 599
    assert len(inner.paths) == len(passed)


def test_pinned_releases_are_served_from_their_own_archive(
        two_releases: tuple[Path, str, str]) -> None:
    """?release=A answers A's stored bytes and ETag while B is current."""
    data, a, b = two_releases
    fast, normal = _clients(data)
    tiles_a = {(z, x, y): t for z, x, y, t in _tiles(release_dir(data / "mini", a))}
    tiles_b = {(z, x, y): t for z, x, y, t in _tiles(data / "mini")}
    differ = [k for k in tiles_a if tiles_b.get(k) != tiles_a[k]]
    assert differ, "the two releases should differ in some tile"
    z, x, y = differ[0]
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    pinned = _fetch(fast, "GET", f"{tile}?release={a}")
    assert pinned.content == tiles_a[(z, x, y)]
    assert pinned.headers["etag"] == f'"{a}-{z}-{x}-{y}"'
    current = _fetch(fast, "GET", tile)
    assert current.content == tiles_b[(z, x, y)] and current.headers["etag"].startswith(f'"{b}-')
    for url in (f"{tile}?release={a}", f"{tile}?release={b}", f"{tile}?v={a}", tile):
        _same(_fetch(fast, "GET", url), _fetch(normal, "GET", url))


def test_a_rollback_and_a_rebuild_show_up_without_restart(
        two_releases: tuple[Path, str, str], tmp_path: Path) -> None:
    """The same running app follows the data folder: B, then A after a rollback, then B."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(two_releases[0], data, symlinks=True)
    _, a, b = two_releases
    fast, _ = _clients(data)
    z, x, y, _ = _tiles(data / "mini")[0]
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    assert fast.get(tile).headers["etag"].startswith(f'"{b}-')
    rollback(data / "mini", a)
    assert fast.get(tile).headers["etag"].startswith(f'"{a}-')
    rollback(data / "mini", b)
    assert fast.get(tile).headers["etag"].startswith(f'"{b}-')


def test_tiles_url_sends_clients_to_the_static_host(two_releases: tuple[Path, str, str]) -> None:
    """QUARTIER_TILES_URL: the index and the pmtiles styles name the archive of the release
    served, below the static host (a path on this site becomes an absolute URL)."""
    data, a, b = two_releases
    for base, root in (("https://cdn.example/q/", "https://cdn.example/q"),
                       ("/archives", "http://testserver/archives")):
        fast, _ = _clients(data, tiles_url=base)
        index = fast.get("/tiles/index.json").json()["geographies"][0]
        assert index["pmtiles"] == f"{root}/mini.releases/{b}/tiles.pmtiles?v={b}"
        style = fast.get(f"/styles/mini/auslaenderanteil.json?source=pmtiles&release={a}").json()
        assert style["sources"]["quartier"]["url"] == (
            f"pmtiles://{root}/mini.releases/{a}/tiles.pmtiles?v={a}")
    fast, _ = _clients(data)
    index = fast.get("/tiles/index.json").json()["geographies"][0]
    assert index["pmtiles"] == f"http://testserver/tiles/mini.pmtiles?v={b}"
