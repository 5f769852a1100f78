"""Ids: what a geography, level, variable or indicator id may look like.

Ids end up in URLs, file names, CSV cells and JavaScript, so they are plain: letters, digits,
``_``, ``.`` and ``-``, starting with a letter or digit, at most 64 characters. Names are the
free text shown to people (and escaped wherever they are written out).
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A valid id matches this pattern as a whole (ASCII only)."""
ID_RULE = "1 to 64 letters A-Z/a-z, digits, '_', '.' or '-', starting with a letter or digit"
"""The pattern in words, for messages."""


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _first_fault(value: str) -> str:
    """What breaks the rule first, in words."""
    if not value:
        return "it is empty"
    if len(value) > 64:
        return f"it has {len(value)} characters"
    if any(c.isspace() for c in value):
        return "it may not contain spaces"
    if not (value[0].isascii() and value[0].isalnum()):
        return f"it may not start with {value[0]!r}"
    bad = next(c for c in value if not (c.isascii() and (c.isalnum() or c in "_.-")))
    return f"it may not contain {bad!r}"


def id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid id (the rule, then what breaks it first); None if it is."""
    if not isinstance(value, str):
        return f"must be a text id, not {type(value).__name__} {value!r:.40}"
    if ID_PATTERN.fullmatch(value):
        return None
    return f"{_shown(value)} is not a valid id ({ID_RULE}): {_first_fault(value)}"
