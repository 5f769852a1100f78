"""Exact intervals of a linked table by elimination: base-slot tree walks, LPs only where needed.

With every cell present, a linked table's relations are the area tree of each base slot plus,
per area, "slot t = its expansion" (``basis``). A withheld total is then a function of its
parts and drops out; a published total whose parts are all published says nothing new. What
is left are *couplings*: a published total with a withheld part, one equation across base
slots of one area. Blocks of withheld base cells that no coupling touches are independent
trees, whose exact intervals the interval walk of ``tree`` gives; only blocks joined by a
coupling are solved by LP. A withheld total's interval is the sum of its parts' intervals
when its withheld parts lie in different blocks (independent), else one LP over the block.

Patterns of ``closure`` have no coupling: their audit is one tree walk per base slot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from geo.disclosure.basis import Rule, _Basis, _basis
from geo.disclosure.intervals import _Blocks, _blocks, _lp_intervals
from geo.disclosure.table import _INF, _relations, _Tree
from geo.disclosure.tree import _tree_intervals


def _couplings(basis: _Basis, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slot, area) of every published total with a withheld base part."""
    base_held = held[basis.base]
    slots, areas = [], []
    for t in basis.derived.tolist():
        open_ = ~held[t] & base_held[basis.expand[t]].any(axis=0)
        found = np.flatnonzero(open_)
        slots.append(np.full(len(found), t, dtype=np.int64))
        areas.append(found)
    if not slots:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(slots), np.concatenate(areas)


def _base_system(
    tree: _Tree, basis: _Basis, vals: np.ndarray, held: np.ndarray,
    c_slot: np.ndarray, c_area: np.ndarray,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Relations over the base cells (base-major) and one constant column per coupling.

    Returns (relations, known, values): the base slots' tree relations, and per coupling
    "published total = sum of its base parts" with the total as a known column.
    """
    n, nb = tree.size, len(basis.base)
    trees = _relations(tree, list(range(nb)), [], np.zeros(nb * n, dtype=bool))
    rows, cols, data = [], [], []
    for k, (t, a) in enumerate(zip(c_slot.tolist(), c_area.tolist(), strict=True)):
        parts = np.flatnonzero(basis.expand[t])
        rows += [k] * (len(parts) + 1)
        cols += [nb * n + k, *(parts * n + a).tolist()]
        data += [1.0] + [-1.0] * len(parts)
    n_c = len(c_slot)
    coupling = sp.csr_matrix((data, (rows, cols)), shape=(n_c, nb * n + n_c))
    trees = sp.hstack([trees, sp.csr_matrix((trees.shape[0], n_c))])
    relations = sp.vstack([trees, coupling]).tocsr()
    known = np.concatenate([~held[basis.base].reshape(-1), np.ones(n_c, dtype=bool)])
    values = np.concatenate([vals[basis.base].reshape(-1), vals[c_slot, c_area]])
    return relations, known, values


def _sum_range(blocks: _Blocks, cap: float, block: int, cells: np.ndarray) -> tuple[float, float]:
    """Min and max of the sum of withheld ``cells`` of one block, by LP."""
    rows = np.flatnonzero(blocks.row_block == block)
    vars_ = np.flatnonzero(blocks.cell_block == block)
    a = blocks.a_w[rows][:, vars_]
    obj = np.isin(blocks.cols[vars_], cells).astype(float)
    lo = linprog(obj, A_eq=a, b_eq=blocks.rhs[rows], bounds=(0, cap), method="highs")
    hi = linprog(-obj, A_eq=a, b_eq=blocks.rhs[rows], bounds=(0, cap), method="highs")
    if lo.status != 0 or hi.status != 0:
        return _INF, -_INF
    top = -float(hi.fun)
    return max(0.0, float(lo.fun)), (_INF if top >= cap * 0.5 else top)


def _reduced_intervals(
    tree: _Tree, n_slots: int, rules: Sequence[Rule], val: np.ndarray, withheld: np.ndarray,
    missing: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Exact intervals (cells, lo, hi) of every withheld cell of a linked table.

    Cells are flattened slot-major (``slot * areas + node``) as in ``periods._Job.table``;
    ``val`` holds published values (withheld ones are ignored). None where the table has a
    missing cell or rules that are no 0/1 hierarchy: then the full LP applies.
    """
    basis = _basis(n_slots, rules) if not missing.any() else None
    if basis is None:
        return None
    n, nb = tree.size, len(basis.base)
    vals = np.maximum(val, 0).astype(float).reshape(n_slots, n)
    held = withheld.reshape(n_slots, n)
    base_held = held[basis.base]
    lo = np.zeros((nb, n))
    hi = np.zeros((nb, n))
    none = np.zeros(n, dtype=bool)
    for j, b in enumerate(basis.base.tolist()):
        lo[j], hi[j] = _tree_intervals(tree.parent, tree.depth, ~base_held[j],
                                       vals[b], none)
    c_slot, c_area = _couplings(basis, held)
    block = np.full(nb * n, -1, dtype=np.int64)
    if len(c_slot):
        relations, known, values = _base_system(tree, basis, vals, held, c_slot, c_area)
        blocks = _blocks(relations, known, values)
        inside = blocks.cols < nb * n
        block[blocks.cols[inside]] = blocks.cell_block[inside]
        coupled = np.unique(blocks.row_block[blocks.a_w.shape[0] - len(c_slot):])
        targets = blocks.cols[np.isin(blocks.cell_block, coupled) & inside]
        lp_lo, lp_hi = _lp_intervals(relations, known, values, targets)
        lo.reshape(-1)[targets], hi.reshape(-1)[targets] = lp_lo, lp_hi
        cap = 4.0 * float(np.abs(values[known]).sum()) + 1000.0
    # withheld totals: the sum of their parts, parts in one block by LP
    part_lo = np.where(base_held, lo, vals[basis.base])
    part_hi = np.where(base_held, hi, vals[basis.base])
    out_lo = np.zeros((n_slots, n))
    out_hi = np.zeros((n_slots, n))
    for t in range(n_slots):
        parts = np.flatnonzero(basis.expand[t])
        out_lo[t] = part_lo[parts].sum(axis=0)
        out_hi[t] = part_hi[parts].sum(axis=0)
        if not len(c_slot) or len(parts) < 2:
            continue
        for a in np.flatnonzero(held[t]).tolist():
            cells = parts[base_held[parts, a]] * n + a
            labels, counts = np.unique(block[cells], return_counts=True)
            if not (counts > 1).any():
                continue  # parts in independent blocks: the sum of their intervals
            shared = np.isin(block[cells], labels[counts > 1])
            t_lo = float(vals[basis.base[parts], a][~base_held[parts, a]].sum())
            t_lo += float(lo.reshape(-1)[cells[~shared]].sum())
            t_hi = t_lo - float(lo.reshape(-1)[cells[~shared]].sum())
            t_hi += float(hi.reshape(-1)[cells[~shared]].sum())
            for lab in labels[counts > 1].tolist():
                s_lo, s_hi = _sum_range(blocks, cap, lab, cells[block[cells] == lab])
                t_lo, t_hi = t_lo + s_lo, t_hi + s_hi
            out_lo[t, a], out_hi[t, a] = t_lo, t_hi
    cells = np.flatnonzero(withheld)
    return cells, out_lo.reshape(-1)[cells], out_hi.reshape(-1)[cells]
