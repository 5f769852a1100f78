"""Plain tiles answered in the protocol of ``quartier serve`` (service/protocol.py): over a real
socket, the same answers as the tile route, on the same keep-alive connections as the app's."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from conftest import free_port, serving_config
from fastapi.testclient import TestClient
from test_fastpath import _cases, _tiles

from geo.release import TILES_FILE, read_build
from geo.render.tiles import PMTilesArchive
from service.cli import server_config
from service.main import create_app
from service.settings import Settings

VARYING = {"date", "server"}


class Recorder:
    """The app as uvicorn sees it, recording each request that reaches it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


class Served(NamedTuple):
    url: str
    port: int
    app: Recorder


@pytest.fixture(scope="module")
def served(mini_data: Path) -> Iterator[Served]:
    """The app with the fast path, run as ``quartier serve`` runs it."""
    settings = Settings(data=mini_data, reload_check_seconds=0)
    port = free_port()
    app = Recorder(create_app(settings))
    config = server_config(app, settings, host="127.0.0.1", port=port, access_log=False)
    config.log_level = "warning"
    with serving_config(config) as url:
        yield Served(url, port, app)


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def _request(method: str, url: str, headers: dict[str, str] | None = None,
             body: bytes = b"") -> bytes:
    lines = [f"{method} {url} HTTP/1.1", "Host: 127.0.0.1", "Accept-Encoding: gzip",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read(stream: Any, method: str) -> Reply:
    """One answer from a socket's file."""
    status = int(stream.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        assert name.lower() not in headers, f"{name} sent twice"
        headers[name.lower()] = value.strip()
    length = 0 if method == "HEAD" or status in (204, 304) else int(headers["content-length"])
    return Reply(status, headers, stream.read(length))


def _exchange(port: int, requests: list[tuple[str, str, dict[str, str]]],
              body: bytes = b"") -> tuple[list[Reply], bool]:
    """Send every request on one connection at once (pipelined); the answers, and whether
    the server closed the connection after them."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(_request(m, u, h, body) for m, u, h in requests))
        stream = sock.makefile("rb")
        replies = [_read(stream, method) for method, _, _ in requests]
        sock.settimeout(0.5)
        try:
            closed = stream.read(1) == b""
        except TimeoutError:
            closed = False
    return replies, closed


def _as_route(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Reply:
    with client.stream(method, url, headers={"Accept-Encoding": "gzip", **headers}) as r:
        return Reply(r.status_code, {k: v for k, v in r.headers.items() if k not in VARYING},
                     b"".join(r.iter_raw()))


def test_every_answer_on_the_socket_is_the_routes(mini_data: Path, served: Served) -> None:
    """Each case of the fast path's test, one request per connection: status, headers and
    bytes as the tile route sends them; the plain ones never reach the app."""
    route = TestClient(create_app(Settings(data=mini_data, reload_check_seconds=0,
                                           fast_tiles=False)))
    z, x, y, _ = _tiles(mini_data / "mini")[-1]
    release = read_build(mini_data / "mini").release_id
    with PMTilesArchive(mini_data / "mini" / TILES_FILE) as arc:
        minzoom, maxzoom = arc.minzoom, arc.maxzoom
    served.app.seen.clear()
    reached = []
    for method, url, headers in _cases(z, x, y, release, minzoom, maxzoom):
        before = len(served.app.seen)
        [got], _ = _exchange(served.port, [(method, url, headers)])
        want = _as_route(route, method, url, headers)
        assert got.status == want.status, url
        assert got.body == want.body, url
        assert {k: v for k, v in got.headers.items() if k not in VARYING} == want.headers, url
        assert {"date", "server"} <= got.headers.keys()
        if len(served.app.seen) > before:
            reached.append((method, url))
    plain = [(m, u) for m, u, _ in _cases(z, x, y, release, minzoom, maxzoom)[:13]]
    assert not set(plain) & set(reached), "plain tiles should be answered in the protocol"
    assert ("POST", f"/tiles/mini/{z}/{x}/{y}.mvt") in reached
    assert ("GET", f"/tiles/mini/{z}/{x}/{y}.mvt?foo=1") in reached  # the app's 422


def test_every_tile_of_the_archive(mini_data: Path, served: Served) -> None:
    """All tiles on one keep-alive connection, pipelined: each the archive's bytes, in order."""
    tiles = _tiles(mini_data / "mini")
    requests = [("GET", f"/tiles/mini/{z}/{x}/{y}.mvt", {}) for z, x, y, _ in tiles]
    replies, closed = _exchange(served.port, requests)
    assert [r.body for r in replies] == [data for _, _, _, data in tiles]
    assert all(r.status == 200 for r in replies) and not closed


def test_tiles_and_app_requests_mixed_on_one_connection(mini_data: Path, served: Served
                                                        ) -> None:
    """Tile, API, tile, API, tile pipelined on one connection: answered in order, the app's
    answers between the protocol's."""
    z, x, y, data = _tiles(mini_data / "mini")[0]
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    requests = [("GET", tile, {}), ("GET", "/api/geographies", {}), ("HEAD", tile, {}),
                ("GET", "/api/geographies/mini", {}), ("GET", tile, {})]
    served.app.seen.clear()
    replies, closed = _exchange(served.port, requests)
    assert [r.status for r in replies] == [200] * 5
    assert replies[0].body == replies[4].body == data and replies[2].body == b""
    assert replies[1].headers["content-type"].startswith("application/json")
    assert b'"mini"' in replies[3].body
    # the first tile in the protocol; a tile behind an app request still being answered
    # waits its turn in the app (pipelined answers keep their order)
    assert served.app.seen[0] == "GET /api/geographies"
    assert "GET /api/geographies/mini" in served.app.seen
    assert not closed


def test_connection_close_is_honoured(mini_data: Path, served: Served) -> None:
    """``Connection: close``: the answer says so and the server closes the connection."""
    z, x, y, data = _tiles(mini_data / "mini")[0]
    [reply], closed = _exchange(served.port, [("GET", f"/tiles/mini/{z}/{x}/{y}.mvt",
                                               {"Connection": "close"})])
    assert reply.body == data and reply.headers["connection"] == "close" and closed


def test_a_body_on_a_tile_request_is_skipped(mini_data: Path, served: Served) -> None:
    """A GET with a body: the tile, and the next request on the connection parses as one."""
    z, x, y, data = _tiles(mini_data / "mini")[0]
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    replies, _ = _exchange(served.port, [("GET", tile, {}), ("GET", tile, {})],
                           body=b"GET /x HTTP/1.1\r\n\r\n")
    assert [r.body for r in replies] == [data, data]


def test_access_log_sends_every_tile_through_the_app(mini_data: Path) -> None:
    """With the access log on, tiles go through the app (so that each is logged)."""
    settings = Settings(data=mini_data, reload_check_seconds=0)
    port = free_port()
    app = Recorder(create_app(settings))
    config = server_config(app, settings, host="127.0.0.1", port=port, access_log=True)
    config.log_level = "warning"
    z, x, y, data = _tiles(mini_data / "mini")[0]
    with serving_config(config):
        [reply], _ = _exchange(port, [("GET", f"/tiles/mini/{z}/{x}/{y}.mvt", {})])
    assert reply.body == data and app.seen == [f"GET /tiles/mini/{z}/{x}/{y}.mvt"]


def test_a_head_in_pieces_and_http_1_0(mini_data: Path, served: Served) -> None:
    """A request head arriving in several reads is answered once it is complete; HTTP/1.0
    (no keep-alive by default) goes to the app, which closes the connection after it."""
    z, x, y, data = _tiles(mini_data / "mini")[0]
    tile = f"/tiles/mini/{z}/{x}/{y}.mvt"
    raw = _request("GET", tile)
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        for i in range(0, len(raw), 7):
            sock.sendall(raw[i:i + 7])
        assert _read(sock.makefile("rb"), "GET").body == data
    served.app.seen.clear()
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(f"GET {tile} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        stream = sock.makefile("rb")
        assert _read(stream, "GET").body == data and stream.read(1) == b""
    assert served.app.seen == [f"GET {tile}"]
