"""The areas of a level as GeoJSON features with their published values.

- ``feature_collection``: one FeatureCollection of a level (the data API's GeoJSON).
- ``feature_layer``: a level serialised once per release and CRS for OGC API Features, then
  ``page_features`` selects (bbox, datetime) and pages it, ``page_json`` and
  ``feature_json`` write the documents with the links the caller gives.
- ``layer_crs``: the CRS a level is offered in (OGC API Features Part 2): CRS84 and the
  geography's own (``GeographyInfo.crs``, as URI ``http://www.opengis.net/def/crs/EPSG/0/25832``).

Withheld values are null: the properties come from ``wide_values`` of the published build.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyproj
import shapely

from geo.errors import NotFoundError
from geo.inputs.periods import YearKey
from geo.release import PublishedBuild, wide_values
from geo.render.change import comparison_years, wide_change
from geo.render.records import records
from geo.render.years import indicator_year

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
"""The default coordinate reference system of the features (longitude, latitude)."""
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
DEFAULT_LIMIT = 1000
"""Features per page when the client names no limit."""
MAX_LIMIT = 10_000
"""Most features per page; larger limits are capped to it."""


def crs_uri(crs: str) -> str:
    """The OGC URI of a CRS given as ``EPSG:25832`` (EPSG:4326 and CRS84 give CRS84)."""
    authority, _, code = crs.partition(":")
    if crs in ("EPSG:4326", "OGC:CRS84") or authority.upper() != "EPSG":
        return CRS84
    return f"{_EPSG_URI}{code}"


def layer_crs(published: PublishedBuild) -> tuple[str, ...]:
    """The CRS URIs a level of this release is offered in: CRS84, then the geography's own."""
    own = crs_uri(published.geography.crs)
    return (CRS84,) if own == CRS84 else (CRS84, own)


def _pyproj_crs(uri: str) -> pyproj.CRS:
    if uri == CRS84:
        return pyproj.CRS.from_user_input("OGC:CRS84")
    return pyproj.CRS.from_epsg(int(uri.removeprefix(_EPSG_URI)))


def _compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def feature_collection(published: PublishedBuild, level: str, indicator: str | None = None,
                       year: YearKey | None = None, compare: YearKey | None = None
                       ) -> dict[str, Any]:
    """One feature per area of the level with the wide published values as properties.

    ``indicator=None`` keeps every indicator; ``year`` a year or period, ``None`` each
    indicator's latest year. ``compare`` adds ``<indicator>_change…`` since that year
    (``geo.render.change``).
    """
    if compare is not None:
        year, compare = comparison_years(published, indicator, year, compare)
    if year is not None:
        year = published.check_year(year)
    if indicator:
        indicator_year(published, indicator, year)
    ind_ids = ([published.catalogue.indicator(indicator).id] if indicator
               else [i.id for i in published.catalogue.indicators])
    wide = wide_values(published, level, year)
    keep = ["area_id", "name", "parent_id"]
    for ind in ind_ids:
        keep += [c for c in wide.columns if c == ind or c.startswith(f"{ind}_")]
    wide = wide[keep]
    if compare is not None:
        change = wide_change(published, level, pd.Index(wide["area_id"]), indicator, year, compare)
        wide = pd.concat([wide, change.reset_index(drop=True).set_axis(wide.index)], axis=1)
    shapes = published.shapes[level].set_index("area_id").reindex(wide["area_id"])
    features = []
    for props, geom in zip(records(wide), shapes.geometry, strict=True):
        features.append({
            "type": "Feature",
            "id": props["area_id"],
            "properties": props,
            "geometry": None if geom is None else geom.__geo_interface__,
        })
    geo = published.geography
    return {
        "type": "FeatureCollection",
        "name": f"{geo.id}.{level}",
        "attribution": geo.attribution,
        "notice": geo.notice or None,
        "release_id": published.release_id,
        **({"year": year, "compare": compare} if compare is not None else {}),
        "features": features,
    }


