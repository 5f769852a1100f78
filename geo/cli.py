"""Command line interface: ``quartier``."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run the ``quartier`` command."""
    raise SystemExit("not yet")
