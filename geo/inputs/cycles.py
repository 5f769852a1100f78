"""Cycles among declared sums: ``a = b + c`` and ``b = a + d`` cannot both hold for counts.

Iterative, so that a catalogue with a chain of thousands of sums is checked, not a
RecursionError.
"""

from __future__ import annotations

from collections.abc import Iterable


def sum_cycle(rules: Iterable[tuple[str, Iterable[str]]]) -> list[str] | None:
    """A cycle ``total -> part -> ... -> total`` among ``(total, parts)`` rules, or None."""
    graph: dict[str, set[str]] = {}
    for total, parts in rules:
        graph.setdefault(total, set()).update(parts)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in graph:
        if start in state:
            continue
        path = [start]
        todo = [iter(sorted(graph.get(start, ())))]
        state[start] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                todo.append(iter(sorted(graph.get(nxt, ()))))
    return None
