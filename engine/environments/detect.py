"""Guess, from a repo's files alone, how to install it and run its tests (a ``Recipe``).

Nothing here runs the project's code: only TOML/INI files are parsed (stdlib ``tomllib`` and
``configparser``) and a few files are grepped, so detection is fast, safe and unit-testable.
Every decision appends one human-readable line to ``recipe.notes``.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from engine.environments.pytest_plugins import plugins_for_pytest, pytest_requirement
from engine.environments.reqs import normalize_name, poetry_requirement, satisfies
from engine.environments.testdeps import collect_test_deps
from engine.models import Recipe

BACKENDS = {  # build-backend module prefix -> Recipe.backend
    "setuptools": "setuptools",
    "hatchling": "hatch",
    "poetry": "poetry",  # poetry.core.masonry.api and the ancient poetry.masonry.api
    "flit_core": "flit",
    "flit": "flit",
    "flit_scm": "flit",
    "pdm": "pdm",  # pdm.backend and the older pdm.pep517.api
}


def detect_recipe(repo_root: Path, python: str | None = None) -> Recipe:
    """Inspect ``repo_root`` and return the recipe to build and test it (see module doc)."""
    root = Path(repo_root)
    recipe = Recipe()
    notes = recipe.notes
    pyproject = _load_toml(root / "pyproject.toml", notes)
    setup_cfg = _load_ini(root / "setup.cfg", notes)
    tox_ini = _load_ini(root / "tox.ini", notes)
    pkg_info = _pkg_info(root)
    project = normalize_name(_project_name(pyproject, setup_cfg, pkg_info))

    recipe.backend, installable = _backend(root, pyproject, notes)
    recipe.python = _pick_python(
        _requires_python(root, pyproject, setup_cfg, pkg_info), python, notes
    )

    chosen = collect_test_deps(
        root, pyproject, setup_cfg, tox_ini, pkg_info, project, recipe.env, notes
    )

    if installable:
        extras = f"[{','.join(chosen.extras)}]" if chosen.extras else ""
        recipe.steps.append(["-e", f".{extras}"])
        notes.append(f"install project editable: -e .{extras}")
    elif (root / "requirements.txt").is_file():
        recipe.steps.append(["-r", "requirements.txt"])
        notes.append("not installable: installing requirements.txt, source put on PYTHONPATH")
    if chosen.args:
        recipe.steps.append(list(chosen.args))

    ini, where = _pytest_ini(root, pyproject, setup_cfg, tox_ini)
    if where:
        notes.append(f"pytest config: {where}")
    plugins = plugins_for_pytest(ini, _conftest_plugins(root), notes)
    pytest_req = pytest_requirement(root, notes)
    recipe.steps.append([pytest_req, *[p for p in plugins if p != "pytest"]])
    recipe.test_paths = _test_paths(root, ini.get("testpaths"), notes)
    recipe.source_roots = _source_roots(root, pyproject, setup_cfg, notes)
    _scm_env(root, pyproject, setup_cfg, project, pkg_info, recipe.env, notes)
    return recipe


def pytest_addopts(repo_root: Path) -> str:
    """The ``addopts`` of the pytest config pytest itself would read in ``repo_root``."""
    root = Path(repo_root)
    notes: list[str] = []
    ini, _where = _pytest_ini(root, _load_toml(root / "pyproject.toml", notes),
                              _load_ini(root / "setup.cfg", notes),
                              _load_ini(root / "tox.ini", notes))
    value = ini.get("addopts", "")
    return " ".join(value) if isinstance(value, list) else str(value or "")


# ---------------------------------------------------------------- file loading


def _load_toml(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        notes.append(f"{path.name} unreadable, ignored: {e}")
        return {}


def _load_ini(path: Path, notes: list[str]) -> configparser.ConfigParser | None:
    if not path.is_file():
        return None
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cp.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except configparser.Error as e:
        notes.append(f"{path.name} unreadable, ignored: {str(e).splitlines()[0]}")
        return None
    return cp


def _pkg_info(root: Path) -> dict[str, list[str]]:
    """PKG-INFO headers (present when the tree is an sdist): name -> values."""
    path = root / "PKG-INFO"
    out: dict[str, list[str]] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            break  # the body (long description) starts after the first blank line
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            out.setdefault(key.strip().lower(), []).append(value.strip())
    return out


def _ini_get(cp: configparser.ConfigParser | None, section: str, key: str) -> str:
    if cp is None or not cp.has_section(section):
        return ""
    return cp.get(section, key, fallback="") or ""


def _project_name(
    pyproject: dict, setup_cfg: configparser.ConfigParser | None, pkg_info: dict[str, list[str]]
) -> str:
    return (
        pyproject.get("project", {}).get("name")
        or pyproject.get("tool", {}).get("poetry", {}).get("name")
        or _ini_get(setup_cfg, "metadata", "name")
        or (pkg_info.get("name") or [""])[0]
    )


# ---------------------------------------------------------------- backend and python


def _backend(root: Path, pyproject: dict, notes: list[str]) -> tuple[str, bool]:
    """Return (backend, installable)."""
    module = pyproject.get("build-system", {}).get("build-backend", "")
    if module:
        top = re.split(r"[.:]", module)[0]
        name = BACKENDS.get(top, top)
        notes.append(f"build backend: {name} (pyproject.toml: {module})")
        return name, True
    if (root / "setup.py").is_file() or (root / "setup.cfg").is_file():
        has_meta = (root / "setup.py").is_file() or "[metadata]" in (root / "setup.cfg").read_text(
            encoding="utf-8", errors="replace"
        )
        if has_meta:
            notes.append("build backend: setup.py (setuptools legacy, no [build-system])")
            return "setup.py", True
    if "project" in pyproject:
        notes.append("build backend: setuptools (pyproject [project] without [build-system])")
        return "setuptools", True
    if "poetry" in pyproject.get("tool", {}):
        notes.append("build backend: poetry ([tool.poetry] without [build-system])")
        return "poetry", True
    notes.append("build backend: none (not an installable package)")
    return "none", False


def _requires_python(
    root: Path,
    pyproject: dict,
    setup_cfg: configparser.ConfigParser | None,
    pkg_info: dict[str, list[str]],
) -> str:
    spec = pyproject.get("project", {}).get("requires-python", "")
    if not spec:
        poetry_py = (
            pyproject.get("tool", {}).get("poetry", {}).get("dependencies", {}).get("python")
        )
        if isinstance(poetry_py, str):
            spec = (poetry_requirement("python", poetry_py) or "python").removeprefix("python")
    spec = spec or _ini_get(setup_cfg, "options", "python_requires")
    spec = spec or (pkg_info.get("requires-python") or [""])[0]
    if not spec and (root / "setup.py").is_file():
        text = (root / "setup.py").read_text(encoding="utf-8", errors="replace")
        m = re.search(r"python_requires\s*=\s*['\"]([^'\"]+)['\"]", text)
        spec = m.group(1) if m else ""
    return spec.strip()


def _probe(exe: str) -> tuple[int, ...] | None:
    """The interpreter's version, or None when it does not run (e.g. an inactive pyenv shim)."""
    if not shutil.which(exe):
        return None
    code = "import sys; print('.'.join(map(str, sys.version_info[:3])))"
    try:
        out = subprocess.run([exe, "-c", code], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return tuple(int(x) for x in out.stdout.strip().split("."))


def _pick_python(spec: str, explicit: str | None, notes: list[str]) -> str:
    if explicit:
        notes.append(f"python: {explicit} (explicitly requested)")
        return explicit
    current = sys.version_info[:3]
    name = f"python{current[0]}.{current[1]}"
    if not spec or satisfies(spec, current):
        why = f"satisfies requires-python {spec}" if spec else "no requires-python"
        notes.append(f"python: {name} (running interpreter, {why})")
        return name
    # Nearest minor version first: closest to the interpreter the project is known to work on.
    for minor in sorted(range(7, 16), key=lambda m: (abs(m - current[1]), m < current[1])):
        if not (satisfies(spec, (3, minor, 0)) or satisfies(spec, (3, minor, 99))):
            continue  # no 3.X build can fit: don't spend a subprocess finding out
        for cand in _candidates(minor):
            version = _probe(cand)
            if version and satisfies(spec, version):
                notes.append(f"python: {cand} (requires-python {spec}; running {name} doesn't fit)")
                return cand
    notes.append(f"python: {name} (requires-python {spec} unmet, no fitting python3.X found)")
    return name


def _candidates(minor: int) -> list[str]:
    """``python3.X`` on PATH, then pyenv-installed 3.X builds (pyenv shims only expose the
    active versions, so an installed-but-inactive 3.X is only reachable by path)."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    installed = sorted(
        pyenv.glob(f"3.{minor}.*/bin/python3.{minor}"),
        key=lambda p: tuple(int(x) for x in re.findall(r"\d+", p.parent.parent.name)[:3]),
        reverse=True,
    )
    return [f"python3.{minor}", *(str(p) for p in installed)]


# ---------------------------------------------------------------- pytest config and layout


def _pytest_ini(
    root: Path,
    pyproject: dict,
    setup_cfg: configparser.ConfigParser | None,
    tox_ini: configparser.ConfigParser | None,
) -> tuple[dict[str, Any], str]:
    """The pytest ini options from the file pytest itself would pick (same precedence)."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            cp = _load_ini(root / name, [])
            return _ini_section(cp, "pytest"), name
    tool_pytest = pyproject.get("tool", {}).get("pytest", {})
    if "ini_options" in tool_pytest:
        return dict(tool_pytest["ini_options"]), "pyproject.toml [tool.pytest.ini_options]"
    if tool_pytest:
        return dict(tool_pytest), "pyproject.toml [tool.pytest]"
    if tox_ini is not None and tox_ini.has_section("pytest"):
        return _ini_section(tox_ini, "pytest"), "tox.ini [pytest]"
    if setup_cfg is not None and setup_cfg.has_section("tool:pytest"):
        return _ini_section(setup_cfg, "tool:pytest"), "setup.cfg [tool:pytest]"
    return {}, ""


def _ini_section(cp: configparser.ConfigParser | None, section: str) -> dict[str, Any]:
    if cp is None or not cp.has_section(section):
        return {}
    return {k: v for k, v in cp.items(section)}


def _conftest_plugins(root: Path) -> list[str]:
    """Names in ``pytest_plugins = [...]`` of the top-level conftest files."""
    names: list[str] = []
    for conftest in (
        root / "conftest.py",
        root / "tests" / "conftest.py",
        root / "test" / "conftest.py",
    ):
        if conftest.is_file():
            text = conftest.read_text(encoding="utf-8", errors="replace")
            m = re.search(r"^pytest_plugins\s*=\s*([\[(][^\])]*|['\"][^'\"]*['\"])", text, re.M)
            if m:
                names += re.findall(r"['\"]([\w.]+)['\"]", m.group(1))
    return names


def _test_paths(root: Path, testpaths: Any, notes: list[str]) -> list[str]:
    if isinstance(testpaths, str):
        testpaths = testpaths.split()
    if testpaths:
        existing = [p for p in testpaths if any(root.glob(p))]
        if existing:
            notes.append(f"test paths: {' '.join(existing)} (pytest testpaths)")
            return existing
    dirs = [d for d in ("tests", "test") if (root / d).is_dir()]
    if not dirs and (root / "tests.py").is_file():  # pytest's default patterns miss it
        notes.append("test paths: tests.py (a single test module at the root)")
        return ["tests.py"]
    notes.append(
        f"test paths: {' '.join(dirs)} (directory)"
        if dirs
        else "test paths: pytest default discovery (no tests/ or test/ dir)"
    )
    return dirs


def _source_roots(
    root: Path, pyproject: dict, setup_cfg: configparser.ConfigParser | None, notes: list[str]
) -> list[str]:
    mapped = pyproject.get("tool", {}).get("setuptools", {}).get("package-dir", {}).get("")
    if not mapped:
        m = re.search(r"^\s*=\s*(\S+)", _ini_get(setup_cfg, "options", "package_dir"), re.M)
        mapped = m.group(1) if m else ""
    if mapped and (root / mapped).is_dir():
        notes.append(f"source root: {mapped} (package_dir)")
        return [mapped]
    src = root / "src"
    # Any module below src/ counts: a namespace package (poetry-core's src/poetry/core, with
    # no src/poetry/__init__.py) imported from elsewhere would leave the tests on other code.
    if src.is_dir() and next(src.rglob("*.py"), None) is not None:
        notes.append("source root: src (src layout)")
        return ["src"]
    return ["."]


# ---------------------------------------------------------------- dynamic versions


def _scm_env(
    root: Path,
    pyproject: dict,
    setup_cfg: configparser.ConfigParser | None,
    project: str,
    pkg_info: dict[str, list[str]],
    env: dict[str, str],
    notes: list[str],
) -> None:
    """Pretend a version for VCS-derived versions, which fail or degrade without git tags."""
    requires = " ".join(pyproject.get("build-system", {}).get("requires", [])).lower()
    tool = pyproject.get("tool", {})
    setup_py = root / "setup.py"
    setup_text = setup_py.read_text(errors="replace") if setup_py.is_file() else ""
    uses_scm = (
        re.search(r"setuptools[-_]scm|hatch-vcs|hatch_vcs|flit[-_]scm", requires) is not None
        or "setuptools_scm" in tool
        or "use_scm_version" in setup_text
        or "setuptools_scm" in _ini_get(setup_cfg, "options", "setup_requires")
    )
    pdm_scm = tool.get("pdm", {}).get("version", {}).get("source") == "scm"
    poetry_dv = "poetry-dynamic-versioning" in requires or "poetry_dynamic_versioning" in requires
    if not (uses_scm or pdm_scm or poetry_dv):
        return
    if (root / ".git").exists() and _git_has_tags(root):
        notes.append("dynamic VCS version: git tags present, left to the build backend")
        return
    version = (pkg_info.get("version") or ["0.0.0"])[0]
    origin = "PKG-INFO" if pkg_info.get("version") else "no tags, no PKG-INFO"
    if uses_scm:
        env["SETUPTOOLS_SCM_PRETEND_VERSION"] = version
        if project:
            suffix = re.sub(r"[-_.]+", "_", project).upper()
            env[f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{suffix}"] = version
    if pdm_scm:
        env["PDM_BUILD_SCM_VERSION"] = version
    if poetry_dv:
        env["POETRY_DYNAMIC_VERSIONING_BYPASS"] = version
    notes.append(f"dynamic VCS version: pretend {version} ({origin})")


def _git_has_tags(root: Path) -> bool:
    try:
        out = subprocess.run(
            ["git", "describe", "--tags", "--abbrev=0"], cwd=root, capture_output=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0
