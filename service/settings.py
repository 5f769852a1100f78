"""Service settings, read once from the environment (prefix ``QUARTIER_``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_workers() -> int:
    """``quartier serve``'s processes when none are asked for: the cores but one, at least 1."""
    return max(1, (os.cpu_count() or 2) - 1)


class Settings(BaseSettings):
    """Settings of the HTTP service."""

    model_config = SettingsConfigDict(env_prefix="QUARTIER_")

    data: Path = Path("data")
    """Folder whose subfolders are published builds."""
    static: Path = Path(__file__).resolve().parent.parent / "static"
    """Folder with the viewer and vendored JS/CSS."""
    frame_ancestors: str = "*"
    """Who may embed map pages (CSP frame-ancestors). '*' sends no directive, so any report
    embeds them, one opened from disk (file:) included; a list of sources restricts them."""
    basemap_url: str = ""
    """Optional raster basemap URL template; empty = no third-party requests."""
    basemap_attribution: str = ""
    """Attribution shown with the optional basemap."""
    cache_seconds: int = 60
    """max-age for responses whose URL does not name a release."""
    reload_check_seconds: float = 1.0
    """How often a build's manifest is checked for a rebuild."""
    fast_tiles: bool = True
    """Answer plain tile requests ahead of routing (``service.fastpath``); off, every tile
    goes through the normal route (to compare the two)."""
    protocol_tiles: bool = True
    """With ``fast_tiles``: ``quartier serve`` answers plain tile requests in its HTTP protocol,
    before any ASGI (``service.protocol``); off, they take the ASGI fast path."""
    workers: Annotated[int, Field(ge=1)] = Field(default_factory=default_workers)
    """Processes ``quartier serve`` starts (each loads the builds and follows rebuilds on its
    own). Default: one per core but one, which is left to the clients, nginx and builds on the
    same machine (on 2 cores: 1; with 2 processes there, the tail latency of tiles grew
    sevenfold as they and the client took turns on the cores, docs/BENCHMARKS.md)."""
    access_log: bool = False
    """Log every request (uvicorn's access log): off by default, as it halves the tiles served
    per second (docs/BENCHMARKS.md); nginx in front keeps its own (docs/DEPLOY.md)."""
    tiles_url: str = ""
    """Base URL the viewer and styles read ``<geography>.pmtiles`` from (a static host, an
    object store, a CDN, nginx); empty: this service's own ``/tiles/``."""
    max_header_bytes: Annotated[int, Field(ge=1024)] = 16384
    """Largest request head (request line and headers) ``quartier serve`` reads; a longer
    one is refused with 431 before it is buffered (``service.protocol``)."""
    cache_entries: Annotated[int, Field(ge=0)] = 256
    """Entries kept by each in-memory cache (rendered responses, OGC collections, open tile
    archives); 0 keeps nothing."""
