"""Secondary suppression of one table: a first pattern, repairs until protected, then pruning.

Tree tables start from the bottom-up pass of ``tree``; linked tables start from the primary
cells and rely on repairs. Unnecessary secondary cells are published again at the end.
"""

from __future__ import annotations

import numpy as np

from geo.disclosure.intervals import _table_intervals
from geo.disclosure.linked import _LOCAL_RADIUS, _block_of, _exact_widths, _local_widths
from geo.disclosure.repair import _repair
from geo.disclosure.table import _cell_costs, _near_cells, _Table
from geo.disclosure.tree import _block_ok, _greedy_tree, _improve
from geo.errors import DisclosureError


def _under_protected(
    table: _Table,
    withheld: np.ndarray,
    need: np.ndarray,
    width: int,
    targets: np.ndarray | None = None,
    local_first: bool = True,
) -> list[int]:
    """Cells among ``targets`` (default: all withheld cells needing it) that are too narrow."""
    known = ~withheld & ~table.missing
    if targets is None:
        targets = np.flatnonzero(need & withheld)
    if not len(targets):
        return []
    if table.is_tree:
        cells, lo, hi = _table_intervals(table, known, np.maximum(table.x, 0), targets)
        return sorted(cells[hi - lo < width - 1e-9].tolist())
    if local_first:  # cheap sufficient check, exact LP where it fails
        targets = targets[_local_widths(table, withheld, targets) < width - 1e-9]
    widths = _exact_widths(table, withheld, targets)
    return sorted(targets[widths < width - 1e-9].tolist())


def _prune(
    table: _Table, withheld: np.ndarray, need: np.ndarray, width: int,
    fixed: np.ndarray | None = None,
) -> None:
    """Publish again each secondary cell (dearest first) whose withholding is not needed.

    ``fixed`` cells (forced by an earlier release) are never published again.
    """
    free = withheld & ~need if fixed is None else withheld & ~need & ~fixed
    secondary = np.flatnonzero(free)
    if not len(secondary):
        return
    cost = _cell_costs(table)
    order = secondary[np.lexsort((secondary, -cost[secondary]))]
    fragile = np.zeros(0, dtype=np.int64)  # protected, but not by the local sufficient check
    if not table.is_tree:
        prim = np.flatnonzero(need & withheld)
        fragile = prim[_local_widths(table, withheld, prim) < width - 1e-9]
    for c in order.tolist():
        withheld[c] = False
        if table.is_tree:
            ok = _block_ok(table, withheld, need, width, c)
        else:
            # publishing c changes the local check only of cells near it; cells protected
            # only by the exact check are re-checked every time
            near = _near_cells(table, c % table.n_nodes, _LOCAL_RADIUS)
            targets = np.union1d(near[need[near] & withheld[near]], fragile)
            withheld[c] = True  # only cells linked to c through withheld cells can change
            targets = np.intersect1d(targets, _block_of(table, withheld, c))
            withheld[c] = False
            local = _local_widths(table, withheld, targets)
            weak = targets[local < width - 1e-9]
            ok = not _under_protected(table, withheld, need, width, weak, local_first=False)
            if ok:
                fragile = np.union1d(fragile, weak)
        if not ok:
            withheld[c] = True


def _protect_table(
    table: _Table, primary: np.ndarray, width: int, prune: bool,
    forced: np.ndarray | None = None,
) -> np.ndarray:
    """Withheld mask (primary + secondary) of one table.

    ``forced`` cells start withheld and stay withheld; they need no width unless primary.
    """
    n_nodes = table.n_nodes
    withheld = primary.copy() if forced is None else primary | (forced & ~table.missing)
    if table.is_tree:  # linked tables start from the primary cells and rely on repairs
        _greedy_tree(table.tree, table.x, table.missing, withheld, primary, width)
    for _ in range(10_000):
        bad = _under_protected(table, withheld, primary, width)
        if not bad:
            break
        changed = np.zeros(n_nodes, dtype=bool)  # areas where this round added cells
        for cell in bad:
            near = _near_cells(table, cell % n_nodes, _LOCAL_RADIUS) % n_nodes
            if not table.is_tree and changed[near].any():
                if not _under_protected(table, withheld, primary, width, np.array([cell])):
                    continue  # an earlier repair in this round already protected it
            added = _repair(table, cell, withheld, width)
            withheld[added] = True
            changed[np.array(added, dtype=np.int64) % n_nodes] = True
    else:  # pragma: no cover - each repair adds a cell, so this cannot loop forever
        raise DisclosureError("secondary suppression did not converge")
    if prune:
        _prune(table, withheld, primary, width, forced)
        if table.is_tree:
            _improve(table, withheld, primary, width, forced)
    return withheld


def _protect_chunk(payload: tuple) -> list[np.ndarray]:
    tree, jobs, width, prune = payload
    out = []
    for var_codes, rules, x, primary, *forced in jobs:
        table = _Table(tree, var_codes, rules, x, x < 0)
        out.append(_protect_table(table, primary, width, prune, forced[0] if forced else None))
    return out
