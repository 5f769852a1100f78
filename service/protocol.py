"""The HTTP protocol of ``quartier serve``: uvicorn's httptools protocol, request head bounded,
plain tile requests answered in the protocol itself.

httptools (llhttp) reads a request head of any size: a header arriving in pieces is joined in
memory until it ends. h11 bounds it (``h11_max_incomplete_event_size``) but serves about half
the tiles per second (docs/BENCHMARKS.md). ``BoundedHttpTools`` counts the bytes received
while a request head is still open and, once they pass the limit, answers 431 and closes the
connection: httptools never holds more than the limit and one read of the socket.

A plain tile request (what ``service.fastpath`` answers ahead of the app) is answered as soon
as its head is complete, from the same ``TileAnswers``, written to the socket in one piece:
no task, no ASGI messages, no per-header checks (the headers were checked once per archive).
That is where the tail latency of a busy map goes (docs/BENCHMARKS.md). Every other request,
a pipelined request behind one still being answered, a client not reading its answers (writing
paused), HTTP/1.0, an access log or a root path: the app, as before.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

if TYPE_CHECKING:  # not at run time: each worker process unpickles this class before it
    # answers uvicorn's health check, so importing it must stay as light as uvicorn
    from service.fastpath import TileAnswers

REFUSED = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
           b"content-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\n"
           b"connection: close\r\n\r\nRequest header fields too large.")
"""The answer to a head over the limit (then the connection is closed)."""


class BoundedHttpTools(HttpToolsProtocol):
    """httptools with at most ``config.h11_max_incomplete_event_size`` bytes of open head.

    The limit is the same setting h11 uses (``Settings.max_header_bytes``), so both
    protocols refuse the same heads.
    """

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_limit = config.h11_max_incomplete_event_size or 16384
        self.head_open = False
        """A request has begun and its headers are not complete."""
        self.head_began = False
        """The open head began in the data being fed (its share of that data is unknown)."""
        self.head_bytes = 0
        """Bytes received for the open head after the read it began in."""
        logged = config.access_log and self.access_log  # asked for, and a handler to log to
        self.tiles = None if logged or config.root_path else _tile_answers(config.loaded_app)
        """The app's tile answers (None: every request goes to the app)."""
        self.answered = False
        """The current request was answered here (its body, if any, is ignored)."""

    def on_message_begin(self) -> None:
        """A new request: its head is open."""
        super().on_message_begin()
        self.head_open = self.head_began = True
        self.head_bytes = 0
        self.answered = False

    def on_headers_complete(self) -> None:
        """The head is complete: a plain tile is answered here, anything else goes to the app."""
        self.head_open = False
        if self.tiles is not None and self.url.startswith(b"/tiles/") and self._tile():
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        """Request body: the app's, unless the request was answered here."""
        if not self.answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """End of the request: the app's, unless the request was answered here."""
        if not self.answered:
            super().on_message_complete()

    def _tile(self) -> bool:
        """Answer a plain tile request now; False to leave it to the app."""
        if (self.cycle is not None and not self.cycle.response_complete) or self.pipeline \
                or self.flow.write_paused or self.parser.get_http_version() != "1.1":
            return False
        method = self.parser.get_method()
        if method != b"GET" and method != b"HEAD":
            return False
        path, _, query = self.url.partition(b"?")
        if not path.endswith(b".mvt") or b"%" in path or not path.isascii():
            return False
        if_none_match = None
        for name, value in self.headers:
            if name == b"if-none-match":
                if_none_match = value
                break
        assert self.tiles is not None
        found = self.tiles.answer(method.decode(), path.decode(), query, if_none_match)
        if found is None:
            return False
        self.answered = True
        self.cycle = None  # type: ignore[assignment]  # no cycle runs for this request
        keep_alive = self.parser.should_keep_alive()
        self.transport.write(b"".join((STATUS_LINE[found.status], self._defaults(),
                                       b"" if keep_alive else b"connection: close\r\n",
                                       found.raw())))
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()
        return True

    def _defaults(self) -> bytes:
        """The server's default headers (``date``, ``server``) as HTTP lines, joined once per
        change (the server renews the list every second)."""
        headers = self.server_state.default_headers
        if headers is not _DEFAULTS[0]:
            _DEFAULTS[:] = [headers, b"".join(b"%s: %s\r\n" % pair for pair in headers)]
        return _DEFAULTS[1]  # type: ignore[return-value]

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse the request when its open head has grown past the limit."""
        self.head_began = False
        super().data_received(data)
        if not self.head_open or self.transport.is_closing():
            return
        if not self.head_began:
            self.head_bytes += len(data)
        if self.head_bytes > self.head_limit:
            self.head_open = False
            self.transport.write(REFUSED)
            self.transport.close()


_DEFAULTS: list[object] = [None, b""]
"""The default headers last joined, and their lines."""


def _tile_answers(app: Any) -> TileAnswers | None:
    """The ``TileAnswers`` of the app uvicorn serves (inside its wrappers), if it has one."""
    for _ in range(8):
        found = getattr(getattr(app, "state", None), "tile_answers", None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        app = getattr(app, "app", None)
        if app is None:
            break
    return None
