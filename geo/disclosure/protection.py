"""The public verb ``protect``: primary and secondary suppression of every table of a build."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from geo.disclosure.periods import _check_periods, _Job, _jobs, _protect_job
from geo.disclosure.primary import MIN_COUNT, PROTECTION, _primary
from geo.disclosure.table import _build_cube, _build_tree, _check_sums, _Cube, _Tree
from geo.errors import DisclosureError


@dataclass(frozen=True)
class _Arrays:
    """What ``protect`` worked on, kept so that the audit of the same cells need not redo it."""

    cells: pd.DataFrame  # the frame ``protect`` was given (the audit checks it is the same)
    areas: pd.DataFrame
    cube: _Cube
    primary: np.ndarray
    withheld: np.ndarray


@dataclass(frozen=True)
class Protection:
    """Result of disclosure control: one status per cell and the sign-off log."""

    status: pd.Series
    log: pd.DataFrame
    arrays: _Arrays | None = field(default=None, repr=False, compare=False)


def _tables(cube: _Cube, catalogue: Any, primary: np.ndarray) -> list[_Job]:
    """Every table that holds a primary cell (years and periods of a variable linked)."""
    jobs = _jobs(cube, getattr(catalogue, "sums", ()))
    return [j for j in jobs if primary[j.year_codes, j.var_codes, :].any()]


_WORKER_TREE: list[_Tree] = []  # a worker process's area tree, handed over once at its start


def _hold_tree(tree: _Tree) -> None:
    _WORKER_TREE[:] = [tree]


def _protect_chunk(payload: tuple) -> list[np.ndarray]:
    tree, jobs, width, prune, decompose = payload
    tree = _WORKER_TREE[0] if tree is None else tree
    return [_protect_job(tree, job, x, prim, fixed, width, prune, decompose)
            for job, x, prim, fixed in jobs]


def _run_tables(
    cube: _Cube,
    jobs: list[_Job],
    primary: np.ndarray,
    forced: np.ndarray,
    width: int,
    prune: bool,
    workers: int,
    decompose: bool | None = None,
) -> np.ndarray:
    withheld = primary | (forced & (cube.x >= 0))
    payload_jobs = []
    for job in jobs:
        ys, vs = job.year_codes, job.var_codes
        payload_jobs.append((job, cube.x[ys, vs, :].reshape(-1).copy(),
                             primary[ys, vs, :].reshape(-1).copy(),
                             forced[ys, vs, :].reshape(-1).copy()))
    if workers > 1 and len(payload_jobs) > 1:
        n_chunks = min(len(payload_jobs), 4 * workers)
        chunks = [payload_jobs[i::n_chunks] for i in range(n_chunks)]
        with ProcessPoolExecutor(max_workers=workers, initializer=_hold_tree,
                                 initargs=(cube.tree,)) as pool:
            parts = list(pool.map(_protect_chunk,
                                  [(None, c, width, prune, decompose) for c in chunks]))
        results: list[Any] = [None] * len(payload_jobs)
        for i in range(n_chunks):
            results[i::n_chunks] = parts[i]
    else:
        results = _protect_chunk((cube.tree, payload_jobs, width, prune, decompose))
    for job, mask in zip(jobs, results, strict=True):
        withheld[job.year_codes, job.var_codes, :] = mask.reshape(len(job.slots), -1)
    return withheld


_STR = pd.Series([""]).dtype  # the dtype pandas gives a column of str (``str`` in pandas 3)
_STATUS = np.array(["published", "suppressed", "missing"], dtype=object)
_REASON = np.array(["secondary", "primary"], dtype=object)


def _text(values: np.ndarray) -> Any:
    """A column of ``str`` objects in the dtype pandas itself gives text."""
    return pd.array(values, dtype=_STR)


def _log(cube: _Cube, primary: np.ndarray, withheld: np.ndarray) -> pd.DataFrame:
    """One row per withheld cell, ordered by area (node), variable and year."""
    node, v, y = np.nonzero((primary | withheld).transpose(2, 1, 0))
    return pd.DataFrame(
        {
            "level": _text(cube.tree.level[node]),
            "area_id": _text(cube.tree.area_id[node]),
            "variable": _text(np.array(cube.variables, dtype=object)[v]),
            "year": np.array(cube.years, dtype=object)[y],
            "reason": _text(_REASON[primary[y, v, node].astype(np.int64)]),
        }
    )


def protection_from(
    cells: pd.DataFrame, cube: _Cube, primary: np.ndarray, withheld: np.ndarray
) -> Protection:
    """The cells' status and the deterministic sign-off log of a withheld pattern."""
    flat_w = withheld.reshape(-1)[cube.rows]
    flat_x = cube.x.reshape(-1)[cube.rows]
    code = np.where(flat_x < 0, 2, flat_w.astype(np.int64))
    return Protection(
        status=pd.Series(_STATUS[code], index=cells.index, name="status", dtype="string"),
        log=_log(cube, primary, withheld),
    )


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
    decompose: bool | None = None,
) -> Protection:
    """Withhold small counts and every cell from which one can be narrowed down.

    Years and pooled periods of a variable (``year`` = ``"2010-2012"``, the sum of its
    years) are protected together as one linked table.

    Args:
        cells: ``level, area_id, variable, year, value`` (Int64, <NA> = missing) for every
            level including the total; ``year`` holds year keys (2021 or "2010-2012").
        areas: ``level, area_id, name, parent_id``.
        catalogue: variables (``id``, ``sensitive``), indicators and declared ``sums``.
        min_count: sensitive values ``1..min_count-1`` are primary.
        protection: minimal width of an outsider's interval for a primary cell.
        prune: publish again secondary cells found unnecessary at the end.
        workers: processes for independent tables (a national table needs only one).
        force_withheld: boolean, aligned with ``cells.index``: cells an earlier release
            withheld. They are withheld from the start and never published again; they need
            no protection width unless primary.
        decompose: protect linked tables slot by slot (one tree per single year and base
            variable, the pooled and total cells above a withheld cell withheld too; fast,
            hides more pooled cells) instead of by LPs. None: for tables above
            ``DECOMPOSE_CELLS`` cells.

    Returns:
        Status per cell (aligned with ``cells.index``) and the log sorted by level, area,
        variable, year.

    Raises:
        DisclosureError: inconsistent input (unknown area, duplicate cell, a violated sum).
    """
    if min_count < 1 or protection < 0:
        raise DisclosureError("min_count must be >= 1 and protection >= 0")
    tree = _build_tree(areas)
    given = cells
    # measures (type = "measure") are never primary nor secondary: the cube holds counts only
    measures = {v.id for v in catalogue.variables if getattr(v, "type", "count") == "measure"}
    if measures:
        cells = cells[~cells["variable"].isin(measures)]
    counts = [v.id for v in catalogue.variables if v.id not in measures]
    cube = _build_cube(cells, tree, counts)
    _check_periods(cube)
    _check_sums(cube, catalogue)
    primary = _primary(cube, catalogue, min_count)
    forced = _forced(cells, cube, force_withheld)
    jobs = _tables(cube, catalogue, primary)
    if protection > 0:
        withheld = _run_tables(cube, jobs, primary, forced, protection, prune, workers,
                               decompose)
    else:
        withheld = primary | (forced & (cube.x >= 0))
    result = protection_from(cells, cube, primary, withheld)
    if len(cells) != len(given):
        return result
    return replace(result, arrays=_Arrays(given, areas, cube, primary, withheld))


def _forced(
    cells: pd.DataFrame, cube: _Cube, force_withheld: pd.Series | np.ndarray | None
) -> np.ndarray:
    """The cube mask of cells an earlier release withheld."""
    forced = np.zeros(cube.x.shape, dtype=bool)
    if force_withheld is None:
        return forced
    if isinstance(force_withheld, pd.Series):
        mask = force_withheld.reindex(cells.index)
    else:
        mask = pd.Series(np.asarray(force_withheld, dtype=bool), index=cells.index)
    if mask.isna().any():
        raise DisclosureError("force_withheld must have a value for every cell")
    forced.reshape(-1)[cube.rows[mask.to_numpy(dtype=bool)]] = True
    return forced
