"""Declared sums between variables (``SumRule``: a total and its parts) may not form a cycle."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def sum_cycle(sums: Iterable[Any]) -> list[str] | None:
    """Return a cycle total -> part -> ... -> total among the sums, if there is one.

    Iterative, so that a chain of thousands of sums is checked, not a RecursionError.
    """
    graph: dict[str, set[str]] = {}
    for rule in sums:
        graph.setdefault(rule.total, set()).update(rule.parts)
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
