"""MapLibre styles of a published build: one fill layer per class, legends in the metadata.

A style covers every level of the build's tiles (one visible at a time) for one indicator and
year, classed by ``geo.render.classes``. For the latest year the classes filter on the tile
properties themselves (one fill layer per class, ``<indicator>`` compared with the class
bounds), which QGIS's style converter understands too; for earlier years, which the tiles do
not carry, each class layer lists its areas by ``area_id``.
Withheld areas are grey and hatched (``fill-pattern`` from ``geo.render.sprite``), areas
without data light grey, unreliable rates (small base) outlined with a dashed line (layer
``<level>-unreliable``, listing its areas by ``area_id`` for every year). The colour ramp
follows the indicator's ``higher_is`` unless a ramp is asked for. ``scope="all-years"``
(``classes=all-years``) takes the breaks over every year, so two years' maps compare;
``compare`` styles the change between two years (``geo.render.change_classes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import ParameterError
from geo.inputs.catalogue import Indicator
from geo.inputs.measures import MEASURE_KINDS
from geo.inputs.periods import YearKey
from geo.release import TOTAL, PublishedBuild, indicator_rows
from geo.render.change import comparison_years, level_change
from geo.render.change_classes import (
    NO_CHANGE_LABEL,
    SIMILAR_COLOR,
    SIMILAR_LABEL,
    change_classes,
    change_labels,
    change_unit,
)
from geo.render.classes import (
    DEFAULT_K,
    DEFAULT_METHOD,
    METHOD_NAMES,
    MISSING_COLOR,
    MISSING_LABEL,
    UNRELIABLE_DASH,
    UNRELIABLE_LABEL,
    UNRELIABLE_LINE,
    WITHHELD_COLOR,
    WITHHELD_LABEL,
    ClassBreaks,
    class_breaks,
    class_labels,
    published_rates,
    ramp_for,
    scope_rates,
)
from geo.render.sprite import HATCH_IMAGE
from geo.render.words import CHANGE
from geo.render.years import indicator_year, indicator_years

SOURCE = "quartier"


@dataclass(frozen=True)
class _LevelMap:
    level: str
    year: YearKey
    ids: dict[str, list[str]]  # status -> area ids
    breaks: ClassBreaks
    classes: dict[int, list[str]]  # class index -> area ids
    unreliable: list[str]  # published areas whose rate rests on a small base
    ramp: str
    scope: str = "year"
    compare: YearKey | None = None
    similar: tuple[str, ...] = ()  # change maps: areas without a significant change


def _level_map(published: PublishedBuild, indicator: str, level: str, year: YearKey, method: str,
               k: int, ramp: str | None, scope: str = "year",
               compare: YearKey | None = None) -> _LevelMap:
    if compare is not None:
        return _change_map(published, indicator, level, year, compare, method)
    ramp = ramp or ramp_for(published.catalogue.indicator(indicator))
    rows = indicator_rows(published, indicator, level, year)
    ids: dict[str, list[str]] = {"published": [], "suppressed": [], "missing": []}
    for area, status in zip(rows.index, rows["status"], strict=True):
        ids.setdefault(str(status), []).append(str(area))
    rates = published_rates(rows)
    breaks = class_breaks(scope_rates(published, indicator, level, year, scope), method=method,
                          k=k, ramp=ramp).counted(rates.to_numpy())
    classes: dict[int, list[str]] = {}
    for area, cls in zip(rates.index, breaks.index(rates.to_numpy()), strict=True):
        classes.setdefault(int(cls), []).append(str(area))
    ids["published"] = [str(a) for a in rates.index]
    shown = rows[rows["status"] == "published"]
    unreliable = [str(a) for a, ok in zip(shown.index, shown["reliable"], strict=True)
                  if ok is not None and ok is not pd.NA and not bool(ok)]
    return _LevelMap(level, year, ids, breaks, classes, unreliable, ramp, scope)


def _change_map(published: PublishedBuild, indicator: str, level: str, year: YearKey,
                compare: YearKey, method: str) -> _LevelMap:
    """The change from ``compare`` to ``year`` (``geo.render.change_classes``), by area_id."""
    ind = published.catalogue.indicator(indicator)
    rows = level_change(published, ind.id, level, year, compare)
    ids: dict[str, list[str]] = {"published": [], "suppressed": [], "missing": []}
    for area, status in zip(rows.index, rows["status"], strict=True):
        ids[str(status)].append(str(area))
    cc = change_classes(rows["change"].to_numpy(dtype=float, na_value=np.nan),
                        rows["change_direction"].to_numpy(dtype=object), ind, method=method)
    classes: dict[int, list[str]] = {}
    for area, cls in zip(rows.index, cc.klass, strict=True):
        if cls >= 0:
            classes.setdefault(int(cls), []).append(str(area))
    shown = rows[rows["status"] == "published"]
    small = ~(shown["reliable"].astype("boolean").fillna(True)
              & shown["reliable0"].astype("boolean").fillna(True))
    return _LevelMap(level, year, ids, cc.breaks, classes,
                     [str(a) for a in shown.index[small.to_numpy(dtype=bool)]], cc.ramp,
                     "year", compare, tuple(str(a) for a in rows.index[cc.similar]))


def legend(published: PublishedBuild, indicator: str, level: str, *, year: YearKey | None = None,
           method: str = DEFAULT_METHOD, k: int = DEFAULT_K, ramp: str | None = None,
           scope: str = "year", compare: YearKey | None = None) -> dict[str, Any]:
    """Legend of one level: classes with colours and counts, withheld, missing and
    unreliable areas (a change map's also the neutral fill of no significant change)."""
    ind = published.catalogue.indicator(indicator)
    published.geography.level(level)
    if compare is not None:
        year, compare = comparison_years(published, ind.id, year, compare)
        indicator_year(published, ind.id, compare)
    year = indicator_year(published, ind.id, year)
    lm = _level_map(published, ind.id, level, year, method, k, ramp, scope, compare)
    return _legend(published, ind, lm)


def _legend(published: PublishedBuild, ind: Indicator, lm: _LevelMap) -> dict[str, Any]:
    b = lm.breaks
    labels = (class_labels(b, ind.unit) if lm.compare is None
              else change_labels(b, ind.unit))
    classes = [
        {"min": low, "max": high, "min_inclusive": i == 0, "color": color,
         "count": b.counts[i], "label": label}
        for i, (low, high, color, label) in enumerate(
            zip(b.edges[:-1], b.upper, b.colors, labels, strict=True))
    ]
    change: dict[str, Any] = {}
    if lm.compare is not None:
        middle = SIMILAR_LABEL if ind.kind not in MEASURE_KINDS else NO_CHANGE_LABEL
        change = {"compare": lm.compare, "change_unit": change_unit(ind.unit),
                  "similar": {"color": SIMILAR_COLOR, "label": middle,
                              "count": len(lm.similar)}}
    return {
        "level": lm.level,
        "level_name": published.geography.level(lm.level).name,
        "indicator": ind.id,
        "name": ind.name,
        "theme": ind.theme,
        "unit": ind.unit,
        "per": ind.per,
        "year": lm.year,
        "method": b.method,
        "method_name": METHOD_NAMES.get(b.method, b.method),
        "k": len(b.colors),
        "ramp": lm.ramp,
        "higher_is": ind.higher_is,
        "classes": classes,
        "withheld": {"color": WITHHELD_COLOR, "pattern": HATCH_IMAGE, "label": WITHHELD_LABEL,
                     "count": len(lm.ids["suppressed"])},
        "missing": {"color": MISSING_COLOR, "label": MISSING_LABEL,
                    "count": len(lm.ids["missing"])},
        "unreliable": {"color": UNRELIABLE_LINE, "dash": list(UNRELIABLE_DASH),
                       "label": UNRELIABLE_LABEL, "count": len(lm.unreliable)},
        "scope": lm.scope,
        **change,
    }


def _class_filters(ind: str, lm: _LevelMap, latest: bool) -> list[tuple[str, list[Any]]]:
    """(colour, filter) per class. One fill layer per class with a plain comparison filter
    renders the same in every MapLibre version and in QGIS (whose converter skips ``step``)."""
    b = lm.breaks
    if not b.colors:
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


def _similar_layers(lm: _LevelMap, base: dict[str, Any], vis: dict[str, Any],
                    opacity: float) -> list[dict[str, Any]]:
    """A change map's neutral fill of the areas without a significant change."""
    if lm.compare is None:
        return []
    return [{"id": f"{lm.level}-similar", "type": "fill", **base, "layout": dict(vis),
             "filter": ["in", ["get", "area_id"], ["literal", list(lm.similar)]],
             "paint": {"fill-color": SIMILAR_COLOR, "fill-opacity": opacity},
             "metadata": {"quartier:level": lm.level, "quartier:role": "similar"}}]


def _layers_for_level(ind: str, lm: _LevelMap, *, latest: bool, visible: bool, outline: bool,
                      opacity: float) -> list[dict[str, Any]]:
    vis = {"visibility": "visible" if visible else "none"}
    base: dict[str, Any] = {"source": SOURCE, "source-layer": lm.level}
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
        *_similar_layers(lm, base, vis, opacity),
        {"id": f"{lm.level}-withheld", "type": "fill", **base, "layout": dict(vis),
         "filter": _status_filter(ind, lm, "suppressed", latest),
         "paint": {"fill-pattern": HATCH_IMAGE, "fill-opacity": opacity},
         "metadata": {**meta, "quartier:role": "withheld"}},
        {"id": f"{lm.level}-line", "type": "line", **base, "layout": dict(vis),
         "paint": {"line-color": "#5a5a5a", "line-opacity": 0.55,
                   "line-width": ["interpolate", ["linear"], ["zoom"], 6, 0.3, 14, 1.2]},
         "metadata": {**meta, "quartier:role": "line"}},
        {"id": f"{lm.level}-unreliable", "type": "line", **base, "layout": dict(vis),
         "filter": ["in", ["get", "area_id"], ["literal", lm.unreliable]],
         "paint": {"line-color": UNRELIABLE_LINE, "line-dasharray": list(UNRELIABLE_DASH),
                   "line-width": ["interpolate", ["linear"], ["zoom"], 6, 1.0, 14, 2.0]},
         "metadata": {**meta, "quartier:role": "unreliable"}},
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
    year: YearKey | None = None,
    level: str | None = None,
    sprite_url: str | None = None,
    method: str = DEFAULT_METHOD,
    k: int = DEFAULT_K,
    ramp: str | None = None,
    basemap_url: str = "",
    basemap_attribution: str = "",
    only_level: bool = False,
    scope: str = "year",
    compare: YearKey | None = None,
) -> dict[str, Any]:
    """A MapLibre style (spec v8) of one indicator and year over every level of the tiles.

    ``source`` is the vector source (``tiles`` or ``url``); ``level`` (default: the finest)
    is visible, the others are hidden layers; the parent level is drawn as an outline.
    ``metadata["quartier:legends"]`` holds the legend of each level. ``only_level`` leaves
    the hidden levels out (QGIS before 3.26 draws layers whose visibility is ``none``).
    ``ramp=None`` takes the indicator's ramp (``higher_is``); a year in which the indicator
    has no value raises NotFoundError. ``scope="all-years"`` takes the breaks over every year
    (the same classes for every year). ``compare`` styles the change from that year to
    ``year`` instead: diverging classes centred on 0 and a ``<level>-similar`` layer for no
    significant change, each listing its areas by ``area_id`` (the tiles carry no change).
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
    latest_year = published.latest_year(ind.id)
    if compare is not None:
        year, compare = comparison_years(published, ind.id, year, compare)
        indicator_year(published, ind.id, compare)
    year = indicator_year(published, ind.id, year)
    latest = year == latest_year and compare is None
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
        lm = _level_map(published, indicator, lv, year, method, k, ramp, scope, compare)
        legends[lv] = _legend(published, ind, lm)
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
        "name": f"{geo.name}: {ind.name} {year}" if compare is None else
                f"{geo.name}: {ind.name}, {CHANGE} {compare} bis {year}",
        "metadata": {
            "quartier:geography": geo.id,
            "quartier:release": published.release_id,
            "quartier:indicator": ind.id,
            "quartier:year": year,
            "quartier:compare": compare,
            "quartier:classes": scope,
            "quartier:latest_year": latest_year,
            "quartier:years": list(indicator_years(published, ind.id)),
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


__all__ = ["SOURCE", "legend", "maplibre_style"]
