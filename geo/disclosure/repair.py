"""Repair: a min-cost move LP that protects one under-protected cell of any table.

A cell still too narrow is repaired by an up- and a down-move of total size ``protection`` that
may pass only through withheld cells or through published cells it pays to open; the cells it
opens are withheld, which proves the protection.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from geo.disclosure.table import _cell_costs, _neighbourhood, _rel_views, _Table
from geo.errors import DisclosureError


def _repair(table: _Table, cell: int, withheld: np.ndarray, width: int) -> list[int]:
    """Published cells to withhold so that ``cell`` can move up and down by ``width`` in all.

    Solves one LP for an up-move and a down-move that change only cells near ``cell``, where a
    published cell costs its suppression cost per unit of move. Every published cell the
    optimal moves touch is returned: once they are withheld both moves are legal, which proves
    the protection.
    """
    n_nodes = table.n_nodes
    nv = len(table.var_codes)
    node = cell % n_nodes
    cost_all = _cell_costs(table)
    x_all = np.maximum(table.x, 0).astype(float)
    limit = float(width) if table.is_tree else None
    total_cell = np.tile(table.tree.depth == 0, nv)
    for radius in (3, 6, 10_000):
        nodes = _neighbourhood(table.tree, node, radius)
        cols = np.concatenate([j * n_nodes + nodes for j in range(nv)])
        cols = cols[~table.missing[cols]]
        rel = _rel_views(table)[1][:, cols].tocsr()
        rows = np.flatnonzero(np.diff(rel.indptr) > 0)
        rel = rel[rows]
        k = len(cols)
        p = int(np.flatnonzero(cols == cell)[0])
        xs = x_all[cols]
        pub = ~withheld[cols]
        n_rel = rel.shape[0]
        # variables: up+, up-, down+, down- (k each), open (k), u, d. A published cell carries
        # flow in either move only as far as it is "opened" (the LP relaxation of withholding
        # it), so a cell that serves both moves is paid once.
        eye = sp.identity(k, format="csr")
        zero = sp.csr_matrix((k, k))
        z_rel = sp.csr_matrix((n_rel, k))
        two = sp.csr_matrix((n_rel, 2))
        e = sp.csr_matrix(([1.0], ([0], [p])), shape=(1, k))
        zk = sp.csr_matrix((1, k))
        a_eq = sp.vstack([
            sp.hstack([rel, -rel, z_rel, z_rel, z_rel, two]),
            sp.hstack([z_rel, z_rel, rel, -rel, z_rel, two]),
            sp.hstack([e, -e, zk, zk, zk, sp.csr_matrix([[-1.0, 0.0]])]),
            sp.hstack([zk, zk, e, -e, zk, sp.csr_matrix([[0.0, 1.0]])]),
        ]).tocsr()
        cap_up = sp.diags(np.where(pub, -float(width), 0.0))
        cap_dn = sp.diags(np.where(pub, -np.minimum(xs, width), 0.0))
        two_k = sp.csr_matrix((k, 2))
        a_ub = sp.vstack([
            sp.hstack([eye, zero, zero, zero, cap_up, two_k]),
            sp.hstack([zero, eye, zero, zero, cap_dn, two_k]),
            sp.hstack([zero, zero, eye, zero, cap_up, two_k]),
            sp.hstack([zero, zero, zero, eye, cap_dn, two_k]),
            sp.hstack([zk, zk, zk, zk, zk, sp.csr_matrix([[-1.0, -1.0]])]),
        ]).tocsr()
        pub_rows = np.concatenate([pub, pub, pub, pub, [True]])
        a_ub = a_ub[pub_rows]
        b_ub = np.concatenate([np.zeros(a_ub.shape[0] - 1), [-float(width)]])
        c = np.concatenate([np.full(4 * k, 1e-6), np.where(pub, cost_all[cols], 0.0), [0, 0]])
        ub_pos = np.full(k, np.inf if limit is None else limit)
        hi_b = np.concatenate([
            ub_pos, xs, ub_pos, xs, np.where(pub, np.inf, 0.0),
            [width, min(float(xs[p]), width)],
        ])
        res = linprog(
            c,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=a_eq,
            b_eq=np.zeros(a_eq.shape[0]),
            bounds=np.column_stack([np.zeros(len(hi_b)), hi_b]),
            method="highs",
        )
        if res.status == 0:
            flow = res.x[: 4 * k].reshape(4, k).sum(axis=0)
            used = cols[(flow > 1e-7) & pub]
            if not total_cell[used].any() or len(nodes) >= n_nodes:
                return sorted(int(u) for u in used)
            # the total row only when unavoidable: look further first
        if len(nodes) >= n_nodes:
            break
    raise DisclosureError("a cell cannot be protected even by withholding every other cell")
