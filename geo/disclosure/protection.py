"""The public verb ``protect``: primary and secondary suppression of every table of a build."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.disclosure.primary import MIN_COUNT, PROTECTION, _primary
from geo.disclosure.secondary import _protect_chunk
from geo.disclosure.table import _build_cube, _build_tree, _check_sums, _Cube, _variable_groups
from geo.errors import DisclosureError


@dataclass(frozen=True)
class Protection:
    """Result of disclosure control: one status per cell and the sign-off log."""

    status: pd.Series
    log: pd.DataFrame


def _tables(cube: _Cube, catalogue: Any, primary: np.ndarray) -> list[tuple[int, list, list]]:
    """(year code, variable codes, rules) of every table that holds a primary cell."""
    out = []
    groups = _variable_groups(cube.variables, getattr(catalogue, "sums", ()))
    for y in range(len(cube.years)):
        for var_codes, rules in groups:
            if primary[y, var_codes, :].any():
                out.append((y, var_codes, rules))
    return out


def _run_tables(
    cube: _Cube,
    jobs: list[tuple[int, list, list]],
    primary: np.ndarray,
    width: int,
    prune: bool,
    workers: int,
    forced: np.ndarray,
) -> np.ndarray:
    withheld = primary | forced
    payload_jobs = []
    for y, var_codes, rules in jobs:
        x = cube.x[y, var_codes, :].reshape(-1).copy()
        payload_jobs.append((var_codes, rules, x, primary[y, var_codes, :].reshape(-1).copy(),
                             forced[y, var_codes, :].reshape(-1).copy()))
    if workers > 1 and len(payload_jobs) > 1:
        n_chunks = min(len(payload_jobs), 4 * workers)
        chunks = [payload_jobs[i::n_chunks] for i in range(n_chunks)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_protect_chunk, [(cube.tree, c, width, prune) for c in chunks]))
        results: list[Any] = [None] * len(payload_jobs)
        for i in range(n_chunks):
            results[i::n_chunks] = parts[i]
    else:
        results = _protect_chunk((cube.tree, payload_jobs, width, prune))
    for (y, var_codes, _), mask in zip(jobs, results, strict=True):
        withheld[y, var_codes, :] = mask.reshape(len(var_codes), -1)
    return withheld


def _log_frame(cube: _Cube, mask: np.ndarray, reason: str) -> pd.DataFrame:
    y, v, node = np.nonzero(mask)
    return pd.DataFrame(
        {
            "level": cube.tree.level[node].astype(str),
            "area_id": cube.tree.area_id[node].astype(str),
            "variable": np.array(cube.variables, dtype=object)[v].astype(str),
            "year": np.array(cube.years, dtype=np.int64)[y],
            "reason": reason,
            "_order": (node * len(cube.variables) + v) * len(cube.years) + y,
        }
    )


def protection_from(
    cells: pd.DataFrame, cube: _Cube, primary: np.ndarray, withheld: np.ndarray
) -> Protection:
    """The cells' status and the deterministic sign-off log of a withheld pattern."""
    flat_w = withheld.reshape(-1)[cube.rows]
    flat_x = cube.x.reshape(-1)[cube.rows]
    status = np.where(flat_x < 0, "missing", np.where(flat_w, "suppressed", "published"))
    log = pd.concat(
        [_log_frame(cube, primary, "primary"), _log_frame(cube, withheld & ~primary, "secondary")]
    )
    log = log.sort_values("_order", kind="mergesort").drop(columns="_order")
    return Protection(
        status=pd.Series(status, index=cells.index, name="status", dtype="string"),
        log=log.reset_index(drop=True),
    )


def _forced_cells(cube: _Cube, cells: pd.DataFrame, force_withheld: Any) -> np.ndarray:
    """The cube mask of cells that must stay withheld (missing cells stay missing)."""
    forced = np.zeros(cube.x.shape, dtype=bool)
    if force_withheld is None:
        return forced
    mask = pd.Series(force_withheld, index=cells.index) if not isinstance(
        force_withheld, pd.Series) else force_withheld.reindex(cells.index)
    if mask.isna().any():
        raise DisclosureError("force_withheld does not cover every cell")
    forced.reshape(-1)[cube.rows[mask.to_numpy(dtype=bool)]] = True
    return forced & (cube.x >= 0)


def protect(
    cells: pd.DataFrame,
    areas: pd.DataFrame,
    catalogue: Any,
    *,
    min_count: int = MIN_COUNT,
    protection: int = PROTECTION,
    prune: bool = True,
    workers: int = 1,
    force_withheld: pd.Series | np.ndarray | None = None,
) -> Protection:
    """Withhold small counts and every cell from which one can be narrowed down.

    Args:
        cells: ``level, area_id, variable, year, value`` (Int64, <NA> = missing) for every
            level including the total.
        areas: ``level, area_id, name, parent_id``.
        catalogue: variables (``id``, ``sensitive``), indicators and declared ``sums``.
        min_count: sensitive values ``1..min_count-1`` are primary.
        protection: minimal width of an outsider's interval for a primary cell.
        prune: publish again secondary cells found unnecessary at the end.
        workers: processes for independent tables (a national table needs only one).
        force_withheld: boolean per cell (aligned with ``cells``): cells that start withheld
            and are never published again (an earlier release's pattern); they need no
            width unless primary.

    Returns:
        Status per cell (aligned with ``cells.index``) and the log sorted by level, area,
        variable, year.

    Raises:
        DisclosureError: inconsistent input (unknown area, duplicate cell, a violated sum).
    """
    if min_count < 1 or protection < 0:
        raise DisclosureError("min_count must be >= 1 and protection >= 0")
    tree = _build_tree(areas)
    # measures (type = "measure") are never primary nor secondary: the cube holds counts only
    measures = {v.id for v in catalogue.variables if getattr(v, "type", "count") == "measure"}
    if measures:
        cells = cells[~cells["variable"].isin(measures)]
    counts = [v.id for v in catalogue.variables if v.id not in measures]
    cube = _build_cube(cells, tree, counts)
    _check_sums(cube, catalogue)
    primary = _primary(cube, catalogue, min_count)
    forced = _forced_cells(cube, cells, force_withheld)
    jobs = _tables(cube, catalogue, primary)
    if protection > 0:
        withheld = _run_tables(cube, jobs, primary, protection, prune, workers, forced)
    else:
        withheld = primary | forced
    return protection_from(cells, cube, primary, withheld)
