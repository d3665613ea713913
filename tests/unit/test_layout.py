"""Architecture rules that must hold as the code grows."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lazy_tui_import_lines(path: Path, tree: ast.AST) -> set[int]:
    """The one allowed exception: ``cmd_tui`` in engine/cli.py imports the TUI lazily."""
    if path != ROOT / "engine" / "cli.py":
        return set()
    return {
        node.lineno
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef) and fn.name == "cmd_tui"
        for node in ast.walk(fn)
        if isinstance(node, ast.ImportFrom) and node.module == "tui.app"
    }


def test_engine_never_imports_textual() -> None:
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = _lazy_tui_import_lines(path, tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in allowed:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "textual" or n.startswith(("textual.", "tui")) for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_only_the_store_speaks_sql() -> None:
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        if path.parent.name == "store" and path.parent.parent.name == "engine":
            continue
        text = path.read_text(encoding="utf-8")
        if "import duckdb" in text or "from duckdb" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
