"""service.protocol: httptools with the request head bounded (Settings.max_header_bytes)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, free_port, serving_config

from service.cli import server_config
from service.main import create_app
from service.protocol import BoundedHttpTools
from service.settings import Settings

LIMIT = 1024


@pytest.fixture(scope="module")
def address(mini_data: Path) -> Iterator[tuple[str, int]]:
    """``quartier serve``'s server (``server_config``) in a thread, heads bounded at 1 KiB."""
    settings = Settings(data=mini_data, max_header_bytes=LIMIT)
    port = free_port()
    config = server_config(create_app(settings), settings, host="127.0.0.1", port=port,
                           access_log=False)
    config.log_level = "warning"
    assert config.http is BoundedHttpTools
    with serving_config(config):
        yield "127.0.0.1", port


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _request(path: str, extra: bytes = b"", close: bool = False) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode() + extra
            + (b"Connection: close\r\n" if close else b"") + b"\r\n")


def test_pipelined_requests_past_the_limit_together_are_answered(
        address: tuple[str, int]) -> None:
    """Forty small heads in one write (4 KiB, past the 1 KiB limit together): all answered;
    the limit is per head, not per read."""
    requests = [_request("/api/geographies", b"X-Pad: " + b"p" * 60 + b"\r\n")
                for _ in range(39)]
    requests.append(_request("/api/geographies", close=True))
    payload = b"".join(requests)
    assert len(payload) > 3 * LIMIT
    with socket.create_connection(address) as sock:
        sock.sendall(payload)
        answer = _read_all(sock)
    assert answer.count(b"HTTP/1.1 200 OK") == 40 and b" 431 " not in answer


def test_a_head_under_the_limit_in_many_pieces_is_answered(address: tuple[str, int]) -> None:
    """A head just under the limit, sent in 20 pieces: an ordinary answer."""
    head = _request("/api/geographies", b"X-Pad: " + b"p" * (LIMIT - 200) + b"\r\n", True)
    assert len(head) < LIMIT
    with socket.create_connection(address) as sock:
        step = len(head) // 20 + 1
        for start in range(0, len(head), step):
            sock.sendall(head[start:start + step])
            time.sleep(0.01)  # separate reads on the server
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK")


def test_a_head_past_the_limit_is_refused_and_the_connection_closed(
        address: tuple[str, int]) -> None:
    """A header growing in pieces past the limit: 431, connection closed, nothing more read;
    the server answers the next client."""
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET /api/geographies HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        try:
            while sent < 200 * LIMIT:
                sock.sendall(b"b" * 256)
                sent += 256
                time.sleep(0.005)
        except OSError:
            pass  # closed by the server
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert sent < 200 * LIMIT, "the server kept reading the head"
    with socket.create_connection(address) as sock:
        sock.sendall(_request("/api/geographies", close=True))
        assert _read_all(sock).startswith(b"HTTP/1.1 200 OK")


def test_the_protocol_module_stays_light() -> None:
    """``quartier serve --workers N`` starts each worker by unpickling its configuration,
    protocol class included, before the worker answers uvicorn's health check (5 s): the
    module must not pull in the data stack (it did once, and loaded workers were killed and
    restarted over and over)."""
    code = ("import sys, service.protocol; print(sorted(m for m in ('pandas', 'geopandas', "
            "'numpy', 'shapely', 'pyogrio', 'fastapi', 'geo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
