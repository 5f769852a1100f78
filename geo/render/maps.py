"""What a choropleth map of one indicator shows: published values, classes, simplified shapes.

``map_data`` takes a ``PublishedBuild`` only, so a withheld value cannot reach a map; the
Folium page (``geo.render.folium_page``) and the PNG (``geo.render.png``) draw its
``MapData`` with the fills and legend below, in the colours of ``geo.render.classes``.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from geo.inputs.catalogue import Indicator
from geo.inputs.measures import MEASURE_KINDS
from geo.inputs.periods import YearKey
from geo.release import LevelInfo, PublishedBuild, indicator_rows, total_rate
from geo.render import words
from geo.render.change import comparison_years, level_change
from geo.render.change_classes import (
    SIMILAR_COLOR,
    change_classes,
    change_legend_entries,
    change_unit,
)
from geo.render.classes import (
    DEFAULT_K,
    DEFAULT_METHOD,
    MISSING_COLOR,
    WITHHELD_COLOR,
    ClassBreaks,
    LegendEntry,
    legend_entries,
    level_classes,
)
from geo.render.years import indicator_year

SIMPLIFY_SHARE = 1 / 5000
"""Coverage-simplification tolerance as a share of the map's diagonal (Berlin: about 10 m)."""


@dataclass(frozen=True)
class MapData:
    """Everything a map of one indicator, level and year shows (published values only)."""

    geography_id: str
    geography_name: str
    attribution: str
    notice: str
    release_id: str
    indicator: Indicator
    level: LevelInfo
    year: YearKey
    total_name: str
    total_rate: float | None
    classes: ClassBreaks
    frame: gpd.GeoDataFrame
    """Columns area_id, name, rate, ci_low, ci_high, numerator, denominator, reliable,
    vs_total, status, klass (-1 = no class), unreliable (a published rate on a small base),
    geometry (simplified, EPSG:4326). A change map (``compare``) has instead: rate and rate0
    (both years), status_now and status0, the change fields of ``geo.render.change``,
    status (the change's), klass, similar, unreliable (either side), geometry."""
    compare: YearKey | None = None
    """The year compared with: the map shows the change from ``compare`` to ``year``."""

    @property
    def title(self) -> str:
        """Headline: indicator, level, year (or the two years compared) and geography."""
        if self.compare is not None:
            return (f"{self.indicator.name}: {words.CHANGE} {self.compare} bis {self.year}, "
                    f"{self.level.name} – {self.geography_name}")
        return f"{self.indicator.name}, {self.level.name}, {self.year} – {self.geography_name}"

    @property
    def unit_label(self) -> str:
        """Unit for the legend, e.g. ``%`` or ``je 1.000`` (``Prozentpunkte`` for the change
        of a share)."""
        if self.compare is not None:
            return change_unit(self.indicator.unit)
        return self.indicator.unit or ""

    @property
    def period_label(self) -> str:
        """The year shown, or ``2021 bis 2023`` on a change map (legend heading)."""
        return f"{self.compare} bis {self.year}" if self.compare is not None else str(self.year)


_SIMPLIFIED: OrderedDict[tuple[str, str, str, float], gpd.GeoDataFrame] = OrderedDict()
_SIMPLIFIED_LOCK = threading.Lock()
_SIMPLIFIED_MAX = 32


