"""Where a repo declares its test dependencies: extras, dependency groups, requirements, tox.

Sources come in two tiers: test-specific (extras/groups named test/tests/testing, test
requirements files, tox deps) and dev (named dev). The dev tier is used only when the test tier
is empty, because dev sets drag in linters and doc builders that slow builds and break more.
"""

from __future__ import annotations

import ast
import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.environments.reqs import (
    normalize_name,
    parse_tox_deps,
    parse_tox_list,
    parse_tox_setenv,
    poetry_requirement,
    req_name,
    tox_sections,
)

TEST_NAMES = ("test", "tests", "testing")
DEV_NAMES = ("dev",)
TEST_REQ_GLOBS = (
    "requirements-test*.txt",
    "requirements_test*.txt",
    "test-requirements*.txt",
    "test_requirements*.txt",
    "requirements/test*.txt",
    "tests/requirements*.txt",
    "test/requirements*.txt",
)
DEV_REQ_GLOBS = (
    "requirements-dev*.txt",
    "requirements_dev*.txt",
    "dev-requirements*.txt",
    "requirements/dev*.txt",
)


@dataclass
class DepSources:
    """Install arguments found in one tier (test-specific or dev)."""

    extras: list[str] = field(default_factory=list)  # extras of the project itself
    args: list[str] = field(default_factory=list)  # requirement strings and "-r file" pairs
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.extras or self.args)

    def add_extra(self, name: str) -> None:
        if name not in self.extras:
            self.extras.append(name)

    def add_reqs(self, reqs: list[str], project: str) -> None:
        """Add requirement strings and ``-r FILE`` / ``-c FILE`` pairs (a pair is one item:
        a second ``-r`` must not be dropped as a duplicate of the first); ``project[x]`` (a
        self-reference) becomes extra ``x``."""
        items = iter(reqs)
        for r in items:
            if r in ("-r", "-c"):
                pair = [r, next(items, "")]
                if not any(self.args[i:i + 2] == pair for i in range(len(self.args) - 1)):
                    self.args.extend(pair)
            elif project and req_name(r) == project:
                m = re.search(r"\[([^\]]*)\]", r)
                for extra in m.group(1).split(",") if m else []:
                    self.add_extra(extra.strip())
            elif r not in self.args:
                self.args.append(r)


def collect_test_deps(
    root: Path,
    pyproject: dict,
    setup_cfg: configparser.ConfigParser | None,
    tox_ini: configparser.ConfigParser | None,
    pkg_info: dict[str, list[str]],
    project: str,
    env: dict[str, str],
    notes: list[str],
) -> DepSources:
    """The tier to install (test, else dev); tox setenv goes into ``env`` either way."""
    test, dev = DepSources(), DepSources()
    _extras(root, pyproject, setup_cfg, pkg_info, test, dev)
    _groups(pyproject, project, test, dev)
    _req_files(root, test, dev)
    _tox(root, tox_ini, setup_cfg, pyproject, project, test, env, notes)
    _nox(root, pyproject, project, test, notes)
    chosen = test if test else dev
    notes.extend(chosen.notes)
    if test and dev:
        notes.append("dev extras/groups/requirements skipped: test-specific ones found")
    elif not test and not dev:
        notes.append("no test dependencies declared: installing pytest (+plugins) only")
    return chosen


def _tier(name: str) -> str | None:
    n = normalize_name(name)
    return "test" if n in TEST_NAMES else "dev" if n in DEV_NAMES else None


