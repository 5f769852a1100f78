"""Release ids and file digests: the same inputs and parameters give the same release."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from geo import __version__


def release_id(inputs: Mapping[str, str], parameters: Mapping[str, Any]) -> str:
    """Hash of the input digests, the parameters and the Quartier version (16 hex digits)."""
    payload = json.dumps(
        {
            "inputs": dict(sorted(inputs.items())),
            "parameters": dict(parameters),
            "version": __version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def file_hash(path: Path) -> str:
    """Return the sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
