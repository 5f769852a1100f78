"""The JSON data API: geographies, indicators and published values (JSON, CSV, GeoJSON)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from geo.inputs.periods import year_label
from geo.release import PublishedBuild
from geo.render.change import change_document
from geo.render.csv import values_csv
from geo.render.features import feature_collection
from geo.render.profiles.search import MAX_MATCHES, MAX_QUERY, search_areas
from geo.render.records import geography_record, indicator_record, values_document
from service.cache import LRUCache, Rendered
from service.headers import cache_control, content_disposition, header_text
from service.params import CompareParam, GeographyPath, ReleaseParam, YearParam
from service.settings import Settings
from service.store import BuildStore

Format = Literal["json", "csv", "csv-de", "geojson"]
MEDIA_TYPES = {"geojson": "application/geo+json", "json": "application/json",
               "csv": "text/csv; charset=utf-8", "csv-de": "text/csv; charset=utf-8"}


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _links(request: Request, geography: str) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    return {
        "self": f"{base}/api/geographies/{geography}",
        "indicators": f"{base}/api/geographies/{geography}/indicators",
        "values": f"{base}/api/geographies/{geography}/values",
        "gpkg": f"{base}/downloads/{geography}.gpkg",
        "ogc_collections": f"{base}/ogc/collections",
    }


def _csv_year(build: PublishedBuild, indicator: str | None, year: str | None) -> str:
    """The year or period a CSV download holds: asked for, or the latest (one per indicator)."""
    if year is not None:
        return year_label(build.check_year(year))
    ids = [indicator] if indicator else [i.id for i in build.catalogue.indicators]
    latest = sorted({str(y) for y in map(build.latest_year, ids) if y is not None})
    return latest[0] if len(latest) == 1 else "neueste"


def _values_body(build: PublishedBuild, indicator: str | None, year: str | None,
                 level: str | None, format: Format, pinned: bool,
                 compare: str | None = None) -> Rendered:
    """Serialise the values in one format, with the change since ``compare`` if given
    (raises NotFoundError for unknown ids, ParameterError for an invalid comparison)."""
    geography = build.geography.id
    level_id = level if level is not None else build.geography.level_ids[-1]
    if format == "geojson":
        return _json(feature_collection(build, level_id, indicator, year, compare)), {}
    if format in ("csv", "csv-de"):
        body = values_csv(build, level_id, indicator, year, german=format == "csv-de",
                          compare=compare)
        since = f"-seit-{year_label(build.check_year(compare))}" if compare is not None else ""
        name = (f"{geography}-{build.release_id}-{indicator or 'alle'}-{level_id}-"
                f"{_csv_year(build, indicator, year)}{since}.csv")
        pin = f"?release={quote(build.release_id, safe='')}" if pinned else ""
        return body, {
            "Content-Disposition": content_disposition(name),
            "Link": f'</downloads/{quote(geography, safe="")}/ATTRIBUTION.txt{pin}>; '
                    'rel="license"',
        }
    if compare is not None:
        return _json(change_document(build, level_id, indicator, year, compare)), {}
    return _json(values_document(build, level_id, indicator, year)), {}


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the JSON API routes."""
    r = APIRouter(prefix="/api", tags=["Daten-API"])
    cache: LRUCache[tuple[object, ...], Rendered] = LRUCache(settings.cache_entries)

    def _headers(build: PublishedBuild, release: str | None = None) -> dict[str, str]:
        return {
            "Cache-Control": cache_control(settings.cache_seconds, release is not None),
            "X-Attribution": header_text(build.geography.attribution),
            "X-Release-Id": header_text(build.release_id),
        }

    @r.get("/geographies", summary="Alle veröffentlichten Geografien",
           operation_id="list_geographies")
    def geographies(request: Request) -> JSONResponse:
        """List every published geography with its levels, years and release id."""
        items = []
        for build in store.builds():
            item = geography_record(build)
            item["links"] = _links(request, build.geography.id)
            items.append(item)
        return JSONResponse({"geographies": items},
                            headers={"Cache-Control": f"public, max-age={settings.cache_seconds}"})

    @r.get("/geographies/{geography}", summary="Eine Geografie: Ebenen, Jahre, Quelle, Release",
           operation_id="get_geography")
    def geography(request: Request, geography: GeographyPath,
                  release: ReleaseParam = None) -> JSONResponse:
        """Describe one geography: levels, years, attribution and release id."""
        build = store.get(geography, release)
        body = geography_record(build)
        body["links"] = _links(request, geography)
        return JSONResponse(body, headers=_headers(build, release))

    @r.get("/geographies/{geography}/releases",
           summary="Releases einer Geografie (Release-ID, Erstellt, Jahre, aktuell)",
           operation_id="list_releases")
    def releases(geography: GeographyPath) -> JSONResponse:
        """Every online release, oldest first; ``release=<id>`` pins any read route to one."""
        body = [{"release": r.release_id, "created": r.created, "years": list(r.years),
                 "current": r.current} for r in store.releases(geography)]
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})

    @r.get("/geographies/{geography}/indicators", summary="Indikatoren nach Themen",
           operation_id="list_indicators")
    def indicators(geography: GeographyPath, release: ReleaseParam = None) -> JSONResponse:
        """The catalogue's indicators grouped by theme (in the catalogue's order)."""
        build = store.get(geography, release)
        themes = [
            {"theme": theme, "indicators": [indicator_record(build, i) for i in items]}
            for theme, items in build.catalogue.themes().items()
        ]
        return JSONResponse(
            {"geography": geography, "release_id": build.release_id,
             "attribution": build.geography.attribution, "themes": themes},
            headers=_headers(build, release),
        )

    @r.get("/geographies/{geography}/areas", summary="Gebiete suchen (Name oder Schlüssel)",
           operation_id="search_areas")
    def areas(
        geography: GeographyPath,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY,
                                description="Name oder Schlüssel, z. B. Ostersbaum oder 062; "
                                            "Groß-/Kleinschreibung und Umlaute egal")],
        level: Annotated[str | None, Query(
            description="Nur diese Ebene; ohne Angabe alle Ebenen")] = None,
        limit: Annotated[int, Query(ge=1, le=100, description="Höchstzahl der Treffer")]
            = MAX_MATCHES,
    ) -> JSONResponse:
        """Areas of every level (or one) whose key or name matches, best first, with a link to
        each profile."""
        build = store.get(geography)
        matches = search_areas(build, q, level=level, limit=limit)
        for m in matches:
            m["profile"] = "/profiles/" + "/".join(
                quote(part, safe="") for part in (geography, m["level"], m["area_id"]))
        return JSONResponse({"geography": geography, "release_id": build.release_id,
                             "q": q, "areas": matches}, headers=_headers(build))

    @r.get(
        "/geographies/{geography}/values",
        summary="Veröffentlichte Werte (JSON, CSV, deutsches CSV, GeoJSON)",
        operation_id="get_values",
        responses={200: {"content": {"application/json": {}, "text/csv": {},
                                     "application/geo+json": {}}}},
    )
    def values(
        geography: GeographyPath,
        indicator: Annotated[str | None, Query(
            description="Indikator-ID; ohne Angabe alle Indikatoren")] = None,
        year: YearParam = None,
        level: Annotated[str | None, Query(
            description="Ebene; ohne Angabe die feinste. JSON und CSV enthalten zusätzlich die "
                        "Zeile des Gesamtgebiets (level = total) zum Vergleich")] = None,
        format: Annotated[Format, Query(
            description="json; csv (Komma, Punkt, UTF-8); csv-de (Semikolon, Dezimalkomma, "
                        "UTF-8 mit BOM, für Excel); geojson (eine Fläche je Gebiet)")] = "json",
        release: ReleaseParam = None,
        compare: CompareParam = None,
    ) -> Response:
        """Published values; withheld values are empty (null) and marked status=suppressed."""
        build = store.get(geography, release)
        pinned = release is not None
        key = (build.geography.id, build.release_id, indicator, year, level, format, pinned,
               compare)
        body, extra = cache.get_or_make(
            key, lambda: _values_body(build, indicator, year, level, format, pinned, compare))
        return Response(body, media_type=MEDIA_TYPES[format],
                        headers={**_headers(build, release), **extra})

    return r
