"""Routes: tiles (placeholder until its issue lands)."""

from __future__ import annotations

from fastapi import APIRouter

from service.settings import Settings
from service.store import BuildStore


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the tiles routes."""
    return APIRouter()
