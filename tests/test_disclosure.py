"""Disclosure control: primary rule, secondary suppression, the attacker audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import disclosure as dc
from geo.disclosure.intervals import _lp_intervals
from geo.disclosure.table import _build_cube, _build_tree, _Table
from geo.disclosure.tree import _tree_intervals
from geo.errors import DisclosureError
from geo.inputs.catalogue import Catalogue, Indicator, SumRule, Variable

settings.register_profile(
    "disclosure",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("disclosure")


# ---------------------------------------------------------------------------------------------
# helpers: a hierarchy from a nested dict, cells aggregated from the finest level
# ---------------------------------------------------------------------------------------------


def make_areas(tree: dict, levels: list[str], total: str = "T") -> pd.DataFrame:
    """Areas from ``{"A": {"A1": {}, ...}, ...}`` (keys are area ids, depth = level)."""
    rows = [("total", total, total, "")]

    def walk(node: dict, depth: int, parent: str) -> None:
        for key, sub in node.items():
            rows.append((levels[depth], key, f"Gebiet {key}", parent))
            walk(sub, depth + 1, key)

    walk(tree, 0, total)
    frame = pd.DataFrame(rows, columns=["level", "area_id", "name", "parent_id"])
    order = {lv: i for i, lv in enumerate(["total", *levels])}
    return frame.sort_values(
        ["level", "area_id"], key=lambda s: s.map(order) if s.name == "level" else s
    ).reset_index(drop=True)


def make_cells(areas: pd.DataFrame, leaf: dict[str, dict[str, int | None]], year: int = 2022):
    """Cells of every area from values of leaves per variable (None = missing, propagates)."""
    children: dict[tuple[str, str], list[tuple[str, str]]] = {}
    level_order = list(dict.fromkeys(areas["level"]))
    by_key = {}
    for row in areas.itertuples():
        by_key[(row.level, row.area_id)] = row
    for row in areas.itertuples():
        if row.level == "total":
            continue
        plevel = level_order[level_order.index(row.level) - 1]
        children.setdefault((plevel, row.parent_id), []).append((row.level, row.area_id))
    records = []
    for var, values in leaf.items():
        memo: dict[tuple[str, str], int | None] = {}
        for key in reversed(list(by_key)):  # finest level first
            kids = children.get(key)
            if not kids:
                memo[key] = values[key[1]]
            else:
                parts = [memo[k] for k in kids]
                memo[key] = None if any(p is None for p in parts) else sum(parts)
        for key in by_key:
            records.append((key[0], key[1], var, year, memo[key]))
    cells = pd.DataFrame(records, columns=["level", "area_id", "variable", "year", "value"])
    cells["value"] = cells["value"].astype("Int64")
    return cells


def catalogue(variables, sums=(), indicators=(), insensitive=()) -> Catalogue:
    return Catalogue(
        variables=tuple(Variable(id=v, name=v, sensitive=v not in insensitive) for v in variables),
        indicators=tuple(indicators),
        sums=tuple(SumRule(total=t, parts=tuple(p)) for t, p in sums),
    )


def shown(cells: pd.DataFrame, prot: dc.Protection) -> pd.DataFrame:
    """What the published cells.csv holds: no value unless published."""
    return cells.assign(
        value=cells["value"].where(prot.status == "published"), status=prot.status
    )


def run_audit(cells, areas, cat, prot, protection=dc.PROTECTION) -> dc.AuditReport:
    primary = prot.log[prot.log["reason"] == "primary"]
    return dc.audit(shown(cells, prot), areas, cat.sums, primary, protection=protection)


def status_of(cells: pd.DataFrame, prot: dc.Protection, level: str, area: str, var: str) -> str:
    mask = (cells["level"] == level) & (cells["area_id"] == area) & (cells["variable"] == var)
    return str(prot.status[mask].iloc[0])


def manual(cells: pd.DataFrame, withheld: set[tuple[str, str, str]]) -> pd.DataFrame:
    """Cells with a hand-made status: (level, area, variable) in ``withheld`` is suppressed."""
    keys = list(zip(cells["level"], cells["area_id"], cells["variable"], strict=True))
    status = pd.Series(
        ["suppressed" if k in withheld else "published" for k in keys], index=cells.index
    )
    status[cells["value"].isna()] = "missing"
    return cells.assign(value=cells["value"].where(status == "published"), status=status)


KREIS = {"A": {"A1": {}, "A2": {}, "A3": {}, "A4": {}}, "B": {"B1": {}, "B2": {}, "B3": {}}}


# ---------------------------------------------------------------------------------------------
# primary rule
# ---------------------------------------------------------------------------------------------


def test_small_values_withheld_zeros_published():
    """Values 1 and 2 of a sensitive variable are withheld, zeros and 3 are published."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 0, "A2": 1, "A3": 2, "A4": 3, "B1": 40, "B2": 0, "B3": 9}}
    cells = make_cells(areas, leaf)
    prot = dc.protect(cells, areas, catalogue(["x"]))
    assert status_of(cells, prot, "quartier", "A2", "x") == "suppressed"
    assert status_of(cells, prot, "quartier", "A3", "x") == "suppressed"
    assert status_of(cells, prot, "quartier", "B2", "x") == "published"
    primary = prot.log[prot.log["reason"] == "primary"]
    assert set(primary["area_id"]) == {"A2", "A3"}


