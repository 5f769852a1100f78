"""Disclosure control made cheaper stays the same: patterns, logs and audit reports unchanged."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import pytest

from bench.disclosure import aggregate_cells, random_areas, small_counts
from geo import disclosure as dc
from geo.disclosure.table import _build_cube, _build_tree, _nodes_of, _Table
from geo.disclosure.tree import _block_ok, _block_top, _tree_intervals
from geo.inputs.catalogue import Catalogue, SumRule, Variable


def _catalogue(variables, sums=(), insensitive=()) -> Catalogue:
    return Catalogue(
        variables=tuple(Variable(id=v, name=v, sensitive=v not in insensitive) for v in variables),
        indicators=(),
        sums=tuple(SumRule(total=t, parts=tuple(p)) for t, p in sums),
    )


def _case(name: str) -> tuple[pd.DataFrame, pd.DataFrame, Catalogue, np.ndarray | None]:
    """Cells, areas, catalogue and forced cells of a named case (deterministic)."""
    kind, seed = name.split("-")
    rng = np.random.default_rng(int(seed))
    forced = None
    if kind in ("tree", "wide"):  # one-variable tree tables: greedy pass, prune, improve
        areas = random_areas(rng, 3, (1, 6) if kind == "tree" else (3, 9))
        n_leaf = int((areas["level"] == "l2").sum())
        leaf = {f"v{i}": small_counts(rng, (2, n_leaf), 0.3) for i in range(3)}
        cells = aggregate_cells(areas, leaf, [2021, 2022])
        cat = _catalogue(list(leaf))
    elif kind == "forced":  # cells an earlier release withheld stay withheld
        areas = random_areas(rng, 3, (2, 5))
        n_leaf = int((areas["level"] == "l2").sum())
        leaf = {"x": small_counts(rng, (1, n_leaf), 0.25)}
        cells = aggregate_cells(areas, leaf, [2022])
        cat = _catalogue(["x"])
        forced = rng.random(len(cells)) < 0.08
    elif kind == "sums":  # a linked table (LP repairs)
        areas = random_areas(rng, 2, (2, 4))
        n_leaf = int((areas["level"] == "l1").sum())
        parts = small_counts(rng, (2, 1, n_leaf), 0.3, high=20)
        leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
        cells = aggregate_cells(areas, leaf, [2022])
        cat = _catalogue(["m", "w", "all"], sums=[("all", ["m", "w"])], insensitive=["all"])
    else:  # years and their pooled period as one linked table
        areas = random_areas(rng, 2, (2, 4))
        n_leaf = int((areas["level"] == "l1").sum())
        cells = aggregate_cells(areas, {"x": small_counts(rng, (2, n_leaf), 0.3)}, [2021, 2022])
        pooled = cells.groupby(["level", "area_id", "variable"], sort=False, as_index=False)[
            "value"].sum().assign(year="2021-2022")
        cells = pd.concat([cells, pooled[cells.columns]], ignore_index=True)
        cat = _catalogue(["x"])
    return cells, areas, cat, forced


CASES = ["tree-0", "tree-1", "tree-2", "tree-3", "forced-4", "forced-5", "sums-6", "period-7",
         "wide-8", "wide-9"]

# sha256 of each case's log (CSV), status and dtypes, computed with the code before it was
# made faster: the suppression pattern and the log must not change
DIGESTS = {
    "tree-0": "cc6a9b3878d4a7dd5017e03f01850ec732aee67aca5b87cdec51cc81c966415b",
    "tree-1": "19e055b7d8ea164be29adf043a730d56c7d54c291525f83d1850c6ac6204ece7",
    "tree-2": "21d7beb80ba10054815f601aa8bb0411a2121854252595cbe7784994f4152eb7",
    "tree-3": "1e5e09b5d1008ebc41299370f04f7eebae0a7e46adef38027c2a87c2b9d8fe10",
    "forced-4": "70f582e3bcf34f330d4570220a758d72c227185eb128eec734959663b3cfd889",
    "forced-5": "53f33b133e38c6551b2e618909d4f8b41a4255638ffaacb47da74f5db68d9109",
    "sums-6": "98e96fafe666955a0a9ca063493ed220d460dbd7597e5373d33a8994c91bb005",
    "period-7": "0e6b00ce9a7ec90143b1f423038a8f8d2d62c90b7312222ffcf61e48a5dc0af2",
    "wide-8": "5bf0f8ea95d790d4b7d3dbabc3e7835d5d56c40b936eb1ce1318ce8d5379f3a0",
    "wide-9": "b786a3a16e585c3d1197e3a6f0129558826c58bfcb47751d60caddc42e7fc0f7",
}


def _digest(prot: dc.Protection) -> str:
    text = "\n".join([
        prot.log.to_csv(index=False),
        ",".join(prot.status.astype(str)),
        repr(list(prot.log.dtypes)),
        repr(prot.status.dtype),
        repr(list(prot.log["year"].map(type))),
    ])
    return hashlib.sha256(text.encode()).hexdigest()


def _protect(name: str, workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, Catalogue,
                                                   dc.Protection]:
    cells, areas, cat, forced = _case(name)
    return cells, areas, cat, dc.protect(cells, areas, cat, force_withheld=forced,
                                         workers=workers)


@pytest.mark.parametrize("name", CASES)
def test_pattern_and_log_unchanged(name):
    """Same withheld cells, same log bytes and dtypes as before the speed-up."""
    assert _digest(_protect(name)[3]) == DIGESTS[name]


def _assert_same_report(a: dc.AuditReport, b: dc.AuditReport) -> None:
    assert (a.ok, a.protection, a.contradictions) == (b.ok, b.protection, b.contradictions)
    for field in ("intervals", "under_protected", "published_primary"):
        pd.testing.assert_frame_equal(getattr(a, field), getattr(b, field), check_exact=True)
    assert a.format() == b.format()


@pytest.mark.parametrize("name", CASES)
def test_audit_of_protect_result_is_the_audit_of_the_published_cells(name):
    """``audit_protected`` (protect's cube reused) reports exactly what ``audit`` reports."""
    cells, areas, cat, prot = _protect(name)
    assert prot.arrays is not None
    fast = dc.audit_protected(cells, prot, areas, cat.sums, protection=3)
    shown = cells.assign(value=cells["value"].where(prot.status == "published"),
                         status=prot.status)
    full = dc.audit(shown, areas, cat.sums, prot.log[prot.log["reason"] == "primary"],
                    protection=3)
    _assert_same_report(fast, full)
    assert fast.ok
    # without the arrays (a Protection made elsewhere) or for other cells: the full audit
    bare = dataclasses.replace(prot, arrays=None)
    _assert_same_report(dc.audit_protected(cells, bare, areas, cat.sums, protection=3), full)
    _assert_same_report(dc.audit_protected(cells.copy(), prot, areas, cat.sums, protection=3),
                        full)


def test_audit_reuse_keeps_the_variables_order_of_the_cells():
    """Variables in the cells in another order than in the catalogue: the same report."""
    cells, areas, cat, _ = _case("tree-1")
    cells = cells.iloc[::-1].reset_index(drop=True)  # v2 first, catalogue has v0 first
    prot = dc.protect(cells, areas, cat)
    shown = cells.assign(value=cells["value"].where(prot.status == "published"),
                         status=prot.status)
    full = dc.audit(shown, areas, cat.sums, prot.log[prot.log["reason"] == "primary"])
    _assert_same_report(dc.audit_protected(cells, prot, areas, cat.sums), full)


def test_audit_reuse_finds_a_published_primary_cell():
    """The shared arrays are the pattern: a cell made public after protect is caught."""
    cells, areas, cat, prot = _protect("tree-0")
    assert prot.arrays is not None
    withheld = prot.arrays.withheld.copy()
    y, v, node = (int(i[0]) for i in np.nonzero(prot.arrays.primary))
    withheld[y, v, node] = False
    broken = dataclasses.replace(prot, arrays=dataclasses.replace(prot.arrays, withheld=withheld))
    report = dc.audit_protected(cells, broken, areas, cat.sums)
    assert not report.ok and len(report.published_primary) == 1


def _block_ok_reference(table, withheld, need, width, cell) -> bool:
    """The numpy version of ``_block_ok`` (``_tree_intervals`` on the block)."""
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
    lo, hi = _tree_intervals(parent, depth, known, np.maximum(table.x[idx], 0),
                             table.missing[idx])
    return bool(np.all(hi[mask] - lo[mask] >= width - 1e-9))


@pytest.mark.parametrize("seed", range(6))
def test_block_check_matches_the_interval_walk(seed):
    """The plain-Python block check agrees with the numpy interval walk on random patterns."""
    rng = np.random.default_rng(seed)
    areas = random_areas(rng, 3, (1, 5))
    n_leaf = int((areas["level"] == "l2").sum())
    values = small_counts(rng, (1, n_leaf), 0.35, high=8)
    values = np.where(rng.random(values.shape) < 0.05, -1, values)  # a few missing leaves
    cells = aggregate_cells(areas, {"x": np.where(values < 0, 0, values)}, [2022])
    tree = _build_tree(areas)
    x = _build_cube(cells, tree, ["x"]).x[0, 0].copy()
    leaves = np.flatnonzero(tree.depth == tree.depth.max())
    gone = leaves[values[0][np.argsort(np.argsort(tree.area_id[leaves]))] < 0]
    for node in gone.tolist():  # a missing leaf makes its ancestors missing
        while node >= 0:
            x[node] = -1
            node = int(tree.parent[node])
    table = _Table(tree, [0], [], x, x < 0)
    agree = 0
    for _ in range(60):
        withheld = (rng.random(len(x)) < rng.uniform(0.2, 0.7)) & ~table.missing
        need = withheld & (rng.random(len(x)) < 0.5)
        for cell in np.flatnonzero(withheld & ~need)[:10].tolist():
            withheld[cell] = False
            want = _block_ok_reference(table, withheld, need, 3, cell)
            assert _block_ok(table, withheld, need, 3, cell) == want
            agree += want
            withheld[cell] = True
    assert agree > 0


def test_worker_processes_keep_the_arrays_and_pattern():
    """Tables on worker processes: the same pattern, the audit reuse still exact."""
    cells, areas, cat, one = _protect("tree-2")
    two = _protect("tree-2", workers=2)[3]
    assert _digest(two) == _digest(one)
    _assert_same_report(dc.audit_protected(cells, two, areas, cat.sums),
                        dc.audit_protected(cells, one, areas, cat.sums))


@pytest.mark.parametrize("shared_id", [False, True])
def test_nodes_of_matches_the_level_and_id_lookup(shared_id):
    """Area ids unique or repeated across levels, wrong levels, unknown ids: -1 where unknown."""
    quartier_a = "A" if shared_id else "A1"
    areas = pd.DataFrame(
        [("total", "T", "T", ""), ("bezirk", "A", "A", "T"), ("bezirk", "B", "B", "T"),
         ("quartier", quartier_a, "a", "A"), ("quartier", "B1", "b1", "B"),
         ("quartier", "B2", "b2", "B")],
        columns=["level", "area_id", "name", "parent_id"],
    )
    tree = _build_tree(areas)
    pairs = [("quartier", "B2"), ("bezirk", "A"), ("quartier", quartier_a), ("total", "T"),
             ("quartier", "B"), ("bezirk", "ZZ"), ("bezirk", "B1")]
    level = pd.Series([p[0] for p in pairs * 3])
    area_id = pd.Series([p[1] for p in pairs * 3])
    want = tree.index.get_indexer(pd.MultiIndex.from_arrays([level, area_id]))
    assert _nodes_of(tree, level, area_id).tolist() == want.tolist()
    known = want >= 0
    assert _nodes_of(tree, level[known], area_id[known]).tolist() == want[known].tolist()
