"""Problems of one counts file: collected with line numbers, raised as one CountsError.

Messages echo a cell's text only when it cannot be a valid count, so that an error log never
discloses a count.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from geo.errors import CountsError

MAX_SHOWN = 20
"""How many problems the CountsError message lists (``problems`` holds all of them)."""


def _printable(text: str) -> str:
    """Control characters as escapes (``\\x1b``): a message must not drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _show(text: str, limit: int = 30) -> str:
    """Quote a cell text for a message, shortened, control characters escaped."""
    return f"'{_printable(text if len(text) <= limit else text[:limit] + '…')}'"


def _known_list(ids: Iterable[str], limit: int = 30) -> str:
    ids = list(ids)
    shown = ", ".join(ids[:limit])
    return shown + (f", … ({len(ids)} in all)" if len(ids) > limit else "") if ids else "none"


def _hint(text: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(text, list(known), n=1)
    return f"; did you mean '{match[0]}'?" if match else ""


@dataclass
class _Problems:
    """Problems of one file, each with its line number; sorted by line when reported."""

    fname: str
    items: list[tuple[int, int, str]] = field(default_factory=list)
    header: int = 1
    """The header's line: 2 after an Excel ``sep=;`` line."""

    def add(self, line: int, message: str) -> None:
        self.items.append((line, len(self.items), message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        problems = [f"{self.fname} line {line}: {msg}" for line, _, msg in sorted(self.items)]
        n = len(problems)
        shown = "\n  ".join(problems[:MAX_SHOWN])
        more = f"\n  … and {n - MAX_SHOWN} more" if n > MAX_SHOWN else ""
        raise CountsError(
            f"{self.fname}: {n} problem{'s' if n != 1 else ''} in the counts\n  {shown}{more}",
            problems=problems,
        )
