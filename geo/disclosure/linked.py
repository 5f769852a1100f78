"""Linked tables (variables tied by declared sums): the attacker checks used while protecting.

Every primary cell is checked by an attacker LP (HiGHS) on its neighbourhood with all other
cells fixed, which can only understate its width (a cheap sufficient test), and by the exact LP
over its block of withheld cells where that test fails.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from geo.disclosure.intervals import _LP_BATCH, _solve_batch
from geo.disclosure.table import _INF, _near_cells, _rel_views, _Table

_LOCAL_RADIUS = 3  # tree distance of the neighbourhood a local attacker LP frees


def _moved(cells: np.ndarray, cols_of: dict[int, np.ndarray], x: np.ndarray,
           sols: dict[int, tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Per cell, the withheld cells its extreme points move (the cell itself included)."""
    out = []
    for k, cell in enumerate(cells.tolist()):
        if k not in sols:
            out.append(np.array([cell], dtype=np.int64))
            continue
        cols = cols_of[k]
        lo, hi = sols[k]
        moved = (np.abs(lo - x[cols]) > 1e-7) | (np.abs(hi - x[cols]) > 1e-7)
        out.append(np.union1d(cols[moved], [cell]))
    return out


def _local_widths(
    table: _Table,
    withheld: np.ndarray,
    cells: np.ndarray,
    radius: int = _LOCAL_RADIUS,
    used: list | None = None,
) -> np.ndarray:
    """Lower bounds of the interval widths of ``cells`` (used only inside ``protect``).

    Each cell gets an attacker LP in which only the withheld cells near it are unknown and
    every other cell is fixed at its true value. The attacker then knows more than in reality,
    so a width found here is never wider than the true one: a cell protected locally is
    protected. All cells' LPs are solved together as one block-diagonal LP. ``used`` receives
    each cell's certificate as ``_exact_widths`` does (the local extreme points are feasible
    for the whole table too).
    """
    lo = np.zeros(len(cells))
    hi = np.full(len(cells), _INF)
    if not len(cells):
        return hi - lo
    x = np.maximum(table.x, 0).astype(float)
    rel = _rel_views(table)[1]
    cap = 4.0 * float(x.sum()) + 1000.0
    batch = []
    size = 0
    sols: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if used is not None else None
    cols_of: dict[int, np.ndarray] = {}
    for k, cell in enumerate(cells.tolist()):
        near = _near_cells(table, cell % table.n_nodes, radius)
        cols = near[withheld[near]]
        sub = rel[:, cols]
        rows = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)
        if not len(rows):
            continue  # in no relation: [0, inf)
        a = sub.tocsr()[rows]
        i = int(np.searchsorted(cols, cell))
        cols_of[k] = cols
        batch.append((a, a @ x[cols], i, np.array([k])))
        size += len(cols)
        if size >= _LP_BATCH:
            _solve_batch(batch, cap, lo, hi, sols)
            batch, size = [], 0
    if batch:
        _solve_batch(batch, cap, lo, hi, sols)
    if used is not None and sols is not None:
        used.extend(_moved(cells, cols_of, x, sols))
    return hi - lo


def _block_of(table: _Table, withheld: np.ndarray, cell: int) -> np.ndarray:
    """Withheld cells linked to ``cell`` through relations whose other cells are withheld."""
    cells_of, rows_of = _rel_views(table)
    seen = {cell}
    todo = [cell]
    seen_rows: set[int] = set()
    while todo:
        c = todo.pop()
        for r in rows_of.indices[rows_of.indptr[c] : rows_of.indptr[c + 1]].tolist():
            if r in seen_rows:
                continue
            seen_rows.add(r)
            for d in cells_of.indices[cells_of.indptr[r] : cells_of.indptr[r + 1]].tolist():
                if d not in seen and withheld[d]:
                    seen.add(d)
                    todo.append(d)
    return np.array(sorted(seen), dtype=np.int64)


def _exact_widths(
    table: _Table, withheld: np.ndarray, cells: np.ndarray, used: list | None = None
) -> np.ndarray:
    """Exact interval widths of withheld ``cells``, one LP block per block of withheld cells.

    Same answer as ``_lp_intervals`` but only the blocks of the given cells are built.
    ``used`` receives per cell the withheld cells its extreme points move (its certificate):
    publishing a cell outside it leaves the cell's interval as it is.
    """
    lo = np.zeros(len(cells))
    hi = np.full(len(cells), _INF)
    x = np.maximum(table.x, 0).astype(float)
    rel = _rel_views(table)[1]
    cap = 4.0 * float(x.sum()) + 1000.0
    block_id: dict[int, int] = {}
    blocks: list[tuple[sp.csr_matrix, np.ndarray, np.ndarray]] = []
    batch = []
    for k, cell in enumerate(cells.tolist()):
        if cell not in block_id:
            cols = _block_of(table, withheld, cell)
            sub = rel[:, cols]
            rows = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)
            a = sub.tocsr()[rows]
            # true values satisfy every relation, so the published rest equals a @ x[cols]
            blocks.append((a, a @ x[cols], cols))
            for c in cols.tolist():
                block_id[c] = len(blocks) - 1
        a, b, cols = blocks[block_id[cell]]
        if a.shape[0] == 0:
            continue  # in no relation: [0, inf)
        batch.append((a, b, int(np.searchsorted(cols, cell)), np.array([k])))
    sols: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if used is not None else None
    for start in range(0, len(batch), 64):
        _solve_batch(batch[start : start + 64], cap, lo, hi, sols)
    if used is not None and sols is not None:
        cols_of = {k: blocks[block_id[c]][2] for k, c in enumerate(cells.tolist())}
        used.extend(_moved(cells, cols_of, x, sols))
    return hi - lo


def _certified_widths(
    table: _Table, withheld: np.ndarray, cells: np.ndarray, width: int, used: list
) -> np.ndarray:
    """Widths of ``cells`` with certificates: the local LP, the exact one where it is short.

    A returned width is exact when below ``width`` and at least ``width`` otherwise. Where a
    cell's neighbourhood is most of the table the local LP saves nothing and is skipped.
    """
    local_used: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(cells)
    size = len(table.x) // 2
    small = np.array([len(_near_cells(table, c % table.n_nodes, _LOCAL_RADIUS)) < size
                      for c in cells.tolist()], dtype=bool)
    widths = np.zeros(len(cells))
    if small.any():
        found: list[np.ndarray] = []
        widths[small] = _local_widths(table, withheld, cells[small], used=found)
        for j, cert in zip(np.flatnonzero(small).tolist(), found, strict=True):
            local_used[j] = cert
    weak = np.flatnonzero(~small | (widths < width - 1e-9))
    if len(weak):
        exact_used: list[np.ndarray] = []
        widths[weak] = _exact_widths(table, withheld, cells[weak], exact_used)
        for j, cert in zip(weak.tolist(), exact_used, strict=True):
            local_used[j] = cert
    used.extend(local_used)
    return widths
