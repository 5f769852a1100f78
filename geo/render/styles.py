"""MapLibre styles of a published build: class breaks (mapclassify), colour ramps, legends.

A style covers every level of the build's tiles (one visible at a time) for one indicator and
year. For the latest year the classes filter on the tile properties themselves (one fill layer per
class, ``<indicator>`` compared with the class bounds), which QGIS's style converter
understands too; for earlier years, which the tiles do not carry, each class layer lists its
areas by ``area_id``.
Withheld areas are grey and hatched (``fill-pattern`` from the sprite below), areas without
data light grey.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mapclassify
import numpy as np

from geo.errors import ParameterError
from geo.inputs.catalogue import Indicator
from geo.release import TOTAL, PublishedBuild

METHODS = ("fisher_jenks", "quantiles", "equal_interval", "natural_breaks")
DEFAULT_METHOD = "fisher_jenks"
DEFAULT_K = 5
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
    "YlGnBu": {
        3: ["#edf8b1", "#7fcdbb", "#2c7fb8"],
        4: ["#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"],
        5: ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"],
        6: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"],
        7: ["#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"],
    },
}
DEFAULT_RAMP = "YlOrRd"
WITHHELD_COLOR = "#d9d9d9"
WITHHELD_LINE = "#737373"
MISSING_COLOR = "#f4f4f4"
HATCH_IMAGE = "quartier-hatch"
WITHHELD_LABEL = "geheim (Datenschutz)"
MISSING_LABEL = "keine Daten"
SOURCE = "quartier"


@dataclass(frozen=True)
class ClassBreaks:
    """Classes of one map: ``upper[i]`` is the (inclusive) upper bound of class ``i``."""

    lower: float
    upper: tuple[float, ...]
    colors: tuple[str, ...]
    counts: tuple[int, ...]
    method: str

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class index of each value (upper bounds inclusive, as mapclassify)."""
        return np.minimum(np.searchsorted(np.asarray(self.upper), values, side="left"),
                          len(self.upper) - 1)


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


FISHER_JENKS_SAMPLE = 500
"""Fisher-Jenks is quadratic (minutes for 11,000 values without numba): above this many values
its breaks come from a deterministic quantile sample of this size that keeps both extremes."""


def mapclassify_bins(values: np.ndarray, method: str, k: int) -> np.ndarray:
    """Upper class bounds from mapclassify, the last one at least the maximum.

    Shared by the MapLibre styles, the Folium and PNG maps and the QGIS styles, so one map
    has the same classes everywhere.
    """
    y = np.asarray(values, dtype=float)
    data = y
    if method == "fisher_jenks" and y.size > FISHER_JENKS_SAMPLE:
        data = np.quantile(y, np.linspace(0.0, 1.0, FISHER_JENKS_SAMPLE))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Numba not installed" and small-sample notes
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
    bins = np.unique(mapclassify_bins(y, method, k))
    return tuple(float(b) for b in bins)


def class_breaks(
    values: Sequence[float] | np.ndarray,
    *,
    method: str = DEFAULT_METHOD,
    k: int = DEFAULT_K,
    ramp: str = DEFAULT_RAMP,
) -> ClassBreaks | None:
    """Classify published rates with mapclassify; None when there is nothing to classify."""
    if method not in METHODS:
        raise ParameterError(f"unknown classification '{method}' (known: {', '.join(METHODS)})")
    if not 1 <= k <= MAX_K:
        raise ParameterError(f"k must be between 1 and {MAX_K}, not {k}")
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    if y.size == 0:
        return None
    upper = _bins(tuple(np.round(y, 10).tolist()), method, k)
    colors = ramp_colors(ramp, len(upper))
    breaks = ClassBreaks(float(y.min()), upper, tuple(colors), (), method)
    counts = np.bincount(breaks.classify(y), minlength=len(upper))
    return ClassBreaks(breaks.lower, upper, breaks.colors, tuple(int(c) for c in counts), method)


