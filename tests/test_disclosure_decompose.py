"""Large linked tables slot by slot (``closure``), the exact audit by elimination (``reduced``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_periods import PERIODS, _case, _cells, _one_variable, outsider_widths

from geo import disclosure as dc
from geo.disclosure import periods
from geo.disclosure.basis import _basis
from geo.disclosure.intervals import _table_intervals
from geo.disclosure.periods import _jobs
from geo.disclosure.reduced import _reduced_intervals
from geo.disclosure.table import _build_cube, _build_tree
from geo.inputs.catalogue import Catalogue, Indicator, SumRule, Variable


def _primary(prot: dc.Protection) -> pd.DataFrame:
    return prot.log[prot.log["reason"] == "primary"]


def _shown(cells: pd.DataFrame, prot: dc.Protection) -> pd.DataFrame:
    return cells.assign(value=cells["value"].where(prot.status == "published"),
                        status=prot.status)


def test_basis_expands_periods_and_sums() -> None:
    """Slots 0..2 = m, w, all of a year; 3..5 of another; 6..8 the period of both."""
    rules = [(2, (0, 1)), (5, (3, 4)), (8, (6, 7)), (6, (0, 3)), (7, (1, 4)), (8, (2, 5))]
    basis = _basis(9, rules)
    assert basis is not None
    assert basis.base.tolist() == [0, 1, 3, 4]
    assert basis.expand[8].tolist() == [True, True, True, True]  # all of the period
    assert basis.expand[6].tolist() == [True, False, True, False]  # m of the period
    assert basis.derived.tolist() == [2, 5, 6, 7, 8]


@pytest.mark.parametrize("rules", [
    [(0, (1,)), (1, (0,))],  # a cycle
    [(2, (0, 1)), (3, (0, 2))],  # slot 0 counted twice in slot 3
    [(2, (0, 1)), (2, (0,))],  # two rules for one total disagree
])
def test_basis_refuses_what_the_closure_cannot_lift(rules) -> None:
    assert _basis(4, rules) is None


def _jobs_of(cells: pd.DataFrame, areas: pd.DataFrame, cat: Catalogue) -> tuple:
    tree = _build_tree(areas)
    cube = _build_cube(cells, tree, [v.id for v in cat.variables])
    return tree, cube, [j for j in _jobs(cube, cat.sums) if j.rules]


@pytest.mark.parametrize("seed", range(6))
def test_reduced_intervals_equal_the_full_lp(seed: int) -> None:
    """On random patterns (published totals over withheld parts included) the elimination
    gives the LP's intervals for every withheld cell, totals and pooled cells too."""
    rng = np.random.default_rng(seed)
    areas, cells, cat = _case(seed)
    tree, cube, jobs = _jobs_of(cells, areas, cat)
    for job in jobs:
        x = cube.x[job.year_codes, job.var_codes, :].reshape(-1)
        withheld = rng.random(len(x)) < rng.uniform(0.1, 0.6)
        none = np.zeros(len(x), dtype=bool)
        got = _reduced_intervals(tree, len(job.slots), job.rules, x, withheld, none)
        assert got is not None
        want = _table_intervals(job.table(tree, np.where(withheld, 0, x), none), ~withheld,
                                np.maximum(x, 0))
        assert got[0].tolist() == want[0].tolist()
        np.testing.assert_allclose(got[1], want[1], atol=1e-6)
        np.testing.assert_allclose(got[2], want[2], atol=1e-6)


def test_reduced_intervals_leave_missing_cells_to_the_lp() -> None:
    areas, cells, cat = _case(1)
    tree, cube, jobs = _jobs_of(cells, areas, cat)
    job = jobs[0]
    x = cube.x[job.year_codes, job.var_codes, :].reshape(-1)
    missing = np.zeros(len(x), dtype=bool)
    missing[3] = True
    assert _reduced_intervals(tree, len(job.slots), job.rules, x, ~missing, missing) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_slot_by_slot_passes_the_independent_outsider(seed: int) -> None:
    """Years, two overlapping periods and m + w = all, slot by slot: every primary cell
    (pooled 1s and 2s included) keeps the width against an exact outsider LP."""
    areas, cells, cat = _case(seed)
    prot = dc.protect(cells, areas, cat, decompose=True)
    primary = _primary(prot)
    assert len(primary)
    assert min(outsider_widths(cells, areas, prot.status, primary)) >= dc.PROTECTION - 1e-6
    assert dc.audit(_shown(cells, prot), areas, cat.sums, primary).ok


