"""Small parsers for requirement-ish text: names, version specifiers, poetry constraints, tox.

Stdlib only on purpose: detection runs in bugfoundry's own interpreter, where ``packaging`` may
be absent, and only needs the simple subset real repos use.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_TEST_FACTORS = re.compile(r"^(py\d*|pypy\d*|tests?|testing|unit|pytest|cov|coverage)$")
_TOX_ENVS = ("tests", "test", "testing", "py", "pytest", "unit")


def normalize_name(name: str) -> str:
    """PEP 503 normalisation (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def req_name(req: str) -> str:
    """The normalised project name a requirement string refers to ('' for options/paths)."""
    m = _NAME.match(req)
    return normalize_name(m.group(1)) if m and not req.lstrip().startswith("-") else ""


# ---------------------------------------------------------------- version specifiers


def _vtuple(text: str) -> tuple[int, ...]:
    return tuple(int(m.group(1)) for p in text.split(".") if (m := re.match(r"(\d+)", p)))


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


def satisfies(spec: str, version: tuple[int, ...]) -> bool:
    """Whether ``version`` (e.g. (3, 11, 7)) meets a PEP 440 specifier like ``>=3.8,<4``.

    Unparseable clauses are ignored (treated as satisfied): a wrong guess only means we keep
    the default interpreter, which is what we would do without a spec anyway.
    """
    for clause in spec.split(","):
        m = re.match(r"\s*(~=|===|==|!=|<=|>=|<|>)?\s*v?(\d+(?:\.\d+)*)(\.\*)?", clause)
        if not m or not clause.strip():
            continue
        op, want, star = m.group(1) or "==", _vtuple(m.group(2)), bool(m.group(3))
        if star:
            prefix_ok = version[: len(want)] == want
            if (op == "==" and not prefix_ok) or (op == "!=" and prefix_ok):
                return False
            continue
        c = _cmp(version, want)
        ok = {
            "==": c == 0,
            "===": c == 0,
            "!=": c != 0,
            "<": c < 0,
            "<=": c <= 0,
            ">": c > 0,
            ">=": c >= 0,
            "~=": c >= 0 and version[: max(len(want) - 1, 1)] == want[: max(len(want) - 1, 1)],
        }[op]
        if not ok:
            return False
    return True


# ---------------------------------------------------------------- poetry


def _bump(parts: list[int], index: int) -> str:
    upper = parts[: index + 1]
    upper[index] += 1
    return ".".join(map(str, upper))


def poetry_constraint(text: str) -> str:
    """Poetry's ``^1.2`` / ``~1.2`` / ``1.2.3`` / ``*`` -> a PEP 440 specifier ('' = any)."""
    text = text.strip()
    if not text or text == "*" or "||" in text or "|" in text:
        return ""
    out: list[str] = []
    for part in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", text):
        part = part.strip()
        parts = list(_vtuple(part.lstrip("^~=<>! ")))
        if part.startswith("^") and parts:
            nonzero = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
            out.append(f">={part[1:]},<{_bump(parts, nonzero)}")
        elif part.startswith("~") and not part.startswith("~=") and parts:
            out.append(f">={part[1:]},<{_bump(parts, 1 if len(parts) > 1 else 0)}")
        elif re.match(r"^\d", part):
            out.append(f"=={part}")
        elif part and part != "*":
            out.append(part)
    return ",".join(out)


def poetry_requirement(name: str, spec: Any) -> str | None:
    """One ``[tool.poetry.*dependencies]`` entry as a requirement string (None: skip it)."""
    if name.lower() == "python":
        return f"python{poetry_constraint(spec)}" if isinstance(spec, str) else None
    if isinstance(spec, list):  # multiple-constraint form: take the first
        spec = spec[0] if spec else "*"
    extras, markers = "", ""
    if isinstance(spec, dict):
        if "git" in spec:
            ref = spec.get("rev") or spec.get("tag") or spec.get("branch")
            return f"{name} @ git+{spec['git']}" + (f"@{ref}" if ref else "")
        if "path" in spec or "url" in spec:
            return f"{name} @ {spec['url']}" if "url" in spec else None
        if spec.get("extras"):
            extras = f"[{','.join(spec['extras'])}]"
        markers = spec.get("markers", "")
        spec = spec.get("version", "*")
    constraint = poetry_constraint(str(spec))
    return f"{name}{extras}{constraint}" + (f"; {markers}" if markers else "")


# ---------------------------------------------------------------- tox


def tox_sections(
    tox_ini: configparser.ConfigParser | None,
    setup_cfg: configparser.ConfigParser | None,
    pyproject: dict,
) -> list[tuple[str, dict[str, str]]]:
    """The tox sections that describe the test env: ``[testenv]`` plus one test-ish named env."""
    cp, where = tox_ini, "tox.ini"
    tox = pyproject.get("tool", {}).get("tox", {})
    if cp is None and setup_cfg is not None and setup_cfg.has_section("tox:tox"):
        cp, where = setup_cfg, "setup.cfg"
    if cp is None and isinstance(tox.get("legacy_tox_ini"), str):
        cp, where = configparser.ConfigParser(interpolation=None, strict=False), "pyproject"
        try:
            cp.read_string(tox["legacy_tox_ini"])
        except configparser.Error:
            return []
    if cp is None:
        base = tox.get("env_run_base", {})
        if not isinstance(base, dict) or not base:
            return []
        section = {
            "deps": "\n".join(d for d in base.get("deps", []) if isinstance(d, str)),
            "extras": ",".join(base.get("extras", [])),
            "set_env": "\n".join(
                f"{k}={v}" for k, v in base.get("set_env", {}).items() if isinstance(v, str)
            ),
        }
        return [("pyproject [tool.tox.env_run_base]", section)]
    out = []
    if cp.has_section("testenv"):
        out.append((f"{where} [testenv]", dict(cp.items("testenv"))))
    for env in _TOX_ENVS:
        if cp.has_section(f"testenv:{env}"):
            out.append((f"{where} [testenv:{env}]", dict(cp.items(f"testenv:{env}"))))
            break
    return out


def _tox_lines(value: str) -> list[str]:
    """Lines of a tox multi-line value, keeping unconditional and test-ish factor lines."""
    out = []
    for raw in value.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"\s+#.*$", "", line)
        m = re.match(r"^([A-Za-z0-9_.,!{}-]+):\s+(\S.*)$", line)
        if m:
            factors = re.split(r"[,-]", m.group(1))
            positive = [f for f in factors if f and not f.startswith("!")]
            if positive and not any(_TEST_FACTORS.match(f) for f in positive):
                continue
            line = m.group(2)
        out.append(line.replace("{toxinidir}/", "").replace("{toxinidir}", "."))
    return out


