"""The engine's modules import each other without cycles.

A cycle means two modules cannot be read, tested or moved apart; function-local
imports that dodge one at import time still count, so every import is read
(module level and inside functions), and only `if TYPE_CHECKING:` blocks are
left out because they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"


def module_name(path: Path, root: Path) -> str:
    """Dotted name of a source file under the package root."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Collects the dotted targets of every import that can run."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, list[str]]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, []))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        self.found.append((base, [alias.name for alias in node.names]))


def import_graph(root: Path) -> dict[str, set[str]]:
    """Edges module -> engine module it imports, names resolved to submodules."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for base, names in visitor.found:
            if base not in files:
                continue
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in files]
            # `from pkg import sub` runs pkg/__init__ and then sub; other names
            # come from pkg itself.
            if len(subs) < len(names) or not names:
                graph[name].add(base)
            graph[name].update(subs)
        graph[name].discard(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a closed path of module names, or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_graph_sees_the_engine() -> None:
    """The walker finds the engine's modules and their real imports."""
    graph = import_graph(ENGINE)
    assert "engine.forge.run" in graph and "engine.cli.main" in graph
    assert "engine.environments" in graph
    assert any(graph.values())
    assert graph["engine.cli.main"] & {m for m in graph if m.startswith("engine.cli.")}


def test_find_cycle_reports_the_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_in_engine() -> None:
    cycle = find_cycle(import_graph(ENGINE))
    assert cycle is None, "import cycle in engine/: " + " -> ".join(cycle or [])
