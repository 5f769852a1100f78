"""Tree tables (one variable, no declared sums): the exact interval walk and secondary suppression.

Secondary suppression on a tree is a bottom-up pass over sibling groups that uses the
up-/down-move certificate (flows along the tree); a group that cannot protect its cells on its
own withholds its parent and hands the remaining need one level up. Each tree table is then
audited exactly by a two-pass interval walk (no LP), and a local search withholds a parent where
that frees two or more cells below it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from geo.disclosure.table import _INF, _cell_costs, _Table, _Tree


def _tree_intervals(
    parent: np.ndarray, depth: np.ndarray, known: np.ndarray, val: np.ndarray, missing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Feasible interval of every cell of a one-variable tree table, from published cells only.

    Two passes of interval messages (up: what the subtree allows; down: what the rest allows).
    On a tree of sums this is exact: each cell splits the system into two independent parts.
    """
    n = len(parent)
    has_parent = parent >= 0
    kids = np.flatnonzero(has_parent)
    n_kids = np.bincount(parent[kids], minlength=n)
    miss_kids = np.bincount(parent[kids], weights=missing[kids].astype(float), minlength=n)
    rel_ok = (n_kids > 0) & ~missing & (miss_kids == 0)
    v = val.astype(float)
    lo = np.where(known, v, 0.0)
    hi = np.where(known, v, _INF)
    max_depth = int(depth.max()) if n else 0
    by_depth = [np.flatnonzero(depth == d) for d in range(max_depth + 1)]
    for d in range(max_depth - 1, -1, -1):
        ch = by_depth[d + 1]
        slo = np.bincount(parent[ch], weights=lo[ch], minlength=n)
        ninf = np.bincount(parent[ch], weights=np.isinf(hi[ch]).astype(float), minlength=n)
        shi = np.bincount(parent[ch], weights=np.where(np.isinf(hi[ch]), 0.0, hi[ch]), minlength=n)
        nodes = by_depth[d]
        upd = nodes[rel_ok[nodes] & ~known[nodes]]
        lo[upd] = slo[upd]
        hi[upd] = np.where(ninf[upd] > 0, _INF, shi[upd])
    # top-down: what everything outside a node's subtree allows
    tlo = np.zeros(n)
    thi = np.full(n, _INF)
    slo = np.bincount(parent[kids], weights=lo[kids], minlength=n)
    ninf = np.bincount(parent[kids], weights=np.isinf(hi[kids]).astype(float), minlength=n)
    finite_hi = np.where(np.isinf(hi[kids]), 0.0, hi[kids])
    shi = np.bincount(parent[kids], weights=finite_hi, minlength=n)
    for d in range(1, max_depth + 1):
        ch = by_depth[d]
        q = parent[ch]
        ok = rel_ok[q]
        ch, q = ch[ok], q[ok]
        plo = np.where(known[q], v[q], np.maximum(tlo[q], 0.0))
        phi = np.where(known[q], v[q], thi[q])
        own_inf = np.isinf(hi[ch])
        others_inf = (ninf[q] - own_inf) > 0
        others_hi = np.where(others_inf, _INF, shi[q] - np.where(own_inf, 0.0, hi[ch]))
        others_lo = slo[q] - lo[ch]
        with np.errstate(invalid="ignore"):
            tlo[ch] = plo - others_hi
            thi[ch] = phi - others_lo
    flo = np.maximum(np.maximum(lo, tlo), 0.0)
    fhi = np.minimum(hi, thi)
    flo[known] = v[known]
    fhi[known] = v[known]
    return flo, fhi


