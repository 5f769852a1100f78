"""Service settings, read once from the environment (prefix ``QUARTIER_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    max_header_bytes: Annotated[int, Field(ge=1024)] = 16384
    """Largest request head (request line and headers) ``quartier serve`` reads; a longer
    one is refused with 400 before it is buffered (h11's incomplete-event limit)."""
    cache_entries: Annotated[int, Field(ge=0)] = 256
    """Entries kept by each in-memory cache (rendered responses, OGC collections, open tile
    archives); 0 keeps nothing."""
