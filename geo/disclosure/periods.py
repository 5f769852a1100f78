"""Years and pooled periods as linked tables: how a cube splits into tables, and period tables.

A pooled period (``"2010-2012"``) is the sum of its years, per area and variable: one more
relation, exactly like a declared sum of variables. The variables of a sum group with any
pooled cell therefore form one table over (year or period) x variable x area; every
(year key, variable) is a pseudo-variable ("slot") of the linked-table machinery, with the
declared sums per year key and "period = sum of its years" per variable and area. Groups
without pooled cells keep one table per year.

A period table is protected in two steps. (1) Each single year as today (the tree pass on a
one-variable table): a good pattern for the years alone. (2) The linked machinery over all
relations: the attacker check finds the year cells that published pooled cells expose (a pool
minus its published years), and each repair is a min-cost move that decides whether withholding
the pooled cell or another year of the same area (a "rectangle" over two years and two areas)
is cheaper; pooled 1s and 2s are repaired like any primary cell. Pruning publishes again what
is not needed. On small cases this matches the exact optimum far more often than withholding
every pooled cell over a withheld year (sound, but it hides the pooled values small areas need).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.disclosure.closure import DECOMPOSE_CELLS, _closure_basis, _protect_closure
from geo.disclosure.secondary import _protect_table
from geo.disclosure.table import _Cube, _Table, _Tree, _variable_groups
from geo.errors import DisclosureError
from geo.inputs.periods import is_period, period_years

Rule = tuple[int, tuple[int, ...]]


@dataclass(frozen=True)
class _Job:
    """One table: its slots (year code, variable code) and relations between slots."""

    slots: tuple[tuple[int, int], ...]
    rules: tuple[Rule, ...]  # slot ``total`` = sum of slots ``parts`` per area
    years: tuple[tuple[int, ...], ...] = ()  # period tables: the slots of each single year
    pooled: tuple[Rule, ...] = ()  # period tables: a period's slot and its years' slots

    @property
    def year_codes(self) -> np.ndarray:
        """Year code of every slot."""
        return np.array([s[0] for s in self.slots], dtype=np.int64)

    @property
    def var_codes(self) -> np.ndarray:
        """Variable code of every slot."""
        return np.array([s[1] for s in self.slots], dtype=np.int64)

    def table(self, tree: _Tree, x: np.ndarray, missing: np.ndarray | None = None) -> _Table:
        """The table of this job over flattened slot-major values ``x``."""
        miss = x < 0 if missing is None else missing
        return _Table(tree, list(range(len(self.slots))), list(self.rules), x, miss)


def _check_periods(cube: _Cube) -> None:
    """Every period's years are in the cells, and each pooled cell is the sum of its years."""
    pos = {y: i for i, y in enumerate(cube.years)}
    problems = []
    for p, key in enumerate(cube.years):
        if not is_period(key):
            continue
        absent = [y for y in period_years(key) if y not in pos]
        if absent:
            raise DisclosureError(
                f"cells: period {key} pools {', '.join(str(y) for y in absent)}, which the "
                "cells do not have"
            )
        parts = cube.x[[pos[y] for y in period_years(key)]]
        pooled = cube.x[p]
        ok = (pooled < 0) | (parts < 0).any(axis=0) | (pooled == parts.sum(axis=0))
        ok |= ~cube.present[p]
        for v, node in zip(*np.nonzero(~ok), strict=True):
            problems.append(f"{cube.tree.level[node]}/{cube.tree.area_id[node]} "
                            f"{cube.variables[v]} {key}")
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise DisclosureError("cells: a pooled cell is not the sum of its years: "
                              + "; ".join(problems[:10]) + more)


def _jobs(cube: _Cube, sums: Iterable[Any]) -> list[_Job]:
    """Every table of a cube: per year for plain groups, one per group with pooled cells."""
    groups = _variable_groups(cube.variables, sums)
    has = np.asarray(cube.present.any(axis=2), dtype=bool)
    single = [i for i, y in enumerate(cube.years) if not is_period(y)]
    periods = [i for i, y in enumerate(cube.years) if is_period(y)]
    code = {y: i for i, y in enumerate(cube.years)}
    jobs = []
    for var_codes, rules in groups:
        if not any(has[p, v] for p in periods for v in var_codes):
            for y in range(len(cube.years)):
                if has[y, var_codes].any():
                    local = {v: j for j, v in enumerate(var_codes)}
                    jobs.append(_Job(
                        tuple((y, v) for v in var_codes),
                        tuple((local[t], tuple(local[q] for q in ps)) for t, ps in rules),
                    ))
            continue
        slots = [(y, v) for y in single for v in var_codes]
        slots += [(p, v) for p in periods for v in var_codes if has[p, v]]
        at = {s: i for i, s in enumerate(slots)}
        out: list[Rule] = []
        for y in [*single, *periods]:
            for total, parts in rules:
                names = [(y, total), *((y, q) for q in parts)]
                if all(n in at for n in names):
                    out.append((at[names[0]], tuple(at[n] for n in names[1:])))
        pooled = [
            (at[(p, v)], tuple(at[(code[y], v)] for y in period_years(cube.years[p])))
            for p in periods for v in var_codes if (p, v) in at
        ]
        years = tuple(tuple(at[(y, v)] for v in var_codes) for y in single)
        jobs.append(_Job(tuple(slots), tuple(out + pooled), years, tuple(pooled)))
    return jobs


def _sub_job(job: _Job, slots: tuple[int, ...]) -> _Job:
    """The part of a job over some of its slots, with the rules among them."""
    local = {s: j for j, s in enumerate(slots)}
    rules = tuple(
        (local[t], tuple(local[q] for q in ps))
        for t, ps in job.rules if t in local and all(q in local for q in ps)
    )
    return _Job(tuple(job.slots[s] for s in slots), rules)


def _cols(slots: Iterable[int], n: int) -> np.ndarray:
    return np.concatenate([s * n + np.arange(n) for s in slots])


def _protect_job(
    tree: _Tree,
    job: _Job,
    x: np.ndarray,
    primary: np.ndarray,
    fixed: np.ndarray,
    width: int,
    prune: bool,
    decompose: bool | None = None,
) -> np.ndarray:
    """Withheld mask of one table (plain, or years and periods linked).

    A linked table is protected slot by slot (``closure``) when ``decompose`` is True, or
    when it is None and the table has more than ``DECOMPOSE_CELLS`` cells; otherwise, and
    where its rules or missing cells do not allow that, by the LP method.
    """
    if job.rules and (decompose or (decompose is None and len(x) > DECOMPOSE_CELLS)):
        basis = _closure_basis(len(job.slots), job.rules, x)
        if basis is not None:
            return _protect_closure(tree, basis, x, primary, fixed, width, prune)
    if not job.years:
        return _protect_table(job.table(tree, x), primary, width, prune, fixed=fixed)
    n = tree.size
    withheld = primary | fixed
    for slots in job.years:  # (1) every single year on its own
        cols = _cols(slots, n)
        if primary[cols].any():
            sub = _sub_job(job, slots).table(tree, x[cols])
            withheld[cols] |= _protect_table(sub, primary[cols], width, prune, fixed=fixed[cols])
    # (2) the linked check over all relations: repairs decide whether a pooled cell or
    # another year of the same area is withheld; then pruning
    return _protect_table(job.table(tree, x), primary, width, prune, start=withheld, fixed=fixed)