def _greedy_tree(
    tree: _Tree,
    x: Any,
    missing: Any,
    withheld_arr: np.ndarray,
    primary: Any,
    width: int,
) -> None:
    """Withhold secondary cells of a one-variable tree table in place.

    For a withheld cell c, ``U[c]``/``D[c]`` is how far its subtree lets it move up/down (capped
    at ``width``). A cell's need is a list of constraints ``(a, b, g, d)`` meaning
    ``min(a, b + Aup) + min(g, d + Adown) >= width`` where ``Aup``/``Adown`` is what its
    sibling group (and a withheld parent) lets it move; a primary cell starts with
    ``(U, 0, D, 0)``. Groups are solved from the finest level up; a group that cannot be
    solved withholds its parent and lifts the unmet constraints onto it.
    """
    n = len(x)
    children = tree.children
    par = tree.parent
    parent = par.tolist()
    W = width
    kids_idx = np.flatnonzero(par >= 0)
    n_kids = np.bincount(par[kids_idx], minlength=n)
    miss_kids = np.bincount(par[kids_idx], weights=missing[kids_idx], minlength=n)
    ok_arr = (n_kids > 0) & ~missing & (miss_kids == 0)
    rel_ok = ok_arr.tolist()
    U = np.where(ok_arr, 0, W).tolist()
    D = np.where(ok_arr, 0, np.clip(x, 0, W)).tolist()
    internal = np.flatnonzero(ok_arr)
    order = internal[np.lexsort((internal, -tree.depth[internal]))].tolist()
    x = x.tolist()
    missing = missing.tolist()
    withheld = withheld_arr.tolist()
    primary = primary.tolist()
    lifted: dict[int, list[tuple[int, int, int, int]]] = {}
    is_total = (tree.depth == 0).tolist()

    def refresh(v: int) -> None:
        if rel_ok[v]:
            su = sd = 0
            for c in children[v]:
                if withheld[c]:
                    su += U[c]
                    sd += D[c]
            U[v] = min(su, W)
            D[v] = min(x[v], sd, W)
        else:
            U[v] = W
            D[v] = min(max(x[v], 0), W)

    def plan(t: int) -> list[int]:
        """Cells to withhold so that t can move: t and, if its subtree is closed, one child."""
        if not rel_ok[t] or any(withheld[c] for c in children[t]):
            return [t]
        kids = children[t]
        big = [c for c in kids if x[c] >= W]
        pick = min(big, key=lambda c: (x[c], c)) if big else max(kids, key=lambda c: (x[c], -c))
        return [t, *plan(pick)]

    def apply(cells: list[int]) -> None:
        for c in cells:
            withheld[c] = True
        for c in reversed(cells):
            refresh(c)

    def constraints(c: int) -> list[tuple[int, int, int, int]]:
        out = list(lifted.get(c, ()))
        if primary[c]:
            out.append((U[c], 0, D[c], 0))
        return out

    def open_below(c: int) -> None:
        """A primary cell whose own subtree pins it down: withhold its cheapest child."""
        kids = [k for k in children[c] if not withheld[k]] if rel_ok[c] else []
        if not kids:
            return
        best = min(kids, key=lambda k: (len(plan(k)), x[k], k))
        apply(plan(best))
        refresh(c)

    for v in order:
        kids = children[v]
        held = [c for c in kids if withheld[c]]
        if not held:
            continue
        holders = [c for c in held if primary[c] or c in lifted]
        if not holders:
            refresh(v)
            continue
        for c in holders:
            if primary[c] and U[c] + D[c] < W and rel_ok[c]:
                open_below(c)  # changes only c's subtree: ``held`` stays as it is
        # U and D of the holders stay fixed while the group is solved: each constraint is
        # (a, b - D[c], g, d - U[c]) against the group's sums, equal ones counted together
        shifted = []
        for c in holders:
            dc, uc = D[c], U[c]
            if c in lifted:
                shifted += [(a, b - dc, g, d - uc) for a, b, g, d in lifted[c]]
            if primary[c]:
                shifted.append((uc, -dc, dc, -uc))
        terms = list(Counter(shifted).items()) if len(shifted) > 4 else [(k, 1) for k in shifted]

        def deficit(sd: int, su: int, terms: list = terms) -> int:
            total = 0
            for (a, b, g, d), k in terms:
                up, down = b + sd, d + su
                w = (a if a < up else up) + (g if g < down else down)
                if w < W:
                    total += (W - w) * k
            return total

        sd = sum([D[c] for c in held])
        su = sum([U[c] for c in held])
        cur = deficit(sd, su)
        added: list[int] = []
        while cur > 0:
            best_key, best_plan = None, None
            after: dict[tuple[int, int], int] = {}  # deficit by (dt, ut) in this round
            for t in kids:
                if withheld[t]:
                    continue
                if rel_ok[t]:
                    cells = plan(t)
                    last = cells[-1]
                    if rel_ok[last]:
                        dt, ut = D[last], U[last]
                    else:
                        dt, ut = min(x[last], W), W
                    for c in cells[:-1]:
                        dt = min(dt, x[c])
                else:  # plan(t) is t alone
                    cells = [t]
                    dt, ut = min(x[t], W), W
                if dt <= 0 and ut <= 0:
                    continue
                new = after.get((dt, ut), -1)
                if new < 0:
                    new = after[(dt, ut)] = deficit(sd + dt, su + ut)
                if new >= cur:
                    continue
                value = sum(x[c] for c in cells)
                key = (
                    new > 0,
                    is_total[t],
                    len(cells) / (cur - new) if new > 0 else len(cells),
                    value,
                    t,
                )
                if best_key is None or key < best_key:
                    best_key, best_plan = key, cells
            if best_plan is None:
                break
            apply(best_plan)
            added += best_plan
            sd = sum(D[c] for c in kids if withheld[c])
            su = sum(U[c] for c in kids if withheld[c])
            cur = deficit(sd, su)
        if cur > 0:
            for c in added:  # partial fixes are not worth their cost: lift instead
                withheld[c] = False
            for c in reversed(added):
                refresh(c)
            sd = sum(D[c] for c in kids if withheld[c])
            su = sum(U[c] for c in kids if withheld[c])
            top = parent[v] < 0 or not rel_ok[parent[v]]
            cons = [(c, k) for c in holders for k in constraints(c)]
            unmet = []
            for c, (a, b, g, d) in cons:
                up, down = sd - D[c], su - U[c]
                if min(a, b + up) + min(g, d + down) < W:
                    unmet.append(
                        (a, min(W, b + up), min(g, d + down + x[v], W), min(W, d + down))
                    )
            if top:
                if any(a + g >= W for a, _, g, _ in unmet):
                    withheld[v] = True
            else:
                withheld[v] = True
                lifted.setdefault(v, []).extend(unmet)
        refresh(v)
    withheld_arr[:] = withheld