def format_number(value: float, decimals: int = 1) -> str:
    """German number format: decimal comma, thin grouping."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def _decimals(breaks: ClassBreaks) -> int:
    span = breaks.upper[-1] - breaks.lower
    return 2 if span < 1 else 1


def _unit_suffix(ind: Indicator) -> str:
    if ind.unit == "%":
        return " %"
    return f" {ind.unit}" if ind.unit else ""


@dataclass(frozen=True)
class _LevelMap:
    level: str
    year: int
    ids: dict[str, list[str]]  # status -> area ids
    breaks: ClassBreaks | None
    classes: dict[int, list[str]]  # class index -> area ids


def _level_map(published: PublishedBuild, indicator: str, level: str, year: int, method: str,
               k: int, ramp: str) -> _LevelMap:
    rows = published.values
    rows = rows[(rows["level"] == level) & (rows["indicator"] == indicator)
                & (rows["year"] == year)]
    areas = published.areas.loc[published.areas["level"] == level, "area_id"].tolist()
    status = dict(zip(rows["area_id"], rows["status"], strict=True))
    ids: dict[str, list[str]] = {"published": [], "suppressed": [], "missing": []}
    for area in areas:
        ids[status.get(area, "missing")].append(area)
    pub = rows[(rows["status"] == "published") & rows["rate"].notna()]
    breaks = class_breaks(pub["rate"].to_numpy(dtype=float), method=method, k=k, ramp=ramp)
    classes: dict[int, list[str]] = {}
    if breaks is not None:
        for area, cls in zip(pub["area_id"], breaks.classify(pub["rate"].to_numpy(dtype=float)),
                             strict=True):
            classes.setdefault(int(cls), []).append(area)
    ids["published"] = pub["area_id"].tolist()
    return _LevelMap(level, year, ids, breaks, classes)


def legend(published: PublishedBuild, indicator: str, level: str, *, year: int | None = None,
           method: str = DEFAULT_METHOD, k: int = DEFAULT_K, ramp: str = DEFAULT_RAMP
           ) -> dict[str, Any]:
    """Legend of one level: classes with colours and counts, withheld and missing areas."""
    ind = published.catalogue.indicator(indicator)
    published.geography.level(level)
    year = published.latest_year(indicator) if year is None else published.check_year(year)
    lm = _level_map(published, indicator, level, year, method, k, ramp)
    return _legend(published, ind, lm, method)


def _legend(published: PublishedBuild, ind: Indicator, lm: _LevelMap, method: str
            ) -> dict[str, Any]:
    suffix = _unit_suffix(ind)
    classes = []
    if lm.breaks is not None:
        dec = _decimals(lm.breaks)
        lows = [lm.breaks.lower, *lm.breaks.upper[:-1]]
        for i, (lo, hi) in enumerate(zip(lows, lm.breaks.upper, strict=True)):
            lo_text = format_number(lo, dec)
            label = (f"{lo_text}{suffix}" if lo == hi else
                     f"{'' if i == 0 else 'über '}{lo_text} bis {format_number(hi, dec)}{suffix}")
            classes.append({"min": lo, "max": hi, "min_inclusive": i == 0,
                            "color": lm.breaks.colors[i], "count": lm.breaks.counts[i],
                            "label": label})
    return {
        "level": lm.level,
        "level_name": published.geography.level(lm.level).name,
        "indicator": ind.id,
        "name": ind.name,
        "theme": ind.theme,
        "unit": ind.unit,
        "per": ind.per,
        "year": lm.year,
        "method": method,
        "classes": classes,
        "withheld": {"color": WITHHELD_COLOR, "pattern": HATCH_IMAGE, "label": WITHHELD_LABEL,
                     "count": len(lm.ids["suppressed"])},
        "missing": {"color": MISSING_COLOR, "label": MISSING_LABEL,
                    "count": len(lm.ids["missing"])},
    }


def _class_filters(ind: str, lm: _LevelMap, latest: bool) -> list[tuple[str, list[Any]]]:
    """(colour, filter) per class. One fill layer per class with a plain comparison filter
    renders the same in every MapLibre version and in QGIS (whose converter skips ``step``)."""
    b = lm.breaks
    if b is None:
        return []
    out = []
    lows = [None, *b.upper[:-1]]
    for i, (low, high, color) in enumerate(zip(lows, b.upper, b.colors, strict=True)):
        if not latest:
            ids = lm.classes.get(i, [])
            out.append((color, ["in", ["get", "area_id"], ["literal", ids]]))
            continue
        # classes are upper-inclusive, as in mapclassify; the first starts at the minimum
        parts: list[Any] = [["==", ["get", f"{ind}_status"], "published"]]
        if low is not None:
            parts.append([">", ["get", ind], low])
        if i < len(b.upper) - 1:
            parts.append(["<=", ["get", ind], high])
        out.append((color, ["all", *parts]))
    return out


def _status_filter(ind: str, lm: _LevelMap, status: str, latest: bool) -> list[Any]:
    if latest:
        return ["==", ["get", f"{ind}_status"], status]
    return ["in", ["get", "area_id"], ["literal", lm.ids[status]]]


def _layers_for_level(ind: str, lm: _LevelMap, *, latest: bool, visible: bool, outline: bool,
                      opacity: float) -> list[dict[str, Any]]:
    vis = {"visibility": "visible" if visible else "none"}
    base = {"source": SOURCE, "source-layer": lm.level}
    meta = {"quartier:level": lm.level}
    layers: list[dict[str, Any]] = [
        {"id": f"{lm.level}-nodata", "type": "fill", **base, "layout": dict(vis),
         "paint": {"fill-color": MISSING_COLOR, "fill-opacity": opacity},
         "metadata": {**meta, "quartier:role": "missing"}},
        *[
            {"id": f"{lm.level}-fill-{i}", "type": "fill", **base, "layout": dict(vis),
             "filter": flt, "paint": {"fill-color": color, "fill-opacity": opacity},
             "metadata": {**meta, "quartier:role": "fill", "quartier:class": i}}
            for i, (color, flt) in enumerate(_class_filters(ind, lm, latest))
        ],
        {"id": f"{lm.level}-withheld", "type": "fill", **base, "layout": dict(vis),
         "filter": _status_filter(ind, lm, "suppressed", latest),
         "paint": {"fill-pattern": HATCH_IMAGE, "fill-opacity": opacity},
         "metadata": {**meta, "quartier:role": "withheld"}},
        {"id": f"{lm.level}-line", "type": "line", **base, "layout": dict(vis),
         "paint": {"line-color": "#5a5a5a", "line-opacity": 0.55,
                   "line-width": ["interpolate", ["linear"], ["zoom"], 6, 0.3, 14, 1.2]},
         "metadata": {**meta, "quartier:role": "line"}},
        {"id": f"{lm.level}-outline", "type": "line", **base,
         "layout": {"visibility": "visible" if outline else "none"},
         "paint": {"line-color": "#222222",
                   "line-width": ["interpolate", ["linear"], ["zoom"], 6, 0.8, 14, 2.5]},
         "metadata": {**meta, "quartier:role": "outline"}},
    ]
    return layers


def maplibre_style(
    published: PublishedBuild,
    indicator: str,
    *,
    source: Mapping[str, Any],
    year: int | None = None,
    level: str | None = None,
    sprite_url: str | None = None,
    method: str = DEFAULT_METHOD,
    k: int = DEFAULT_K,
    ramp: str = DEFAULT_RAMP,
    basemap_url: str = "",
    basemap_attribution: str = "",
    only_level: bool = False,
) -> dict[str, Any]:
    """A MapLibre style (spec v8) of one indicator and year over every level of the tiles.

    ``source`` is the vector source (``tiles`` or ``url``); ``level`` (default: the finest)
    is visible, the others are hidden layers; the parent level is drawn as an outline.
    ``metadata["quartier:legends"]`` holds the legend of each level. ``only_level`` leaves
    the hidden levels out (QGIS before 3.26 draws layers whose visibility is ``none``).
    """
    ind = published.catalogue.indicator(indicator)
    geo = published.geography
    level = level or geo.level_ids[-1]
    if level == TOTAL:
        raise ParameterError(
            f"level 'total' is one area and has no class map; choose one of "
            f"{', '.join(geo.level_ids)}"
        )
    geo.level(level)
    latest_year = published.latest_year(indicator)
    year = latest_year if year is None else published.check_year(year)
    latest = year == latest_year
    all_levels = [*geo.level_ids]
    parent = {lv: ([TOTAL, *all_levels][i]) for i, lv in enumerate(all_levels)}
    opacity = 0.75 if basemap_url else 1.0
    sources: dict[str, Any] = {SOURCE: dict(source)}
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#fbfbf8"}}
    ]
    if basemap_url:
        sources["basemap"] = {"type": "raster", "tiles": [basemap_url], "tileSize": 256,
                              "attribution": basemap_attribution}
        layers.append({"id": "basemap", "type": "raster", "source": "basemap"})
    legends = {}
    for lv in all_levels:
        lm = _level_map(published, indicator, lv, year, method, k, ramp)
        legends[lv] = _legend(published, ind, lm, method)
        if only_level and lv != level:
            if lv == parent[level]:
                layers += [lyr for lyr in _layers_for_level(
                    indicator, lm, latest=latest, visible=False, outline=True, opacity=opacity)
                    if lyr["id"].endswith("-outline")]
            continue
        layers += _layers_for_level(indicator, lm, latest=latest, visible=lv == level,
                                    outline=lv == parent[level] and lv != level, opacity=opacity)
    layers.append({"id": "total-outline", "type": "line", "source": SOURCE, "source-layer": TOTAL,
                   "paint": {"line-color": "#222222", "line-width": 1.5},
                   "metadata": {"quartier:level": TOTAL, "quartier:role": "outline"}})
    style: dict[str, Any] = {
        "version": 8,
        "name": f"{geo.name}: {ind.name} {year}",
        "metadata": {
            "quartier:geography": geo.id,
            "quartier:release": published.release_id,
            "quartier:indicator": ind.id,
            "quartier:year": year,
            "quartier:latest_year": latest_year,
            "quartier:level": level,
            "quartier:levels": [{"id": lv.id, "name": lv.name} for lv in geo.levels],
            "quartier:legend": legends[level],
            "quartier:legends": legends,
            "quartier:attribution": geo.attribution,
            "quartier:notice": geo.notice,
        },
        "sources": sources,
        "layers": layers,
    }
    if sprite_url:
        style["sprite"] = sprite_url
    return style


# --- sprite with the hatch pattern for withheld areas -----------------------------------------


def _png(rgba: np.ndarray) -> bytes:
    """Encode an RGBA uint8 image (h, w, 4) as PNG."""
    h, w, _ = rgba.shape
    raw = b"".join(b"\x00" + rgba[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _hex_rgba(color: str) -> list[int]:
    return [int(color[i:i + 2], 16) for i in (1, 3, 5)] + [255]


def sprite(pixel_ratio: int = 1) -> tuple[dict[str, Any], bytes]:
    """The sprite index and PNG: a seamless diagonal hatch (grey on light grey)."""
    if pixel_ratio not in (1, 2):
        raise ParameterError(f"pixel ratio must be 1 or 2, not {pixel_ratio}")
    size = 16 * pixel_ratio
    period = 8 * pixel_ratio
    i, j = np.mgrid[0:size, 0:size]
    line = ((i + j) % period) < 2 * pixel_ratio
    img = np.empty((size, size, 4), dtype=np.uint8)
    img[:] = _hex_rgba(WITHHELD_COLOR)
    img[line] = _hex_rgba(WITHHELD_LINE)
    index = {HATCH_IMAGE: {"x": 0, "y": 0, "width": size, "height": size,
                           "pixelRatio": pixel_ratio}}
    return index, _png(img)


__all__ = [
    "ClassBreaks", "DEFAULT_K", "DEFAULT_METHOD", "HATCH_IMAGE", "METHODS", "RAMPS",
    "class_breaks", "format_number", "legend", "maplibre_style", "ramp_colors", "sprite",
]