def _extras(
    root: Path,
    pyproject: dict,
    setup_cfg: configparser.ConfigParser | None,
    pkg_info: dict[str, list[str]],
    test: DepSources,
    dev: DepSources,
) -> None:
    """Extras named test/tests/testing (test tier) or dev (dev tier), from wherever declared."""
    found: dict[str, str] = {}  # extra -> where
    tool = pyproject.get("tool", {})
    declared = [
        (
            "pyproject [project.optional-dependencies]",
            pyproject.get("project", {}).get("optional-dependencies", {}),
        ),
        ("pyproject [tool.poetry.extras]", tool.get("poetry", {}).get("extras", {})),
        (
            "pyproject [tool.flit.metadata.requires-extra]",
            tool.get("flit", {}).get("metadata", {}).get("requires-extra", {}),
        ),
    ]
    for where, table in declared:
        for extra in table:
            found.setdefault(extra, where)
    if setup_cfg is not None and setup_cfg.has_section("options.extras_require"):
        for extra in setup_cfg.options("options.extras_require"):
            found.setdefault(extra, "setup.cfg extras_require")
    for extra in pkg_info.get("provides-extra", []):
        found.setdefault(extra, "PKG-INFO Provides-Extra")
    for requires in root.glob("*.egg-info/requires.txt"):
        for m in re.finditer(r"^\[([\w.-]+)", requires.read_text(errors="replace"), re.M):
            found.setdefault(m.group(1), f"{requires.parent.name}/requires.txt")
    if (root / "setup.py").is_file():
        text = (root / "setup.py").read_text(encoding="utf-8", errors="replace")
        if "extras_require" in text:
            for m in re.finditer(r"['\"](tests?|testing|dev)['\"]\s*:", text):
                found.setdefault(m.group(1), "setup.py extras_require (grepped)")
    for extra, where in found.items():
        tier = _tier(extra)
        if tier:
            src = test if tier == "test" else dev
            src.add_extra(extra)
            src.notes.append(f"{tier} extra: [{extra}] ({where})")


