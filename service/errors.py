"""Library errors mapped to HTTP status codes in one place."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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