def test_insensitive_variable_not_suppressed():
    """A variable marked sensitive = false is published even where it is 1 or 2."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"ew": {"A1": 1, "A2": 2, "A3": 5, "A4": 3, "B1": 4, "B2": 1, "B3": 9}}
    cells = make_cells(areas, leaf)
    prot = dc.protect(cells, areas, catalogue(["ew"], insensitive=["ew"]))
    assert (prot.status == "published").all()
    assert prot.log.empty


def test_min_count_parameter():
    """--min-count 5 withholds values 1..4."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 4, "A2": 5, "A3": 20, "A4": 30, "B1": 40, "B2": 50, "B3": 60}}
    cells = make_cells(areas, leaf)
    prot = dc.protect(cells, areas, catalogue(["x"]), min_count=5)
    primary = prot.log[prot.log["reason"] == "primary"]
    assert list(primary["area_id"]) == ["A1"]


def test_complement_rule_withholds_numerator():
    """A proportion whose denominator exceeds its numerator by 1 or 2 withholds the numerator."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {
        "sgb2": {"A1": 40, "A2": 10, "A3": 12, "A4": 30, "B1": 40, "B2": 10, "B3": 9},
        "ew": {"A1": 41, "A2": 50, "A3": 60, "A4": 70, "B1": 80, "B2": 90, "B3": 99},
    }
    cells = make_cells(areas, leaf)
    ind = Indicator(id="q", name="q", theme="t", numerator="sgb2", denominator="ew")
    cat = catalogue(["sgb2", "ew"], indicators=[ind], insensitive=["ew"])
    prot = dc.protect(cells, areas, cat)
    log = prot.log
    row = log[(log["area_id"] == "A1") & (log["variable"] == "sgb2")]
    assert list(row["reason"]) == ["primary"]
    assert status_of(cells, prot, "quartier", "A1", "ew") == "published"
    assert run_audit(cells, areas, cat, prot).ok


def test_complement_rule_not_for_rates():
    """Rates (events per population) are not proportions: no complement rule."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {
        "faelle": {"A1": 40, "A2": 10, "A3": 12, "A4": 30, "B1": 40, "B2": 10, "B3": 9},
        "ew": {"A1": 41, "A2": 50, "A3": 60, "A4": 70, "B1": 80, "B2": 90, "B3": 99},
    }
    cells = make_cells(areas, leaf)
    ind = Indicator(
        id="r", name="r", theme="t", numerator="faelle", denominator="ew", kind="rate"
    )
    prot = dc.protect(cells, areas, catalogue(["faelle", "ew"], indicators=[ind]))
    assert prot.log.empty


def test_missing_cells_stay_missing():
    """Missing counts are neither published nor suppressed, and do not break protection."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": None, "A2": 1, "A3": 7, "A4": 3, "B1": 1, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    assert status_of(cells, prot, "quartier", "A1", "x") == "missing"
    assert status_of(cells, prot, "bezirk", "A", "x") == "missing"
    assert status_of(cells, prot, "total", "T", "x") == "missing"
    assert run_audit(cells, areas, cat, prot).ok


def test_violated_sum_is_reported():
    """Counts that break a declared sum raise, naming the area and rule but no value."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {
        "m": {"A1": 5, "A2": 6, "A3": 7, "A4": 8, "B1": 9, "B2": 10, "B3": 11},
        "w": {"A1": 5, "A2": 6, "A3": 7, "A4": 8, "B1": 9, "B2": 10, "B3": 11},
        "all": {"A1": 10, "A2": 12, "A3": 14, "A4": 17, "B1": 18, "B2": 20, "B3": 22},
    }
    cells = make_cells(areas, leaf)
    cat = catalogue(["m", "w", "all"], sums=[("all", ["m", "w"])])
    with pytest.raises(DisclosureError, match="quartier/A4 2022: all is not the sum of m"):
        dc.protect(cells, areas, cat)