def parse_tox_list(value: str) -> list[str]:
    """A tox list value (``extras``): comma/newline separated, factor lines filtered."""
    return [x.strip() for line in _tox_lines(value) for x in line.split(",") if x.strip()]


def parse_tox_deps(value: str, root: Path) -> tuple[list[str], list[str], list[str]]:
    """tox ``deps`` -> (install args, extras of the project itself, skipped lines)."""
    reqs: list[str] = []
    extras: list[str] = []
    skipped: list[str] = []
    for line in _tox_lines(value):
        if "{" in line:
            skipped.append(f"{line} (tox substitution)")
            continue
        m = re.match(r"^-([rc])\s*(\S+)$", line)
        if m:
            if (root / m.group(2)).is_file():
                reqs.extend([f"-{m.group(1)}", m.group(2)])
            else:
                skipped.append(f"{line} (file not found)")
            continue
        m = re.match(r"^(?:-e\s*)?\.(?:\[([^\]]*)\])?$", line)
        if m:
            extras += [e.strip() for e in (m.group(1) or "").split(",") if e.strip()]
            continue
        if line.startswith("-"):
            skipped.append(f"{line} (installer option)")
            continue
        reqs.append(line)
    return reqs, extras, skipped


def parse_tox_setenv(value: str, notes: list[str]) -> dict[str, str]:
    """tox ``setenv`` -> variables; lines with substitutions or ``file|`` refs are skipped."""
    env: dict[str, str] = {}
    for line in _tox_lines(value):
        key, sep, val = line.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not re.match(r"^[A-Za-z_]\w*$", key):
            notes.append(f"tox setenv line skipped: {line}")
        elif "{" in val:
            notes.append(f"tox setenv {key} skipped (tox substitution)")
        else:
            env[key] = val
    return env