class BBox(NamedTuple):
    """A box (CRS84 degrees unless said otherwise); in CRS84 ``minx > maxx`` crosses the
    antimeridian."""

    minx: float
    miny: float
    maxx: float
    maxy: float


class Interval(NamedTuple):
    """A time interval; None is open."""

    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class FeatureLayer:
    """A level ready to page through: one serialised feature per area."""

    id: str
    title: str
    description: str
    attribution: str
    area_ids: tuple[str, ...]
    geometries: np.ndarray
    features: tuple[str, ...]
    bbox: tuple[float, float, float, float]
    years: tuple[int, int]
    release_id: str
    crs: str = CRS84
    """URI of the CRS of ``geometries`` and ``features``."""
    crs_list: tuple[str, ...] = (CRS84,)
    """Every CRS the level is offered in; the last is the storage CRS."""


def _feature_properties(wide: pd.DataFrame, published: PublishedBuild) -> pd.DataFrame:
    """Counts as integers, withheld as null (wide_values leaves them empty)."""
    wide = wide.copy()
    for ind in published.catalogue.indicators:
        for col in (f"{ind.id}_numerator", f"{ind.id}_denominator"):
            wide[col] = pd.array(pd.to_numeric(wide[col]), dtype="Float64").round().astype("Int64")
        wide[f"{ind.id}_reliable"] = wide[f"{ind.id}_reliable"].astype("boolean")
    return wide


def feature_layer(published: PublishedBuild, level: str, crs: str = CRS84) -> FeatureLayer:
    """Serialise the areas of one level with each indicator's latest published values, in
    ``crs`` (one of ``layer_crs``; NotFoundError otherwise). ``bbox`` stays in CRS84."""
    geo = published.geography
    info = geo.level(level)
    offered = layer_crs(published)
    if crs not in offered:
        raise NotFoundError(f"'{geo.id}' is not offered in {crs} (offered: {', '.join(offered)})")
    wide = _feature_properties(wide_values(published, level), published)
    shapes = published.shapes[level].set_index("area_id").reindex(wide["area_id"])
    bounds = shapely.total_bounds(shapes.geometry.to_numpy())
    if crs != CRS84:
        shapes = shapes.to_crs(_pyproj_crs(crs))
    geoms = shapes.geometry.to_numpy()
    features = []
    for props, geom in zip(records(wide), geoms, strict=True):
        features.append(_compact(
            {"type": "Feature", "id": props["area_id"],
             "geometry": None if geom is None else geom.__geo_interface__,
             "properties": props},
        ))
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    years = ([published.latest_year(i.id) for i in published.catalogue.indicators]
             or list(published.single_years))
    notice = f" {geo.notice}." if geo.notice else ""
    return FeatureLayer(
        id=f"{geo.id}.{level}",
        title=f"{geo.name} – {info.name}",
        description=(
            f"{info.count} Gebiete der Ebene {info.name} ({geo.name}) mit den veröffentlichten "
            f"Werten aller Indikatoren, je Indikator das letzte Jahr (Feld <indikator>_year). "
            f"Gesperrte Werte (Geheimhaltung) sind leer, <indikator>_status = suppressed.{notice} "
            f"Quelle: {geo.attribution}. Release {published.release_id}."
        ),
        attribution=geo.attribution,
        area_ids=tuple(str(a) for a in wide["area_id"]),
        geometries=geoms,
        features=tuple(features),
        bbox=(minx, miny, maxx, maxy),
        years=(min(years), max(years)),
        release_id=published.release_id,
        crs=crs,
        crs_list=offered,
    )


