"""Vector tiles (PMTiles archive, z/x/y MVT, TileJSON) and MapLibre styles of each build.

Caching: a URL pinned to a release (``?release=<id>``, served from that release's own
archive) or naming the current one (``?v=<id>``) is immutable for a year; every other URL is
cached for ``settings.cache_seconds`` only, so a rebuild shows up without stale tiles.
Archives are opened through the service's bounded file cache (``service.cache.FileCache``)
and reopened when their file changes. One response is made of one release: the build
(classes, names) and the archive (tiles, ``?v=``) always agree.
CORS and preflights are the app's (``service.middleware.PublicHeaders``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from geo.errors import NotFoundError
from geo.release import TILES_FILE, PublishedBuild
from geo.render.classes import DEFAULT_K, DEFAULT_METHOD
from geo.render.sprite import sprite
from geo.render.styles import maplibre_style
from geo.render.tiles import PMTilesArchive
from geo.render.tiles.writer import attribution_html
from geo.render.words import WORDS
from geo.render.years import indicator_years
from service.cache import FileCache
from service.errors import ReleaseChangingError
from service.headers import IMMUTABLE
from service.params import (
    ClassesParam,
    CompareParam,
    GeographyPath,
    IndicatorPath,
    LevelParam,
    ReleaseParam,
    VersionParam,
    YearParam,
)
from service.settings import Settings
from service.store import BuildStore

MVT_TYPE = "application/vnd.mapbox-vector-tile"
PMTILES_TYPE = "application/vnd.pmtiles"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_ENCODINGS = {2: "gzip", 3: "br", 4: "zstd"}


class _BadRange(Exception):
    """A Range header that cannot be satisfied."""


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return ``(start, end)`` inclusive, None to ignore the header (multi-range, other unit),
    or raise _BadRange (-> 416)."""
    header = header.strip()
    if not header.startswith("bytes=") or "," in header:
        return None
    match = _RANGE.match(header.replace(" ", ""))
    if not match or match.group(0) == "bytes=-":
        raise _BadRange
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0 or size == 0:
            raise _BadRange
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise _BadRange
    return start, min(end, size - 1)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the tile and style routes."""
    r = APIRouter(tags=["Kacheln und Stile"])
    short = f"public, max-age={settings.cache_seconds}"
    archives = FileCache(PMTilesArchive, settings.cache_entries, noun="tiles")

    def cache(v: str | None, release: str, pinned: str | None = None) -> str:
        return IMMUTABLE if pinned is not None or (v is not None and v == release) else short

    def archive(
        geography: str, pinned: str | None = None
    ) -> tuple[PublishedBuild, PMTilesArchive, str]:
        """The build and its archive, of one release (the archive names its own)."""
        for attempt in range(2):
            if attempt:
                store.refresh(force=True)  # the files changed under the store: read them again
            build, folder = store.located(geography, pinned)
            arc = archives.open(folder / TILES_FILE)
            release = str(arc.metadata.get("quartier", {}).get("release_id")
                          or build.release_id)
            if release == build.release_id:
                return build, arc, release
        raise ReleaseChangingError(
            f"'{geography}' is being replaced by a new release; try again in a moment")

    def pin(release: str, pinned: str | None) -> str:
        """The query naming the release: ``release=`` when pinned, else ``v=`` (caching)."""
        return f"release={release}" if pinned is not None else f"v={release}"

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @r.get("/tiles/index.json", summary="Geografien mit Ebenen, Indikatoren und Jahren",
           operation_id="tiles_index")
    def index(request: Request) -> JSONResponse:
        """List every build with what the viewer needs to offer it."""
        out = []
        for gid in store.ids():
            build = store.get(gid)
            try:
                _, arc, release = archive(gid)
            except (NotFoundError, ReleaseChangingError):
                continue
            geo = build.geography
            out.append({
                "id": geo.id, "name": geo.name, "attribution": geo.attribution,
                "notice": geo.notice, "release": release, "total_id": geo.total_id,
                "total_name": geo.total_name,
                "levels": [{"id": lv.id, "name": lv.name, "count": lv.count} for lv in geo.levels],
                "years": list(build.years),
                "themes": [
                    {"name": theme, "indicators": [
                        {"id": i.id, "name": i.name, "unit": i.unit, "per": i.per, "kind": i.kind,
                         "higher_is": i.higher_is, "description": i.description,
                         "latest_year": build.latest_year(i.id),
                         "years": list(indicator_years(build, i.id))} for i in inds]}
                    for theme, inds in build.catalogue.themes().items()
                ],
                "minzoom": arc.minzoom, "maxzoom": arc.maxzoom, "bounds": list(arc.bounds),
                "center": list(arc.center),
                "tilejson": f"{base(request)}/tiles/{gid}.json?v={release}",
                "pmtiles": f"{base(request)}/tiles/{gid}.pmtiles?v={release}",
            })
        return JSONResponse(
            {"geographies": out, "basemap": bool(settings.basemap_url),
             "basemap_attribution": settings.basemap_attribution, "words": WORDS},
            headers={"Cache-Control": "no-cache"},
        )

    @r.get("/tiles/{geography}.json", summary="TileJSON 3.0.0 der Vektorkacheln",
           operation_id="get_tilejson")
    def tilejson(request: Request, geography: GeographyPath,
                 v: VersionParam = None, release: ReleaseParam = None) -> JSONResponse:
        """TileJSON of a build's tiles; the tile URL names the release (pinned with release=)."""
        pinned = release
        build, arc, release = archive(geography, pinned)
        meta = arc.metadata
        lon, lat, zoom = arc.center
        body = {
            "tilejson": "3.0.0",
            "name": meta.get("name", build.geography.name),
            "description": meta.get("description", ""),
            "attribution": attribution_html(build),
            "version": "1.0.0",
            "scheme": "xyz",
            "tiles": [f"{base(request)}/tiles/{geography}/{{z}}/{{x}}/{{y}}.mvt?"
                      f"{pin(release, pinned)}"],
            "minzoom": arc.minzoom,
            "maxzoom": arc.maxzoom,
            "bounds": list(arc.bounds),
            "center": [lon, lat, zoom],
            "vector_layers": meta.get("vector_layers", []),
            "quartier": meta.get("quartier", {}),
        }
        return JSONResponse(body, headers={"Cache-Control": cache(v, release, pinned),
                                           "ETag": f'"{release}-tilejson"'})

    async def tile(
        request: Request,
        geography: GeographyPath,
        z: Annotated[int, Path(ge=0, le=30)],
        x: Annotated[int, Path(ge=0)],
        y: Annotated[int, Path(ge=0)],
        v: VersionParam = None,
        release: ReleaseParam = None,
    ) -> Response:
        """The stored bytes of one tile, with their Content-Encoding; 204 when empty."""
        pinned = release
        _, arc, release = archive(geography, pinned)
        if not arc.minzoom <= z <= arc.maxzoom:
            raise NotFoundError(
                f"zoom {z} is outside {arc.minzoom}..{arc.maxzoom} of '{geography}'")
        if x >= 1 << z or y >= 1 << z:
            raise NotFoundError(f"tile {z}/{x}/{y} does not exist")
        etag = f'"{release}-{z}-{x}-{y}"'
        headers = {"Cache-Control": cache(v, release, pinned), "ETag": etag}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        data = arc.get(z, x, y)
        if not data:
            return Response(status_code=204, headers=headers)
        encoding = _ENCODINGS.get(arc.compression.value)
        if encoding:
            headers["Content-Encoding"] = encoding
        return Response(data, media_type=MVT_TYPE, headers=headers)

    # GET and HEAD as two routes: one route with both methods gives both one operation id
    for method in ("GET", "HEAD"):
        r.add_api_route(
            "/tiles/{geography}/{z}/{x}/{y}.mvt", tile, methods=[method],
            operation_id=f"{method.lower()}_tile",
            summary="Eine Vektorkachel (MVT, gzip)",
            response_class=Response,
            responses={200: {"content": {MVT_TYPE: {}}}, 204: {"description": "leere Kachel"}},
        )

    def pmtiles(request: Request, geography: GeographyPath, v: VersionParam = None,
                release: ReleaseParam = None) -> Response:
        """The whole archive, or one byte range of it (206), for pmtiles clients and CDNs."""
        pinned = release
        _, arc, release = archive(geography, pinned)
        etag = f'"{release}"'
        headers = {"Accept-Ranges": "bytes", "ETag": etag,
                   "Cache-Control": cache(v, release, pinned)}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        ranged = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if ranged and if_range and if_range.strip() != etag:
            ranged = None  # the client's copy is stale: send everything
        if ranged:
            try:
                span = _parse_range(ranged, arc.size)
            except _BadRange:
                return Response(status_code=416, headers={
                    **headers, "Content-Range": f"bytes */{arc.size}"})
            if span is not None:
                start, end = span
                return Response(
                    arc.read(start, end - start + 1), status_code=206, media_type=PMTILES_TYPE,
                    headers={**headers, "Content-Range": f"bytes {start}-{end}/{arc.size}"},
                )
        return Response(arc.read(0, arc.size), media_type=PMTILES_TYPE, headers=headers)

    for method in ("GET", "HEAD"):
        r.add_api_route(
            "/tiles/{geography}.pmtiles", pmtiles, methods=[method],
            operation_id=f"{method.lower()}_pmtiles",
            summary="PMTiles-Archiv (HTTP Range)",
            response_class=Response,
            responses={200: {"content": {PMTILES_TYPE: {}}}, 206: {"description": "Teilinhalt"},
                       416: {"description": "ungültiger Bereich"}},
        )

    def sprite_index(ratio: int) -> Response:
        index, _ = sprite(ratio)
        return Response(json.dumps(index), media_type="application/json",
                        headers={"Cache-Control": short})

    def sprite_png(ratio: int) -> Response:
        _, png = sprite(ratio)
        return Response(png, media_type="image/png", headers={"Cache-Control": short})

    # the sprite holds the hatch pattern of withheld areas (MapLibre and QGIS read it)
    r.add_api_route("/styles/sprite.json", lambda: sprite_index(1), include_in_schema=False,
                    operation_id="sprite_index")
    r.add_api_route("/styles/sprite@2x.json", lambda: sprite_index(2), include_in_schema=False,
                    operation_id="sprite_index_2x")
    r.add_api_route("/styles/sprite.png", lambda: sprite_png(1), include_in_schema=False,
                    operation_id="sprite_png")
    r.add_api_route("/styles/sprite@2x.png", lambda: sprite_png(2), include_in_schema=False,
                    operation_id="sprite_png_2x")

    @r.get("/styles/{geography}/{indicator}.json", summary="MapLibre-Stil eines Indikators",
           operation_id="get_style")
    def style(
        request: Request,
        geography: GeographyPath,
        indicator: IndicatorPath,
        year: YearParam = None,
        level: LevelParam = None,
        method: Annotated[str, Query(description="Klassifikation (mapclassify)")] = DEFAULT_METHOD,
        k: Annotated[int, Query(ge=1, le=7, description="Zahl der Klassen")] = DEFAULT_K,
        ramp: Annotated[str | None, Query(description=(
            "Farbskala: YlOrRd, YlGn, PuBu, YlGnBu; ohne Angabe nach der Richtung des "
            "Indikators (höher ungünstig: YlOrRd, günstig: YlGn, neutral: PuBu)"))] = None,
        levels: Annotated[str, Query(pattern="^(all|one)$", description=(
            "all: Layer jeder Ebene (nur 'level' sichtbar); one: nur 'level' "
            "(für QGIS vor 3.26, das unsichtbare Layer trotzdem zeichnet)"))] = "all",
        source: Annotated[str, Query(pattern="^(xyz|pmtiles)$",
                                     description="xyz (z/x/y-URLs) oder pmtiles (Archiv)")] = "xyz",
        v: VersionParam = None,
        release: ReleaseParam = None,
        compare: CompareParam = None,
        classes: ClassesParam = "year",
    ) -> JSONResponse:
        """Style for every level (``level`` visible), classes in ``metadata``.

        ``compare=`` styles the change since that year (diverging classes around 0, a
        ``<level>-similar`` layer for no significant change; ``metadata`` names
        ``quartier:compare``); ``classes=all-years`` the same classes for every year."""
        pinned = release
        build, arc, release = archive(geography, pinned)
        root = base(request)
        src: dict[str, Any] = {
            "type": "vector", "minzoom": arc.minzoom, "maxzoom": arc.maxzoom,
            "bounds": list(arc.bounds), "attribution": attribution_html(build),
            "promoteId": "area_id",
        }
        if source == "pmtiles":
            src["url"] = f"pmtiles://{root}/tiles/{geography}.pmtiles?{pin(release, pinned)}"
        else:
            src["tiles"] = [f"{root}/tiles/{geography}/{{z}}/{{x}}/{{y}}.mvt?"
                            f"{pin(release, pinned)}"]
        body = maplibre_style(
            build, indicator, source=src, year=year, level=level,
            sprite_url=f"{root}/styles/sprite",
            method=method, k=k, ramp=ramp, basemap_url=settings.basemap_url,
            basemap_attribution=settings.basemap_attribution, only_level=levels == "one",
            scope=classes, compare=compare,
        )
        lon, lat, zoom = arc.center
        body["center"], body["zoom"] = [lon, lat], zoom
        return JSONResponse(body, headers={"Cache-Control": cache(v, release, pinned)})

    return r

