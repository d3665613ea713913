"""Architecture rules that must hold as the code grows."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_never_imports_textual() -> None:
    offenders = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
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


def test_console_script_adds_the_tui_but_engine_cli_stays_headless(capsys) -> None:
    from engine.cli import build_parser
    from engine.cli import main as engine_main
    from tui.cli import register

    assert engine_main([]) == 0 and "usage: bugfoundry" in capsys.readouterr().out
    headless = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    full = build_parser(register)._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert "tui" not in headless and "tui" in full
