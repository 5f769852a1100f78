"""OGC API Features, Part 1 Core and Part 2 CRS: one collection per geography and level.

Features are the areas of a level with the published values of each indicator's latest year
(``geo.render.features.feature_layer``), so GIS clients such as QGIS or GDAL read what the
GeoPackage holds, in CRS84 or the geography's own CRS (``crs``, ``bbox-crs``; the GeoPackage's
CRS is the collection's ``storageCrs``). Invalid parameters give 400 as the standard requires
(not FastAPI's 422): ``service.errors.OGCRoute`` maps them in one place.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from geo.errors import NotFoundError
from geo.release import PublishedBuild
from geo.render.features import (
    CRS84,
    DEFAULT_LIMIT,
    FeatureLayer,
    FeaturePage,
    feature_json,
    feature_layer,
    layer_crs,
    layer_info,
    page_features,
    page_json,
)
from service.cache import LRUCache
from service.errors import OGCRoute
from service.headers import cache_control, header_text
from service.params import (
    BBoxCrsParam,
    BBoxParam,
    CollectionPath,
    CrsParam,
    DatetimeParam,
    FeaturePath,
    LimitParam,
    OffsetParam,
    OGCFormatParam,
    ReleaseParam,
    parse_bbox,
    parse_crs,
    parse_datetime,
)
from service.settings import Settings
from service.store import BuildStore

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
GEOJSON = "application/geo+json"
JSON = "application/json"


def _media_type(request: Request, f: str | None) -> str:
    if f is not None:
        return {"json": JSON, "geojson": GEOJSON}[f]
    accept = request.headers.get("accept", "")
    if JSON in accept and GEOJSON not in accept:
        return JSON
    return GEOJSON


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _collection_links(request: Request, layer: FeatureLayer) -> list[dict[str, str]]:
    base = _root(request) + "/ogc"
    return [
        {"href": f"{base}/collections/{layer.id}", "rel": "self", "type": JSON,
         "title": layer.title},
        {"href": f"{base}/collections/{layer.id}/items", "rel": "items",
         "type": GEOJSON, "title": "Features (GeoJSON)"},
        {"href": _root(request) + "/downloads/" + layer.id.rpartition(".")[0] + ".gpkg",
         "rel": "enclosure", "type": "application/geopackage+sqlite3",
         "title": "GeoPackage mit QGIS-Stilen"},
    ]


def _page_links(request: Request, page: FeaturePage, media: str) -> list[dict[str, str]]:
    def href(new_offset: int) -> str:
        params = dict(request.query_params)
        params["offset"] = str(new_offset)
        params["limit"] = str(page.limit)
        return str(request.url.replace_query_params(**params))

    links = [{"href": str(request.url), "rel": "self", "type": media, "title": "Diese Seite"}]
    if page.offset + page.limit < page.matched:
        links.append({"href": href(page.offset + page.limit), "rel": "next", "type": media,
                      "title": "Nächste Seite"})
    if page.offset > 0:
        links.append({"href": href(max(0, page.offset - page.limit)), "rel": "prev",
                      "type": media, "title": "Vorige Seite"})
    links.append({"href": f"{_root(request)}/ogc/collections/{page.layer.id}",
                  "rel": "collection", "type": JSON, "title": "Collection"})
    return links


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the OGC API Features routes under /ogc."""
    r = APIRouter(prefix="/ogc", tags=["OGC API Features"], route_class=OGCRoute)
    # serialised collections, keyed by release, level and CRS: a release never changes
    layers: LRUCache[tuple[str, str, str, str], FeatureLayer] = LRUCache(settings.cache_entries)
    headers = {"Cache-Control": f"public, max-age={settings.cache_seconds}"}

    def layer_of(build: PublishedBuild, level: str, crs: str = CRS84) -> FeatureLayer:
        key = (build.geography.id, build.release_id, level, crs)
        return layers.get_or_make(key, lambda: feature_layer(build, level, crs))

    def collection_build(
        collection_id: str, release: str | None = None
    ) -> tuple[PublishedBuild, str]:
        """The build (of one release) and level of ``{geography}.{level}`` or NotFoundError."""
        geography, _, level = collection_id.rpartition(".")
        build = store.get(geography or collection_id, release)
        if level not in build.geography.level_ids:
            known = ", ".join(f"{build.geography.id}.{lv}" for lv in build.geography.level_ids)
            raise NotFoundError(f"unknown collection '{collection_id}' (known: {known})")
        return build, level

    def collection_layer(
        collection_id: str, crs: str | None = None, release: str | None = None
    ) -> FeatureLayer:
        """The collection in the CRS asked for (400 for one it is not offered in)."""
        build, level = collection_build(collection_id, release)
        return layer_of(build, level, parse_crs(crs, "crs", layer_crs(build)))

    def collection_body(request: Request, layer: FeatureLayer) -> dict[str, Any]:
        return {**layer_info(layer), "links": _collection_links(request, layer)}

    def feature_headers(layer: FeatureLayer, release: str | None = None) -> dict[str, str]:
        return {**headers, "X-Attribution": header_text(layer.attribution),
                "Content-Crs": f"<{layer.crs}>",
                "Cache-Control": cache_control(settings.cache_seconds, release is not None)}

    @r.get("", summary="Landing page", operation_id="getLandingPage")
    def landing(request: Request, f: OGCFormatParam = None) -> JSONResponse:
        """The API's landing page with links to the definition, conformance and collections."""
        root = _root(request)
        base = root + "/ogc"
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

    @r.get("/conformance", summary="Conformance classes",
           operation_id="getConformanceDeclaration")
    def conformance(f: OGCFormatParam = None) -> JSONResponse:
        """The conformance classes the API implements."""
        return JSONResponse({"conformsTo": CONFORMANCE}, headers=headers)

    @r.get("/collections", summary="Collections (one per geography and level)",
           operation_id="getCollections")
    def collections(request: Request, f: OGCFormatParam = None) -> JSONResponse:
        """Every geography and level as a feature collection."""
        items = [
            collection_body(request, layer_of(build, level))
            for build in store.builds()
            for level in build.geography.level_ids
        ]
        return JSONResponse({
            "links": [{"href": f"{_root(request)}/ogc/collections", "rel": "self", "type": JSON,
                       "title": "Collections"}],
            "collections": items,
        }, headers=headers)

    @r.get("/collections/{collectionId}", summary="One collection",
           operation_id="describeCollection")
    def collection(request: Request, collectionId: CollectionPath,  # noqa: N803
                   f: OGCFormatParam = None) -> JSONResponse:
        """Describe one collection: extent, CRS, attribution and links."""
        return JSONResponse(collection_body(request, collection_layer(collectionId)),
                            headers=headers)

    @r.get(
        "/collections/{collectionId}/items",
        summary="Features of a collection (GeoJSON)",
        operation_id="getFeatures",
        responses={200: {"content": {GEOJSON: {}, JSON: {}}}},
    )
    def items(
        request: Request,
        collectionId: CollectionPath,  # noqa: N803
        limit: LimitParam = DEFAULT_LIMIT,
        offset: OffsetParam = 0,
        bbox: BBoxParam = None,
        datetime: DatetimeParam = None,
        crs: CrsParam = None,
        bbox_crs: BBoxCrsParam = None,
        f: OGCFormatParam = None,
        release: ReleaseParam = None,
    ) -> Response:
        """Page through the features; ``next``/``prev`` links and numberMatched/Returned."""
        layer = collection_layer(collectionId, crs, release)
        box_crs = parse_crs(bbox_crs, "bbox-crs", layer.crs_list)
        page = page_features(
            layer, limit=limit, offset=offset,
            bbox=None if bbox is None else parse_bbox(bbox, geographic=box_crs == CRS84),
            bbox_crs=box_crs,
            interval=None if datetime is None else parse_datetime(datetime),
        )
        media = _media_type(request, f)
        body = page_json(page, _page_links(request, page, media))
        return Response(body, media_type=media, headers=feature_headers(layer, release))

    @r.get(
        "/collections/{collectionId}/items/{featureId}",
        summary="One feature",
        operation_id="getFeature",
        responses={200: {"content": {GEOJSON: {}, JSON: {}}}},
    )
    def feature(
        request: Request,
        collectionId: CollectionPath,  # noqa: N803
        featureId: FeaturePath,  # noqa: N803
        crs: CrsParam = None,
        f: OGCFormatParam = None,
        release: ReleaseParam = None,
    ) -> Response:
        """One area with its published values."""
        layer = collection_layer(collectionId, crs, release)
        base = _root(request) + "/ogc"
        pin = "" if release is None else f"?release={quote(release)}"
        links = [
            {"href": f"{base}/collections/{layer.id}/items/{featureId}{pin}", "rel": "self",
             "type": GEOJSON},
            {"href": f"{base}/collections/{layer.id}", "rel": "collection", "type": JSON},
        ]
        return Response(feature_json(layer, featureId, links),
                        media_type=_media_type(request, f),
                        headers=feature_headers(layer, release))

    return r
