"""Base slots of a linked table: the slots that are no total, and every slot as a sum of them.

A linked table's slots are (year or period) x variable; its rules say, per area, "slot t = sum
of slots p" (declared sums, and period = sum of its years). A *base* slot is the total of no
rule (a single year of a variable that is no declared total). Every other slot is, per area,
a fixed sum of base slots: its *expansion*. With all cells present the rules of the whole
table reduce to the area tree of each base slot plus, per area, "slot t = its expansion":
the tree relations of a non-base slot are sums of the base slots' ones and the rules.

The *closure* of a base slot b is the set of slots whose expansion contains b (b, its period,
its declared total, that total's period ...). When every expansion counts a base slot at most
once, the indicator of a closure solves every rule, so a move of a base slot's tree lifts to
the whole table unchanged in size: this is what ``closure`` and ``reduced`` build on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Rule = tuple[int, tuple[int, ...]]


@dataclass(frozen=True)
class _Basis:
    """Base slots and the 0/1 expansion of every slot into them."""

    base: np.ndarray  # slot code of each base slot
    expand: np.ndarray  # bool (n_slots, n_base): slot t = sum of base j where expand[t, j]

    @property
    def derived(self) -> np.ndarray:
        """Slot codes of the non-base slots (totals of some rule)."""
        is_base = np.zeros(self.expand.shape[0], dtype=bool)
        is_base[self.base] = True
        return np.flatnonzero(~is_base)


def _basis(n_slots: int, rules: Sequence[Rule]) -> _Basis | None:
    """The base slots of a job and the expansions; None where the rules are no 0/1 hierarchy.

    None when a rule chain is cyclic, when two rules for one total disagree, or when an
    expansion would count a base slot twice (the closure would not solve the rules).
    """
    defining: dict[int, list[tuple[int, ...]]] = {}
    for total, parts in rules:
        defining.setdefault(total, []).append(parts)
    base = [s for s in range(n_slots) if s not in defining]
    col = {s: j for j, s in enumerate(base)}
    memo: dict[int, np.ndarray | None] = {}
    active: set[int] = set()

    def expansion(slot: int) -> np.ndarray | None:
        if slot in memo:
            return memo[slot]
        if slot in col:
            row = np.zeros(len(base), dtype=np.int64)
            row[col[slot]] = 1
            memo[slot] = row
            return row
        if slot in active:
            return None  # a cycle of rules
        active.add(slot)
        found: np.ndarray | None = None
        for k, parts in enumerate(defining[slot]):
            total = np.zeros(len(base), dtype=np.int64)
            for p in parts:
                part = expansion(p)
                if part is None:
                    break
                total += part
            else:
                if k == 0 or (found is not None and np.array_equal(found, total)):
                    found = total
                    continue
            found = None
            break
        active.discard(slot)
        memo[slot] = found
        return found

    rows = [expansion(s) for s in range(n_slots)]
    if any(r is None for r in rows):
        return None
    expand = np.array(rows, dtype=np.int64).reshape(n_slots, len(base))
    if expand.max(initial=0) > 1:
        return None
    return _Basis(np.array(base, dtype=np.int64), expand.astype(bool))
