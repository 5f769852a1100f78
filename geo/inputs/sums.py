"""Declared sums between variables (``SumRule``: a total and its parts) may not form a cycle."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def sum_cycle(sums: Iterable[Any]) -> list[str] | None:
    """Return a cycle total -> part -> ... -> total among the sums, if there is one."""
    graph: dict[str, set[str]] = {}
    for rule in sums:
        graph.setdefault(rule.total, set()).update(rule.parts)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in graph:
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None
