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


def id_problem(value: object) -> str | None:
    """Why ``value`` is not a valid id, e.g. ``"'=1+2' is not a valid id (…)"``; None if it is."""
    if not isinstance(value, str):
        return f"must be a text id, not {type(value).__name__} {value!r:.40}"
    if ID_PATTERN.fullmatch(value):
        return None
    return f"{_shown(value)} is not a valid id ({ID_RULE})"
