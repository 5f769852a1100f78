"""Map classes of published rates: breaks, colours, labels and the German number format.

The one classification every map uses (MapLibre styles, the Folium page, the PNG and the
QGIS styles), so one build, indicator, level, year and method look the same everywhere:

- ``level_classes``: the classes of one indicator, level and year (``indicator_rows``),
  from mapclassify (``class_breaks``) with a ColorBrewer ramp, light to dark; with
  ``scope="all-years"`` the breaks span every year and period of the indicator at that level
  (``CLASS_SCOPES``), so maps of two years are comparable;
- ``ramp_for``: the ramp an indicator's ``higher_is`` picks (worse: red, better: green,
  neutral: purple-blue);
- ``WITHHELD_*``, ``MISSING_*``, ``UNRELIABLE_*``: how withheld areas, areas without data and
  unreliable rates (small base) look; the words come from ``geo.render.words``;
- ``class_labels``, ``legend_entries``: the legend, numbers in ``format_number``.

Classes are upper-inclusive, as in mapclassify: class ``i`` holds the values above
``edges[i]`` up to and including ``edges[i + 1]``; the first class starts at the minimum.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import mapclassify
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from geo.errors import ParameterError
from geo.inputs.catalogue import Indicator
from geo.inputs.periods import YearKey
from geo.release import PublishedBuild, indicator_rows
from geo.render import words
from geo.render.years import indicator_years

METHODS: tuple[str, ...] = ("fisher_jenks", "quantiles", "equal_interval", "natural_breaks")
"""mapclassify classifiers a map may use."""
METHOD_NAMES = words.METHODS
"""How a legend names each method."""
DEFAULT_METHOD = "fisher_jenks"
DEFAULT_K = 5
"""Number of classes (fewer when there are fewer distinct published values)."""
MAX_K = 7
RAMPS: dict[str, dict[int, list[str]]] = {
    # ColorBrewer sequential schemes (Cynthia Brewer, Apache-2.0), 3 to 7 classes
    "YlOrRd": {
        3: ["#ffeda0", "#feb24c", "#f03b20"],
        4: ["#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"],
        5: ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
        6: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"],
        7: ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"],
    },
    "PuBu": {
        3: ["#ece7f2", "#a6bddb", "#2b8cbe"],
        4: ["#f1eef6", "#bdc9e1", "#74a9cf", "#0570b0"],
        5: ["#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d"],
        6: ["#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#2b8cbe", "#045a8d"],
        7: ["#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#3690c0", "#0570b0", "#034e7b"],
    },
    "YlGn": {
        3: ["#f7fcb9", "#addd8e", "#31a354"],
        4: ["#ffffcc", "#c2e699", "#78c679", "#238443"],
        5: ["#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837"],
        6: ["#ffffcc", "#d9f0a3", "#addd8e", "#78c679", "#31a354", "#006837"],
        7: ["#ffffcc", "#d9f0a3", "#addd8e", "#78c679", "#41ab5d", "#238443", "#005a32"],
    },
    "YlGnBu": {
        3: ["#edf8b1", "#7fcdbb", "#2c7fb8"],
        4: ["#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"],
        5: ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"],
        6: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"],
        7: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"],
    },
}
DEFAULT_RAMP = "YlOrRd"
RAMP_FOR: dict[str, str] = {"worse": "YlOrRd", "better": "YlGn", "neutral": "PuBu"}
"""The ramp an indicator's ``higher_is`` picks: high values dark red where higher is worse,
dark green where higher is better, dark purple-blue where it is neither."""
WITHHELD_COLOR = "#d9d9d9"
"""Fill of withheld areas, under a diagonal hatch in ``WITHHELD_LINE``."""
WITHHELD_LINE = "#737373"
WITHHELD_LABEL = words.WITHHELD
MISSING_COLOR = "#f4f4f4"
MISSING_LINE = "#8c8c8c"
"""Edge (and dots, in the PNG) of areas without data: visible on a white page."""
MISSING_LABEL = words.MISSING
UNRELIABLE_LINE = "#111111"
"""Dashed outline of unreliable rates (small base), over the class colour."""
UNRELIABLE_DASH = (3.0, 2.0)
"""Dash and gap of the unreliable outline, in line widths."""
UNRELIABLE_LABEL = words.UNRELIABLE
EMPTY = "–"
"""What a number field shows when it has no value."""
CLASS_SCOPES: tuple[str, ...] = ("year", "all-years")
"""What a map's breaks span (``classes=``): the year shown, or every year and period in which
the indicator has values at that level (the same breaks for every year)."""
FISHER_JENKS_SAMPLE = 500
"""Fisher-Jenks is quadratic (minutes for 11,000 values without numba): above this many values
its breaks come from a deterministic quantile sample of this size that keeps both extremes."""


@dataclass(frozen=True)
class ClassBreaks:
    """Classes of one map: class ``i`` runs above ``edges[i]`` up to ``edges[i + 1]``."""

    method: str
    edges: tuple[float, ...]
    """The minimum, then the inclusive upper bound of each class (empty: no classes)."""
    colors: tuple[str, ...]
    counts: tuple[int, ...]
    """Values in each class."""

    @property
    def lower(self) -> float:
        """The smallest classified value (NaN without classes)."""
        return self.edges[0] if self.edges else math.nan

    @property
    def upper(self) -> tuple[float, ...]:
        """The inclusive upper bound of each class."""
        return self.edges[1:]

    def index(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        """Class of each value (upper bounds inclusive, as mapclassify); -1 for NaN."""
        y = np.asarray(values, dtype=float)
        if not self.colors:
            return np.full(len(y), -1)
        inner = np.asarray(self.edges[1:-1], dtype=float)
        return np.where(np.isnan(y), -1, np.searchsorted(inner, y, side="left"))

    def counted(self, values: Sequence[float] | np.ndarray) -> ClassBreaks:
        """The same classes with ``counts`` of ``values`` (NaN ignored)."""
        y = np.asarray(values, dtype=float)
        cls = self.index(y[np.isfinite(y)])
        counts = np.bincount(cls, minlength=len(self.colors)) if self.colors else np.zeros(0)
        return ClassBreaks(self.method, self.edges, self.colors, tuple(int(c) for c in counts))


def ramp_colors(ramp: str, k: int) -> list[str]:
    """``k`` colours of a named ramp, light to dark."""
    if ramp not in RAMPS:
        raise ParameterError(f"unknown colour ramp '{ramp}' (known: {', '.join(RAMPS)})")
    if not 1 <= k <= MAX_K:
        raise ParameterError(f"k must be between 1 and {MAX_K}, not {k}")
    three = RAMPS[ramp][3]
    if k == 1:
        return [three[1]]
    if k == 2:
        return [three[0], three[2]]
    return list(RAMPS[ramp][k])


def ramp_for(indicator: Indicator) -> str:
    """The ramp of an indicator: by its ``higher_is`` (``RAMP_FOR``)."""
    return RAMP_FOR.get(indicator.higher_is, RAMP_FOR["neutral"])


def fisher_jenks_bins(values: np.ndarray, k: int) -> np.ndarray:
    """mapclassify's Fisher-Jenks bins (``FisherJenks(values, k).bins``), bit for bit, with its
    dynamic programme as numpy operations on whole blocks of rows, one class count at a time.

    mapclassify runs that programme in pure Python unless numba is installed (1.7 s for 396
    Gemeinden); this takes milliseconds. The arithmetic is the same float32 arithmetic in the
    same order (sequential sums; ties go to the last candidate, as its ``>=`` does).
    """
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    best = np.zeros((n + 1, k + 1), dtype=np.int32)  # mapclassify's mat1
    cost = np.zeros((n + 1, k + 1), dtype=np.float32)  # mat2
    best[1, 1:] = 1
    cost[2:, 1:] = np.inf
    x32 = x.astype(np.float32)
    rows = max(1, _FJ_CELLS // max(n, 1))
    for start in range(2, n + 1, rows):
        _fisher_jenks_rows(x32, best, cost, start, min(start + rows, n + 1), k)
    bins = np.zeros(k + 1, dtype=float)
    bins[k], bins[0] = x[n - 1], x[0]
    row = n
    for count in range(k, 1, -1):
        pivot = int(best[row, count])
        bins[count - 1] = x[pivot - 2]
        row = pivot - 1
    return bins[1:]


_FJ_CELLS = 1 << 20
"""Cells (rows x class sizes) of one block of the Fisher-Jenks programme (bounded memory)."""


def _fisher_jenks_rows(x32: np.ndarray, best: np.ndarray, cost: np.ndarray, start: int,
                       stop: int, k: int) -> None:
    """Rows ``start..stop - 1`` (the last value of the top class) of the programme: for each,
    the within-class cost of its last ``m`` values, then every class count in turn.

    The arrays are laid out ``[m - 1, last - start]``, so the sums run down contiguous rows.
    """
    width = stop - 1  # m = 1..stop - 1 values in the top class
    last = np.arange(start, stop)
    # column ``last``: values[last - 1], values[last - 2], ..., values[0], then zeros
    padded = np.concatenate([np.zeros(width, dtype=np.float32), x32])
    window = sliding_window_view(padded, stop - start)
    vals = np.ascontiguousarray(window[start:start + width][::-1])
    s1 = np.cumsum(vals, axis=0, dtype=np.float32)
    s2 = np.cumsum(vals * vals, axis=0, dtype=np.float32)
    v = s2 - (s1 * s1) / np.arange(1, stop, dtype=np.float32)[:, None]
    columns = np.arange(stop - start)
    best[start:stop, 1] = 1
    cost[start:stop, 1] = v[last - 1, columns]
    inf = np.full(width + 1, np.inf, dtype=np.float32)
    for count in range(2, k + 1):
        # the cost of the lower classes ending at value last - m (none below the first value)
        lower = np.concatenate([inf, cost[1:stop, count - 1]])
        candidate = v + sliding_window_view(lower, stop - start)[start:start + width][::-1]
        # the last minimum among the candidates m = 1..last - 1, as mapclassify's ">="
        pick = width - 1 - np.argmin(candidate[::-1], axis=0)  # m - 1
        pick = np.where(pick + 1 < last, pick, last - 2)
        best[start:stop, count] = last - pick
        cost[start:stop, count] = candidate[pick, columns]


def mapclassify_bins(values: np.ndarray, method: str, k: int) -> np.ndarray:
    """Upper class bounds from mapclassify, the last one at least the maximum."""
    y = np.asarray(values, dtype=float)
    data = y
    if method == "fisher_jenks" and y.size > FISHER_JENKS_SAMPLE:
        data = np.quantile(y, np.linspace(0.0, 1.0, FISHER_JENKS_SAMPLE))
    if method == "fisher_jenks":
        bins = fisher_jenks_bins(data, k)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small-sample notes
            bins = np.asarray(mapclassify.classify(data, method, k=k).bins, dtype=float)
    bins[-1] = max(bins[-1], float(y.max()))
    return bins


@lru_cache(maxsize=512)
def _bins(values: tuple[float, ...], method: str, k: int) -> tuple[float, ...]:
    y = np.asarray(values, dtype=float)
    unique = np.unique(y)
    k = min(k, len(unique))
    if k <= 1:
        return (float(unique.max()),)
    if len(unique) == k:
        return tuple(float(v) for v in unique)
    return tuple(float(b) for b in np.unique(mapclassify_bins(y, method, k)))


def class_breaks(
    values: Sequence[float] | np.ndarray,
    *,
    method: str = DEFAULT_METHOD,
    k: int = DEFAULT_K,
    ramp: str = DEFAULT_RAMP,
) -> ClassBreaks:
    """Classify published rates with mapclassify (NaN ignored; no values, no classes).

    Raises:
        ParameterError: unknown method or ramp, or ``k`` outside 1..MAX_K.
    """
    if method not in METHODS:
        raise ParameterError(f"unknown classification '{method}' (known: {', '.join(METHODS)})")
    ramp_colors(ramp, k)
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return ClassBreaks(method, (), (), ())
    upper = _bins(tuple(np.round(y, 10).tolist()), method, k)
    colors = tuple(ramp_colors(ramp, len(upper)))
    breaks = ClassBreaks(method, (float(y.min()), *upper), colors, ())
    counts = np.bincount(breaks.index(y), minlength=len(upper))
    return ClassBreaks(method, breaks.edges, colors, tuple(int(c) for c in counts))


def published_rates(rows: pd.DataFrame) -> pd.Series:
    """The rates a map classes, by area_id: published rows with a rate."""
    rate = rows["rate"]
    shown = (rows["status"] == "published").to_numpy(dtype=bool, na_value=False)
    return rate[shown & rate.notna().to_numpy()].astype(float)


def level_classes(
    published: PublishedBuild,
    indicator: str,
    level: str,
    year: YearKey | None = None,
    *,
    method: str = DEFAULT_METHOD,
    k: int = DEFAULT_K,
    ramp: str | None = None,
    scope: str = "year",
) -> ClassBreaks:
    """The classes of one indicator's published rates on one level and year (default latest).

    ``ramp=None`` takes the indicator's own (``ramp_for``). ``scope="all-years"`` computes
    the breaks over every year and period with values (``scope_rates``); the counts are
    always those of the year shown.

    Raises:
        ParameterError: an unknown scope, method or ramp.
    """
    ind = published.catalogue.indicator(indicator)
    rates = published_rates(indicator_rows(published, ind.id, level, year)).to_numpy()
    over = scope_rates(published, ind.id, level, year, scope)
    breaks = class_breaks(over, method=method, k=k, ramp=ramp or ramp_for(ind))
    return breaks if scope == "year" else breaks.counted(rates)


def scope_rates(published: PublishedBuild, indicator: str, level: str,
                year: YearKey | None, scope: str) -> np.ndarray:
    """The published rates the breaks of a map span: those of ``year`` (``scope="year"``)
    or of every year and period of the indicator (``"all-years"``), at one level."""
    if scope not in CLASS_SCOPES:
        raise ParameterError(
            f"unknown classes '{scope}' (known: {', '.join(CLASS_SCOPES)})")
    keys = indicator_years(published, indicator) if scope == "all-years" else (year,)
    parts = [published_rates(indicator_rows(published, indicator, level, key)).to_numpy()
             for key in keys]
    return np.concatenate(parts) if parts else np.array([], dtype=float)


def format_number(value: Any, decimals: int = 1) -> str:
    """German number format: decimal comma, thousands dots (``1.234,5``); ``–`` if empty."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    text = f"{float(value):,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def unit_suffix(unit: str | None) -> str:
    """`` %`` or `` je 1.000`` after a number; nothing without a unit."""
    return f" {unit}" if unit else ""


def class_labels(breaks: ClassBreaks, unit: str | None = "") -> list[str]:
    """Legend text of each class: ``2,5 bis 12,3 %``, ``über 12,3 bis 18,0 %``.

    Two decimals when all classes span less than 1, else one.
    """
    if not breaks.colors:
        return []
    decimals = 2 if breaks.edges[-1] - breaks.edges[0] < 1 else 1
    suffix = unit_suffix(unit)
    labels = []
    for i, (low, high) in enumerate(zip(breaks.edges[:-1], breaks.edges[1:], strict=True)):
        low_text = format_number(low, decimals)
        if low == high:
            labels.append(f"{low_text}{suffix}")
        else:
            above = "" if i == 0 else "über "
            labels.append(f"{above}{low_text} bis {format_number(high, decimals)}{suffix}")
    return labels


class LegendEntry(NamedTuple):
    """One row of a legend: its text, its fill and what it stands for."""

    label: str
    color: str
    role: Literal["class", "similar", "withheld", "missing", "unreliable"]


def legend_entries(breaks: ClassBreaks, unit: str | None = "", *, withheld: bool = True,
                   missing: bool = True, unreliable: bool = False) -> list[LegendEntry]:
    """The classes, light to dark, then withheld (hatched) and missing areas and the dashed
    outline of unreliable rates, each if asked for."""
    entries = [LegendEntry(label, color, "class")
               for label, color in zip(class_labels(breaks, unit), breaks.colors, strict=True)]
    if withheld:
        entries.append(LegendEntry(WITHHELD_LABEL, WITHHELD_COLOR, "withheld"))
    if missing:
        entries.append(LegendEntry(MISSING_LABEL, MISSING_COLOR, "missing"))
    if unreliable:
        entries.append(LegendEntry(UNRELIABLE_LABEL, UNRELIABLE_LINE, "unreliable"))
    return entries


__all__ = [
    "CLASS_SCOPES", "DEFAULT_K", "DEFAULT_METHOD", "DEFAULT_RAMP", "FISHER_JENKS_SAMPLE", "MAX_K",
    "METHODS", "METHOD_NAMES", "MISSING_COLOR", "MISSING_LABEL", "MISSING_LINE", "RAMPS",
    "RAMP_FOR", "UNRELIABLE_DASH", "UNRELIABLE_LABEL", "UNRELIABLE_LINE", "WITHHELD_COLOR",
    "WITHHELD_LABEL", "WITHHELD_LINE", "ClassBreaks", "LegendEntry", "class_breaks",
    "class_labels", "fisher_jenks_bins", "format_number", "legend_entries", "level_classes",
    "mapclassify_bins",
    "published_rates", "ramp_colors", "ramp_for", "scope_rates", "unit_suffix",
]