def test_slot_by_slot_withholds_the_closure() -> None:
    """Above a withheld year its pooled cells and its declared total are withheld."""
    areas, cells, cat = _case(4)
    prot = dc.protect(cells, areas, cat, decompose=True)
    held = cells[(prot.status == "suppressed").to_numpy()]
    keys = set(zip(held["level"], held["area_id"], held["variable"], held["year"], strict=True))
    for lv, aid, var, year in keys:
        if var in ("m", "w") and year == 2020:
            assert (lv, aid, "all", 2020) in keys
            assert (lv, aid, var, "2019-2021") in keys
        if var in ("m", "w") and year == 2021:
            assert (lv, aid, var, "2021-2023") in keys
            assert (lv, aid, "all", "2019-2021") in keys


def test_uncovered_primary_total_is_protected() -> None:
    """A sensitive total whose parts are not sensitive (so never primary) still gets the
    width: its largest part is protected for it."""
    areas, cells, _ = _case(5)
    cat = Catalogue(
        variables=(Variable("m", "m", sensitive=False), Variable("w", "w", sensitive=False),
                   Variable("all", "all")),
        indicators=(), sums=(SumRule("all", ("m", "w")),),
    )
    small = cells["variable"].eq("all") & cells["value"].isin([1, 2])
    assert small.any()
    prot = dc.protect(cells, areas, cat, decompose=True)
    primary = _primary(prot)
    assert set(primary["variable"]) == {"all"}
    assert min(outsider_widths(cells, areas, prot.status, primary)) >= dc.PROTECTION - 1e-6


def test_complement_primaries_slot_by_slot() -> None:
    """Complement rule over pooled counts (all - m small): protected slot by slot too."""
    areas, cells, _ = _case(6)
    cat = Catalogue(
        variables=(Variable("m", "m"), Variable("w", "w"),
                   Variable("all", "all", sensitive=False)),
        indicators=(Indicator("anteil_m", "Anteil m", "t", "m", "all"),),
        sums=(SumRule("all", ("m", "w")),),
    )
    prot = dc.protect(cells, areas, cat, decompose=True)
    primary = _primary(prot)
    assert min(outsider_widths(cells, areas, prot.status, primary)) >= dc.PROTECTION - 1e-6


def test_slot_by_slot_is_deterministic_and_worker_independent() -> None:
    areas, cells, cat = _case(7)
    first = dc.protect(cells, areas, cat, decompose=True).log.to_csv(index=False)
    again = dc.protect(cells.sample(frac=1, random_state=2), areas, cat, decompose=True)
    assert again.log.to_csv(index=False) == first
    two = dc.protect(cells, areas, cat, decompose=True, workers=2)
    assert two.log.to_csv(index=False) == first


def test_force_withheld_slot_by_slot() -> None:
    """Cells an earlier release withheld stay withheld; the pattern still passes."""
    areas, cells, cat = _one_variable(6)
    free = dc.protect(cells, areas, cat, decompose=True)
    forced = pd.Series(False, index=cells.index)
    forced[cells.index[(free.status == "published").to_numpy()][::5]] = True
    prot = dc.protect(cells, areas, cat, decompose=True, force_withheld=forced)
    assert (prot.status[forced] == "suppressed").all()
    assert dc.audit(_shown(cells, prot), areas, (), _primary(prot)).ok


def test_large_tables_go_slot_by_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """By default only tables above DECOMPOSE_CELLS are split; small ones keep the LPs."""
    areas, cells, cat = _one_variable(3)
    lp = dc.protect(cells, areas, cat, decompose=False).log.to_csv(index=False)
    split = dc.protect(cells, areas, cat, decompose=True).log.to_csv(index=False)
    assert lp != split
    assert dc.protect(cells, areas, cat).log.to_csv(index=False) == lp
    monkeypatch.setattr(periods, "DECOMPOSE_CELLS", 10)
    assert dc.protect(cells, areas, cat).log.to_csv(index=False) == split


def test_missing_cells_fall_back_to_the_lp() -> None:
    """A table with a missing cell cannot be split (relations drop); the LPs protect it."""
    rng = np.random.default_rng(8)
    from test_periods import _areas

    areas = _areas(rng)
    n = int((areas["level"] == "quartier").sum())
    x = np.where(rng.random((5, n)) < 0.3, 1, rng.integers(3, 20, (5, n)))
    cells = _cells(areas, {"x": x}, PERIODS)
    last = (cells["area_id"] == areas["area_id"].iloc[-1]).to_numpy()
    cells.loc[last & cells["year"].isin([2023, "2021-2023"]).to_numpy(), "value"] = pd.NA
    cat = Catalogue(variables=(Variable("x", "x"),), indicators=())
    prot = dc.protect(cells, areas, cat, decompose=True)
    assert dc.audit(_shown(cells, prot), areas, (), _primary(prot)).ok
