"""The only place that builds the FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from geo import __version__
from service.errors import add_exception_handlers
from service.routers import api, downloads, maps, ogc, pages, profiles, tiles
from service.settings import Settings
from service.store import BuildStore


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
    )
    app.state.settings = settings
    app.state.store = store
    add_exception_handlers(app)
    for module in (tiles, maps, api, profiles, ogc, downloads, pages):
        app.include_router(module.router(store, settings))
    app.mount("/static", StaticFiles(directory=settings.static), name="static")
    return app
