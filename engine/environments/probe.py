"""Ask a built environment what it holds, and turn that into the pytest arguments every run needs.

An environment can be built and still be unable to run tests (pytest uninstalled, a broken
interpreter), and a project's own pytest config can switch on plugins that fight ours: coverage
takes the trace hook the test map needs, xdist moves tests into worker processes, random-order
plugins shuffle the tests, rerun plugins retry failures. The probe runs one short script in the
environment; ``session_args`` neutralises each such plugin with its own documented switch, and
only when it is installed (an unknown option is a usage error in pytest).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EnvironmentBrokenError

if TYPE_CHECKING:
    from engine.environments.base import Environment

PROBE_TIMEOUT = 120.0

_SCRIPT = r"""
import json, sys
out = {"python": sys.version.split()[0]}
try:
    import pytest
    out["pytest"] = getattr(pytest, "__version__", "?")
except BaseException as exc:
    out["pytest_error"] = f"{type(exc).__name__}: {exc}"
try:
    from importlib import metadata
    names = set()
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").strip().lower().replace("_", "-")
        if name:
            names.add(name)
    out["dists"] = sorted(names)
except Exception as exc:
    out["dists"] = []
print("BUGFOUNDRY-PROBE " + json.dumps(out))
"""

# addopts flags that need pytest's cache plugin (which we otherwise block: no writes into trees)
_CACHE_FLAGS = ("--lf", "--last-failed", "--ff", "--failed-first", "--nf", "--new-first",
                "--cache-clear", "--cache-show", "--sw", "--stepwise", "--lfnf",
                "--last-failed-no-failures")


@dataclass(frozen=True)
class EnvProbe:
    """What one environment's interpreter reported about itself."""

    python: str = ""
    pytest: str = ""  # pytest's version; "" when it cannot be imported
    pytest_error: str = ""
    dists: frozenset[str] = field(default_factory=frozenset)  # normalised distribution names

    def has(self, dist: str) -> bool:
        return dist in self.dists


def parse_probe(output: str) -> EnvProbe | None:
    """The probe's answer from its output (pure), or None when it printed none."""
    for line in output.splitlines():
        if line.startswith("BUGFOUNDRY-PROBE "):
            data = json.loads(line.split(" ", 1)[1])
            return EnvProbe(data.get("python", ""), data.get("pytest", ""),
                            data.get("pytest_error", ""), frozenset(data.get("dists", [])))
    return None


def probe_environment(env: Environment, cwd: Path, repo: str) -> EnvProbe:
    """Run the probe; raise ``EnvironmentBrokenError`` when pytest cannot run there."""
    res = env.run(["python", "-c", _SCRIPT], cwd=cwd, timeout=PROBE_TIMEOUT)
    probe = None if res.timed_out else parse_probe(res.stdout)
    rebuild = f"Rebuild it: bugfoundry env build {repo} --rebuild"
    if probe is None:
        said = (res.stderr or res.stdout).strip().splitlines()
        why = "it did not answer in time" if res.timed_out else (said[-1] if said else
                                                                  f"exit code {res.returncode}")
        raise EnvironmentBrokenError(
            f"the {env.backend} environment of {repo} cannot run Python ({why[:300]}).\n{rebuild}")
    if not probe.pytest:
        raise EnvironmentBrokenError(
            f"the {env.backend} environment of {repo} cannot import pytest "
            f"({probe.pytest_error[:300]}).\n{rebuild}")
    return probe


def session_args(probe: EnvProbe, addopts: str) -> list[str]:
    """Arguments for every pytest run in this environment (pure).

    - collection errors never stop the run: a bug that breaks one test module must not hide
      the outcome of every other test;
    - coverage (pytest-cov) off: it takes the trace hook the test map needs and slows every run;
    - xdist off (``-n 0``): the reporter and the tracer live in this process;
    - random ordering off, reruns off: one deterministic pass, failures reported as failures;
    - pytest's cache off unless the config's addopts uses one of its flags.
    """
    words = _words(addopts)
    args = ["--continue-on-collection-errors"]
    if any(w in _CACHE_FLAGS for w in words):
        args += ["-o", "cache_dir=.bugfoundry-pytest-cache"]
    else:
        args += ["-p", "no:cacheprovider"]
    if probe.has("pytest-cov"):
        args.append("--no-cov")
    if probe.has("pytest-xdist") and "no:xdist" not in words:
        args += ["-n", "0"]
    if probe.has("pytest-randomly"):
        if any("randomly" in w and not w.startswith("no:") for w in words):
            args += ["--randomly-dont-reorganize", "--randomly-seed=0"]
        else:
            args += ["-p", "no:randomly"]
    if probe.has("pytest-random-order"):
        args.append("--random-order-bucket=none")
    if probe.has("pytest-rerunfailures"):
        args += ["--reruns", "0"]
    return args


def _words(addopts: str) -> list[str]:
    try:
        return shlex.split(addopts)
    except ValueError:
        return addopts.split()
