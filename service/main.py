"""The only place that builds the FastAPI app."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from geo import __version__
from service.errors import add_exception_handlers, reject_unknown_query
from service.fastpath import TileAnswers, TileFastPath
from service.headers import page_policy, script_hashes, url_source
from service.middleware import HeadAsGet, PublicHeaders
from service.routers import api, docs, downloads, maps, ogc, pages, profiles, tiles
from service.settings import Settings
from service.staticfiles import StaticAssets
from service.store import BuildStore

NOT_COMPRESSED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/vnd.pmtiles",
                  "application/vnd.mapbox-vector-tile", "application/geopackage+sqlite3",
                  "application/octet-stream")
"""Already compressed or binary: tiles and archives carry their own encoding."""


def _viewer_policy(settings: Settings) -> str:
    """The CSP of the viewer, also the default of any HTML page that brings none.

    MapLibre starts its worker from a blob: URL; a configured basemap's host is allowed, and
    the archives' host of ``tiles_url`` for fetches;
    the viewer's own inline handlers (if any) are allowed by hash, nothing else inline.
    """
    index = settings.static / "index.html"
    page = index.read_text(encoding="utf-8") if index.is_file() else ""
    archives = url_source(settings.tiles_url) if "://" in settings.tiles_url else ""
    return page_policy(scripts=script_hashes(page, handlers=True),
                       basemap=url_source(settings.basemap_url), workers=True,
                       archives=archives)


def create_app(settings: Settings | None = None, store: BuildStore | None = None) -> FastAPI:
    """Build the app from settings; tests may pass their own store."""
    settings = settings or Settings()
    store = store or BuildStore(settings.data, check_seconds=settings.reload_check_seconds)
    app = FastAPI(
        title="Quartier",
        version=__version__,
        description=(
            "Geschützte kleinräumige Statistik: Karten, Vektorkacheln, Daten-API und "
            "OGC API Features über veröffentlichte Builds. Gesperrte Werte (Geheimhaltung) "
            "sind in keiner Antwort enthalten."
        ),
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query)],
    )
    app.state.settings = settings
    app.state.store = store
    add_exception_handlers(app)
    for module in (tiles, maps, api, profiles, ogc, downloads, pages, docs):
        app.include_router(module.router(store, settings))
    app.mount("/static", StaticAssets(directory=settings.static), name="static")
    # innermost first: compression, HEAD for GET routes, then headers every response shares
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6,
                       exclude_content_types=NOT_COMPRESSED)
    app.add_middleware(HeadAsGet, routes=app.router.routes)
    app.add_middleware(PublicHeaders, default_csp=_viewer_policy(settings))
    if settings.fast_tiles:  # added last: outermost, ahead of every other middleware
        answers = TileAnswers(store, settings)
        if settings.protocol_tiles:  # the same answers in the protocol of ``quartier serve``
            app.state.tile_answers = answers
        app.add_middleware(TileFastPath, answers=answers)
    return app
