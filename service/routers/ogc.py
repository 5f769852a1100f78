"""OGC API Features, Part 1 Core: one collection per geography and level.

Features are the areas of a level with the published values of each indicator's latest year
(``geo.release.wide_values``), so GIS clients such as QGIS or GDAL read what the GeoPackage
holds. Invalid parameters give 400 as the standard requires (not FastAPI's 422): the route
class below maps them in one place.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from geo.errors import NotFoundError, ParameterError
from geo.release import PublishedBuild, wide_values
from service.routers.api import header_text, records
from service.settings import Settings
from service.store import BuildStore

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
GEOJSON = "application/geo+json"
JSON = "application/json"
FormatParam = Annotated[str | None, Query(
    pattern="^(json|geojson)$", description="Ausgabeformat: json oder geojson")]
CrsParam = Annotated[str | None, Query(
    description=f"Koordinatenreferenzsystem der Antwort; nur {CRS84} (Längen-/Breitengrad)")]
CollectionPath = Annotated[str, Path(
    description="Collection-ID `{geografie}.{ebene}`, z. B. berlin-lor-2021.prognoseraum")]


class OGCParameterError(ParameterError):
    """Raised when an OGC API request has an invalid or unknown query parameter (HTTP 400)."""


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"code": "InvalidParameterValue", "description": message,
                         "detail": message}, status_code=400)


class OGCRoute(APIRoute):
    """Route class of the OGC router: unknown or invalid query parameters answer 400."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: check parameter names, map validation errors to 400."""
        handler = super().get_route_handler()
        allowed = {p.alias for p in self.dependant.query_params}

        async def route(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - allowed)
            if unknown:
                known = ", ".join(sorted(allowed)) or "none"
                return _bad_request(f"unknown query parameter(s) {', '.join(unknown)} "
                                    f"(known: {known})")
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in exc.errors()
                )
                return _bad_request(problems)
            except OGCParameterError as exc:
                return _bad_request(str(exc))

        return route


@dataclass(frozen=True)
class _Layer:
    """A collection ready to page through: one serialised feature per area."""

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


def _feature_properties(wide: pd.DataFrame, build: PublishedBuild) -> pd.DataFrame:
    """Counts as integers, withheld as null (wide_values leaves them empty)."""
    wide = wide.copy()
    for ind in build.catalogue.indicators:
        for col in (f"{ind.id}_numerator", f"{ind.id}_denominator"):
            wide[col] = pd.array(pd.to_numeric(wide[col]), dtype="Float64").round().astype("Int64")
        wide[f"{ind.id}_reliable"] = wide[f"{ind.id}_reliable"].astype("boolean")
    return wide


def _layer(build: PublishedBuild, level: str) -> _Layer:
    geo = build.geography
    info = geo.level(level)
    wide = _feature_properties(wide_values(build, level), build)
    shapes = build.shapes[level].set_index("area_id").reindex(wide["area_id"])
    geoms = shapes.geometry.to_numpy()
    features = []
    for props, geom in zip(records(wide), geoms, strict=True):
        features.append(json.dumps(
            {"type": "Feature", "id": props["area_id"],
             "geometry": None if geom is None else geom.__geo_interface__,
             "properties": props},
            ensure_ascii=False, separators=(",", ":"),
        ))
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geoms))
    years = [build.latest_year(i.id) for i in build.catalogue.indicators] or list(build.years)
    notice = f" {geo.notice}." if geo.notice else ""
    return _Layer(
        id=f"{geo.id}.{level}",
        title=f"{geo.name} – {info.name}",
        description=(
            f"{info.count} Gebiete der Ebene {info.name} ({geo.name}) mit den veröffentlichten "
            f"Werten aller Indikatoren, je Indikator das letzte Jahr (Feld <indikator>_year). "
            f"Gesperrte Werte (Geheimhaltung) sind leer, <indikator>_status = suppressed.{notice} "
            f"Quelle: {geo.attribution}. Release {build.release_id}."
        ),
        attribution=geo.attribution,
        area_ids=tuple(str(a) for a in wide["area_id"]),
        geometries=geoms,
        features=tuple(features),
        bbox=(minx, miny, maxx, maxy),
        years=(min(years), max(years)),
        release_id=build.release_id,
    )


