"""Tiles ahead of routing: plain ``GET``/``HEAD /tiles/{geography}/{z}/{x}/{y}.mvt`` requests
answered as raw ASGI, at nearly the speed of the server itself.

Through the app, a tile spends most of its time in routing, parameter validation and
middleware, not in finding its bytes. ``TileAnswers`` answers the requests a map makes
without any of that: ``quartier serve``'s HTTP protocol calls it directly (``service.protocol``),
and ``TileFastPath``, the app's outermost middleware, calls it in any other ASGI server. It
answers from a flat index of each archive (``"z/x/y"`` -> position
of the stored bytes, ETag, length) with header lists built once per release, and passes
everything else on to the app unchanged. Whatever it does not recognise goes on: another
method or path, an unknown geography or release, a query other than one ``v=`` and one
``release=`` of plain characters (so an unknown parameter gets the app's 422), a number with
a leading zero, a zoom outside the archive or a tile outside the grid (the route's 404).

It keeps the normal route's promises (tests/test_fastpath.py compares the two): the stored
bytes as they are with their ``Content-Encoding``, ``ETag`` and ``If-None-Match`` -> 304, 204
for an empty tile, ``Cache-Control`` immutable only when the URL names the release served,
``release=`` served from that release's archive, the headers every response of the app
carries (CORS, ``nosniff``), HEAD without a body. Each worker process resolves releases on its
own, at most every ``reload_check_seconds`` (the store's polling), so a rebuild or a rollback
shows up without a restart.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import NamedTuple

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE

from geo.errors import BuildError, NotFoundError
from geo.release import TILES_FILE
from geo.render.tiles import PMTilesArchive
from service.cache import FileCache
from service.headers import IMMUTABLE, NOSNIFF
from service.middleware import CORS_EXPOSED
from service.routers.tiles import ENCODINGS, MVT_TYPE, etag_matches
from service.settings import Settings
from service.store import BuildStore

FLAT_INDEX_TILES = 250_000
"""Largest archive (addressed tiles) indexed flat, about 250 bytes a tile; a larger one is
read through its directories (microseconds more per tile)."""

_PARAM = re.compile(rb"(v|release)=([A-Za-z0-9._-]{1,64})")
_ZXY = re.compile(r"(0|[1-9]\d?)/(0|[1-9]\d{0,9})/(0|[1-9]\d{0,9})")
_PUBLIC = [(k.lower().encode(), v.encode()) for k, v in {
    **NOSNIFF, "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": CORS_EXPOSED}.items()]
"""What ``service.middleware.PublicHeaders`` adds to the app's responses (this path is ahead
of it)."""


class _Head(NamedTuple):
    """Headers shared by a kind of answer, as ASGI pairs and as HTTP/1.1 lines."""

    items: list[tuple[bytes, bytes]]
    raw: bytes


class _Tile(NamedTuple):
    offset: int
    length: int
    etag: bytes
    etag_text: str
    content_length: bytes


@dataclass
class _Index:
    """One opened archive: where each tile's bytes are and the headers of its answers."""

    archive: PMTilesArchive
    release: str
    tiles: dict[str, _Tile] | None
    """``"z/x/y"`` -> tile; None when the archive is too large to index flat."""
    ok: dict[bool, _Head]
    """Headers of a 200, by ``immutable``."""
    empty: dict[bool, _Head]
    """Headers of a 204 or 304, by ``immutable``."""

    def tile(self, zxy: str) -> _Tile | None:
        """The tile at ``"z/x/y"``, None when it is empty or not a tile of the archive."""
        if self.tiles is not None:
            found = self.tiles.get(zxy)
            if found is not None:
                return found
        match = _ZXY.fullmatch(zxy)
        if match is None:
            return None
        z, x, y = (int(g) for g in match.groups())
        arc = self.archive
        if not arc.minzoom <= z <= arc.maxzoom or x >= 1 << z or y >= 1 << z:
            return None
        etag = f'"{self.release}-{z}-{x}-{y}"'
        if self.tiles is None:
            data = arc.get(z, x, y)
            if data:  # read once here, located again by offset below: the index is absent
                return _Tile(-1, len(data), etag.encode(), etag, str(len(data)).encode())
        return _Tile(0, 0, etag.encode(), etag, b"0")


def _headers(cache: str, extra: dict[str, str]) -> _Head:
    merged = {**extra, "Cache-Control": cache}
    items = [(k.lower().encode(), v.encode("latin-1")) for k, v in merged.items()] + _PUBLIC
    for name, value in items:  # what uvicorn checks on every answer, checked once here
        if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
            raise ValueError(f"not an HTTP header: {name!r}: {value!r}")
    return _Head(items, b"".join(b"%s: %s\r\n" % pair for pair in items))


def _index(arc: PMTilesArchive, release: str, short: str) -> _Index:
    tiles: dict[str, _Tile] | None = None
    if int(arc.header.get("addressed_tiles_count") or 0) <= FLAT_INDEX_TILES:
        from pmtiles.tile import tileid_to_zxy

        tiles = {}
        for tile_id, offset, length in arc.positions():
            z, x, y = tileid_to_zxy(tile_id)
            etag = f'"{release}-{z}-{x}-{y}"'
            tiles[f"{z}/{x}/{y}"] = _Tile(offset, length, etag.encode(), etag,
                                          str(length).encode())
    content = {"Content-Type": MVT_TYPE}
    encoding = ENCODINGS.get(arc.compression.value)
    if encoding:
        content["Content-Encoding"] = encoding
    return _Index(
        arc, release, tiles,
        ok={pinned: _headers(IMMUTABLE if pinned else short, content) for pinned in (True, False)},
        empty={pinned: _headers(IMMUTABLE if pinned else short, {}) for pinned in (True, False)},
    )