def simplified_shapes(published: PublishedBuild, level: str, *,
                      share: float = SIMPLIFY_SHARE) -> gpd.GeoDataFrame:
    """The level's areas simplified as a coverage: shared borders stay shared, no gaps appear.

    The tolerance is ``share`` of the level's diagonal (0 = unsimplified). Memoised per
    release, level and share (a release never changes).
    """
    key = (published.geography.id, published.release_id, level, share)
    with _SIMPLIFIED_LOCK:
        if key in _SIMPLIFIED:
            _SIMPLIFIED.move_to_end(key)
            return _SIMPLIFIED[key]
    shapes = published.shapes[level]
    metric = shapes.to_crs(shapes.estimate_utm_crs())
    minx, miny, maxx, maxy = metric.total_bounds
    tolerance = math.hypot(maxx - minx, maxy - miny) * share
    geoms = metric.geometry.to_numpy()
    if tolerance > 0:
        geoms = shapely.make_valid(shapely.coverage_simplify(geoms, tolerance))
    out = gpd.GeoDataFrame(
        shapes[["area_id", "name"]].reset_index(drop=True),
        geometry=gpd.GeoSeries(geoms, crs=metric.crs).to_crs(4326).to_numpy(),
        crs="EPSG:4326",
    )
    with _SIMPLIFIED_LOCK:
        _SIMPLIFIED[key] = out
        while len(_SIMPLIFIED) > _SIMPLIFIED_MAX:
            _SIMPLIFIED.popitem(last=False)
    return out


