"""Inputs: boundaries, counts and the indicator catalogue, read and checked before any use.

Modules, in the order data flows through them:

- ``ids``: the plain-id rule (``ID_PATTERN``) every geography, level, variable and indicator id
  follows, since ids name URLs, files, CSV cells and JS.
- ``geography``: the ``geography.toml`` manifest, boundary files and nesting checks
  (``load_geography``, ``check_geography``, ``load_manifest``, ``Geography``, ``Report``,
  ``TOTAL``); a package of ``report``, ``manifest``, ``rows``, ``coordinates``, ``files``,
  ``nesting``, ``load``.
- ``counts``: ``read_counts``, counts per area, year and variable from office CSV exports; a
  package of ``problems``, ``source``, ``decode``, ``layout``, ``signs``, ``read``.
- ``catalogue``: ``load_catalogue`` and ``Catalogue`` (variables, indicators, declared sums);
  ``measures`` (counts and measures, indicator kinds) and ``sums`` (no cycles) check it.
- ``intake``: ``quartier intake``, points, rasters, Zensus grids and other areas as counts
  files with their provenance (a package; see docs/INTAKE.md).
- ``fetch``: ``fetch_geography`` and ``missing_files``, official boundary files not bundled.
- ``together``: ``read_inputs``, a build's geography loaded on a thread while its counts are
  parsed.

Every name below is imported from its module on first use, so reading a catalogue does not
load GeoPandas and GDAL.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geo.inputs.catalogue import Catalogue, Indicator, SumRule, Variable, load_catalogue
    from geo.inputs.counts import read_counts
    from geo.inputs.fetch import FetchError, fetch_geography, missing_files
    from geo.inputs.geography import (
        MANIFEST,
        TOTAL,
        Finding,
        Geography,
        GeographySpec,
        LevelSpec,
        Report,
        check_geography,
        load_geography,
        load_manifest,
    )

_MODULES = {
    "geo.inputs.geography": (
        "MANIFEST", "TOTAL", "Finding", "Geography", "GeographySpec", "LevelSpec", "Report",
        "check_geography", "load_geography", "load_manifest",
    ),
    "geo.inputs.counts": ("read_counts",),
    "geo.inputs.catalogue": ("Catalogue", "Indicator", "SumRule", "Variable", "load_catalogue"),
    "geo.inputs.fetch": ("FetchError", "fetch_geography", "missing_files"),
}
_SOURCE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "MANIFEST", "TOTAL", "Catalogue", "FetchError", "Finding", "Geography", "GeographySpec",
    "Indicator", "LevelSpec", "Report", "SumRule", "Variable", "check_geography",
    "fetch_geography", "load_catalogue", "load_geography", "load_manifest", "missing_files",
    "read_counts",
]


def __getattr__(name: str) -> Any:
    """Import a public name of the stage from its module on first use."""
    module = _SOURCE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names of the stage, imported or not."""
    return sorted({*globals(), *__all__})
