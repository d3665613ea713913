"""Which pytest plugins a repo's pytest config silently assumes are installed.

``addopts = --cov=pkg`` makes pytest exit with "unrecognized arguments" unless pytest-cov is
present, and ``asyncio_mode = auto`` only warns but then async tests fail. Projects usually list
these in a test extra, but often not (tox installs them), so we infer them from the config.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

# Option prefixes in addopts -> the distribution that defines them.
OPTION_PLUGINS: tuple[tuple[str, str], ...] = (
    ("--cov", "pytest-cov"),
    ("--no-cov", "pytest-cov"),
    ("--numprocesses", "pytest-xdist"),
    ("--dist", "pytest-xdist"),
    ("--maxprocesses", "pytest-xdist"),
    ("--max-worker-restart", "pytest-xdist"),
    ("--tx", "pytest-xdist"),
    ("--looponfail", "pytest-xdist"),
    ("--timeout", "pytest-timeout"),
    ("--benchmark", "pytest-benchmark"),
    ("--reruns", "pytest-rerunfailures"),
    ("--only-rerun", "pytest-rerunfailures"),
    ("--mypy", "pytest-mypy"),
    ("--flake8", "pytest-flake8"),
    ("--black", "pytest-black"),
    ("--isort", "pytest-isort"),
    ("--randomly", "pytest-randomly"),
    ("--random-order", "pytest-random-order"),
    ("--html", "pytest-html"),
    ("--json-report", "pytest-json-report"),
    ("--doctest-plus", "pytest-doctestplus"),
    ("--doctest-rst", "pytest-doctestplus"),
    ("--mpl", "pytest-mpl"),
    ("--hypothesis", "hypothesis"),
    ("--remote-data", "pytest-remotedata"),
    ("--asyncio-mode", "pytest-asyncio"),
    ("--ds", "pytest-django"),
    ("--instafail", "pytest-instafail"),
    ("--forked", "pytest-forked"),
    ("--memray", "pytest-memray"),
    ("--nbval", "nbval"),
    ("--xdoctest", "xdoctest"),
    ("--snapshot-update", "syrupy"),
    ("--codeblocks", "pytest-codeblocks"),
    ("--markdown-docs", "pytest-markdown-docs"),
    ("--freezer", "pytest-freezer"),
)
# Ini keys -> the plugin that reads them.
INI_PLUGINS: dict[str, str] = {
    "asyncio_mode": "pytest-asyncio",
    "asyncio_default_fixture_loop_scope": "pytest-asyncio",
    "timeout": "pytest-timeout",
    "timeout_method": "pytest-timeout",
    "timeout_func_only": "pytest-timeout",
    "django_settings_module": "pytest-django",
    "django_find_project": "pytest-django",
    "env": "pytest-env",
    "env_files": "pytest-dotenv",
    "mock_use_standalone_module": "pytest-mock",
    "mock_traceback_monkeypatch": "pytest-mock",
    "qt_api": "pytest-qt",
    "trio_mode": "pytest-trio",
    "looponfailroots": "pytest-xdist",
    "rsyncdirs": "pytest-xdist",
    "flake8-ignore": "pytest-flake8",
    "doctest_plus": "pytest-doctestplus",
    "doctest_rst": "pytest-doctestplus",
    "mpl-baseline-path": "pytest-mpl",
    "remote_data_strict": "pytest-remotedata",
    "httpserver_listen_address": "pytest-httpserver",
    "anyio_mode": "anyio",
    "mypy-ini-file": "pytest-mypy-plugins",
}
# ``-p NAME`` / ``pytest_plugins`` module names -> distribution (None: ships with pytest).
MODULE_PLUGINS: dict[str, str | None] = {
    "xdist": "pytest-xdist",
    "xdist.plugin": "pytest-xdist",
    "xdist.looponfail": "pytest-xdist",
    "cov": "pytest-cov",
    "randomly": "pytest-randomly",
    "anyio": "anyio",
    "trio": "pytest-trio",
    "asyncio": "pytest-asyncio",
    "hypothesis": "hypothesis",
    "hypothesis.extra.pytestplugin": "hypothesis",
    "pytester": None,
    "doctest": None,
    "cacheprovider": None,
    "faulthandler": None,
    "warnings": None,
    "logging": None,
    "capture": None,
    "tmpdir": None,
    "monkeypatch": None,
    "unittest": None,
    "terminal": None,
    "legacypath": None,
    "threadexception": None,
    "unraisableexception": None,
    "junitxml": None,
    "pastebin": None,
    "stepwise": None,
    "skipping": None,
    "python_path": None,
}


def plugins_for_pytest(
    ini: dict[str, Any], conftest_plugins: list[str], notes: list[str]
) -> list[str]:
    """Distributions to install so ``ini`` (addopts, keys, required_plugins) works."""
    found: dict[str, str] = {}  # dist -> reason

    def need(dist: str | None, reason: str) -> None:
        if dist and dist not in found:
            found[dist] = reason

    for token, value in _option_pairs(_addopts(ini.get("addopts", ""))):
        if token == "-p":
            need(module_dist(value), f"addopts -p {value}")
        elif token == "-n" or token.startswith("-n") and not token.startswith("--"):
            need("pytest-xdist", f"addopts {token}")
        else:
            for prefix, dist in OPTION_PLUGINS:
                if token.startswith(prefix):
                    need(dist, f"addopts {token.split('=')[0]}")
                    break
    for key in ini:
        need(INI_PLUGINS.get(key) or INI_PLUGINS.get(key.lower()), f"ini key {key}")
    required = ini.get("required_plugins", "")
    for spec in required.split() if isinstance(required, str) else required:
        need(spec, "required_plugins")
    for name in conftest_plugins:
        need(module_dist(name), f"conftest pytest_plugins {name}")
    for dist, reason in found.items():
        notes.append(f"{reason} needs {dist}")
    return list(found)


# Hooks whose py.path arguments (``path``, ``startdir``) pytest 9 removed; a conftest still
# declaring them makes pytest 9 refuse to start (PluginValidationError).
_LEGACY_HOOK = re.compile(
    r"def (?:pytest_ignore_collect|pytest_collect_file|pytest_pycollect_makemodule|"
    r"pytest_report_header|pytest_report_collectionfinish|pytest_collect_directory)"
    r"\s*\(([^)]*\b(?:path|fspath|startdir)\b[^)]*)\)"
)
# nose-style ``setup(self)`` / module ``setup()``: pytest 8 stopped calling them, tests then fail.
_NOSE_SETUP = re.compile(r"^\s*def (?:setup|teardown)\((?:self)?\)\s*(?:->\s*None\s*)?:", re.M)
_SKIP_DIRS = {".git", ".tox", ".nox", ".venv", "venv", "node_modules", "build", "dist", "docs"}


def pytest_requirement(root: Path, notes: list[str], max_files: int = 3000) -> str:
    """``pytest``, or an upper-bounded pin when the suite uses APIs newer pytest removed."""
    pin, reason = "pytest", ""
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            is_test = name.startswith("test_") or name.endswith("_test.py") or name == "tests.py"
            if not name.endswith(".py") or not (is_test or name == "conftest.py"):
                continue
            seen += 1
            if seen > max_files:
                break
            path = Path(dirpath) / name
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[:300_000]
            except OSError:
                continue
            rel = path.relative_to(root).as_posix()
            if name == "conftest.py" and pin == "pytest" and _LEGACY_HOOK.search(text):
                pin, reason = "pytest<9", f"{rel} declares hooks with py.path args"
            if is_test and _NOSE_SETUP.search(text):
                pin, reason = "pytest<8", f"{rel} uses nose-style setup()/teardown()"
                break
        if pin == "pytest<8" or seen > max_files:
            break
    if reason:
        notes.append(f"pin {pin}: {reason} (removed in later pytest)")
    return pin


def module_dist(module: str) -> str | None:
    """The distribution providing pytest plugin module ``module`` (None: builtin or local)."""
    if module.startswith("no:"):
        return None
    if module in MODULE_PLUGINS:
        return MODULE_PLUGINS[module]
    top = module.split(".")[0]
    if top.startswith("pytest_"):
        return top.replace("_", "-")
    return None  # a local plugin module of the repo itself


def _addopts(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(str(value), comments=True)
    except ValueError:
        return str(value).split()


def _option_pairs(tokens: list[str]) -> list[tuple[str, str]]:
    """(option, attached-or-following value) pairs; only ``-p`` needs the value."""
    out = []
    for i, tok in enumerate(tokens):
        if tok == "-p":
            out.append(("-p", tokens[i + 1] if i + 1 < len(tokens) else ""))
        elif tok.startswith("-p") and not tok.startswith("--"):
            out.append(("-p", tok[2:]))
        elif tok.startswith("-"):
            out.append((tok, ""))
    return out
