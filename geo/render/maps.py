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
from geo.inputs.periods import YearKey
from geo.release import LevelInfo, PublishedBuild, indicator_rows, total_rate
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
    geometry (simplified, EPSG:4326)."""

    @property
    def title(self) -> str:
        """Headline: indicator, level, year and geography."""
        return f"{self.indicator.name}, {self.level.name}, {self.year} – {self.geography_name}"

    @property
    def unit_label(self) -> str:
        """Unit for the legend, e.g. ``%`` or ``je 1.000``."""
        return self.indicator.unit or ""


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
) -> MapData:
    """Published values of one indicator on one level and year, classified, with shapes.

    ``level`` defaults to the finest level, ``year`` to the indicator's latest year;
    ``ramp`` to the indicator's (by ``higher_is``); ``simplify`` is the simplification
    tolerance as a share of the map's diagonal.

    Raises:
        NotFoundError: unknown indicator, level or year, or a year without any value of the
            indicator.
        ParameterError: unknown method or ramp, or a number of classes outside 1..MAX_K.
    """
    ind = published.catalogue.indicator(indicator)
    geo = published.geography
    level_info = geo.level(level if level is not None else geo.level_ids[-1])
    chosen = indicator_year(published, ind.id, year)
    breaks = level_classes(published, ind.id, level_info.id, chosen, method=method, k=k,
                           ramp=ramp)
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


def area_fills(data: MapData) -> list[str]:
    """The fill of each area of ``data.frame``: its class, withheld or missing colour."""
    colors = data.classes.colors
    return [
        WITHHELD_COLOR if status == "suppressed" else MISSING_COLOR if klass < 0 else
        colors[int(klass)]
        for status, klass in zip(data.frame["status"], data.frame["klass"], strict=True)
    ]


def missing_areas(data: MapData) -> np.ndarray:
    """Which areas of ``data.frame`` have no value (neither a class nor withheld)."""
    return ((data.frame["status"] != "suppressed") & (data.frame["klass"] < 0)).to_numpy()


def map_legend(data: MapData) -> list[LegendEntry]:
    """The legend of the page and the PNG: the classes, then withheld, missing and unreliable
    areas if shown."""
    withheld = data.frame["status"] == "suppressed"
    return legend_entries(data.classes, data.unit_label, withheld=bool(withheld.any()),
                          missing=bool(missing_areas(data).any()),
                          unreliable=bool(data.frame["unreliable"].any()))


__all__ = ["SIMPLIFY_SHARE", "MapData", "area_fills", "map_data", "map_legend",
           "missing_areas", "simplified_shapes"]
