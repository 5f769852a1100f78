"""Primary suppression: which cells need protection, and how wide their interval must be.

A sensitive value 1..MIN_COUNT-1 is primary, and so is the numerator of a proportion whose
complement (denominator - numerator) is such a value. A primary cell is protected when an
outsider's feasible interval for it is at least PROTECTION wide.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.disclosure.table import _Cube

MIN_COUNT = 3
"""Values 1..MIN_COUNT-1 of a sensitive variable are withheld (primary suppression)."""
PROTECTION = 3
"""Protection width: an outsider's interval for a primary cell must be at least this wide."""


def _primary(cube: _Cube, catalogue: Any, min_count: int) -> np.ndarray:
    sens = {v.id: bool(v.sensitive) for v in catalogue.variables}
    sensitive = np.array([sens.get(v, True) for v in cube.variables])
    x = cube.x
    small = (x >= 1) & (x <= min_count - 1) & sensitive[None, :, None]
    pos = {v: i for i, v in enumerate(cube.variables)}
    for ind in catalogue.indicators:
        if getattr(ind, "kind", "proportion") != "proportion":
            continue
        if ind.numerator not in pos or ind.denominator not in pos:
            continue
        if not sens.get(ind.numerator, True):
            continue
        num, den = x[:, pos[ind.numerator], :], x[:, pos[ind.denominator], :]
        gap = den - num
        small[:, pos[ind.numerator], :] |= (num >= 0) & (den >= 0) & (gap >= 1) & (
            gap <= min_count - 1
        )
    return small
