"""Library errors mapped to HTTP status codes in one place.

Every router answers library errors through ``STATUS_CODES``; the OGC API router answers
invalid parameters with 400 as its standard requires (not FastAPI's 422), through
``OGCRoute``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from geo.errors import NotFoundError, ParameterError, QuartierError

STATUS_CODES: dict[type[Exception], int] = {
    NotFoundError: 404,
    ParameterError: 422,
    QuartierError: 500,
}


def add_exception_handlers(app: FastAPI) -> None:
    """Register one JSON handler per library error class."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        status = next(
            (code for cls, code in STATUS_CODES.items() if isinstance(exc, cls)), 500
        )
        return JSONResponse({"detail": str(exc)}, status_code=status)

    for cls in STATUS_CODES:
        app.add_exception_handler(cls, handler)


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
        allowed = {p.alias for p in self.dependant.query_params}

        async def route(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - allowed)
            if unknown:
                known = ", ".join(sorted(allowed)) or "none"
                return _bad_request(f"unknown query parameter(s) {', '.join(unknown)} "
                                    f"(known: {known})")
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