# ---------------------------------------------------------------------------------------------
# the attacker audit
# ---------------------------------------------------------------------------------------------


def test_singleton_two_ones_not_protected():
    """Two withheld 1s whose sum is derivable (= 2) are not protected at width 3."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 1, "A2": 1, "A3": 7, "A4": 3, "B1": 10, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    pattern = manual(cells, {("quartier", "A1", "x"), ("quartier", "A2", "x")})
    primary = [("quartier", "A1", "x", 2022), ("quartier", "A2", "x", 2022)]
    report = dc.audit(pattern, areas, [], primary)
    assert not report.ok
    assert set(report.under_protected["area_id"]) == {"A1", "A2"}
    assert set(report.under_protected["upper"]) == {2.0}
    assert set(report.under_protected["lower"]) == {0.0}


def test_protect_solves_the_singleton():
    """protect adds a secondary cell to two 1s under one parent."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 1, "A2": 1, "A3": 7, "A4": 3, "B1": 10, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    secondary = prot.log[prot.log["reason"] == "secondary"]
    assert list(secondary["area_id"]) == ["A4"]  # the cheapest that suffices (3 >= 1)
    assert run_audit(cells, areas, cat, prot).ok


def test_subtraction_from_parent_detected():
    """One withheld cell under a published parent is recovered exactly by subtraction."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 2, "A2": 5, "A3": 7, "A4": 3, "B1": 10, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    report = dc.audit(
        manual(cells, {("quartier", "A1", "x")}), areas, [], [("quartier", "A1", "x", 2022)]
    )
    assert not report.ok
    row = report.under_protected.iloc[0]
    assert (row["lower"], row["upper"], row["width"]) == (2.0, 2.0, 0.0)


def test_zero_siblings_reveal_sum():
    """A parent of 2 whose other children are published zeros reveals the withheld pair."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 1, "A2": 1, "A3": 0, "A4": 0, "B1": 10, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    assert status_of(cells, prot, "bezirk", "A", "x") == "suppressed"
    assert run_audit(cells, areas, cat, prot).ok


def test_audit_reads_only_published_values():
    """The audit gives the same answer whatever the withheld cells' value column holds."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 1, "A2": 2, "A3": 7, "A4": 3, "B1": 10, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    primary = prot.log[prot.log["reason"] == "primary"]
    clean = dc.audit(shown(cells, prot), areas, [], primary)
    dirty = shown(cells, prot).assign(
        value=cells["value"].where(prot.status == "published", 9999)
    )
    noisy = dc.audit(dirty, areas, [], primary)
    pd.testing.assert_frame_equal(clean.intervals, noisy.intervals)


def test_audit_flags_published_primary():
    """A primary cell that was published fails the audit."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 1, "A2": 5, "A3": 7, "A4": 3, "B1": 10, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    report = dc.audit(manual(cells, set()), areas, [], [("quartier", "A1", "x", 2022)])
    assert not report.ok
    assert "quartier/A1 x 2022" in report.format()


