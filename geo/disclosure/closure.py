"""Large linked tables protected slot by slot: one tree per base slot, then the closure.

A linked table (years and pooled periods of a variable group, or variables tied by declared
sums) splits into independent tree tables, one per base slot (a single year of a variable
that is no declared total, see ``basis``), once every cell above a withheld base cell is
withheld too: the pooled cells of its periods, its declared totals, their periods. Then
no published total has a withheld part, and the attacker's system is the base slots' trees
side by side. Each base slot's tree is protected by the fast tree pass of ``tree`` (bottom-up
sibling groups, exact interval walk, pruning); each of its moves lifts to the whole table
with the closure's cells moving alongside (they dominate the base cell, so the move keeps its
size). Every primary cell therefore keeps at least its tree width: sound by construction,
and ``reduced`` audits such a pattern with tree walks alone.

A primary total (a pooled 1 or 2, a complement) is covered when one of its base parts is
primary: that part's moves move the total by as much. An uncovered primary total makes its
largest base part need protection instead.

The price is visibility: a pooled cell over a withheld year is withheld, where the LP
method of ``secondary`` may publish it and withhold a second year. ``protect`` uses this
method for tables above ``DECOMPOSE_CELLS`` cells, where the LP method takes minutes to hours
(docs/BENCHMARKS.md); the loss against the exact optimum is measured in ``bench.disclosure``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from geo.disclosure.basis import Rule, _Basis, _basis
from geo.disclosure.secondary import _protect_table
from geo.disclosure.table import _Table, _Tree

DECOMPOSE_CELLS = 5_000
"""Linked tables with more cells than this are protected slot by slot (``protect``)."""


def _closure_basis(n_slots: int, rules: Sequence[Rule], x: np.ndarray) -> _Basis | None:
    """The basis a table can be protected with slot by slot; None where it cannot.

    Needs rules that form a 0/1 hierarchy (``basis``) and no missing cell: a missing cell
    drops relations, and the closure's cells would no longer dominate their base cells.
    """
    if not rules or (x < 0).any():
        return None
    return _basis(n_slots, rules)


def _base_needs(basis: _Basis, x: np.ndarray, primary: np.ndarray) -> np.ndarray:
    """Per base slot and area: the cells whose base tree must give them the width.

    ``x`` and ``primary`` are (slots, areas). Primary base cells need it; so does the largest
    base part of a primary total none of whose base parts is primary.
    """
    base, expand = basis.base, basis.expand
    need = primary[base].copy()
    for t in basis.derived.tolist():
        parts = np.flatnonzero(expand[t])
        if not len(parts):
            continue
        uncovered = primary[t] & ~need[parts].any(axis=0)
        if not uncovered.any():
            continue
        # the largest part (first on ties): its moves move the total by as much
        pick = parts[np.argmax(x[base[parts]], axis=0)]
        areas = np.flatnonzero(uncovered)
        need[pick[areas], areas] = True
    return need


def _protect_closure(
    tree: _Tree,
    basis: _Basis,
    x: np.ndarray,
    primary: np.ndarray,
    fixed: np.ndarray,
    width: int,
    prune: bool,
) -> np.ndarray:
    """Withheld mask (flattened slot-major) of a linked table, one base slot tree at a time."""
    n = tree.size
    shape = (basis.expand.shape[0], n)
    xs, prim, fix = x.reshape(shape), primary.reshape(shape), fixed.reshape(shape)
    need = _base_needs(basis, xs, prim)
    held = np.zeros((len(basis.base), n), dtype=bool)
    for j, b in enumerate(basis.base.tolist()):
        if not (need[j].any() or fix[b].any()):
            continue
        table = _Table(tree, [0], [], xs[b], xs[b] < 0)
        held[j] = _protect_table(table, need[j], width, prune, fixed=fix[b])
    # the closure: every slot whose expansion holds a withheld base cell
    withheld = (basis.expand.astype(np.int64) @ held.astype(np.int64)) > 0
    return (withheld | prim | fix).reshape(-1)
