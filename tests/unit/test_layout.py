"""Architecture rules that must hold as the code grows."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported(node: ast.AST) -> list[str]:
    """The modules an import statement names (empty for any other node)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module]
    return []


def test_engine_never_imports_textual() -> None:
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = _imported(node)
            if any(n == "textual" or n.startswith(("textual.", "tui")) for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# The front ends and the benchmarks go through the store too; tests/ may use duckdb directly.
OUTSIDE_THE_STORE = ("engine", "tui", "bench")


def _outside_the_store() -> list[tuple[Path, ast.Module]]:
    out = []
    for top in OUTSIDE_THE_STORE:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.parent == ROOT / "engine" / "store":
                continue
            out.append((path, ast.parse(path.read_text(encoding="utf-8"))))
    assert len(out) > 50 and any(p.parent.name == "tui" for p, _ in out)  # the scan ran
    return out


def test_only_the_store_speaks_sql() -> None:
    offenders = []
    for path, tree in _outside_the_store():
        for node in ast.walk(tree):
            names = _imported(node)
            if any(n == "duckdb" or n.startswith("duckdb.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_nothing_outside_the_store_touches_a_connection() -> None:
    """No ``x.con`` (a Store's connection) and no ``Store(...)`` built by hand around one:
    worker threads ask for ``Store.reader()``, a held database for ``Store.snapshot``."""
    offenders = []
    for path, tree in _outside_the_store():
        for node in ast.walk(tree):
            touches = isinstance(node, ast.Attribute) and node.attr == "con"
            builds = (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                      and node.func.id in ("Store", "StoreCore"))
            if touches or builds:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_console_script_adds_the_tui_but_engine_cli_stays_headless(capsys) -> None:
    from engine.cli.main import build_parser
    from engine.cli.main import main as engine_main
    from tui.cli import register

    assert engine_main([]) == 0 and "usage: bugfoundry" in capsys.readouterr().out
    headless = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    full = build_parser(register)._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert "tui" not in headless and "tui" in full


def test_screens_reach_the_app_through_its_typed_interface() -> None:
    """Only the console script imports ``tui.app``: screens use ``tui.services.Workbench``."""
    offenders = []
    for path in sorted((ROOT / "tui").glob("*.py")):
        if path.name in ("app.py", "cli.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if "tui.app" in _imported(node):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