def test_format_shows_bounds_not_values():
    """The report prints cell ids and interval bounds only, in German and English."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {"x": {"A1": 1, "A2": 2, "A3": 1777, "A4": 3, "B1": 10, "B2": 20, "B3": 9}}
    cells = make_cells(areas, leaf)
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    text = run_audit(cells, areas, cat, prot).format(limit=50)
    assert "BESTANDEN / PASSED" in text
    assert "Schutzbreite / protection width: 3" in text
    withheld = cells["value"][prot.status == "suppressed"]
    for value in withheld:
        if value >= 10:
            assert str(int(value)) not in text


# ---------------------------------------------------------------------------------------------
# linked tables (declared sums)
# ---------------------------------------------------------------------------------------------


def test_sums_make_a_withheld_part_recoverable():
    """men + women = all: a pattern that is safe on the hierarchy alone fails with the sum."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    leaf = {
        "m": {"A1": 1, "A2": 5, "A3": 7, "A4": 3, "B1": 10, "B2": 20, "B3": 9},
        "w": {"A1": 4, "A2": 6, "A3": 2, "A4": 8, "B1": 11, "B2": 21, "B3": 8},
    }
    leaf["all"] = {k: leaf["m"][k] + leaf["w"][k] for k in leaf["m"]}
    cells = make_cells(areas, leaf)
    withheld = {("quartier", "A1", "m"), ("quartier", "A2", "m"),
                ("quartier", "A3", "w"), ("quartier", "A4", "w")}
    primary = [("quartier", "A1", "m", 2022), ("quartier", "A3", "w", 2022)]
    assert dc.audit(manual(cells, withheld), areas, [], primary).ok
    sums = [SumRule("all", ("m", "w"))]
    assert not dc.audit(manual(cells, withheld), areas, sums, primary).ok