@dataclass
class _Served:
    index: _Index
    checked: float


def _query(query: bytes) -> tuple[str | None, str | None] | None:
    """``(v, release)`` of a plain query, or None for anything the app should judge."""
    v = release = None
    for part in query.split(b"&"):
        match = _PARAM.fullmatch(part)
        if match is None:
            return None
        name, value = match.groups()
        if name == b"v":
            if v is not None:
                return None
            v = value.decode()
        else:
            if release is not None:
                return None
            release = value.decode()
    return v, release


class TileAnswer(NamedTuple):
    """The answer to a plain tile request: status, headers and body."""

    status: int
    head: _Head
    """The headers every answer of this kind from this archive shares."""
    etag: bytes
    length: bytes | None
    """``Content-Length`` of a 200 (also for HEAD), None for 204 and 304."""
    body: bytes

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Every header, as an ASGI ``http.response.start`` carries them."""
        tail = [(b"etag", self.etag)]
        if self.length is not None:
            tail.append((b"content-length", self.length))
        return [*self.head.items, *tail]

    def raw(self) -> bytes:
        """Every header as HTTP/1.1 lines (without the status line), the empty line, the body."""
        length = b"" if self.length is None else b"content-length: " + self.length + b"\r\n"
        return b"".join((self.head.raw, b"etag: ", self.etag, b"\r\n", length, b"\r\n",
                         self.body))


class TileAnswers:
    """Plain tile requests answered from flat archive indexes (no ASGI, no I/O but a read of
    the mapped archive); None for every request the app should answer."""

    def __init__(self, store: BuildStore, settings: Settings) -> None:
        self.store = store
        self.check_seconds = settings.reload_check_seconds
        self.short = f"public, max-age={settings.cache_seconds}"
        self.archives = FileCache(PMTilesArchive, settings.cache_entries, noun="tiles")
        self._served: dict[tuple[str, str | None], _Served] = {}
        self._queries: dict[bytes, tuple[str | None, str | None] | None] = {}

    def _resolve(self, geography: str, pinned: str | None) -> _Index | None:
        """The archive serving ``geography`` (``release=pinned``), checked against the store
        at most every ``check_seconds``; None for whatever the app answers itself."""
        key = (geography, pinned)
        served = self._served.get(key)
        now = time.monotonic()
        if served is not None and now - served.checked < self.check_seconds:
            return served.index
        try:
            _, folder = self.store.located(geography, pinned)
            arc = self.archives.open(folder / TILES_FILE)
        except (NotFoundError, BuildError, OSError):
            self._served.pop(key, None)
            return None
        if served is not None and served.index.archive is arc:
            served.checked = now
            return served.index
        release = str(arc.metadata.get("quartier", {}).get("release_id")
                      or self.store.located(geography, pinned).build.release_id)
        # one index per archive, shared by the keys naming it (no release and release=current)
        index = next((s.index for s in self._served.values() if s.index.archive is arc), None)
        if index is None:
            index = _index(arc, release, self.short)
        self._served[key] = _Served(index, now)
        return index

    def answer(self, method: str, path: str, query: bytes,
               if_none_match: bytes | None) -> TileAnswer | None:
        """The answer to ``method path?query`` (``GET`` or ``HEAD`` of a path below
        ``/tiles/`` ending in ``.mvt``), or None to leave the request to the app."""
        geography, _, zxy = path[7:-4].partition("/")
        v = pinned = None
        if query:
            if query in self._queries:
                parsed = self._queries[query]
            else:
                parsed = _query(query)
                if len(self._queries) >= 1024:
                    self._queries.clear()
                self._queries[query] = parsed
            if parsed is None:
                return None
            v, pinned = parsed
        index = self._resolve(geography, pinned)
        if index is None:
            return None
        tile = index.tile(zxy)
        if tile is None:
            return None
        immutable = pinned is not None or v == index.release
        if if_none_match is not None and etag_matches(if_none_match.decode("latin-1"),
                                                      tile.etag_text):
            return TileAnswer(304, index.empty[immutable], tile.etag, None, b"")
        if not tile.length:
            return TileAnswer(204, index.empty[immutable], tile.etag, None, b"")
        if method == "HEAD":
            body = b""
        elif tile.offset < 0:
            z, x, y = (int(p) for p in zxy.split("/"))
            body = index.archive.get(z, x, y) or b""
        else:
            body = index.archive.read(tile.offset, tile.length)
        return TileAnswer(200, index.ok[immutable], tile.etag, tile.content_length, body)


class TileFastPath:
    """ASGI middleware answering plain tile requests itself; every other request goes on."""

    def __init__(self, app: ASGIApp, *, answers: TileAnswers) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a plain tile request, or pass the request on."""
        if scope["type"] == "http":
            path: str = scope["path"]
            method: str = scope["method"]
            if path.startswith("/tiles/") and path.endswith(".mvt") and (
                    method == "GET" or method == "HEAD"):
                found = self.answers.answer(method, path, scope["query_string"],
                                            _if_none_match(scope["headers"]))
                if found is not None:
                    await send({"type": "http.response.start", "status": found.status,
                                "headers": found.headers()})
                    await send({"type": "http.response.body", "body": found.body})
                    return
        await self.app(scope, receive, send)


def _if_none_match(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The first ``If-None-Match`` header's value."""
    for name, value in headers:
        if name == b"if-none-match":
            return value
    return None
