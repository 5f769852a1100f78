"""HTTP header values shared by the routers."""

from __future__ import annotations


def header_text(text: str) -> str:
    """HTTP header values are Latin-1: keep umlauts, replace dashes and other characters."""
    text = text.replace("–", "-").replace("—", "-").replace("„", '"').replace("“", '"')
    return text.encode("latin-1", "replace").decode("latin-1")


IMMUTABLE = "public, max-age=31536000, immutable"
"""A response pinned to a release (``release=``) never changes."""


def cache_control(max_age: int, pinned: bool) -> str:
    """Pinned responses may be cached for good; others only ``max_age`` seconds (never
    ``immutable``: a rebuild or rollback changes them)."""
    return IMMUTABLE if pinned else f"public, max-age={max_age}"
