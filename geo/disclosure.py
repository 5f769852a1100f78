"""Disclosure control: primary suppression, secondary suppression and the attacker audit.

The model (see docs/DISCLOSURE.md). A *table* is one year and one group of variables linked
by declared sums. Its cells are (area, variable); its relations are "parent = sum of its
children" per variable and "sum total = sum of its parts" per area. Published cells are
constants; withheld cells are unknowns >= 0. The attacker's knowledge of a withheld cell is its
feasible interval over all such solutions. A primary cell is protected when that interval is at
least ``protection`` wide.

A relation that contains a missing cell is dropped: the missing cell is a free unknown. Because
aggregation makes every ancestor of a missing cell missing too, dropping is exact on the area
hierarchy; for a declared sum with a missing part and a present total it forgets the inequality
"known parts <= total" (documented limit).

Secondary suppression on a tree (no sums) is a bottom-up pass over sibling groups that uses the
up-/down-move certificate (flows along the tree); a group that cannot protect its cells on its
own withholds its parent and hands the remaining need one level up. Each tree table is then
audited exactly by a two-pass interval walk (no LP), any cell still under-protected is repaired,
unnecessary secondary cells are published again and a local search withholds a parent where
that frees two or more cells below it.

Linked tables (variables tied by declared sums) start from the primary cells. Every primary cell
is checked by an attacker LP (HiGHS) on its neighbourhood with all other cells fixed, which can
only understate its width (a cheap sufficient test), and by the exact LP over its block of
withheld cells where that test fails. A cell still too narrow is repaired by a min-cost move LP:
an up- and a down-move of total size ``protection`` that may pass only through withheld cells
or through published cells it pays to open; the cells it opens are withheld, which proves the
protection. Unnecessary secondary cells are published again at the end.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

from geo.errors import DisclosureError

MIN_COUNT = 3
"""Values 1..MIN_COUNT-1 of a sensitive variable are withheld (primary suppression)."""
PROTECTION = 3
"""Protection width: an outsider's interval for a primary cell must be at least this wide."""

TOTAL_LEVEL = "total"
_KEY = ["level", "area_id", "variable", "year"]
_INF = math.inf
_LP_BATCH = 20_000  # variables per batched LP
_LOCAL_RADIUS = 3  # tree distance of the neighbourhood a local attacker LP frees


# --------------------------------------------------------------------------------------------
# Area tree and cell cube
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tree:
    """The area hierarchy, nodes ordered by depth then area_id (node 0 is the total)."""

    level: np.ndarray  # str per node
    area_id: np.ndarray  # str per node
    parent: np.ndarray  # int per node, -1 for the total
    depth: np.ndarray  # int per node
    children: list[list[int]]
    index: pd.MultiIndex  # (level, area_id) -> node
    level_rank: dict[str, int]

    @property
    def size(self) -> int:
        return len(self.parent)


def _level_order(lv: np.ndarray, ids: np.ndarray, pid: np.ndarray) -> list[str]:
    """Levels coarsest first, following parent ids down from the total (row order as fallback)."""
    names = [str(n) for n in pd.unique(lv) if n != TOTAL_LEVEL]
    order = [TOTAL_LEVEL]
    while len(order) <= len(names):
        above = set(ids[lv == order[-1]].tolist())
        nxt = [n for n in names if n not in order and set(pid[lv == n].tolist()) <= above]
        if not nxt:
            return [TOTAL_LEVEL, *names]
        order.append(nxt[0])
    return order


def _build_tree(areas: pd.DataFrame) -> _Tree:
    missing = {"level", "area_id", "parent_id"} - set(areas.columns)
    if missing:
        raise DisclosureError(f"areas: missing columns {sorted(missing)}")
    lv = areas["level"].astype(str).to_numpy()
    ids = areas["area_id"].astype(str).to_numpy()
    pid = areas["parent_id"].fillna("").astype(str).to_numpy()
    if (lv == TOTAL_LEVEL).sum() != 1:
        raise DisclosureError(f"areas: expected exactly one row with level '{TOTAL_LEVEL}'")
    levels = _level_order(lv, ids, pid)
    rank = {name: i for i, name in enumerate(levels)}
    depth = np.array([rank[v] for v in lv], dtype=np.int64)
    order = np.lexsort((ids, depth))
    lv, ids, pid, depth = lv[order], ids[order], pid[order], depth[order]
    index = pd.MultiIndex.from_arrays([lv, ids], names=["level", "area_id"])
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise DisclosureError(f"areas: duplicate area {dup[0]}/{dup[1]}")
    parent_level = np.array([levels[d - 1] if d > 0 else "" for d in depth], dtype=object)
    parent = index.get_indexer(pd.MultiIndex.from_arrays([parent_level, pid]))
    parent[0] = -1
    bad = np.flatnonzero(parent[1:] < 0) + 1
    if len(bad):
        i = bad[0]
        raise DisclosureError(
            f"areas: parent '{pid[i]}' of {lv[i]}/{ids[i]} is not an area of level "
            f"'{parent_level[i]}'"
        )
    children: list[list[int]] = [[] for _ in range(len(parent))]
    for child, par in enumerate(parent.tolist()):
        if par >= 0:
            children[par].append(child)
    return _Tree(lv, ids, parent, depth, children, index, rank)


