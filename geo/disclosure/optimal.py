"""Reference: the exact minimum secondary suppression by MILP (HiGHS), for small inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.disclosure.periods import _check_periods
from geo.disclosure.primary import MIN_COUNT, PROTECTION, _primary
from geo.disclosure.protection import Protection, _forced, _tables, protection_from
from geo.disclosure.table import _build_cube, _build_tree, _Table


def _optimal_table(
    table: _Table, primary: np.ndarray, width: int, time_limit: float,
    fixed: np.ndarray | None = None,
) -> np.ndarray | None:
    """Minimum secondary pattern of one table (Fischetti-Salazar with explicit move flows).

    Lexicographic: fewest cells (total row counted as very many), then least value. Returns
    None when HiGHS does not prove optimality within the time limit.
    """
    rel = table.relations
    n = rel.shape[1]
    avail = ~table.missing
    cand = np.flatnonzero(avail & ~primary)
    prim = np.flatnonzero(primary)
    x = np.maximum(table.x, 0).astype(float)
    big = float(width) if table.is_tree else float(width) * 1000.0
    n_c, n_p = len(cand), len(prim)
    # variable layout: y (n_c) | per primary: up (n), down (n), u, d
    per = 2 * n + 2
    n_var = n_c + n_p * per
    ypos = np.full(n, -1)
    ypos[cand] = np.arange(n_c)
    rows, cols, vals, lo_c, hi_c = [], [], [], [], []
    r = 0
    lo_v = np.zeros(n_var)
    hi_v = np.zeros(n_var)
    hi_v[:n_c] = 1.0
    if fixed is not None:  # withheld by an earlier release
        lo_v[:n_c] = fixed[cand].astype(float)
    rel_coo = rel.tocoo()
    for k, p in enumerate(prim):
        base = n_c + k * per
        for m in range(2):
            off = base + m * n
            # relations: R move = 0
            rows.append(r + rel_coo.row)
            cols.append(off + rel_coo.col)
            vals.append(rel_coo.data)
            lo_c.append(np.zeros(rel.shape[0]))
            hi_c.append(np.zeros(rel.shape[0]))
            r += rel.shape[0]
            lo_v[off : off + n] = np.where(avail, -x, 0.0)
            hi_v[off : off + n] = np.where(avail, big, 0.0)
            # published candidates move only when withheld: -x*y <= move <= big*y
            idx = off + cand
            rows += [np.arange(r, r + n_c), np.arange(r, r + n_c)]
            cols += [idx, np.arange(n_c)]
            vals += [np.ones(n_c), x[cand]]
            lo_c.append(np.zeros(n_c))
            hi_c.append(np.full(n_c, np.inf))
            r += n_c
            rows += [np.arange(r, r + n_c), np.arange(r, r + n_c)]
            cols += [idx, np.arange(n_c)]
            vals += [np.ones(n_c), -np.full(n_c, big)]
            lo_c.append(np.full(n_c, -np.inf))
            hi_c.append(np.zeros(n_c))
            r += n_c
        u, d = base + 2 * n, base + 2 * n + 1
        lo_v[u], hi_v[u] = 0.0, float(width)
        lo_v[d], hi_v[d] = 0.0, min(x[p], float(width))
        # up move of p equals u, down move equals -d, u + d >= width
        rows += [np.array([r, r]), np.array([r + 1, r + 1]), np.array([r + 2, r + 2])]
        cols += [np.array([base + p, u]), np.array([base + n + p, d]), np.array([u, d])]
        vals += [np.array([1.0, -1.0]), np.array([1.0, 1.0]), np.array([1.0, 1.0])]
        lo_c.append(np.array([0.0, 0.0, float(width)]))
        hi_c.append(np.array([0.0, 0.0, np.inf]))
        r += 3
    a = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_var)
    )
    cons = LinearConstraint(a, np.concatenate(lo_c), np.concatenate(hi_c))
    integrality = np.zeros(n_var)
    integrality[:n_c] = 1
    total = np.tile(table.tree.depth == 0, len(table.var_codes))[cand]
    count_cost = np.zeros(n_var)
    count_cost[:n_c] = 1.0 + total * (n_c + 1.0)
    opts = {"time_limit": time_limit, "mip_rel_gap": 0.0}
    res = milp(count_cost, constraints=cons, integrality=integrality,
               bounds=Bounds(lo_v, hi_v), options=opts)
    if res.status != 0:
        return None
    best = round(float(res.fun))
    value_cost = np.zeros(n_var)
    value_cost[:n_c] = x[cand]
    count_row = LinearConstraint(count_cost[None, :], -np.inf, best + 0.5)
    res2 = milp(value_cost, constraints=[cons, count_row], integrality=integrality,
                bounds=Bounds(lo_v, hi_v), options=opts)
    sol = res2.x if res2.status == 0 else res.x
    if res2.status != 0:
        return None
    withheld = primary.copy()
    withheld[cand[sol[:n_c] > 0.5]] = True
    return withheld


def protect_optimal(
    cells: pd.DataFrame,
    areas: pd.DataFrame,
    catalogue: Any,
    *,
    min_count: int = MIN_COUNT,
    protection: int = PROTECTION,
    time_limit: float = 60.0,
    force_withheld: pd.Series | None = None,
) -> Protection | None:
    """Exact minimum secondary suppression by MILP (HiGHS); the reference for small inputs.

    Years and periods are linked as in ``protect``; ``force_withheld`` as there. Returns
    None if any table is not solved to proven optimality within ``time_limit``.
    """
    tree = _build_tree(areas)
    cube = _build_cube(cells, tree, [v.id for v in catalogue.variables])
    _check_periods(cube)
    primary = _primary(cube, catalogue, min_count)
    forced = _forced(cells, cube, force_withheld)
    withheld = primary | (forced & (cube.x >= 0))
    for job in _tables(cube, catalogue, primary):
        ys, vs = job.year_codes, job.var_codes
        x = cube.x[ys, vs, :].reshape(-1).copy()
        mask = _optimal_table(job.table(tree, x), primary[ys, vs, :].reshape(-1), protection,
                              time_limit, forced[ys, vs, :].reshape(-1))
        if mask is None:
            return None
        withheld[ys, vs, :] = mask.reshape(len(job.slots), -1)
    return protection_from(cells, cube, primary, withheld)
