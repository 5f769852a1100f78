"""Map classes of a change between two years: diverging colours centred on 0.

The change maps (Folium page, PNG, MapLibre style with ``compare=``) colour each area by
``change_direction`` and the size of its change:

- ``similar`` (the interval contains 0): one neutral fill, ``keine signifikante Veränderung``;
- ``increase`` and ``decrease``: classes of the change's size, the same breaks on both sides
  (mapclassify over the absolute changes, at most ``SIDE_K`` classes a side), so the colours
  are centred on 0: the stronger the change, the darker; decreases on one side of a
  ColorBrewer diverging ramp, increases on the other.

The ramp follows the indicator's ``higher_is``: where higher is worse an increase is red and a
decrease blue (RdBu), where higher is better an increase green and a decrease purple (PiYG),
neutral indicators orange and purple (PuOr). Measures (no interval) have no direction: a
change other than 0 counts by its sign, 0 as ``keine Veränderung``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from geo.inputs.catalogue import Indicator
from geo.render import words
from geo.render.classes import DEFAULT_METHOD, ClassBreaks, LegendEntry, class_breaks, format_number

SIDE_K = 3
"""Classes on each side of 0 (fewer when there are fewer distinct changes)."""
DIVERGING: dict[str, dict[int, list[str]]] = {
    # ColorBrewer diverging schemes (Cynthia Brewer, Apache-2.0): 3, 5 and 7 classes, the
    # neutral middle colour is replaced by SIMILAR_COLOR
    "RdBu": {
        3: ["#ef8a62", "#f7f7f7", "#67a9cf"],
        5: ["#ca0020", "#f4a582", "#f7f7f7", "#92c5de", "#0571b0"],
        7: ["#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac"],
    },
    "PiYG": {
        3: ["#e9a3c9", "#f7f7f7", "#a1d76a"],
        5: ["#d01c8b", "#f1b6da", "#f7f7f7", "#b8e186", "#4dac26"],
        7: ["#c51b7d", "#e9a3c9", "#fde0ef", "#f7f7f7", "#e6f5d0", "#a1d76a", "#4d9221"],
    },
    "PuOr": {
        3: ["#f1a340", "#f7f7f7", "#998ec3"],
        5: ["#e66101", "#fdb863", "#f7f7f7", "#b2abd2", "#5e3c99"],
        7: ["#b35806", "#f1a340", "#fee0b6", "#f7f7f7", "#d8daeb", "#998ec3", "#542788"],
    },
}
DIVERGING_FOR: dict[str, tuple[str, bool]] = {
    "worse": ("RdBu", True), "better": ("PiYG", False), "neutral": ("PuOr", False)}
"""Ramp of each ``higher_is`` and whether it is read backwards (decrease … increase)."""
SIMILAR_COLOR = "#ebe5d3"
"""Fill of areas without a significant change: a light sand, apart from the light grey of
areas without data and the hatched grey of withheld ones."""
SIMILAR_LABEL = words.DIRECTION["similar"]
NO_CHANGE_LABEL = "keine Veränderung"
"""The middle of a measure's change map (no interval, so nothing is called significant)."""


class ChangeClasses(NamedTuple):
    """The classes of a change map and each area's place in them."""

    breaks: ClassBreaks
    """Decrease classes (strongest first), then increase classes (weakest first); ``edges``
    are symmetric around 0."""
    klass: np.ndarray
    """Class of each area; -1 for similar, withheld and missing areas."""
    similar: np.ndarray
    """Which areas have a change without a significant direction."""
    ramp: str


def change_unit(unit: str | None) -> str:
    """The unit of a change: percentage points for a share in %, else the value's unit."""
    return "Prozentpunkte" if (unit or "").strip() == "%" else (unit or "")


def diverging_colors(higher_is: str, k: int) -> tuple[str, ...]:
    """``2 k`` colours from the strongest decrease to the strongest increase (no middle)."""
    name, backwards = DIVERGING_FOR.get(higher_is, DIVERGING_FOR["neutral"])
    ramp = DIVERGING[name][2 * k + 1]
    if backwards:
        ramp = ramp[::-1]
    return (*ramp[:k], *ramp[k + 1:])