def _group_reqs(groups: dict, name: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """PEP 735: a group's requirement strings with ``{include-group = ...}`` expanded."""
    by_norm = {normalize_name(k): v for k, v in groups.items()}
    key = normalize_name(name)
    if key in seen or key not in by_norm:
        return []
    out: list[str] = []
    for item in by_norm[key]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and "include-group" in item:
            out.extend(_group_reqs(groups, item["include-group"], seen | {key}))
    return out


def _groups(pyproject: dict, project: str, test: DepSources, dev: DepSources) -> None:
    """PEP 735 groups, poetry groups / dev-dependencies, pdm dev-dependencies, hatch envs."""
    tool = pyproject.get("tool", {})
    dep_groups = pyproject.get("dependency-groups", {})
    poetry = tool.get("poetry", {})
    candidates: list[tuple[str, str, list[str]]] = []  # (group, where, reqs)
    for g in dep_groups:
        candidates.append((g, "[dependency-groups]", _group_reqs(dep_groups, g)))
    for g, table in poetry.get("group", {}).items():
        deps = table.get("dependencies", {})
        reqs = [r for n, s in deps.items() if (r := poetry_requirement(n, s))]
        candidates.append((g, f"[tool.poetry.group.{g}]", reqs))
    if poetry.get("dev-dependencies"):
        deps = poetry["dev-dependencies"]
        reqs = [r for n, s in deps.items() if (r := poetry_requirement(n, s))]
        candidates.append(("dev", "[tool.poetry.dev-dependencies]", reqs))
    pdm = tool.get("pdm", {}).get("dev-dependencies", {})
    for g, reqs in pdm.items():
        candidates.append((g, "[tool.pdm.dev-dependencies]", [r for r in reqs if r[:1] != "-"]))
    for g, env in tool.get("hatch", {}).get("envs", {}).items():
        if g in ("default", "hatch-test", "test", "tests") and isinstance(env, dict):
            reqs = list(env.get("dependencies", [])) + list(env.get("extra-dependencies", []))
            for feat in env.get("features", []):
                if g != "default" or _tier(feat) == "test":  # default env: skip docs/lint
                    test.add_extra(feat)
            candidates.append(("test", f"[tool.hatch.envs.{g}]", reqs))
    for group, where, reqs in candidates:
        tier = _tier(group)
        if tier and reqs:
            src = test if tier == "test" else dev
            src.add_reqs(reqs, project)
            src.notes.append(f"{tier} group {group!r}: {len(reqs)} requirement(s) ({where})")


# A requirements file for one old Python beside a general one (tests37.txt next to tests.txt,
# test-py27.txt): its pins are for that interpreter and clash with the general file's.
_PY_SUFFIX = re.compile(r"^(?P<stem>.+?)[-_.]?(?:py)?(?:2\d|3\d{1,2})$")


def _req_files(root: Path, test: DepSources, dev: DepSources) -> None:
    for globs, src, tier in ((TEST_REQ_GLOBS, test, "test"), (DEV_REQ_GLOBS, dev, "dev")):
        for pattern in globs:
            for path in sorted(root.glob(pattern)):
                rel = path.relative_to(root).as_posix()
                if not path.is_file() or rel in src.args:
                    continue
                versioned = _PY_SUFFIX.match(path.stem)
                if versioned and (path.parent / (versioned["stem"] + path.suffix)).is_file():
                    src.notes.append(f"{tier} requirements file skipped: {rel} (for one "
                                     f"Python version; {versioned['stem']}{path.suffix} used)")
                    continue
                src.args.extend(["-r", rel])
                src.notes.append(f"{tier} requirements file: {rel}")


def _tox(
    root: Path,
    tox_ini: configparser.ConfigParser | None,
    setup_cfg: configparser.ConfigParser | None,
    pyproject: dict,
    project: str,
    test: DepSources,
    env: dict[str, str],
    notes: list[str],
) -> None:
    """tox [testenv] deps/extras (test tier) and setenv (always)."""
    for where, section in tox_sections(tox_ini, setup_cfg, pyproject):
        reqs, extras, skipped = parse_tox_deps(section.get("deps", ""), root)
        extras += parse_tox_list(section.get("extras", ""))
        test.add_reqs(reqs, project)
        for extra in extras:
            test.add_extra(extra)
        if reqs or extras:
            test.notes.append(f"tox deps ({where}): {', '.join(reqs + [f'[{e}]' for e in extras])}")
        notes.extend(f"tox dep skipped ({where}): {s}" for s in skipped)
        setenv = section.get("setenv", "") or section.get("set_env", "")
        for key, value in parse_tox_setenv(setenv, notes).items():
            env.setdefault(key, value)
            notes.append(f"tox setenv ({where}): {key}={value}")


_TEST_SESSION = re.compile(r"test|pytest|unit", re.I)


def _nox(root: Path, pyproject: dict, project: str, test: DepSources,
         notes: list[str]) -> None:
    """``session.install(...)`` literals of the noxfile's test sessions (read with ``ast``,
    never run): some projects declare their test dependencies nowhere else."""
    path = root / "noxfile.py"
    if not path.is_file():
        return
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError as exc:
        notes.append(f"noxfile.py unreadable, ignored: {exc.msg}")
        return
    for func in tree.body:
        if not (isinstance(func, ast.FunctionDef) and _nox_session(func)) or not func.args.args:
            continue
        if not _TEST_SESSION.search(_nox_name(func)):
            continue
        session = func.args.args[0].arg
        reqs, extras, groups = _nox_installs(func, session)
        for group in groups:  # --group NAME: a PEP 735 dependency group
            reqs += _group_reqs(pyproject.get("dependency-groups", {}), group)
        test.add_reqs(reqs, project)
        for extra in extras:
            test.add_extra(extra)
        if reqs or extras:
            test.notes.append(f"nox session {_nox_name(func)}: "
                              f"{', '.join(reqs + [f'[{e}]' for e in extras])}")


def _nox_session(func: ast.FunctionDef) -> bool:
    for dec in func.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "session":
            return True
    return False


def _nox_name(func: ast.FunctionDef) -> str:
    for dec in func.decorator_list:
        if isinstance(dec, ast.Call):
            for kw in dec.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return func.name


# Installer options whose value is the next argument (never a requirement: stamina's
# ``session.install(pkg, "--group", "tests")`` made "tests" one).
_VALUE_OPTIONS = frozenset({"--group", "--extra", "-i", "--index-url", "--extra-index-url",
                            "-f", "--find-links", "--python", "-p", "--prefix", "--target",
                            "-t", "--only-binary", "--no-binary"})


def _nox_installs(func: ast.FunctionDef, session: str
                  ) -> tuple[list[str], list[str], list[str]]:
    """Literal arguments of ``session.install`` calls: requirements, ``-r``/``-c`` pairs, the
    project's own extras (``.[test]``, ``-e .[test]``) and dependency groups (``--group``)."""
    reqs: list[str] = []
    extras: list[str] = []
    groups: list[str] = []
    for node in ast.walk(func):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "install" and isinstance(node.func.value, ast.Name)
                and node.func.value.id == session):
            continue
        args = [a.value for a in node.args if isinstance(a, ast.Constant)
                and isinstance(a.value, str)]
        items = iter(args)
        for arg in items:
            own = re.match(r"^\.(?:\[([^\]]*)\])?$", arg)
            if arg in ("-r", "-c"):
                reqs += [arg, next(items, "")]
            elif arg == "--group":
                groups.append(next(items, ""))
            elif arg in _VALUE_OPTIONS:
                next(items, "")
            elif own:
                extras += [e.strip() for e in (own.group(1) or "").split(",") if e.strip()]
            elif not arg.startswith("-"):
                reqs.append(arg)
    return reqs, extras, groups
