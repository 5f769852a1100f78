"""Number signs: one cell's text as a count, a German table sign for zero or missing, or a problem.

Accepted: digits, thousands separated by ``.`` (``1.234``), a whole float (``12.0``), ``–``/``-``
for zero and ``.``, ``x``, ``…`` or an empty cell for missing. Measures (``type = "measure"``)
are decimals: ``12.5`` or ``12,5``; with both signs (``1.234,5``) the ``,`` is the decimal comma.
"""

from __future__ import annotations

import math
import re

from geo.inputs.counts.problems import _show

MAX_COUNT = 100_000_000
"""Values above this are rejected as implausible for a count of people in one area."""
ZERO_SIGNS = frozenset({"-", "–"})
"""German table signs for "nichts vorhanden" (zero)."""
MISSING_SIGNS = frozenset({"", ".", "x", "X", "…", "..."})
"""German table signs for unknown, secret, blocked or not yet available, and an empty cell."""

# value kinds of _parse_count
_OK, _MISSING, _NOT_NUMBER, _NOT_WHOLE, _NEGATIVE, _TOO_LARGE, _COMMA_GROUPS, _MIXED = range(8)

_DIGITS = re.compile(r"[0-9]+")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")
_FLOAT_ZERO = re.compile(r"[0-9]+\.0")  # what pandas or R write for a whole float
_COMMA_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_DECIMAL = re.compile(r"[0-9]+[.,][0-9]+|[.,][0-9]+")
_NEGATIVE_RE = re.compile(r"[-–−]\s*([0-9][0-9.,]*)")


def _parse_count(text: str) -> tuple[int, int]:
    """Return ``(value, kind)`` for one stripped cell text; value is 0 unless kind is _OK."""
    if text in ZERO_SIGNS:
        return 0, _OK
    if text in MISSING_SIGNS:
        return 0, _MISSING
    if _DIGITS.fullmatch(text):
        digits = text
    elif _THOUSANDS.fullmatch(text):
        digits = text.replace(".", "")
    elif _FLOAT_ZERO.fullmatch(text):
        digits = text[:-2]
    elif _COMMA_THOUSANDS.fullmatch(text):
        return 0, _COMMA_GROUPS
    elif _DECIMAL.fullmatch(text):
        return 0, _NOT_WHOLE
    elif match := _NEGATIVE_RE.fullmatch(text):
        if set(match.group(1)) <= set("0.,"):
            return 0, _OK
        return 0, _NEGATIVE
    elif any(c.isdigit() for c in text):
        return 0, _MIXED
    else:
        return 0, _NOT_NUMBER
    if len(digits.lstrip("0")) > len(str(MAX_COUNT)):
        return 0, _TOO_LARGE
    value = int(digits)
    if value > MAX_COUNT:
        return 0, _TOO_LARGE
    return value, _OK


def _parse_measure(text: str) -> tuple[float, int]:
    """Return ``(value, kind)`` for one stripped cell text of a measure (decimals allowed)."""
    if text in ZERO_SIGNS:
        return 0.0, _OK
    if text in MISSING_SIGNS:
        return 0.0, _MISSING
    number = text.replace("−", "-").replace("–", "-")
    if "," in number:
        number = number.replace(".", "").replace(",", ".")
    try:
        value = float(number)
    except ValueError:
        return 0.0, _NOT_NUMBER
    return (value, _OK) if math.isfinite(value) else (0.0, _NOT_NUMBER)


def _value_problem(kind: int, text: str, variable: str) -> str:
    """Describe a bad value; the text is echoed only when it cannot hide a valid count."""
    if kind == _NOT_WHOLE:
        return f"value {_show(text)} for '{variable}' is not a whole number"
    if kind == _NEGATIVE:
        return f"value {_show(text)} for '{variable}' is negative"
    if kind == _TOO_LARGE:
        return f"value for '{variable}' is larger than {MAX_COUNT:,}: not a plausible count"
    if kind == _COMMA_GROUPS:
        return (
            f"value for '{variable}' has ',' between groups of three digits: write counts "
            "without a thousands separator or with '.' (1.234); decimals are not counts"
        )
    if kind == _MIXED:
        return (
            f"value for '{variable}' mixes digits with other characters (a footnote mark or "
            "a space?): a count must be digits only"
        )
    return (
        f"value {_show(text)} for '{variable}' is not a number (signs: '–' or '-' for zero; "
        "'.', 'x', '…' or empty for missing)"
    )