def layer_info(layer: FeatureLayer) -> dict[str, Any]:
    """The collection's description, extent and CRS (the caller adds its links)."""
    return {
        "id": layer.id,
        "title": layer.title,
        "description": layer.description,
        "attribution": layer.attribution,
        "itemType": "feature",
        "crs": list(layer.crs_list),
        "storageCrs": layer.crs_list[-1],
        "extent": {
            "spatial": {"bbox": [list(layer.bbox)], "crs": CRS84},
            "temporal": {
                "interval": [[f"{layer.years[0]}-01-01T00:00:00Z",
                              f"{layer.years[1]}-12-31T23:59:59Z"]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
    }


def _box(bbox: BBox, bbox_crs: str, layer_crs: str) -> shapely.Geometry:
    minx, miny, maxx, maxy = bbox
    if bbox_crs != layer_crs:
        # the box's edges, densified, in the layer's CRS: a box need not stay a box
        step = max(abs(maxx - minx), abs(maxy - miny)) / 64 or 1.0
        box = shapely.segmentize(_box(bbox, bbox_crs, bbox_crs), step)
        transformer = pyproj.Transformer.from_crs(_pyproj_crs(bbox_crs), _pyproj_crs(layer_crs),
                                                  always_xy=True)
        return shapely.transform(box, lambda xy: np.column_stack(
            transformer.transform(xy[:, 0], xy[:, 1])))
    if minx > maxx and bbox_crs == CRS84:  # crosses the antimeridian
        east = shapely.box(minx, miny, 180, maxy)
        return shapely.union(east, shapely.box(-180, miny, maxx, maxy))
    return shapely.box(minx, miny, maxx, maxy)


def _meets_years(interval: Interval, years: tuple[int, int]) -> bool:
    """Does the interval meet the years of the layer's values?"""
    first = datetime(years[0], 1, 1, tzinfo=UTC)
    last = datetime(years[1], 12, 31, 23, 59, 59, tzinfo=UTC)
    start, end = interval
    return (start is None or start <= last) and (end is None or end >= first)


@dataclass(frozen=True)
class FeaturePage:
    """One page of a layer's selected features."""

    layer: FeatureLayer
    indices: np.ndarray
    matched: int
    limit: int
    offset: int


def page_features(layer: FeatureLayer, *, limit: int = DEFAULT_LIMIT, offset: int = 0,
                  bbox: BBox | None = None, interval: Interval | None = None,
                  bbox_crs: str = CRS84) -> FeaturePage:
    """The features meeting ``bbox`` (in ``bbox_crs``) and ``interval``, from ``offset``, at
    most ``limit`` (capped to MAX_LIMIT)."""
    selected: np.ndarray = np.arange(len(layer.features))
    if bbox is not None:
        selected = selected[shapely.intersects(layer.geometries,
                                               _box(bbox, bbox_crs, layer.crs))]
    if interval is not None and not _meets_years(interval, layer.years):
        selected = selected[:0]
    limit = min(limit, MAX_LIMIT)
    return FeaturePage(layer, selected[offset:offset + limit], int(len(selected)), limit, offset)


def time_stamp() -> str:
    """Current time as RFC 3339 (a response's timeStamp)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def page_json(page: FeaturePage, links: list[dict[str, str]]) -> str:
    """The page as a GeoJSON FeatureCollection with numberMatched/Returned and ``links``."""
    layer = page.layer
    return (
        '{"type":"FeatureCollection","features":['
        + ",".join(layer.features[i] for i in page.indices)
        + "],"
        + _compact({
            "numberMatched": page.matched,
            "numberReturned": int(len(page.indices)),
            "timeStamp": time_stamp(),
            "attribution": layer.attribution,
            "links": links,
        })[1:]
    )


def feature_json(layer: FeatureLayer, area_id: str, links: list[dict[str, str]]) -> str:
    """One area as a GeoJSON Feature with ``links``; NotFoundError if the layer lacks it."""
    if area_id not in layer.area_ids:
        raise NotFoundError(f"no feature '{area_id}' in collection '{layer.id}'")
    feature = layer.features[layer.area_ids.index(area_id)]
    return feature[:-1] + ',"links":' + json.dumps(links) + "}"
