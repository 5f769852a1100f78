"""Disclosure control: primary suppression, secondary suppression and the attacker audit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MIN_COUNT = 3
PROTECTION = 3

_KEY = ["level", "area_id", "variable", "year"]


@dataclass(frozen=True)
class Protection:
    """Result of disclosure control: one status per cell and the sign-off log."""

    status: pd.Series
    log: pd.DataFrame


def _primary_mask(cells: pd.DataFrame, catalogue: Any, min_count: int) -> np.ndarray:
    sensitive = {v.id for v in catalogue.variables if v.sensitive}
    value = cells["value"]
    present = value.notna().to_numpy()
    vals = value.fillna(0).to_numpy(dtype=np.int64)
    is_sens = cells["variable"].astype(str).isin(sensitive).to_numpy()
    mask = is_sens & present & (vals >= 1) & (vals <= min_count - 1)
    return mask


def protect(
    cells: pd.DataFrame,
    areas: pd.DataFrame,
    catalogue: Any,
    *,
    min_count: int = MIN_COUNT,
    protection: int = PROTECTION,
) -> Protection:
    """Withhold small counts (primary only in this preliminary version)."""
    mask = _primary_mask(cells, catalogue, min_count)
    present = cells["value"].notna().to_numpy()
    status = np.where(~present, "missing", np.where(mask, "suppressed", "published"))
    log = cells.loc[mask, _KEY].copy()
    log["reason"] = "primary"
    log = log.sort_values(_KEY, kind="mergesort").reset_index(drop=True)
    return Protection(status=pd.Series(status, index=cells.index, name="status"), log=log)
