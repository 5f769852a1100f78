"""The long counts CSV an intake writes: ``area_id,year,variable,value`` for every finest area.

Every area of the finest level gets a row for every variable and year, zeros included, so the
file reads into ``quartier build`` like any counts file. Counts are whole numbers (estimates are
rounded half up: they become counts that disclosure control protects); measures keep
``DECIMALS`` decimals. An empty value is missing (an area the input does not cover).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import CatalogueError, IntakeError
from geo.inputs.catalogue import Catalogue

DECIMALS = 6
"""Decimals kept for measures (areas in hectares, means, shares)."""
HEADER = ("area_id", "year", "variable", "value")


@dataclass(frozen=True)
class Column:
    """One variable and year: a value per area (aligned with the zones' ids), NaN = missing."""

    variable: str
    year: int
    values: np.ndarray


def round_counts(values: np.ndarray) -> np.ndarray:
    """Estimates as counts: rounded half up (2.5 -> 3), NaN stays missing."""
    return np.floor(np.asarray(values, dtype=float) + 0.5)


def check_variable_id(variable: str) -> str:
    """Return the id when the catalogue would accept it; raise IntakeError otherwise."""
    try:
        Catalogue.from_dict({"variables": [{"id": variable, "name": variable}]},
                            source="--variable")
    except CatalogueError as exc:
        message = str(exc).replace("variables[1]", "").replace("'id'", "the variable id")
        raise IntakeError(message) from None
    return variable


def _format(values: np.ndarray, measure: bool) -> list[str]:
    if measure:
        return ["" if np.isnan(v) else np.format_float_positional(
            round(float(v), DECIMALS), trim="-") for v in values]
    return ["" if np.isnan(v) else str(int(v)) for v in values]


def write_long(path: Path, ids: np.ndarray, columns: list[Column], *,
               measures: Mapping[str, bool] | None = None) -> int:
    """Write the long CSV sorted by area, variable, year; return the number of rows.

    ``measures`` names the variables written with decimals; every other value must be whole.
    """
    measures = measures or {}
    frames = []
    for col in columns:
        values = np.asarray(col.values, dtype=float)
        measure = measures.get(col.variable, False)
        if not measure and np.any(values[~np.isnan(values)] % 1):
            raise IntakeError(f"{col.variable}: counts must be whole numbers (round estimates)")
        frames.append(pd.DataFrame({"area_id": ids, "year": col.year, "variable": col.variable,
                                    "value": _format(values, measure)}))
    if not frames:
        raise IntakeError(f"{Path(path).name}: nothing to write (no variable, no year)")
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(["area_id", "variable", "year"], kind="stable")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path, index=False, lineterminator="\n", columns=list(HEADER))
    except OSError as exc:
        raise IntakeError(f"{path}: cannot write the counts file: {exc.strerror}") from None
    return len(table)
