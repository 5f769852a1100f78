"""The house rules of the tree: stages flow one way, no import cycles, small modules.

Imports are read from the source (``ast``), so imports inside functions and under
``TYPE_CHECKING`` count: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
STAGES = [
    ("geo", "geo.errors"),
    ("geo.inputs",),
    ("geo.stats",),
    ("geo.disclosure",),
    ("geo.release",),
    ("geo.render",),
    ("geo.build", "geo.pipeline"),
    ("geo.cli",),
    ("service",),
]
"""The data's way, in order: a module may import its own stage or an earlier one."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for top in ("geo", "service")
        for p in sorted((ROOT / top).rglob("*.py"))
    }


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names (a package means its ``__init__``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path, modules: dict[str, Path], here: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import sub`` imports the submodule when it is one
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                     for a in node.names]
        for name in names:
            target = _resolve(name, modules)
            if target and target != here:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules, name) for name, path in modules.items()}


def _stage(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank >= 0, f"{module} belongs to no stage"
    return rank


def test_library_never_imports_the_service_or_a_web_framework() -> None:
    """geo/ knows no HTTP: no service, FastAPI or Starlette import anywhere in it."""
    offenders = []
    for path in sorted((ROOT / "geo").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.split(".")[0] in ("service", "fastapi", "starlette", "uvicorn"):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert not offenders, offenders


def test_no_module_imports_a_later_stage() -> None:
    """Each arrow points down the list of stages, never up."""
    graph = _graph()
    upward = [
        f"{src} (stage {_stage(src)}) imports {dst} (stage {_stage(dst)})"
        for src, targets in graph.items()
        for dst in targets
        if _stage(dst) > _stage(src)
    ]
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    """No module reaches itself through imports (Tarjan's strongly connected components)."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, cycles


@pytest.mark.parametrize("top", ["geo", "service"])
def test_modules_read_in_one_sitting(top: str) -> None:
    """No module in geo/ or service/ is over 400 lines."""
    long = {
        str(p.relative_to(ROOT)): n
        for p in sorted((ROOT / top).rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, long


def test_the_checker_sees_deferred_imports(tmp_path: Path) -> None:
    """Imports inside functions and under TYPE_CHECKING are found (the rule's premise)."""
    modules = {"geo.a": tmp_path / "a.py", "geo.b": tmp_path / "b.py", "geo.c": tmp_path / "c.py"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from geo.b import X\n"
        "def f():\n    import geo.c\n"
    )
    modules["geo.a"].write_text(source, encoding="utf-8")
    assert _imports(modules["geo.a"], modules, "geo.a") == {"geo.b", "geo.c"}
