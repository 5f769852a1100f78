"""The German words and number texts of profiles and reports, one place for all of them."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from geo.render import words
from geo.render.classes import EMPTY, format_number

# the vocabulary of every output (geo.render.words), not a copy
WITHHELD = words.WITHHELD
"""What a withheld value says instead of a number."""
MISSING = words.MISSING
RELIABLE = words.RELIABLE
UNRELIABLE = words.UNRELIABLE
COMPARISON = words.COMPARISON
FAVOURABLE = "günstig"
UNFAVOURABLE = "ungünstig"
DISCLOSURE_NOTICE = (
    "Geheimhaltung: Werte, die Rückschlüsse auf einzelne Personen erlauben könnten, sind "
    f"„{WITHHELD}“. Sie erscheinen in keiner Zahl, Grafik, Rangfolge und keinem Vergleich; "
    "Spannweiten, Quartile und Ränge beruhen nur auf veröffentlichten Werten."
)


def _empty(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def year_label(key: Any) -> str:
    """How a year or pooled period (``2010-2012``) is written: the key as text."""
    return str(key)


def year_span(key: Any) -> tuple[int, int]:
    """First and last year of a year (``2023``) or pooled period (``"2010-2012"``)."""
    if isinstance(key, int):
        return key, key
    first, _, last = str(key).partition("-")
    return int(first), int(last or first)


def decimals(value: float | None) -> int:
    """One decimal, two below 1 (a share of 0,35 % stays readable)."""
    return 2 if value is not None and math.isfinite(value) and abs(value) < 1 else 1


def number(value: Any, places: int | None = None) -> str:
    """A German number (``1.234,5``) or ``–``."""
    if _empty(value):
        return EMPTY
    return format_number(value, decimals(float(value)) if places is None else places)


def count(value: Any) -> str:
    """A count with thousands dots (``1.200``) or ``–``."""
    return number(value, 0)


def with_unit(value: Any, unit: str, places: int | None = None) -> str:
    """``25,0 %``; ``–`` without a value."""
    text = number(value, places)
    return text if text == EMPTY or not unit else f"{text} {unit}"


def interval(low: Any, high: Any, unit: str = "", places: int | None = None) -> str:
    """``22,6 bis 27,5 %`` or ``–`` (``places``: decimals, else by size)."""
    if _empty(low) or _empty(high):
        return EMPTY
    if places is None:
        places = max(decimals(float(low)), decimals(float(high)))
    return f"{number(low, places)} bis {with_unit(high, unit, places)}"


def reliability(reliable: Any) -> str:
    """``verlässlich``, ``unsicher (kleine Basis)`` or ``–``."""
    if _empty(reliable):
        return EMPTY
    return RELIABLE if bool(reliable) else UNRELIABLE


def judgement(vs: str | None, higher_is: str) -> str | None:
    """``günstig``/``ungünstig`` when the indicator says what higher means, else None."""
    if vs not in ("higher", "lower") or higher_is not in ("better", "worse"):
        return None
    return FAVOURABLE if (vs == "higher") == (higher_is == "better") else UNFAVOURABLE


def comparison(vs: str | None, higher_is: str = "neutral") -> str:
    """``höher (ungünstig)``, ``ähnlich`` or ``–`` (no comparison possible)."""
    if vs not in COMPARISON:
        return EMPTY
    word = judgement(vs, higher_is)
    return f"{COMPARISON[vs]} ({word})" if word else COMPARISON[vs]


def rank(position: Any, of: Any) -> str:
    """``Rang 12 von 69`` or ``–``."""
    if position is None or of is None:
        return EMPTY
    return f"Rang {int(position)} von {int(of)}"


def status_text(status: str) -> str | None:
    """What an unpublished value says instead of a number; None for a published one."""
    if status == "suppressed":
        return WITHHELD
    if status == "missing":
        return MISSING
    return None