def test_protect_two_dimensional_table():
    """Age bands adding up to the population: protect then audit with the sums passes."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    rng = np.random.default_rng(7)
    ids = ["A1", "A2", "A3", "A4", "B1", "B2", "B3"]
    bands = ["u6", "6_17", "18_64", "65p"]
    leaf = {b: {k: int(rng.choice([1, 2, 0, 5, 12, 30])) for k in ids} for b in bands}
    leaf["ew"] = {k: sum(leaf[b][k] for b in bands) for k in ids}
    cells = make_cells(areas, leaf)
    cat = catalogue([*bands, "ew"], sums=[("ew", bands)], insensitive=["ew"])
    prot = dc.protect(cells, areas, cat)
    assert run_audit(cells, areas, cat, prot).ok
    primary = prot.log[prot.log["reason"] == "primary"]
    assert len(primary) > 0
    # the hierarchy-only view must be at least as safe as the linked one
    assert dc.audit(shown(cells, prot), areas, [], primary).ok


# ---------------------------------------------------------------------------------------------
# random hierarchies (hypothesis)
# ---------------------------------------------------------------------------------------------

SMALLISH = st.sampled_from([0, 1, 1, 2, 2, 1, 3, 4, 7, 15, 40])


@st.composite
def hierarchies(draw, max_leaves: int = 40):
    """A random hierarchy of 2-4 levels with uneven fan-out (single children included)."""
    depth = draw(st.integers(2, 4))
    levels = [f"l{i}" for i in range(depth)]

    def build(prefix: str, level: int) -> dict:
        if level == depth:
            return {}
        fan = draw(st.integers(1, 4 if level < depth - 1 else 5))
        return {f"{prefix}{i}": build(f"{prefix}{i}.", level + 1) for i in range(fan)}

    tree = build("", 0)
    areas = make_areas(tree, levels)
    leaves = areas.loc[areas["level"] == levels[-1], "area_id"].tolist()
    if len(leaves) > max_leaves:
        leaves = leaves[:max_leaves]
        areas = areas[(areas["level"] != levels[-1]) | areas["area_id"].isin(leaves)]
        # drop parents left childless so the finest level is complete
        for lv in reversed(levels[:-1]):
            nxt = levels[levels.index(lv) + 1]
            keep = set(areas.loc[areas["level"] == nxt, "parent_id"])
            areas = areas[(areas["level"] != lv) | areas["area_id"].isin(keep)]
        areas = areas.reset_index(drop=True)
    values = {leaf: draw(SMALLISH) for leaf in leaves}
    return areas, values


@given(hierarchies(), st.booleans())
@settings(PROFILE)
def test_property_protect_then_audit_passes(case, with_missing):
    """On random trees: the audit passes, no published cell is small, the pattern is stable."""
    areas, values = case
    if with_missing:
        first = next(iter(values))
        values = {**values, first: None}
    cells = make_cells(areas, {"x": values})
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    report = run_audit(cells, areas, cat, prot)
    assert report.ok, report.format()
    published = cells["value"][prot.status == "published"]
    assert not published.isin([1, 2]).any()
    again = dc.protect(cells.sample(frac=1.0, random_state=1), areas, cat)
    pd.testing.assert_frame_equal(prot.log, again.log)
    assert again.status.reindex(cells.index).equals(prot.status)


@given(hierarchies(max_leaves=30), st.integers(0, 2**31 - 1), st.booleans())
@settings(PROFILE)
def test_property_tree_intervals_match_lp(case, seed, with_missing):
    """The tree walk gives the same intervals as the LP, for any withheld pattern."""
    areas, values = case
    if with_missing:
        values = {**values, next(iter(values)): None}
    cells = make_cells(areas, {"x": values})
    tree = _build_tree(areas)
    cube = _build_cube(cells, tree, ["x"])
    x = cube.x[0, 0]
    rng = np.random.default_rng(seed)
    table = _Table(tree, [0], [], x, x < 0)
    withheld = (rng.random(len(x)) < 0.45) & ~table.missing
    known = ~withheld & ~table.missing
    lo, hi = _tree_intervals(tree.parent, tree.depth, known, np.maximum(x, 0), table.missing)
    cells_ = np.flatnonzero(withheld)
    lp_lo, lp_hi = _lp_intervals(table.relations, known, np.maximum(x, 0), cells_)
    assert np.allclose(lo[cells_], lp_lo)
    assert np.array_equal(np.isinf(hi[cells_]), np.isinf(lp_hi))
    finite = ~np.isinf(lp_hi)
    assert np.allclose(hi[cells_][finite], lp_hi[finite])


@st.composite
def linked_cases(draw):
    areas, values = draw(hierarchies(max_leaves=12))
    leaves = list(values)
    parts = {p: {k: draw(SMALLISH) for k in leaves} for p in ("a", "b", "c")}
    parts["all"] = {k: sum(parts[p][k] for p in ("a", "b", "c")) for k in leaves}
    return areas, parts


@given(linked_cases())
@settings(PROFILE, max_examples=12)
def test_property_linked_tables_pass_audit(case):
    """Random hierarchies × a declared sum: protect, then the exact LP audit passes."""
    areas, leaf = case
    cells = make_cells(areas, leaf)
    cat = catalogue(["a", "b", "c", "all"], sums=[("all", ["a", "b", "c"])],
                    insensitive=["all"])
    prot = dc.protect(cells, areas, cat)
    assert run_audit(cells, areas, cat, prot).ok


# ---------------------------------------------------------------------------------------------
# optimality, totals, determinism
# ---------------------------------------------------------------------------------------------


def _random_case(seed: int, sums: bool = False):
    from bench.disclosure import aggregate_cells, random_areas, small_counts

    rng = np.random.default_rng(seed)
    areas = random_areas(rng, int(rng.integers(2, 4)), (1, 3))
    n_leaf = int((areas["level"] == areas["level"].iloc[-1]).sum())
    if sums:
        parts = small_counts(rng, (2, 1, n_leaf), 0.3, high=20)
        leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
        cat = catalogue(["m", "w", "all"], sums=[("all", ["m", "w"])], insensitive=["all"])
    else:
        leaf = {"x": small_counts(rng, (1, n_leaf), 0.35, high=30)}
        cat = catalogue(["x"])
    return aggregate_cells(areas, leaf, [2022]), areas, cat


@pytest.mark.parametrize("seed", range(8))
def test_tree_heuristic_against_milp_optimum(seed):
    """On small trees the heuristic is feasible and within one cell of the exact optimum."""
    cells, areas, cat = _random_case(seed)
    heur = dc.protect(cells, areas, cat)
    best = dc.protect_optimal(cells, areas, cat, time_limit=30)
    assert best is not None
    assert run_audit(cells, areas, cat, best).ok
    assert run_audit(cells, areas, cat, heur).ok
    n_heur = int((heur.log["reason"] == "secondary").sum())
    n_best = int((best.log["reason"] == "secondary").sum())
    assert n_best <= n_heur <= n_best + 1


@pytest.mark.parametrize("seed", range(3))
def test_linked_heuristic_against_milp_optimum(seed):
    """On small linked tables the heuristic is feasible and within a sane bound of the optimum."""
    cells, areas, cat = _random_case(seed, sums=True)
    heur = dc.protect(cells, areas, cat)
    best = dc.protect_optimal(cells, areas, cat, time_limit=30)
    assert best is not None
    assert run_audit(cells, areas, cat, best).ok
    n_heur = int((heur.log["reason"] == "secondary").sum())
    n_best = int((best.log["reason"] == "secondary").sum())
    assert n_best <= n_heur <= 1.5 * n_best + 2


def test_total_published_when_avoidable():
    """The total row is never withheld when the levels below can protect themselves."""
    areas = make_areas({"A": {"A1": {}, "A2": {}}, "B": {"B1": {}, "B2": {}}}, ["b", "q"])
    leaf = {"x": {"A1": 1, "A2": 1, "B1": 0, "B2": 1}}  # A = 2, B = 1: both primary
    cells = make_cells(areas, leaf)
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    assert status_of(cells, prot, "total", "T", "x") == "published"
    assert run_audit(cells, areas, cat, prot).ok


def test_total_withheld_when_unavoidable():
    """A tiny total (itself 1 or 2) is withheld like any other small value."""
    areas = make_areas({"A": {"A1": {}}, "B": {"B1": {}}}, ["b", "q"])
    cells = make_cells(areas, {"x": {"A1": 1, "B1": 1}})
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    assert status_of(cells, prot, "total", "T", "x") == "suppressed"


def test_single_child_chain():
    """Single-child parents carry the same value: the whole chain is withheld."""
    areas = make_areas({"A": {"A1": {"A1a": {}}}, "B": {"B1": {"B1a": {}, "B1b": {}}}},
                       ["l0", "l1", "l2"])
    cells = make_cells(areas, {"x": {"A1a": 2, "B1a": 30, "B1b": 40}})
    cat = catalogue(["x"])
    prot = dc.protect(cells, areas, cat)
    for level, area in [("l0", "A"), ("l1", "A1"), ("l2", "A1a")]:
        assert status_of(cells, prot, level, area, "x") == "suppressed"
    assert run_audit(cells, areas, cat, prot).ok


def test_deterministic_log_bytes():
    """The same input gives a byte-identical suppression log, whatever the row order."""
    cells, areas, cat = _random_case(11)
    first = dc.protect(cells, areas, cat).log.to_csv(index=False)
    second = dc.protect(cells.iloc[::-1], areas.iloc[::-1], cat).log.to_csv(index=False)
    assert first == second


def test_log_columns_and_status_values():
    """The log has the documented columns; status is one of three neutral words."""
    cells, areas, cat = _random_case(3)
    prot = dc.protect(cells, areas, cat)
    assert list(prot.log.columns) == ["level", "area_id", "variable", "year", "reason"]
    assert set(prot.log["reason"]) <= {"primary", "secondary"}
    assert set(prot.status) <= {"published", "suppressed", "missing"}
    assert prot.status.index.equals(cells.index)


def test_bad_input_raises():
    """Unknown areas and duplicate cells are rejected with the offending key."""
    areas = make_areas(KREIS, ["bezirk", "quartier"])
    cells = make_cells(areas, {"x": {k: 5 for k in ["A1", "A2", "A3", "A4", "B1", "B2", "B3"]}})
    bad = pd.concat([cells, cells.iloc[[3]]], ignore_index=True)
    with pytest.raises(DisclosureError, match="duplicate cell"):
        dc.protect(bad, areas, catalogue(["x"]))
    unknown = cells.copy()
    unknown.loc[0, "area_id"] = "ZZ"
    with pytest.raises(DisclosureError, match="is not in areas"):
        dc.protect(unknown, areas, catalogue(["x"]))


def test_deterministic_linked_tables():
    """Linked tables (LP repairs) give the same pattern on every run and row order."""
    cells, areas, cat = _random_case(4, sums=True)
    first = dc.protect(cells, areas, cat)
    second = dc.protect(cells.sample(frac=1.0, random_state=3), areas, cat)
    assert first.log.to_csv(index=False) == second.log.to_csv(index=False)
    assert run_audit(cells, areas, cat, first).ok


def test_worker_processes_give_the_same_pattern():
    """Tables protected in worker processes match the single-process result."""
    from bench.disclosure import aggregate_cells, random_areas, small_counts

    rng = np.random.default_rng(12)
    areas = random_areas(rng, 3, (1, 4))
    n_leaf = int((areas["level"] == areas["level"].iloc[-1]).sum())
    leaf = {f"v{i}": small_counts(rng, (2, n_leaf), 0.3) for i in range(3)}
    cells = aggregate_cells(areas, leaf, [2021, 2022])
    cat = catalogue(list(leaf))
    one = dc.protect(cells, areas, cat)
    two = dc.protect(cells, areas, cat, workers=2)
    pd.testing.assert_frame_equal(one.log, two.log)
    assert one.status.equals(two.status)