class _Layers:
    """Serialised collections per release and level, built on first use."""

    def __init__(self, store: BuildStore) -> None:
        self.store = store
        self._items: OrderedDict[tuple[str, str, str], _Layer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, collection_id: str) -> _Layer:
        """Return a collection by id ``{geography}.{level}`` or raise NotFoundError."""
        geography, _, level = collection_id.rpartition(".")
        build = self.store.get(geography or collection_id)
        if level not in build.geography.level_ids:
            known = ", ".join(f"{build.geography.id}.{lv}" for lv in build.geography.level_ids)
            raise NotFoundError(f"unknown collection '{collection_id}' (known: {known})")
        return self.layer(build, level)

    def layer(self, build: PublishedBuild, level: str) -> _Layer:
        """Return the collection of one build and level."""
        key = (build.geography.id, build.release_id, level)
        with self._lock:
            if key in self._items:
                return self._items[key]
        made = _layer(build, level)
        with self._lock:
            self._items[key] = made
            while len(self._items) > 64:
                self._items.popitem(last=False)
        return made


def _parse_bbox(text: str) -> shapely.Geometry:
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise OGCParameterError(f"bbox '{text}' must be 4 or 6 comma-separated numbers") from None
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise OGCParameterError(f"bbox '{text}' must be 4 or 6 comma-separated numbers")
    minx, miny, maxx, maxy = parts
    if miny > maxy or not (-90 <= miny <= 90 and -90 <= maxy <= 90):
        raise OGCParameterError(f"bbox '{text}': latitudes must be within -90..90, lower first")
    if minx > maxx:  # crosses the antimeridian
        east = shapely.box(minx, miny, 180, maxy)
        return shapely.union(east, shapely.box(-180, miny, maxx, maxy))
    return shapely.box(minx, miny, maxx, maxy)


