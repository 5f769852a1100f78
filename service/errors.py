"""Library errors mapped to HTTP status codes in one place.

Every router answers library errors through ``STATUS_CODES``; the OGC API router answers
invalid parameters with 400 as its standard requires (not FastAPI's 422), through
``OGCRoute``. A query parameter no route declares (``Year=2021``) is an error everywhere:
``reject_unknown_query`` (an app-wide dependency) answers 422 naming the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from geo.errors import NotFoundError, ParameterError, QuartierError


class ReleaseChangingError(QuartierError):
    """Raised when a rebuild is landing and one response cannot be made of one release."""


STATUS_CODES: dict[type[Exception], int] = {
    NotFoundError: 404,
    ParameterError: 422,
    ReleaseChangingError: 503,
    QuartierError: 500,
}


DATA_PATHS = ("/api/", "/ogc", "/tiles/", "/downloads/", "/static/")
"""Below these, errors stay JSON whatever the client accepts (data for programs)."""
TITLES = {404: "Nicht gefunden", 422: "Ungültige Anfrage", 503: "Gerade nicht verfügbar"}
ERROR_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
             "form-action 'none'; frame-ancestors 'self'")
"""An error page has no script, only its inline stylesheet."""


def wants_page(request: Request) -> bool:
    """A browser navigating to a page (a map, a profile), not a program asking for data."""
    return ("text/html" in request.headers.get("accept", "")
            and not request.url.path.startswith(DATA_PATHS))


def error_page(status: int, message: str) -> HTMLResponse:
    """A German error page; the message (which may repeat the request) escaped."""
    title = TITLES.get(status, "Fehler")
    return HTMLResponse(
        '<!doctype html><html lang="de"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} – Quartier</title><style>body{{font-family:system-ui,sans-serif;"
        "max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}</style></head>"
        f"<body><h1>{title} ({status})</h1><p>{escape(message)}</p>"
        '<p><a href="/">Zur Karte</a> · <a href="/builds">Alle Geografien und Indikatoren</a>'
        "</p></body></html>",
        status_code=status, headers={"Content-Security-Policy": ERROR_CSP,
                                     "Cache-Control": "no-store"})


def add_exception_handlers(app: FastAPI) -> None:
    """Register one handler per library error class (JSON; a page for a browser's
    navigation) and one for invalid parameters."""

    async def handler(request: Request, exc: Exception) -> Response:
        status = next(
            (code for cls, code in STATUS_CODES.items() if isinstance(exc, cls)), 500
        )
        if wants_page(request):
            return error_page(status, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=status)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if wants_page(request):
            return error_page(422, "; ".join(
                f"{'.'.join(str(x) for x in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
                for e in exc.errors()))
        return await request_validation_exception_handler(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if wants_page(request) and exc.status_code >= 400:
            return error_page(exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)

    for cls in STATUS_CODES:
        app.add_exception_handler(cls, handler)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def query_names(route: APIRoute) -> set[str]:
    """The query parameters a route declares (its signature's and its dependencies')."""
    known = route.__dict__.get("_quartier_query_names")
    if known is None:
        known = route.__dict__["_quartier_query_names"] = _query_names(route.dependant)
    return known


def unknown_query_message(unknown: list[str], allowed: set[str]) -> str:
    """``unknown query parameter(s) Year (valid: level, year)``."""
    valid = ", ".join(sorted(allowed)) or "none"
    return f"unknown query parameter(s) {', '.join(unknown)} (valid: {valid})"


def reject_unknown_query(request: Request) -> None:
    """App-wide dependency: a query parameter the route does not declare is a 422.

    A misspelt ``Year=2021`` would otherwise be ignored and answer the latest year.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = query_names(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        message = unknown_query_message(unknown, allowed)
        raise RequestValidationError([
            {"type": "unknown_parameter", "loc": ("query", name), "msg": message,
             "input": request.query_params.get(name)}
            for name in unknown
        ])


class OGCParameterError(ParameterError):
    """Raised when an OGC API request has an invalid or unknown query parameter (HTTP 400)."""


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"code": "InvalidParameterValue", "description": message,
                         "detail": message}, status_code=400)


class OGCRoute(APIRoute):
    """Route class of the OGC router: unknown or invalid query parameters answer 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: check parameter names, map validation errors to 400."""
        handler = super().get_route_handler()
        allowed = query_names(self)

        async def route(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - allowed)
            if unknown:
                return _bad_request(unknown_query_message(unknown, allowed))
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
                )
                return _bad_request(problems)
            except OGCParameterError as exc:
                return _bad_request(str(exc))

        return route
