"""Tables as arrays: the area tree, the cell cube and one table's linear relations.

A *table* is one year and one group of variables linked by declared sums. Its cells are
(area, variable); its relations are "parent = sum of its children" per variable and
"sum total = sum of its parts" per area. A relation that contains a missing cell is dropped:
the missing cell is a free unknown. Because aggregation makes every ancestor of a missing cell
missing too, dropping is exact on the area hierarchy; for a declared sum with a missing part
and a present total it forgets the inequality "known parts <= total" (documented limit).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo.errors import DisclosureError, ParameterError
from geo.inputs.geography import TOTAL
from geo.inputs.periods import YearKey, parse_year_key, sorted_year_keys

_KEY = ["level", "area_id", "variable", "year"]
_INF = math.inf


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
    names = [str(n) for n in pd.unique(lv) if n != TOTAL]
    order = [TOTAL]
    while len(order) <= len(names):
        above = set(ids[lv == order[-1]].tolist())
        nxt = [n for n in names if n not in order and set(pid[lv == n].tolist()) <= above]
        if not nxt:
            return [TOTAL, *names]
        order.append(nxt[0])
    return order


def _build_tree(areas: pd.DataFrame) -> _Tree:
    missing = {"level", "area_id", "parent_id"} - set(areas.columns)
    if missing:
        raise DisclosureError(f"areas: missing columns {sorted(missing)}")
    lv = areas["level"].astype(str).to_numpy()
    ids = areas["area_id"].astype(str).to_numpy()
    pid = areas["parent_id"].fillna("").astype(str).to_numpy()
    if (lv == TOTAL).sum() != 1:
        raise DisclosureError(f"areas: expected exactly one row with level '{TOTAL}'")
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
    ids = pd.Index(tree.area_id)
    if ids.is_unique:  # ids name the areas on their own: look them up, then check the levels
        codes, uniq = pd.factorize(area_id)
        node = ids.get_indexer(np.asarray(uniq, dtype=object))[codes]
        if (codes >= 0).all() and (node >= 0).all() and np.array_equal(
            tree.level[node], level.to_numpy(dtype=object)
        ):
            return node.astype(np.int64)
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
    years: list[YearKey]  # single years ascending, then periods
    x: np.ndarray
    present: np.ndarray  # cell exists in the input frame
    rows: np.ndarray  # flat cube position of every input row
    seen: list[str] = field(default_factory=list)  # the cells' variables, first seen first


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
    ycodes, yuniq = pd.factorize(cells["year"].astype(object))
    try:
        keys = [parse_year_key(y) for y in yuniq]
    except ParameterError as exc:
        raise DisclosureError(f"cells: {exc}") from None
    years = list(sorted_year_keys(keys))
    ypos = {y: i for i, y in enumerate(years)}
    ycode = np.array([ypos[k] for k in keys], dtype=np.int64)[ycodes]
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
    return _Cube(tree, var_list, years, x.reshape(shape), present.reshape(shape), flat,
                 [str(v) for v in vuniq])


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


def _rel_views(table: _Table) -> tuple[sp.csr_matrix, sp.csc_matrix]:
    """The relation matrix by rows and by columns (cached on the table)."""
    cache = table.__dict__
    if "_csr" not in cache:
        cache["_csr"] = table.relations.tocsr()
        cache["_csc"] = table.relations.tocsc()
    return cache["_csr"], cache["_csc"]


def _cell_costs(table: _Table) -> np.ndarray:
    """Cost of withholding a cell: 1 per cell, then value, the total row dearest."""
    if "_cost" in table.__dict__:
        return table.__dict__["_cost"]
    x = np.maximum(table.x, 0).astype(float)
    scale = 1.0 / (2.0 * (x.max() + 1.0))
    total = np.tile(table.tree.depth == 0, len(table.var_codes))
    table.__dict__["_cost"] = 1.0 + x * scale + total * 1000.0
    return table.__dict__["_cost"]


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


def _near_cells(table: _Table, node: int, radius: int) -> np.ndarray:
    """Non-missing cells of all variables of the areas within ``radius`` of ``node``."""
    key = (node, radius)
    cache = table.__dict__.setdefault("_near", {})
    if key not in cache:
        nodes = _neighbourhood(table.tree, node, radius)
        cols = np.concatenate([j * table.n_nodes + nodes for j in range(len(table.var_codes))])
        cache[key] = np.sort(cols[~table.missing[cols]])
    return cache[key]
