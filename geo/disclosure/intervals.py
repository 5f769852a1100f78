"""Exact feasible intervals of withheld cells, from published cells only (what an outsider sees).

Tree tables use the interval walk of ``tree``. Linked tables use an LP (HiGHS) per connected
block of withheld cells, many blocks batched into one block-diagonal LP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from geo.disclosure.table import _INF, _Table
from geo.disclosure.tree import _tree_intervals

_LP_BATCH = 20_000  # variables per batched LP


def _solve_batch(
    batch: list[tuple[sp.csr_matrix, np.ndarray, int, np.ndarray]],
    cap: float,
    lo: np.ndarray,
    hi: np.ndarray,
    sols: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> None:
    """Min and max of one target per block, all blocks in one block-diagonal LP per sense.

    The blocks share no variable, so the optimum of the summed objective is the optimum of
    every block: one HiGHS call replaces one call per cell. ``sols`` receives, per target,
    the block's solutions at the minimum and the maximum (the attacker's extreme points).
    """
    a = sp.block_diag([blk[0] for blk in batch], format="csr")
    b = np.concatenate([blk[1] for blk in batch])
    offsets = np.cumsum([0] + [blk[0].shape[1] for blk in batch[:-1]])
    pos = offsets + np.array([blk[2] for blk in batch])
    obj = np.zeros(a.shape[1])
    obj[pos] = 1.0
    res_lo = linprog(obj, A_eq=a, b_eq=b, bounds=(0, cap), method="highs")
    res_hi = linprog(-obj, A_eq=a, b_eq=b, bounds=(0, cap), method="highs")
    if res_lo.status != 0 or res_hi.status != 0:
        if len(batch) > 1:  # a contradiction somewhere: solve blocks one by one
            for blk in batch:
                _solve_batch([blk], cap, lo, hi, sols)
            return
        t = batch[0][3]
        lo[t], hi[t] = _INF, -_INF  # published figures contradict the relations
        return
    for (blk, _, _, t), p, off in zip(batch, pos, offsets, strict=True):
        lo[t] = max(0.0, float(res_lo.x[p]))
        top = float(res_hi.x[p])
        hi[t] = _INF if top >= cap * 0.5 else top
        if sols is not None:
            end = off + blk.shape[1]
            sols[int(t[0])] = (res_lo.x[off:end], res_hi.x[off:end])


@dataclass(frozen=True)
class _Blocks:
    """Withheld cells and the relations among them, split into independent blocks."""

    cols: np.ndarray  # withheld cells (columns of the relation matrix)
    a_w: sp.csr_matrix  # active relations (rows with a withheld cell) over ``cols``
    rhs: np.ndarray  # what the published cells leave for each active relation
    cell_block: np.ndarray  # block of each withheld cell
    row_block: np.ndarray  # block of each active relation


def _blocks(relations: sp.csr_matrix, known: np.ndarray, val: np.ndarray) -> _Blocks:
    """Blocks of withheld cells: linked when they share a relation.

    Blocks are independent because everything between them is a published constant.
    """
    rel = relations.tocsc()
    w_cols = np.flatnonzero(~known)
    a_w = rel[:, w_cols].tocsr()
    rhs = -(rel[:, known] @ val[known].astype(float))
    active = np.flatnonzero(np.diff(a_w.indptr) > 0)
    a_w = a_w[active]
    rhs = rhs[active]
    # bipartite graph: withheld cells + active relations
    k, m = len(w_cols), len(active)
    coo = a_w.tocoo()
    graph = sp.coo_matrix(
        (np.ones(len(coo.data)), (coo.col, k + coo.row)), shape=(k + m, k + m)
    ).tocsr()
    _, label = connected_components(graph, directed=False)
    return _Blocks(w_cols, a_w, rhs, label[:k], label[k:])


class _Members:
    """Positions by label: ``of(comp)`` gives the positions (ascending) labelled ``comp``."""

    def __init__(self, label: np.ndarray) -> None:
        self.order = np.argsort(label, kind="stable")
        self.ordered = label[self.order]

    def of(self, comp: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.ordered, [comp, comp + 1])
        return self.order[lo:hi]


def _lp_intervals(
    relations: sp.csr_matrix, known: np.ndarray, val: np.ndarray, cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Feasible intervals of the withheld ``cells`` by LP (HiGHS), one block at a time."""
    n = relations.shape[1]
    lo = np.zeros(len(cells))
    hi = np.full(len(cells), _INF)
    if len(cells) == 0:
        return lo, hi
    blocks = _blocks(relations, known, val)
    col_pos = np.full(n, -1)
    col_pos[blocks.cols] = np.arange(len(blocks.cols))
    want = col_pos[cells]
    label_w = blocks.cell_block[want]
    cap = 4.0 * float(np.abs(val[known]).sum()) + 1000.0
    batch: list[tuple[sp.csr_matrix, np.ndarray, int, np.ndarray]] = []
    size = 0
    by_row, by_cell = _Members(blocks.row_block), _Members(blocks.cell_block)
    by_target = _Members(label_w)
    for comp in np.unique(label_w).tolist():
        rows = by_row.of(comp)
        if len(rows) == 0:
            continue  # a withheld cell in no relation: [0, inf)
        vars_ = by_cell.of(comp)
        sub = blocks.a_w[rows][:, vars_]
        for t in by_target.of(comp).tolist():
            local = int(np.searchsorted(vars_, want[t]))
            batch.append((sub, blocks.rhs[rows], local, np.array([t])))
            size += len(vars_)
            if size >= _LP_BATCH:
                _solve_batch(batch, cap, lo, hi)
                batch, size = [], 0
    if batch:
        _solve_batch(batch, cap, lo, hi)
    return lo, hi


def _table_intervals(
    table: _Table, known: np.ndarray, val: np.ndarray, targets: np.ndarray | None = None
) -> tuple[np.ndarray, ...]:
    """Intervals of withheld cells of a table (all, or ``targets``): (cells, lo, hi)."""
    cells = np.flatnonzero(~known & ~table.missing) if targets is None else targets
    if table.is_tree:
        lo, hi = _tree_intervals(table.tree.parent, table.tree.depth, known, val, table.missing)
        return cells, lo[cells], hi[cells]
    lo, hi = _lp_intervals(table.relations, known, val, cells)
    return cells, lo, hi
