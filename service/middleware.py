"""What every response of the app shares, as ASGI middleware (so new routes get it too).

- ``PublicHeaders``: ``X-Content-Type-Options: nosniff`` everywhere, a default CSP on any HTML
  page that brings none, and CORS for public read-only data (``*``, GET/HEAD/OPTIONS, no
  credentials) with preflights answered for every path.
- ``HeadAsGet``: HEAD on every GET route (FastAPI routes answer only the methods they
  declare); the body is dropped, the headers are the GET's.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORS_METHODS = "GET, HEAD, OPTIONS"
CORS_REQUEST_HEADERS = ("Range, If-None-Match, If-Match, If-Modified-Since, If-Range, "
                        "Accept, Accept-Language, Content-Type")
CORS_EXPOSED = ("ETag, Content-Range, Content-Length, Accept-Ranges, Content-Disposition, "
                "Content-Crs, Link, X-Attribution, X-Release-Id")
CORS_MAX_AGE = "86400"


class PublicHeaders:
    """nosniff on everything, ``default_csp`` on HTML without its own, CORS for everyone.

    ``Access-Control-Allow-Origin: *`` is sent on every response, not only when the request
    names an Origin: a shared cache then serves one answer that works for every client.
    """

    def __init__(self, app: ASGIApp, *, default_csp: str) -> None:
        self.app = app
        self.default_csp = default_csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a preflight, or add the shared headers to the app's response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in request_headers:
            await self._preflight(send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Access-Control-Allow-Origin"] = "*"
                headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
                html = headers.get("content-type", "").startswith("text/html")
                if html and "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = self.default_csp
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _preflight(send: Send) -> None:
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_REQUEST_HEADERS,
            "Access-Control-Max-Age": CORS_MAX_AGE,
            "X-Content-Type-Options": "nosniff",
            "Content-Length": "0",
        }
        await send({"type": "http.response.start", "status": 204,
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": b""})


class HeadAsGet:
    """Answer HEAD like GET, without the body, where no route declares HEAD itself.

    Routes that declare HEAD (tile archives, static files) keep their own, cheaper answer.
    """

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes  # the app's list: routes added later are seen too

    def _declares_head(self, scope: Scope) -> bool:
        probe = dict(scope)  # matching must not change the request's scope
        return any(route.matches(probe)[0] == Match.FULL for route in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, as GET (body dropped) when only GET is declared."""
        if scope["type"] != "http" or scope["method"] != "HEAD" or self._declares_head(scope):
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
