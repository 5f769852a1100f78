"""Secondary suppression of one table: a first pattern, repairs until protected, then pruning.

Tree tables start from the bottom-up pass of ``tree``; linked tables start from the primary
cells and rely on repairs. Unnecessary secondary cells are published again at the end.
"""

from __future__ import annotations

import numpy as np

from geo.disclosure.intervals import _table_intervals
from geo.disclosure.linked import (
    _LOCAL_RADIUS,
    _certified_widths,
    _exact_widths,
    _local_widths,
)
from geo.disclosure.repair import _repair
from geo.disclosure.table import _cell_costs, _near_cells, _rel_views, _Table
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


def _pins_a_cell(table: _Table, withheld: np.ndarray, need: np.ndarray, cell: int) -> bool:
    """Would publishing ``cell`` leave a relation with one withheld cell, one needing width?"""
    cells_of, rows_of = _rel_views(table)
    for r in rows_of.indices[rows_of.indptr[cell] : rows_of.indptr[cell + 1]].tolist():
        members = cells_of.indices[cells_of.indptr[r] : cells_of.indptr[r + 1]]
        rest = members[withheld[members] & (members != cell)]
        if len(rest) == 1 and need[rest[0]]:
            return True
    return False


def _prune(
    table: _Table, withheld: np.ndarray, need: np.ndarray, width: int, fixed: np.ndarray
) -> None:
    """Publish again each secondary cell (dearest first) whose withholding is not needed.

    Cells in ``fixed`` (withheld by an earlier release) are never published again. On linked
    tables every cell needing width keeps a certificate: the withheld cells its extreme
    points move. Publishing a cell outside a certificate leaves that interval as it is, so
    only the cells whose certificate holds it are solved again (exactly).
    """
    secondary = np.flatnonzero(withheld & ~need & ~fixed)
    if not len(secondary):
        return
    cost = _cell_costs(table)
    order = secondary[np.lexsort((secondary, -cost[secondary]))]
    if table.is_tree:
        for c in order.tolist():
            withheld[c] = False
            if not _block_ok(table, withheld, need, width, c):
                withheld[c] = True
        return
    prim = np.flatnonzero(need & withheld)
    users: dict[int, set[int]] = {}  # withheld cell -> cells whose certificate moves it
    certificate: dict[int, np.ndarray] = {}

    def remember(cells: np.ndarray, used: list[np.ndarray]) -> None:
        for p, cert in zip(cells.tolist(), used, strict=True):
            for c in certificate.get(p, np.zeros(0, dtype=np.int64)).tolist():
                users[c].discard(p)
            certificate[p] = cert
            for c in cert.tolist():
                users.setdefault(c, set()).add(p)

    used: list[np.ndarray] = []
    _certified_widths(table, withheld, prim, width, used)
    remember(prim, used)
    for c in order.tolist():
        if _pins_a_cell(table, withheld, need & withheld, c):
            continue  # a withheld cell needing width would become computable
        affected = np.array(sorted(users.get(c, ())), dtype=np.int64)
        withheld[c] = False
        if not len(affected):
            continue
        used = []
        if np.all(_certified_widths(table, withheld, affected, width, used) >= width - 1e-9):
            remember(affected, used)
        else:
            withheld[c] = True


def _protect_table(
    table: _Table,
    primary: np.ndarray,
    width: int,
    prune: bool,
    *,
    start: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """Withheld mask (primary + secondary) of one table.

    ``start`` is a first pattern to repair and prune (default: the tree pass, or the primary
    cells of a linked table); ``fixed`` cells stay withheld and need no width themselves.
    """
    n_nodes = table.n_nodes
    fixed = np.zeros(len(primary), dtype=bool) if fixed is None else fixed & ~table.missing
    withheld = primary | fixed
    if start is not None:
        withheld |= start
    elif table.is_tree:  # linked tables start from the primary cells and rely on repairs
        _greedy_tree(table.tree, table.x, table.missing, withheld, primary, width)
    targets = None
    for _ in range(10_000):
        # withholding more only widens intervals: only the cells found too narrow can stay so
        bad = _under_protected(table, withheld, primary, width, targets)
        if not bad:
            break
        targets = np.array(bad, dtype=np.int64)
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
        _prune(table, withheld, primary, width, fixed)
        if table.is_tree:
            _improve(table, withheld, primary, width, fixed)
    return withheld