def _parse_instant(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        if len(text) == 10:
            moment = datetime.fromisoformat(text + ("T23:59:59" if end else "T00:00:00"))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OGCParameterError(f"datetime '{text}' is not an RFC 3339 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _datetime_matches(text: str, years: tuple[int, int]) -> bool:
    """Does the datetime instant or interval meet the years of the collection's values?"""
    start_text, sep, end_text = text.partition("/")
    start = _parse_instant(start_text, end=False)
    end = _parse_instant(end_text, end=True) if sep else _parse_instant(start_text, end=True)
    if sep and start is not None and end is not None and start > end:
        raise OGCParameterError(f"datetime '{text}': the interval ends before it starts")
    first = datetime(years[0], 1, 1, tzinfo=UTC)
    last = datetime(years[1], 12, 31, 23, 59, 59, tzinfo=UTC)
    return (start is None or start <= last) and (end is None or end >= first)


def _check_crs(value: str | None, name: str) -> None:
    if value is not None and value.strip("<>") != CRS84:
        raise OGCParameterError(f"{name} '{value}' is not supported (only {CRS84})")


def _media_type(request: Request, f: str | None) -> str:
    if f is not None:
        return {"json": JSON, "geojson": GEOJSON}[f]
    accept = request.headers.get("accept", "")
    if JSON in accept and GEOJSON not in accept:
        return JSON
    return GEOJSON


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the OGC API Features routes under /ogc."""
    r = APIRouter(prefix="/ogc", tags=["OGC API Features"], route_class=OGCRoute)
    layers = _Layers(store)
    headers = {"Cache-Control": f"public, max-age={settings.cache_seconds}"}

    def _base(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/ogc"

    def _collection(request: Request, layer: _Layer) -> dict[str, Any]:
        base = _base(request)
        return {
            "id": layer.id,
            "title": layer.title,
            "description": layer.description,
            "attribution": layer.attribution,
            "itemType": "feature",
            "crs": [CRS84],
            "storageCrs": CRS84,
            "extent": {
                "spatial": {"bbox": [list(layer.bbox)], "crs": CRS84},
                "temporal": {
                    "interval": [[f"{layer.years[0]}-01-01T00:00:00Z",
                                  f"{layer.years[1]}-12-31T23:59:59Z"]],
                    "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
                },
            },
            "links": [
                {"href": f"{base}/collections/{layer.id}", "rel": "self", "type": JSON,
                 "title": layer.title},
                {"href": f"{base}/collections/{layer.id}/items", "rel": "items",
                 "type": GEOJSON, "title": "Features (GeoJSON)"},
                {"href": str(request.base_url).rstrip("/") + "/downloads/"
                         + layer.id.rpartition(".")[0] + ".gpkg",
                 "rel": "enclosure", "type": "application/geopackage+sqlite3",
                 "title": "GeoPackage mit QGIS-Stilen"},
            ],
        }

    @r.get("", summary="Landing page")
    def landing(request: Request, f: FormatParam = None) -> JSONResponse:
        """The API's landing page with links to the definition, conformance and collections."""
        base = _base(request)
        root = str(request.base_url).rstrip("/")
        return JSONResponse({
            "title": "Quartier – OGC API Features",
            "description": "Veröffentlichte kleinräumige Statistik (gesperrte Werte leer), "
                           "eine Collection je Geografie und Ebene.",
            "links": [
                {"href": base, "rel": "self", "type": JSON, "title": "Landing page"},
                {"href": f"{root}/openapi.json", "rel": "service-desc",
                 "type": "application/vnd.oai.openapi+json;version=3.0", "title": "OpenAPI"},
                {"href": f"{root}/docs", "rel": "service-doc", "type": "text/html",
                 "title": "API-Dokumentation"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": JSON,
                 "title": "Conformance"},
                {"href": f"{base}/collections", "rel": "data", "type": JSON,
                 "title": "Collections"},
            ],
        }, headers=headers)

    @r.get("/conformance", summary="Conformance classes")
    def conformance(f: FormatParam = None) -> JSONResponse:
        """The conformance classes the API implements."""
        return JSONResponse({"conformsTo": CONFORMANCE}, headers=headers)

    @r.get("/collections", summary="Collections (one per geography and level)")
    def collections(request: Request, f: FormatParam = None) -> JSONResponse:
        """Every geography and level as a feature collection."""
        items = [
            _collection(request, layers.layer(build, level))
            for build in store.builds()
            for level in build.geography.level_ids
        ]
        base = _base(request)
        return JSONResponse({
            "links": [{"href": f"{base}/collections", "rel": "self", "type": JSON,
                       "title": "Collections"}],
            "collections": items,
        }, headers=headers)

    @r.get("/collections/{collectionId}", summary="One collection")
    def collection(request: Request, collectionId: CollectionPath,  # noqa: N803
                   f: FormatParam = None) -> JSONResponse:
        """Describe one collection: extent, CRS, attribution and links."""
        return JSONResponse(_collection(request, layers.get(collectionId)), headers=headers)

    @r.get(
        "/collections/{collectionId}/items",
        summary="Features of a collection (GeoJSON)",
        responses={200: {"content": {GEOJSON: {}, JSON: {}}}},
    )
    def items(
        request: Request,
        collectionId: CollectionPath,  # noqa: N803
        limit: Annotated[int, Query(
            ge=1, description=f"Höchstzahl der Features je Seite (1 bis {MAX_LIMIT:,}; "
                              "größere Werte werden auf das Maximum gesetzt)")] = DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, description="Zahl der zu überspringenden Features")] = 0,
        bbox: Annotated[str | None, Query(
            description="minLon,minLat,maxLon,maxLat (CRS84): nur Features, die diese Box "
                        "schneiden")] = None,
        datetime: Annotated[str | None, Query(
            description="Zeitpunkt oder Intervall (RFC 3339, `..` offen); die Werte gelten "
                        "für das jeweils letzte Jahr je Indikator")] = None,
        crs: CrsParam = None,
        bbox_crs: Annotated[str | None, Query(
            alias="bbox-crs", description=f"CRS des bbox-Parameters; nur {CRS84}")] = None,
        f: FormatParam = None,
    ) -> Response:
        """Page through the features; ``next``/``prev`` links and numberMatched/Returned."""
        _check_crs(crs, "crs")
        _check_crs(bbox_crs, "bbox-crs")
        layer = layers.get(collectionId)
        selected: np.ndarray = np.arange(len(layer.features))
        if bbox is not None:
            box = _parse_bbox(bbox)
            selected = selected[shapely.intersects(layer.geometries, box)]
        if datetime is not None and not _datetime_matches(datetime, layer.years):
            selected = selected[:0]
        limit = min(limit, MAX_LIMIT)
        page = selected[offset:offset + limit]
        media = _media_type(request, f)
        links = _page_links(request, limit, offset, len(selected), media)
        body = (
            '{"type":"FeatureCollection","features":['
            + ",".join(layer.features[i] for i in page)
            + "],"
            + json.dumps({
                "numberMatched": int(len(selected)),
                "numberReturned": int(len(page)),
                "timeStamp": datetime_now(),
                "attribution": layer.attribution,
                "links": links,
            }, ensure_ascii=False, separators=(",", ":"))[1:]
        )
        return Response(body, media_type=media, headers={
            **headers, "X-Attribution": header_text(layer.attribution),
            "Content-Crs": f"<{CRS84}>",
        })

    @r.get(
        "/collections/{collectionId}/items/{featureId}",
        summary="One feature",
        responses={200: {"content": {GEOJSON: {}, JSON: {}}}},
    )
    def feature(
        request: Request,
        collectionId: CollectionPath,  # noqa: N803
        featureId: Annotated[str, Path(description="Gebiets-ID (area_id)")],  # noqa: N803
        crs: CrsParam = None,
        f: FormatParam = None,
    ) -> Response:
        """One area with its published values."""
        _check_crs(crs, "crs")
        layer = layers.get(collectionId)
        if featureId not in layer.area_ids:
            raise NotFoundError(f"no feature '{featureId}' in collection '{layer.id}'")
        index = layer.area_ids.index(featureId)
        base = _base(request)
        links = [
            {"href": f"{base}/collections/{layer.id}/items/{featureId}", "rel": "self",
             "type": GEOJSON},
            {"href": f"{base}/collections/{layer.id}", "rel": "collection", "type": JSON},
        ]
        body = layer.features[index][:-1] + ',"links":' + json.dumps(links) + "}"
        return Response(body, media_type=_media_type(request, f), headers={
            **headers, "X-Attribution": header_text(layer.attribution),
            "Content-Crs": f"<{CRS84}>",
        })

    return r


def datetime_now() -> str:
    """Current time as RFC 3339 (the response's timeStamp)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _page_links(request: Request, limit: int, offset: int, matched: int,
                media: str) -> list[dict[str, str]]:
    def href(new_offset: int) -> str:
        params = dict(request.query_params)
        params["offset"] = str(new_offset)
        params["limit"] = str(limit)
        return str(request.url.replace_query_params(**params))

    links = [{"href": str(request.url), "rel": "self", "type": media, "title": "Diese Seite"}]
    if offset + limit < matched:
        links.append({"href": href(offset + limit), "rel": "next", "type": media,
                      "title": "Nächste Seite"})
    if offset > 0:
        links.append({"href": href(max(0, offset - limit)), "rel": "prev", "type": media,
                      "title": "Vorige Seite"})
    base = str(request.base_url).rstrip("/")
    collection_id = request.path_params.get("collectionId", "")
    links.append({"href": f"{base}/ogc/collections/{collection_id}", "rel": "collection",
                  "type": JSON, "title": "Collection"})
    return links
