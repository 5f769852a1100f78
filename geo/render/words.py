"""The German words every user-facing output uses (viewer, maps, PNG, QGIS, German CSV).

One vocabulary, decided once: the viewer receives ``WORDS`` from the server instead of keeping
its own copies. English stays only in the ``csv`` format and in JSON keys.
"""

from __future__ import annotations

from typing import Any

WITHHELD = "gesperrt (Geheimhaltung)"
"""A value withheld by disclosure control."""
MISSING = "keine Daten"
"""An area without a value for the indicator and year."""
RELIABLE = "verlässlich"
"""The field that says whether a rate rests on a large enough base."""
UNRELIABLE = "unsicher (kleine Basis)"
"""A published rate whose denominator is below the build's ``reliable_min``."""
YES = "ja"
NO = "nein"
COMPARISON = {"higher": "höher", "lower": "niedriger", "similar": "ähnlich"}
"""``vs_total`` in one word (German CSV)."""
COMPARISON_PHRASE = {"higher": "höher als", "lower": "niedriger als", "similar": "ähnlich wie"}
"""``vs_total`` before the name of the area compared with: "höher als Wuppertal"."""
STATUS = {"published": "veröffentlicht", "suppressed": "gesperrt", "missing": "keine Daten"}
"""``status`` in German (German CSV)."""
KIND = {"proportion": "Anteil", "rate": "Rate"}
"""What kind of number an indicator is: "Anteil" only for proportions."""
INTERVAL = "95-%-Intervall"
COUNTS = "Anzahl"
VALUE = "Wert"
METHODS = {
    "quantiles": "Quantile",
    "equal_interval": "gleiche Abstände",
    "fisher_jenks": "natürliche Brüche (Fisher-Jenks)",
    "natural_breaks": "natürliche Brüche",
}
"""How a legend and the viewer name each classification method."""
CHANGE = "Veränderung"
"""The change of a value between two years (``compare=``)."""
DIRECTION = {"increase": "Zunahme", "decrease": "Abnahme",
             "similar": "keine signifikante Veränderung"}
"""``change_direction`` in German (German CSV, maps, viewer)."""
HIGHER_IS = {"better": "höher ist günstiger", "worse": "höher ist ungünstiger",
             "neutral": "höher ist weder günstiger noch ungünstiger"}
CSV_HEADERS = {
    "level": "Ebene",
    "area_id": "Gebiet-ID",
    "name": "Name",
    "parent_id": "übergeordnetes Gebiet",
    "indicator": "Indikator",
    "year": "Jahr",
    "numerator": "Zähler",
    "denominator": "Nenner",
    "rate": "Wert",
    "ci_low": "95-%-Intervall unten",
    "ci_high": "95-%-Intervall oben",
    "status": "Status",
    "vs_total": "Vergleich mit Gesamtgebiet",
    "reliable": "verlässlich",
    "change": "Veränderung",
    "change_ci_low": "Veränderung 95-%-Intervall unten",
    "change_ci_high": "Veränderung 95-%-Intervall oben",
    "change_direction": "Richtung",
}
"""Column headers of the German CSV (``csv-de``) by the English key of ``csv`` and JSON."""


def kind_word(kind: str) -> str:
    """"Anteil" for a proportion, "Rate" for a rate (events per population)."""
    return KIND.get(kind, VALUE)


def reliability(reliable: Any) -> str:
    """``ja`` for a reliable rate, ``unsicher (kleine Basis)`` otherwise."""
    return YES if bool(reliable) else UNRELIABLE


WORDS: dict[str, Any] = {
    "withheld": WITHHELD,
    "missing": MISSING,
    "reliable": RELIABLE,
    "unreliable": UNRELIABLE,
    "yes": YES,
    "no": NO,
    "comparison": COMPARISON_PHRASE,
    "status": STATUS,
    "kind": KIND,
    "interval": INTERVAL,
    "counts": COUNTS,
    "value": VALUE,
    "methods": METHODS,
    "change": CHANGE,
    "direction": DIRECTION,
}
"""The vocabulary as one JSON object (the viewer reads it from ``/tiles/index.json``)."""

__all__ = [
    "CHANGE", "COMPARISON", "COMPARISON_PHRASE", "COUNTS", "CSV_HEADERS", "DIRECTION",
    "HIGHER_IS", "INTERVAL", "KIND",
    "METHODS", "MISSING", "NO", "RELIABLE", "STATUS", "UNRELIABLE", "VALUE", "WITHHELD", "WORDS",
    "YES", "kind_word", "reliability",
]
