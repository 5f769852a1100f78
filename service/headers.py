"""HTTP header values shared by the routers."""

from __future__ import annotations


def header_text(text: str) -> str:
    """HTTP header values are Latin-1: keep umlauts, replace dashes and other characters."""
    text = text.replace("–", "-").replace("—", "-").replace("„", '"').replace("“", '"')
    return text.encode("latin-1", "replace").decode("latin-1")