def shown_directions(change: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """The direction each area is drawn with: its ``change_direction``, or for a change
    without one (a measure) the sign of the change; None without a change."""
    change = np.asarray(change, dtype=float)
    out = np.asarray(direction, dtype=object).copy()
    own = np.array([not isinstance(d, str) for d in out], dtype=bool) & np.isfinite(change)
    out[own & (change > 0)] = "increase"
    out[own & (change < 0)] = "decrease"
    out[own & (change == 0)] = "similar"
    return out


def change_classes(change: Any, direction: Any, indicator: Indicator, *,
                   method: str = DEFAULT_METHOD, k: int = SIDE_K) -> ChangeClasses:
    """Classes of published changes (NaN: withheld or missing) with their directions."""
    change = np.asarray(change, dtype=float)
    shown = shown_directions(change, np.asarray(direction, dtype=object))
    side = np.isin(shown, ["increase", "decrease"])
    magnitude = class_breaks(np.abs(change[side]), method=method, k=min(k, SIDE_K))
    upper = magnitude.upper
    name = DIVERGING_FOR.get(indicator.higher_is, DIVERGING_FOR["neutral"])[0]
    klass = np.full(len(change), -1)
    if not upper:
        return ChangeClasses(ClassBreaks(method, (), (), ()), klass, shown == "similar", name)
    n = len(upper)
    size = magnitude.index(np.abs(change))  # 0 = the smallest changes
    klass[side] = np.where(shown[side] == "increase", n + size[side], n - 1 - size[side])
    edges = (*(-u for u in upper[::-1]), 0.0, *upper)
    counts = np.bincount(klass[side], minlength=2 * n)
    breaks = ClassBreaks(method, edges, diverging_colors(indicator.higher_is, n),
                         tuple(int(c) for c in counts))
    return ChangeClasses(breaks, klass, shown == "similar", name)


def change_labels(breaks: ClassBreaks, unit: str | None) -> list[str]:
    """Legend text of each class: ``Abnahme um über 1,2 bis 3,4 Prozentpunkte`` …,
    ``Zunahme bis 1,2 Prozentpunkte`` … (``unit`` is the value's; % becomes points)."""
    if not breaks.colors:
        return []
    upper = breaks.edges[len(breaks.colors) // 2 + 1:]
    decimals = 2 if upper[-1] < 1 else 1
    suffix = f" {change_unit(unit)}" if change_unit(unit) else ""
    sizes = []
    for i, high in enumerate(upper):
        high_text = format_number(high, decimals)
        sizes.append(f"bis {high_text}" if i == 0 else
                     f"um über {format_number(upper[i - 1], decimals)} bis {high_text}")
    down = [f"{words.DIRECTION['decrease']} {s}{suffix}" for s in sizes[::-1]]
    up = [f"{words.DIRECTION['increase']} {s}{suffix}" for s in sizes]
    return down + up


def change_legend_entries(breaks: ClassBreaks, unit: str | None, *, interval: bool = True
                          ) -> list[LegendEntry]:
    """Decrease classes, the neutral fill of similar areas, increase classes (withheld,
    missing and unreliable entries are added by the caller)."""
    labels = change_labels(breaks, unit)
    entries = [LegendEntry(label, color, "class")
               for label, color in zip(labels, breaks.colors, strict=True)]
    middle = LegendEntry(SIMILAR_LABEL if interval else NO_CHANGE_LABEL, SIMILAR_COLOR,
                         "similar")
    half = len(entries) // 2
    return [*entries[:half], middle, *entries[half:]]


__all__ = ["DIVERGING", "DIVERGING_FOR", "NO_CHANGE_LABEL", "SIDE_K", "SIMILAR_COLOR",
           "SIMILAR_LABEL", "ChangeClasses", "change_classes", "change_labels",
           "change_legend_entries", "change_unit", "diverging_colors", "shown_directions"]