def _nodes_of(tree: _Tree, level: pd.Series, area_id: pd.Series) -> np.ndarray:
    """Node of every (level, area_id) pair; -1 where unknown. Factorizes before looking up."""
    lc, lu = pd.factorize(level.astype("string"))
    ac, au = pd.factorize(area_id.astype("string"))
    pc, pu = pd.factorize(lc.astype(np.int64) * max(len(au), 1) + ac)
    lv = np.asarray(lu, dtype=object)[pu // max(len(au), 1)].astype(str)
    ids = np.asarray(au, dtype=object)[pu % max(len(au), 1)].astype(str)
    node_u = tree.index.get_indexer(pd.MultiIndex.from_arrays([lv, ids]))
    return np.asarray(node_u, dtype=np.int64)[pc] if len(pc) else np.zeros(0, dtype=np.int64)


@dataclass
class _Cube:
    """Cells as arrays ``[year, variable, node]``; ``x`` is -1 where missing."""

    tree: _Tree
    variables: list[str]
    years: list[int]
    x: np.ndarray
    present: np.ndarray  # cell exists in the input frame
    rows: np.ndarray  # flat cube position of every input row


def _build_cube(cells: pd.DataFrame, tree: _Tree, variables: Sequence[str]) -> _Cube:
    missing = set(_KEY + ["value"]) - set(cells.columns)
    if missing:
        raise DisclosureError(f"cells: missing columns {sorted(missing)}")
    node = _nodes_of(tree, cells["level"], cells["area_id"])
    if (node < 0).any():
        row = cells.iloc[int(np.flatnonzero(node < 0)[0])]
        raise DisclosureError(f"cells: area {row['level']}/{row['area_id']} is not in areas")
    vcodes, vuniq = pd.factorize(cells["variable"].astype("string"))
    var_list = list(dict.fromkeys([*variables, *(str(v) for v in vuniq)]))
    vpos = {v: i for i, v in enumerate(var_list)}
    vcode = np.array([vpos[str(v)] for v in vuniq], dtype=np.int64)[vcodes]
    year_values = cells["year"].to_numpy(dtype=np.int64)
    years = sorted(set(np.unique(year_values).tolist()))
    ycode = np.searchsorted(np.array(years, dtype=np.int64), year_values)
    n_nodes, n_vars = tree.size, len(var_list)
    flat = (ycode * n_vars + vcode) * n_nodes + node
    size = len(years) * n_vars * n_nodes
    if len(flat) and np.bincount(flat, minlength=size).max() > 1:
        dup = cells.iloc[int(np.flatnonzero(pd.Series(flat).duplicated().to_numpy())[0])]
        raise DisclosureError(
            f"cells: duplicate cell {dup['level']}/{dup['area_id']} {dup['variable']} {dup['year']}"
        )
    vals = pd.array(cells["value"], dtype="Int64")
    if (vals.fillna(0) < 0).any():
        raise DisclosureError("cells: negative counts cannot be protected")
    x = np.full(len(years) * n_vars * n_nodes, -1, dtype=np.int64)
    x[flat] = vals.fillna(-1).to_numpy(dtype=np.int64)
    present = np.zeros(x.shape, dtype=bool)
    present[flat] = True
    shape = (len(years), n_vars, n_nodes)
    return _Cube(tree, var_list, years, x.reshape(shape), present.reshape(shape), flat)


def _variable_groups(variables: list[str], sums: Iterable[Any]) -> list[tuple[list[int], list]]:
    """Variables linked by declared sums, as (variable codes, sum rules) per group."""
    pos = {v: i for i, v in enumerate(variables)}
    root = list(range(len(variables)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    rules = []
    for rule in sums:
        names = [rule.total, *rule.parts]
        if not all(n in pos for n in names):
            continue
        codes = [pos[n] for n in names]
        rules.append((codes[0], tuple(codes[1:])))
        for c in codes[1:]:
            root[find(c)] = find(codes[0])
    groups: dict[int, list[int]] = {}
    for i in range(len(variables)):
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in sorted(groups.values()):
        member_set = set(members)
        out.append((members, [r for r in rules if r[0] in member_set]))
    return out


# --------------------------------------------------------------------------------------------
# One table as a linear system
# --------------------------------------------------------------------------------------------


@dataclass
class _Table:
    """One (year, variable group) table; cells are flattened ``j * n_nodes + node``."""

    tree: _Tree
    var_codes: list[int]
    rules: list[tuple[int, tuple[int, ...]]]
    x: np.ndarray  # value, -1 missing
    missing: np.ndarray

    @cached_property
    def relations(self) -> sp.csr_matrix:
        return _relations(self.tree, self.var_codes, self.rules, self.missing)

    @property
    def n_nodes(self) -> int:
        return self.tree.size

    @property
    def is_tree(self) -> bool:
        return len(self.var_codes) == 1 and not self.rules


def _relations(
    tree: _Tree, var_codes: list[int], rules: list[tuple[int, tuple[int, ...]]], missing: np.ndarray
) -> sp.csr_matrix:
    """Relation matrix (rows sum to zero on true values); rows touching a missing cell dropped."""
    n = tree.size
    nv = len(var_codes)
    local = {v: j for j, v in enumerate(var_codes)}
    internal = np.array([i for i in range(n) if tree.children[i]], dtype=np.int64)
    row_of = np.full(n, -1, dtype=np.int64)
    row_of[internal] = np.arange(len(internal))
    kids = np.flatnonzero(tree.parent >= 0)
    r_list, c_list, v_list = [], [], []
    for j in range(nv):
        base = j * len(internal)
        r_list += [base + row_of[internal], base + row_of[tree.parent[kids]]]
        c_list += [j * n + internal, j * n + kids]
        v_list += [np.ones(len(internal)), -np.ones(len(kids))]
    n_rows = nv * len(internal)
    for total, parts in rules:
        nodes = np.arange(n)
        r_list.append(n_rows + nodes)
        c_list.append(local[total] * n + nodes)
        v_list.append(np.ones(n))
        for part in parts:
            r_list.append(n_rows + nodes)
            c_list.append(local[part] * n + nodes)
            v_list.append(-np.ones(n))
        n_rows += n
    rows = np.concatenate(r_list) if r_list else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(c_list) if c_list else np.zeros(0, dtype=np.int64)
    vals = np.concatenate(v_list) if v_list else np.zeros(0)
    mat = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, nv * n))
    touched = np.asarray(mat.astype(bool).astype(np.int64) @ missing.astype(np.int64)).ravel()
    keep = np.flatnonzero(touched == 0)
    return mat[keep]


# --------------------------------------------------------------------------------------------
# Exact intervals on a tree (published values only)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Exact intervals on linked tables (LP per connected block of withheld cells)
# --------------------------------------------------------------------------------------------


def _lp_intervals(
    relations: sp.csr_matrix, known: np.ndarray, val: np.ndarray, cells: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Feasible intervals of the withheld ``cells`` by LP (HiGHS), one block at a time.

    Withheld cells are linked when they share a relation; blocks are independent because
    everything between them is a published constant.
    """
    n = relations.shape[1]
    lo = np.zeros(len(cells))
    hi = np.full(len(cells), _INF)
    if len(cells) == 0:
        return lo, hi
    unknown = ~known
    rel = relations.tocsc()
    w_cols = np.flatnonzero(unknown)
    col_pos = np.full(n, -1)
    col_pos[w_cols] = np.arange(len(w_cols))
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
    want = col_pos[cells]
    label_w = label[want]
    cap = 4.0 * float(np.abs(val[known]).sum()) + 1000.0
    batch: list[tuple[sp.csr_matrix, np.ndarray, int, np.ndarray]] = []
    size = 0
    for comp in np.unique(label_w):
        rows = np.flatnonzero(label[k:] == comp)
        if len(rows) == 0:
            continue  # a withheld cell in no relation: [0, inf)
        vars_ = np.flatnonzero(label[:k] == comp)
        sub = a_w[rows][:, vars_]
        local = np.full(k, -1)
        local[vars_] = np.arange(len(vars_))
        for t in np.flatnonzero(label_w == comp):
            batch.append((sub, rhs[rows], int(local[want[t]]), np.array([t])))
            size += len(vars_)
            if size >= _LP_BATCH:
                _solve_batch(batch, cap, lo, hi)
                batch, size = [], 0
    if batch:
        _solve_batch(batch, cap, lo, hi)
    return lo, hi


def _solve_batch(
    batch: list[tuple[sp.csr_matrix, np.ndarray, int, np.ndarray]],
    cap: float,
    lo: np.ndarray,
    hi: np.ndarray,
) -> None:
    """Min and max of one target per block, all blocks in one block-diagonal LP per sense.

    The blocks share no variable, so the optimum of the summed objective is the optimum of
    every block: one HiGHS call replaces one call per cell.
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
                _solve_batch([blk], cap, lo, hi)
            return
        t = batch[0][3]
        lo[t], hi[t] = _INF, -_INF  # published figures contradict the relations
        return
    for (_, _, _, t), p in zip(batch, pos, strict=True):
        lo[t] = max(0.0, float(res_lo.x[p]))
        top = float(res_hi.x[p])
        hi[t] = _INF if top >= cap * 0.5 else top


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


# --------------------------------------------------------------------------------------------
# Secondary suppression: bottom-up group pass on a tree (network certificate)
# --------------------------------------------------------------------------------------------


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
    is_total = [d == 0 for d in tree.depth.tolist()]

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
        if not any(withheld[c] for c in kids):
            continue
        holders = [c for c in kids if withheld[c] and (primary[c] or c in lifted)]
        if not holders:
            refresh(v)
            continue
        for c in holders:
            if primary[c] and U[c] + D[c] < W and rel_ok[c]:
                open_below(c)
        cons = [(c, k) for c in holders for k in constraints(c)]

        def deficit(sd: int, su: int, cons: list = cons) -> int:
            total = 0
            for c, (a, b, g, d) in cons:
                w = min(a, b + sd - D[c]) + min(g, d + su - U[c])
                if w < W:
                    total += W - w
            return total

        sd = sum(D[c] for c in kids if withheld[c])
        su = sum(U[c] for c in kids if withheld[c])
        cur = deficit(sd, su)
        added: list[int] = []
        while cur > 0:
            best_key, best_plan = None, None
            for t in kids:
                if withheld[t]:
                    continue
                cells = plan(t)
                last = cells[-1]
                if rel_ok[last]:
                    dt, ut = D[last], U[last]
                else:
                    dt, ut = min(x[last], W), W
                for c in cells[:-1]:
                    dt = min(dt, x[c])
                if dt <= 0 and ut <= 0:
                    continue
                new = deficit(sd + dt, su + ut)
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


# --------------------------------------------------------------------------------------------
# Repair: min-cost move LP for one under-protected cell (any table)
# --------------------------------------------------------------------------------------------


def _neighbourhood(tree: _Tree, node: int, radius: int) -> np.ndarray:
    seen = {node}
    frontier = [node]
    for _ in range(radius):
        nxt = []
        for a in frontier:
            near = list(tree.children[a])
            if tree.parent[a] >= 0:
                near.append(int(tree.parent[a]))
            for b in near:
                if b not in seen:
                    seen.add(b)
                    nxt.append(b)
        frontier = nxt
    return np.array(sorted(seen), dtype=np.int64)


def _cell_costs(table: _Table) -> np.ndarray:
    """Cost of withholding a cell: 1 per cell, then value, the total row dearest."""
    if "_cost" in table.__dict__:
        return table.__dict__["_cost"]
    x = np.maximum(table.x, 0).astype(float)
    scale = 1.0 / (2.0 * (x.max() + 1.0))
    total = np.tile(table.tree.depth == 0, len(table.var_codes))
    table.__dict__["_cost"] = 1.0 + x * scale + total * 1000.0
    return table.__dict__["_cost"]


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


# --------------------------------------------------------------------------------------------
# Protecting one table
# --------------------------------------------------------------------------------------------


def _near_cells(table: _Table, node: int, radius: int) -> np.ndarray:
    """Non-missing cells of all variables of the areas within ``radius`` of ``node``."""
    key = (node, radius)
    cache = table.__dict__.setdefault("_near", {})
    if key not in cache:
        nodes = _neighbourhood(table.tree, node, radius)
        cols = np.concatenate([j * table.n_nodes + nodes for j in range(len(table.var_codes))])
        cache[key] = np.sort(cols[~table.missing[cols]])
    return cache[key]


def _local_widths(
    table: _Table, withheld: np.ndarray, cells: np.ndarray, radius: int = _LOCAL_RADIUS
) -> np.ndarray:
    """Lower bounds of the interval widths of ``cells`` (used only inside ``protect``).

    Each cell gets an attacker LP in which only the withheld cells near it are unknown and
    every other cell is fixed at its true value. The attacker then knows more than in reality,
    so a width found here is never wider than the true one: a cell protected locally is
    protected. All cells' LPs are solved together as one block-diagonal LP.
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
    for k, cell in enumerate(cells.tolist()):
        near = _near_cells(table, cell % table.n_nodes, radius)
        cols = near[withheld[near]]
        sub = rel[:, cols]
        rows = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)
        if not len(rows):
            continue  # in no relation: [0, inf)
        a = sub.tocsr()[rows]
        i = int(np.searchsorted(cols, cell))
        batch.append((a, a @ x[cols], i, np.array([k])))
        size += len(cols)
        if size >= _LP_BATCH:
            _solve_batch(batch, cap, lo, hi)
            batch, size = [], 0
    if batch:
        _solve_batch(batch, cap, lo, hi)
    return hi - lo


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


def _exact_widths(table: _Table, withheld: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Exact interval widths of withheld ``cells``, one LP block per block of withheld cells.

    Same answer as ``_lp_intervals`` but only the blocks of the given cells are built.
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
    for start in range(0, len(batch), 64):
        _solve_batch(batch[start : start + 64], cap, lo, hi)
    return hi - lo


def _prune(table: _Table, withheld: np.ndarray, need: np.ndarray, width: int) -> None:
    """Publish again each secondary cell (dearest first) whose withholding is not needed."""
    secondary = np.flatnonzero(withheld & ~need)
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


def _rel_views(table: _Table) -> tuple[sp.csr_matrix, sp.csc_matrix]:
    """The relation matrix by rows and by columns (cached on the table)."""
    cache = table.__dict__
    if "_csr" not in cache:
        cache["_csr"] = table.relations.tocsr()
        cache["_csc"] = table.relations.tocsc()
    return cache["_csr"], cache["_csc"]


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


def _block_top(tree: _Tree, withheld: np.ndarray, node: int) -> int:
    """The nearest published strict ancestor of the withheld chain above ``node`` (or the root).

    On a tree, the cells whose intervals depend on ``node`` all lie under it.
    """
    top = node
    while tree.parent[top] >= 0 and withheld[tree.parent[top]]:
        top = int(tree.parent[top])
    return int(tree.parent[top]) if tree.parent[top] >= 0 else top


def _improve(table: _Table, withheld: np.ndarray, need: np.ndarray, width: int) -> None:
    """Local search on a tree: withhold a parent if that frees two or more secondary cells.

    The bottom-up pass fixes a group with its own cells before it knows whether the parent
    will be withheld anyway for the level above; this swaps such choices.
    """
    tree = table.tree
    cost = _cell_costs(table)
    for t in range(tree.size):
        kids = tree.children[t]
        if (
            withheld[t]
            or table.missing[t]
            or tree.parent[t] < 0
            or not kids
            or not any(withheld[c] and not need[c] for c in kids)
        ):
            continue
        family = [*kids, *tree.children[int(tree.parent[t])]]
        pool = sorted(
            {c for c in family if withheld[c] and not need[c] and c != t},
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


def _block_ok(table: _Table, withheld: np.ndarray, need: np.ndarray, width: int, cell: int) -> bool:
    """After publishing ``cell`` on a tree: are the cells that depended on it still protected?

    They lie under the block top; only the top, ``cell``, withheld cells and their children
    take part, because a published cell separates everything under it from the rest.
    """
    top = _block_top(table.tree, withheld, cell)
    tree = table.tree
    nodes = [top]
    i = 0
    while i < len(nodes):
        v = nodes[i]
        if v == top or v == cell or withheld[v]:
            nodes.extend(tree.children[v])
        i += 1
    idx = np.array(nodes, dtype=np.int64)
    mask = need[idx] & withheld[idx]
    if not mask.any():
        return True
    pos = np.full(tree.size, -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx))
    parent = pos[np.maximum(tree.parent[idx], 0)]
    parent[0] = -1
    depth = tree.depth[idx] - tree.depth[top]
    known = ~withheld[idx] & ~table.missing[idx]
    lo, hi = _tree_intervals(parent, depth, known, np.maximum(table.x[idx], 0), table.missing[idx])
    return bool(np.all(hi[mask] - lo[mask] >= width - 1e-9))


def _protect_table(table: _Table, primary: np.ndarray, width: int, prune: bool) -> np.ndarray:
    """Withheld mask (primary + secondary) of one table."""
    n_nodes = table.n_nodes
    withheld = primary.copy()
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
        _prune(table, withheld, primary, width)
        if table.is_tree:
            _improve(table, withheld, primary, width)
    return withheld


def _protect_chunk(payload: tuple) -> list[np.ndarray]:
    tree, jobs, width, prune = payload
    out = []
    for var_codes, rules, x, primary in jobs:
        table = _Table(tree, var_codes, rules, x, x < 0)
        out.append(_protect_table(table, primary, width, prune))
    return out


# --------------------------------------------------------------------------------------------
# Primary suppression
# --------------------------------------------------------------------------------------------


def _primary(cube: _Cube, catalogue: Any, min_count: int) -> np.ndarray:
    sens = {v.id: bool(v.sensitive) for v in catalogue.variables}
    sensitive = np.array([sens.get(v, True) for v in cube.variables])
    x = cube.x
    small = (x >= 1) & (x <= min_count - 1) & sensitive[None, :, None]
    pos = {v: i for i, v in enumerate(cube.variables)}
    for ind in catalogue.indicators:
        if getattr(ind, "kind", "proportion") != "proportion":
            continue
        if ind.numerator not in pos or ind.denominator not in pos:
            continue
        if not sens.get(ind.numerator, True):
            continue
        num, den = x[:, pos[ind.numerator], :], x[:, pos[ind.denominator], :]
        gap = den - num
        small[:, pos[ind.numerator], :] |= (num >= 0) & (den >= 0) & (gap >= 1) & (
            gap <= min_count - 1
        )
    return small


def _check_sums(cube: _Cube, catalogue: Any) -> None:
    pos = {v: i for i, v in enumerate(cube.variables)}
    problems = []
    for rule in getattr(catalogue, "sums", ()):
        if rule.total not in pos or not all(p in pos for p in rule.parts):
            continue
        tot = cube.x[:, pos[rule.total], :]
        parts = cube.x[:, [pos[p] for p in rule.parts], :]
        ok = (tot < 0) | (parts < 0).any(axis=1) | (tot == parts.sum(axis=1))
        for y, node in zip(*np.nonzero(~ok), strict=True):
            problems.append(
                f"{cube.tree.level[node]}/{cube.tree.area_id[node]} {cube.years[y]}: "
                f"{rule.total} is not the sum of {' + '.join(rule.parts)}"
            )
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise DisclosureError(
            "counts violate a declared sum: " + "; ".join(problems[:10]) + more
        )


# --------------------------------------------------------------------------------------------
# Public API: protect
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Protection:
    """Result of disclosure control: one status per cell and the sign-off log."""

    status: pd.Series
    log: pd.DataFrame


def _tables(cube: _Cube, catalogue: Any, primary: np.ndarray) -> list[tuple[int, list, list]]:
    """(year code, variable codes, rules) of every table that holds a primary cell."""
    out = []
    groups = _variable_groups(cube.variables, getattr(catalogue, "sums", ()))
    for y in range(len(cube.years)):
        for var_codes, rules in groups:
            if primary[y, var_codes, :].any():
                out.append((y, var_codes, rules))
    return out


def _run_tables(
    cube: _Cube,
    jobs: list[tuple[int, list, list]],
    primary: np.ndarray,
    width: int,
    prune: bool,
    workers: int,
) -> np.ndarray:
    withheld = primary.copy()
    payload_jobs = []
    for y, var_codes, rules in jobs:
        x = cube.x[y, var_codes, :].reshape(-1).copy()
        payload_jobs.append((var_codes, rules, x, primary[y, var_codes, :].reshape(-1).copy()))
    if workers > 1 and len(payload_jobs) > 1:
        n_chunks = min(len(payload_jobs), 4 * workers)
        chunks = [payload_jobs[i::n_chunks] for i in range(n_chunks)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_protect_chunk, [(cube.tree, c, width, prune) for c in chunks]))
        results: list[Any] = [None] * len(payload_jobs)
        for i in range(n_chunks):
            results[i::n_chunks] = parts[i]
    else:
        results = _protect_chunk((cube.tree, payload_jobs, width, prune))
    for (y, var_codes, _), mask in zip(jobs, results, strict=True):
        withheld[y, var_codes, :] = mask.reshape(len(var_codes), -1)
    return withheld


def _log_frame(cube: _Cube, mask: np.ndarray, reason: str) -> pd.DataFrame:
    y, v, node = np.nonzero(mask)
    return pd.DataFrame(
        {
            "level": cube.tree.level[node].astype(str),
            "area_id": cube.tree.area_id[node].astype(str),
            "variable": np.array(cube.variables, dtype=object)[v].astype(str),
            "year": np.array(cube.years, dtype=np.int64)[y],
            "reason": reason,
            "_order": (node * len(cube.variables) + v) * len(cube.years) + y,
        }
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
) -> Protection:
    """Withhold small counts and every cell from which one can be narrowed down.

    Args:
        cells: ``level, area_id, variable, year, value`` (Int64, <NA> = missing) for every
            level including the total.
        areas: ``level, area_id, name, parent_id``.
        catalogue: variables (``id``, ``sensitive``), indicators and declared ``sums``.
        min_count: sensitive values ``1..min_count-1`` are primary.
        protection: minimal width of an outsider's interval for a primary cell.
        prune: publish again secondary cells found unnecessary at the end.
        workers: processes for independent tables (a national table needs only one).

    Returns:
        Status per cell (aligned with ``cells.index``) and the log sorted by level, area,
        variable, year.

    Raises:
        DisclosureError: inconsistent input (unknown area, duplicate cell, a violated sum).
    """
    if min_count < 1 or protection < 0:
        raise DisclosureError("min_count must be >= 1 and protection >= 0")
    tree = _build_tree(areas)
    cube = _build_cube(cells, tree, [v.id for v in catalogue.variables])
    _check_sums(cube, catalogue)
    primary = _primary(cube, catalogue, min_count)
    jobs = _tables(cube, catalogue, primary)
    if protection > 0:
        withheld = _run_tables(cube, jobs, primary, protection, prune, workers)
    else:
        withheld = primary
    flat_w = withheld.reshape(-1)[cube.rows]
    flat_x = cube.x.reshape(-1)[cube.rows]
    status = np.where(flat_x < 0, "missing", np.where(flat_w, "suppressed", "published"))
    log = pd.concat(
        [_log_frame(cube, primary, "primary"), _log_frame(cube, withheld & ~primary, "secondary")]
    )
    log = log.sort_values("_order", kind="mergesort").drop(columns="_order")
    return Protection(
        status=pd.Series(status, index=cells.index, name="status", dtype="string"),
        log=log.reset_index(drop=True),
    )


# --------------------------------------------------------------------------------------------
# Reference: exact optimum by MILP (small tables)
# --------------------------------------------------------------------------------------------


def _optimal_table(
    table: _Table, primary: np.ndarray, width: int, time_limit: float
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
) -> Protection | None:
    """Exact minimum secondary suppression by MILP (HiGHS); the reference for small inputs.

    Returns None if any table is not solved to proven optimality within ``time_limit``.
    """
    tree = _build_tree(areas)
    cube = _build_cube(cells, tree, [v.id for v in catalogue.variables])
    primary = _primary(cube, catalogue, min_count)
    withheld = primary.copy()
    for y, var_codes, rules in _tables(cube, catalogue, primary):
        x = cube.x[y, var_codes, :].reshape(-1).copy()
        table = _Table(tree, var_codes, rules, x, x < 0)
        mask = _optimal_table(table, primary[y, var_codes, :].reshape(-1), protection, time_limit)
        if mask is None:
            return None
        withheld[y, var_codes, :] = mask.reshape(len(var_codes), -1)
    flat_w = withheld.reshape(-1)[cube.rows]
    flat_x = cube.x.reshape(-1)[cube.rows]
    status = np.where(flat_x < 0, "missing", np.where(flat_w, "suppressed", "published"))
    log = pd.concat(
        [_log_frame(cube, primary, "primary"), _log_frame(cube, withheld & ~primary, "secondary")]
    )
    log = log.sort_values("_order", kind="mergesort").drop(columns="_order")
    return Protection(
        pd.Series(status, index=cells.index, name="status", dtype="string"),
        log.reset_index(drop=True),
    )


# --------------------------------------------------------------------------------------------
# Public API: audit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditReport:
    """What an outsider can compute about every withheld cell, from published figures only."""

    ok: bool
    protection: int
    intervals: pd.DataFrame  # level, area_id, variable, year, lower, upper, width, primary
    under_protected: pd.DataFrame  # the primary rows of intervals narrower than protection
    published_primary: pd.DataFrame  # primary cells that were published (must be empty)
    contradictions: int  # withheld cells whose published surroundings are inconsistent

    @property
    def n_withheld(self) -> int:
        """Number of withheld cells."""
        return len(self.intervals)

    @property
    def n_primary(self) -> int:
        """Number of withheld cells that need protection (primary)."""
        return int(self.intervals["primary"].sum())

    def format(self, limit: int = 20) -> str:
        """A plain report for the people who sign off a release (German and English)."""
        lines = [
            "Geheimhaltungsprüfung / disclosure audit",
            f"Schutzbreite / protection width: {self.protection}",
            f"Gesperrte Zellen / withheld cells: {self.n_withheld} "
            f"(davon zu schützen / needing protection: {self.n_primary})",
        ]
        verdict = "BESTANDEN / PASSED" if self.ok else "NICHT BESTANDEN / FAILED"
        lines.append(f"Ergebnis / result: {verdict}")
        if len(self.published_primary):
            lines.append(
                f"FEHLER / ERROR: {len(self.published_primary)} zu schützende Zellen sind "
                "veröffentlicht / cells needing protection are published:"
            )
            for row in self.published_primary.head(limit).itertuples():
                lines.append(f"  {row.level}/{row.area_id} {row.variable} {row.year}")
        if self.contradictions:
            lines.append(
                f"FEHLER / ERROR: {self.contradictions} gesperrte Zellen stehen im Widerspruch "
                "zu veröffentlichten Summen / withheld cells contradict published sums"
            )
        if len(self.under_protected):
            lines.append(
                f"FEHLER / ERROR: {len(self.under_protected)} Zellen zu eng eingrenzbar / "
                "cells can be narrowed too far:"
            )
            lines += _interval_lines(self.under_protected.head(limit))
        if len(self.intervals) and limit > 0:
            lines.append(
                f"Die {min(limit, len(self.intervals))} engsten Intervalle / narrowest intervals "
                "(was ein Außenstehender berechnen kann / what an outsider can compute):"
            )
            lines += _interval_lines(self.intervals.head(limit))
        lines.append(
            "Lesart / how to read: [untere, obere] Grenze, die jeder aus den veröffentlichten "
            "Zahlen ableiten kann; 'zu schützen' = muss mindestens die Schutzbreite haben. / "
            "[lower, upper] bounds anyone can derive from the published figures; cells marked "
            "'protect' must be at least the protection width wide."
        )
        return "\n".join(lines)


def _fmt_bound(v: float) -> str:
    return "∞" if math.isinf(v) else str(int(round(v)))


def _interval_lines(frame: pd.DataFrame) -> list[str]:
    out = []
    for row in frame.itertuples():
        tag = " zu schützen / protect" if row.primary else ""
        out.append(
            f"  {row.level}/{row.area_id} {row.variable} {row.year}: "
            f"[{_fmt_bound(row.lower)}, {_fmt_bound(row.upper)}] "
            f"Breite / width {_fmt_bound(row.width)}{tag}"
        )
    return out


def _as_keys(primary: Any) -> pd.DataFrame:
    if isinstance(primary, pd.DataFrame):
        frame = primary[_KEY].copy()
    else:
        frame = pd.DataFrame(list(primary), columns=_KEY)
    frame["level"] = frame["level"].astype(str)
    frame["area_id"] = frame["area_id"].astype(str)
    frame["variable"] = frame["variable"].astype(str)
    frame["year"] = frame["year"].astype(np.int64)
    return frame


def audit(
    cells: pd.DataFrame,
    areas: pd.DataFrame,
    sums: Iterable[Any],
    primary: Any,
    *,
    protection: int = PROTECTION,
) -> AuditReport:
    """Compute the outsider's exact interval of every withheld cell from published cells only.

    Args:
        cells: ``level, area_id, variable, year, value, status``; only ``value`` of
            ``published`` cells is read.
        areas: ``level, area_id, name, parent_id``.
        sums: declared sum rules (``total``, ``parts``).
        primary: cells needing protection (frame or iterable of
            ``(level, area_id, variable, year)``), e.g. the log's primary rows.
        protection: required interval width.
    """
    if "status" not in cells.columns:
        raise DisclosureError("audit: cells need a status column")
    sums = list(sums)
    tree = _build_tree(areas)
    status = cells["status"].astype(str).to_numpy()
    published = status == "published"
    frame = cells[_KEY].copy()
    frame["value"] = pd.Series(
        pd.array(cells["value"], dtype="Int64"), index=cells.index
    ).where(published, pd.NA)
    # withheld cells get a placeholder so that the cube marks them present, not missing
    frame["value"] = frame["value"].where(status != "suppressed", 0)
    cube = _build_cube(frame, tree, [])
    withheld = np.zeros(cube.x.shape, dtype=bool)
    withheld.reshape(-1)[cube.rows[status == "suppressed"]] = True
    need = np.zeros(cube.x.shape, dtype=bool)
    keys = _as_keys(primary)
    if len(keys):
        node = tree.index.get_indexer(pd.MultiIndex.from_arrays([keys["level"], keys["area_id"]]))
        vpos = {v: i for i, v in enumerate(cube.variables)}
        ypos = {y: i for i, y in enumerate(cube.years)}
        for k, (v, y) in enumerate(zip(keys["variable"], keys["year"], strict=True)):
            if node[k] >= 0 and v in vpos and int(y) in ypos:
                need[ypos[int(y)], vpos[v], node[k]] = True
    pub_primary = need & ~withheld
    records = []
    contradictions = 0
    groups = _variable_groups(cube.variables, sums)
    for y in range(len(cube.years)):
        for var_codes, rules in groups:
            w = withheld[y, var_codes, :].reshape(-1)
            if not w.any():
                continue
            x = cube.x[y, var_codes, :].reshape(-1)
            table = _Table(tree, var_codes, rules, np.where(w, 0, x), (x < 0) & ~w)
            known = ~w & ~table.missing
            cells_, lo, hi = _table_intervals(table, known, np.maximum(x, 0))
            contradictions += int(np.sum(lo > hi + 1e-9))
            node = cells_ % tree.size
            var = np.array(var_codes)[cells_ // tree.size]
            records.append(
                pd.DataFrame(
                    {
                        "level": tree.level[node].astype(str),
                        "area_id": tree.area_id[node].astype(str),
                        "variable": np.array(cube.variables, dtype=object)[var].astype(str),
                        "year": cube.years[y],
                        "lower": np.round(lo, 6),
                        "upper": np.round(hi, 6),
                        "primary": need[y, var, node],
                        "_order": (node * len(cube.variables) + var) * len(cube.years) + y,
                    }
                )
            )
    if records:
        intervals = pd.concat(records, ignore_index=True)
    else:
        intervals = pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in [("level", str), ("area_id", str),
             ("variable", str), ("year", np.int64), ("lower", float), ("upper", float),
             ("primary", bool), ("_order", np.int64)]}
        )
    intervals["width"] = intervals["upper"] - intervals["lower"]
    intervals = intervals.sort_values(["width", "_order"], kind="mergesort")
    intervals = intervals.drop(columns="_order").reset_index(drop=True)
    intervals = intervals[_KEY + ["lower", "upper", "width", "primary"]]
    under = intervals[intervals["primary"] & (intervals["width"] < protection - 1e-9)]
    y, v, node = np.nonzero(pub_primary)
    pub = pd.DataFrame(
        {
            "level": tree.level[node].astype(str),
            "area_id": tree.area_id[node].astype(str),
            "variable": np.array(cube.variables, dtype=object)[v].astype(str),
            "year": np.array(cube.years, dtype=np.int64)[y],
        }
    )
    ok = not len(under) and not len(pub) and contradictions == 0
    return AuditReport(
        ok=ok,
        protection=protection,
        intervals=intervals,
        under_protected=under.reset_index(drop=True),
        published_primary=pub,
        contradictions=contradictions,
    )


def audit_build(build_dir: Path, *, protection: int | None = None) -> AuditReport:
    """Audit a written build as an outsider would, plus the suppression log beside it."""
    from geo.catalogue import Catalogue

    build_dir = Path(build_dir)
    log_path = build_dir.parent / f"{build_dir.name}.suppression.csv"
    for path in (build_dir / "cells.csv", build_dir / "areas.csv", build_dir / "indicators.json"):
        if not path.exists():
            raise DisclosureError(f"{path}: not found; is {build_dir} a build folder?")
    if not log_path.exists():
        raise DisclosureError(f"{log_path}: suppression log not found (it lies beside the build)")
    text = {"level": str, "area_id": str, "parent_id": str, "variable": str, "status": str}
    cells = pd.read_csv(build_dir / "cells.csv", dtype=text, keep_default_na=False,
                        na_values={"value": [""]})
    cells["value"] = pd.array(pd.to_numeric(cells["value"]), dtype="Int64")
    cells["year"] = cells["year"].astype(np.int64)
    areas = pd.read_csv(build_dir / "areas.csv", dtype=str, keep_default_na=False)
    catalogue = Catalogue.from_dict(json.loads((build_dir / "indicators.json").read_text("utf-8")))
    if protection is None:
        manifest = build_dir / "manifest.json"
        protection = PROTECTION
        if manifest.exists():
            params = json.loads(manifest.read_text("utf-8")).get("parameters", {})
            protection = int(params.get("protection", PROTECTION))
    log = pd.read_csv(log_path, dtype=text, keep_default_na=False)
    primary = log[log["reason"] == "primary"]
    return audit(cells, areas, catalogue.sums, primary, protection=protection)