def _block_top(tree: _Tree, withheld: np.ndarray, node: int) -> int:
    """The nearest published strict ancestor of the withheld chain above ``node`` (or the root).

    On a tree, the cells whose intervals depend on ``node`` all lie under it.
    """
    top = node
    while tree.parent[top] >= 0 and withheld[tree.parent[top]]:
        top = int(tree.parent[top])
    return int(tree.parent[top]) if tree.parent[top] >= 0 else top


def _block_ok(table: _Table, withheld: np.ndarray, need: np.ndarray, width: int, cell: int) -> bool:
    """After publishing ``cell`` on a tree: are the cells that depended on it still protected?

    They lie under the block top; only the top, ``cell``, withheld cells and their children
    take part, because a published cell separates everything under it from the rest.
    """
    tree = table.tree
    top = _block_top(tree, withheld, cell)
    children = tree.children
    nodes = [top]
    spans = []  # (node, first, end): the positions of a node's children, breadth first
    for i, v in enumerate(nodes):
        if (v == top or v == cell or withheld[v]) and children[v]:
            spans.append((i, len(nodes), len(nodes) + len(children[v])))
            nodes.extend(children[v])
    held = withheld[nodes].tolist()
    needed = [i for i, n in enumerate((need[nodes] & withheld[nodes]).tolist()) if n]
    if not needed:
        return True
    return _walk_ok(table, nodes, spans, held, needed, width)


def _walk_ok(table: _Table, nodes: list[int], spans: list[tuple[int, int, int]],
             held: list[bool], needed: list[int], width: int) -> bool:
    """``_tree_intervals`` on a small block in plain Python: are ``needed`` wide enough?"""
    missing = table.missing[nodes].tolist()
    val = np.maximum(table.x[nodes], 0).astype(float).tolist()
    known = [not h and not m for h, m in zip(held, missing, strict=True)]
    spans = [(i, a, b) for i, a, b in spans if not missing[i] and not any(missing[a:b])]
    lo = [v if k else 0.0 for v, k in zip(val, known, strict=True)]
    hi = [v if k else _INF for v, k in zip(val, known, strict=True)]
    for i, a, b in reversed(spans):  # up: what each subtree allows (children first)
        if not known[i]:
            lo[i] = sum(lo[a:b])
            his = hi[a:b]
            hi[i] = _INF if _INF in his else sum(his)
    tlo = [0.0] * len(nodes)
    thi = [_INF] * len(nodes)
    for q, a, b in spans:  # down: what everything outside a node's subtree allows
        plo = val[q] if known[q] else max(tlo[q], 0.0)
        phi = val[q] if known[q] else thi[q]
        slo = sum(lo[a:b])
        his = hi[a:b]
        n_inf = his.count(_INF)
        shi = sum(h for h in his if h != _INF) if n_inf else sum(his)
        for c in range(a, b):
            own_inf = hi[c] == _INF
            tlo[c] = plo - (_INF if n_inf - own_inf > 0 else shi - (0.0 if own_inf else hi[c]))
            thi[c] = phi - (slo - lo[c])
    for i in needed:
        if not min(hi[i], thi[i]) - max(lo[i], tlo[i], 0.0) >= width - 1e-9:
            return False
    return True


def _improve(
    table: _Table, withheld: np.ndarray, need: np.ndarray, width: int, fixed: np.ndarray
) -> None:
    """Local search on a tree: withhold a parent if that frees two or more secondary cells.

    The bottom-up pass fixes a group with its own cells before it knows whether the parent
    will be withheld anyway for the level above; this swaps such choices. ``fixed`` cells
    (forced by an earlier release) are never freed.
    """
    tree = table.tree
    cost = _cell_costs(table)
    # no step before t (nodes go by depth) changes t's children: which t have a freeable
    # child is known up front; whether t itself is withheld is not
    below = np.flatnonzero(tree.parent >= 0)
    free = (withheld & ~need & ~fixed)[below]
    has_free = np.bincount(tree.parent[below][free], minlength=tree.size) > 0
    for t in np.flatnonzero(has_free & ~table.missing & (tree.parent >= 0)).tolist():
        if withheld[t]:
            continue
        kids = tree.children[t]
        family = [*kids, *tree.children[int(tree.parent[t])]]
        pool = sorted(
            {c for c in family if withheld[c] and not need[c] and not fixed[c] and c != t},
            key=lambda c: (-cost[c], c),
        )
        withheld[t] = True
        removed = []
        for c in pool:
            withheld[c] = False
            if _block_ok(table, withheld, need, width, c):
                removed.append(c)
            else:
                withheld[c] = True
        if len(removed) < 2:
            withheld[removed] = True
            withheld[t] = False
