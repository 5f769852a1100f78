"""Errors raised by the Quartier library.

Every message names the file, line or feature, key and what was expected. No message
ever contains a count that disclosure control withholds.
"""

from __future__ import annotations


class QuartierError(ValueError):
    """Base class of every error the library raises on bad input."""


class ManifestError(QuartierError):
    """Raised when a geography.toml is unreadable or inconsistent."""


class GeographyError(QuartierError):
    """Raised when boundary files fail validation (the report lists every problem)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class CountsError(QuartierError):
    """Raised when a counts CSV has problems (all of them are listed, with line numbers)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class IntakeError(QuartierError):
    """Raised when an intake input (points, raster, grid, source areas) cannot be used."""


class CatalogueError(QuartierError):
    """Raised when an indicators.toml is invalid."""


class DisclosureError(QuartierError):
    """Raised when disclosure control cannot protect a table or the audit fails."""


class BuildError(QuartierError):
    """Raised when a build cannot be written or read back."""


class NotFoundError(QuartierError):
    """Raised when a geography, level, indicator, year or feature does not exist in a build."""


class ParameterError(QuartierError):
    """Raised when a request parameter has a value the library cannot use."""