def map_data(
    published: PublishedBuild,
    indicator: str,
    *,
    year: YearKey | None = None,
    level: str | None = None,
    method: str = DEFAULT_METHOD,
    k: int = DEFAULT_K,
    ramp: str | None = None,
    simplify: float = SIMPLIFY_SHARE,
    scope: str = "year",
    compare: YearKey | None = None,
) -> MapData:
    """Published values of one indicator on one level and year, classified, with shapes.

    ``level`` defaults to the finest level, ``year`` to the indicator's latest year;
    ``ramp`` to the indicator's (by ``higher_is``); ``simplify`` is the simplification
    tolerance as a share of the map's diagonal; ``scope="all-years"`` takes the breaks over
    every year (``geo.render.classes.CLASS_SCOPES``). ``compare`` maps the change since that
    year instead (``change_map_data``).

    Raises:
        NotFoundError: unknown indicator, level or year, or a year without any value of the
            indicator.
        ParameterError: unknown method or ramp, or a number of classes outside 1..MAX_K.
    """
    ind = published.catalogue.indicator(indicator)
    geo = published.geography
    level_info = geo.level(level if level is not None else geo.level_ids[-1])
    if compare is not None:
        return change_map_data(published, ind.id, year=year, compare=compare,
                               level=level_info.id, method=method, simplify=simplify)
    chosen = indicator_year(published, ind.id, year)
    breaks = level_classes(published, ind.id, level_info.id, chosen, method=method, k=k,
                           ramp=ramp, scope=scope)
    rows = indicator_rows(published, ind.id, level_info.id, chosen)
    frame = simplified_shapes(published, level_info.id, share=simplify).copy()
    aligned = rows.reindex(frame["area_id"])
    for col in ("rate", "ci_low", "ci_high"):
        frame[col] = aligned[col].to_numpy(dtype=float, na_value=np.nan)
    for col in ("numerator", "denominator", "reliable", "vs_total"):
        frame[col] = aligned[col].to_numpy(dtype=object)
    frame["status"] = aligned["status"].fillna("missing").to_numpy()
    frame["klass"] = breaks.index(frame["rate"].to_numpy())
    reliable = aligned["reliable"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    frame["unreliable"] = (frame["status"] == "published").to_numpy() & ~reliable
    return MapData(
        geography_id=geo.id,
        geography_name=geo.name,
        attribution=geo.attribution,
        notice=geo.notice,
        release_id=published.release_id,
        indicator=ind,
        level=level_info,
        year=chosen,
        total_name=geo.total_name,
        total_rate=total_rate(published, ind.id, chosen),
        classes=breaks,
        frame=frame,
    )


def change_map_data(
    published: PublishedBuild,
    indicator: str,
    *,
    compare: YearKey,
    year: YearKey | None = None,
    level: str | None = None,
    method: str = DEFAULT_METHOD,
    simplify: float = SIMPLIFY_SHARE,
) -> MapData:
    """The change of one indicator from ``compare`` to ``year`` on one level, in diverging
    classes centred on 0 (``geo.render.change_classes``), with shapes.

    An area is withheld when either year is, missing when either has no value; its outline
    is dashed when either year's rate is unreliable. Only published values enter.

    Raises:
        ParameterError: the two years do not compare like with like.
        NotFoundError: unknown indicator or level, a year the release lacks, or a year
            without any value of the indicator.
    """
    ind = published.catalogue.indicator(indicator)
    geo = published.geography
    level_info = geo.level(level if level is not None else geo.level_ids[-1])
    chosen, base = comparison_years(published, ind.id, year, compare)
    for key in (chosen, base):
        indicator_year(published, ind.id, key)
    rows = level_change(published, ind.id, level_info.id, chosen, base)
    frame = simplified_shapes(published, level_info.id, share=simplify).copy()
    aligned = rows.reindex(frame["area_id"])
    aligned["status"] = aligned["status"].fillna("missing")
    classes = change_classes(aligned["change"].to_numpy(dtype=float, na_value=np.nan),
                             aligned["change_direction"].to_numpy(dtype=object), ind,
                             method=method)
    for col in ("rate", "rate0", "change", "change_ci_low", "change_ci_high"):
        frame[col] = aligned[col].to_numpy(dtype=float, na_value=np.nan)
    for col in ("status_now", "status0", "change_direction", "status"):
        frame[col] = aligned[col].to_numpy(dtype=object)
    frame["klass"] = classes.klass
    frame["similar"] = classes.similar
    reliable = (aligned["reliable"].astype("boolean").fillna(True)
                & aligned["reliable0"].astype("boolean").fillna(True)).to_numpy(dtype=bool)
    frame["unreliable"] = (frame["status"] == "published").to_numpy() & ~reliable
    return MapData(
        geography_id=geo.id, geography_name=geo.name, attribution=geo.attribution,
        notice=geo.notice, release_id=published.release_id, indicator=ind, level=level_info,
        year=chosen, total_name=geo.total_name, total_rate=None, classes=classes.breaks,
        frame=frame, compare=base,
    )


def area_fills(data: MapData) -> list[str]:
    """The fill of each area of ``data.frame``: its class, withheld or missing colour (on a
    change map: the neutral fill where the change is not significant)."""
    colors = data.classes.colors
    similar = (data.frame["similar"] if data.compare is not None
               else np.zeros(len(data.frame), dtype=bool))
    return [
        WITHHELD_COLOR if status == "suppressed" else SIMILAR_COLOR if same and klass < 0
        else MISSING_COLOR if klass < 0 else colors[int(klass)]
        for status, klass, same in zip(data.frame["status"], data.frame["klass"], similar,
                                       strict=True)
    ]


def missing_areas(data: MapData) -> np.ndarray:
    """Which areas of ``data.frame`` have no value (neither a class nor withheld)."""
    shown = data.frame["klass"] >= 0
    if data.compare is not None:
        shown |= data.frame["similar"].astype(bool)
    return ((data.frame["status"] != "suppressed") & ~shown).to_numpy()


def map_legend(data: MapData) -> list[LegendEntry]:
    """The legend of the page and the PNG: the classes (on a change map around the neutral
    fill of no significant change), then withheld, missing and unreliable areas if shown."""
    withheld = data.frame["status"] == "suppressed"
    extra = legend_entries(ClassBreaks(data.classes.method, (), (), ()),
                           withheld=bool(withheld.any()),
                           missing=bool(missing_areas(data).any()),
                           unreliable=bool(data.frame["unreliable"].any()))
    if data.compare is not None:
        interval = data.indicator.kind not in MEASURE_KINDS
        return change_legend_entries(data.classes, data.indicator.unit,
                                     interval=interval) + extra
    return legend_entries(data.classes, data.unit_label, withheld=False, missing=False) + extra


__all__ = ["SIMPLIFY_SHARE", "MapData", "area_fills", "change_map_data", "map_data", "map_legend",
           "missing_areas", "simplified_shapes"]
