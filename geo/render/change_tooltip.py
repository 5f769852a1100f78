"""What a change map (``compare=``) says about one area in its tooltip, in German.

The change with its unit (``+2,4 Prozentpunkte``), its 95-%-Intervall, the direction in words
and the published value of each year. A change that involves a withheld value says
``gesperrt (Geheimhaltung)`` and nothing else about it; each year's own value is shown only
as published (withheld: the same words).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo.render import words
from geo.render.change_classes import change_unit
from geo.render.classes import EMPTY, MISSING_LABEL, WITHHELD_LABEL, format_number
from geo.render.maps import MapData

FIELDS = ("Gebiet", "Veränderung", "Intervall", "Richtung", "Wert", "Wert0")
"""Property names of the tooltip rows (``aliases`` gives what the tooltip shows)."""


def aliases(data: MapData) -> list[str]:
    """The tooltip's row headings: the two years are named."""
    return ["", words.CHANGE, words.INTERVAL, "Richtung", f"{words.VALUE} {data.year}",
            f"{words.VALUE} {data.compare}"]


def _signed(value: Any, unit: str) -> str:
    text = format_number(value)
    if text != EMPTY and float(value) > 0:
        text = f"+{text}"
    return f"{text} {unit}" if unit and text != EMPTY else text


def _side(rate: Any, status: Any, unit: str) -> str:
    if status == "suppressed":
        return WITHHELD_LABEL
    if status != "published" or pd.isna(rate):
        return MISSING_LABEL
    text = format_number(rate)
    return f"{text} {unit}" if unit else text


def tooltip_rows(row: pd.Series, data: MapData) -> dict[str, str]:
    """The tooltip of one area of a change map (keys ``FIELDS``)."""
    unit = change_unit(data.indicator.unit)
    if row["status"] != "published":
        change = WITHHELD_LABEL if row["status"] == "suppressed" else MISSING_LABEL
        interval = direction = EMPTY
    else:
        change = _signed(row["change"], unit)
        has_interval = not pd.isna(row["change_ci_low"])
        interval = (f"{format_number(row['change_ci_low'])} – "
                    f"{format_number(row['change_ci_high'])}" if has_interval else EMPTY)
        direction = words.DIRECTION.get(str(row["change_direction"]), EMPTY)
    own = data.indicator.unit or ""
    return dict(zip(FIELDS, (
        str(row["name"]), change, interval, direction,
        _side(row["rate"], row["status_now"], own), _side(row["rate0"], row["status0"], own),
    ), strict=True))


__all__ = ["FIELDS", "aliases", "tooltip_rows"]
