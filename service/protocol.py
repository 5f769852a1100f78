"""The HTTP protocol of ``quartier serve``: uvicorn's httptools protocol, request head bounded.

httptools (llhttp) reads a request head of any size: a header arriving in pieces is joined in
memory until it ends. h11 bounds it (``h11_max_incomplete_event_size``) but serves about half
the tiles per second (docs/BENCHMARKS.md). ``BoundedHttpTools`` counts the bytes received
while a request head is still open and, once they pass the limit, answers 431 and closes the
connection: httptools never holds more than the limit and one read of the socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

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

    def on_message_begin(self) -> None:
        """A new request: its head is open."""
        super().on_message_begin()
        self.head_open = self.head_began = True
        self.head_bytes = 0

    def on_headers_complete(self) -> None:
        """The head is complete: the request goes to the app."""
        self.head_open = False
        super().on_headers_complete()

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
