"""The test map: which tests execute which functions and lines of the repo (from the baseline).

Built once per baseline by a tracing pytest run (``pytest_support/bugfoundry_map.py``) and
stored with it. Validation uses it to run only the tests that can see a change; forging uses
it to mutate only code that some test executes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

IMPORT = "<import>"  # pseudo-test: code executed at import / collection time


@dataclass
class TestMap:
    """Function- and line-level coverage per test; ``IMPORT`` holds import-time execution."""

    __test__ = False

    functions: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # test -> file -> lines first seen while it ran (the tracer stops tracing lines it has seen,
    # so only the union over tests, ``covered_lines``, is complete)
    lines: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the tracing run
    problem: str = ""  # what disturbed the tracing run (another tracer took the hook), if any
    tracer: str = ""  # what recorded it: "probe", "monitoring" or "settrace"
    # project modules that ran without probes (another loader imported them): redo by tracer
    unprobed: list[str] = field(default_factory=list)

    @property
    def tests(self) -> set[str]:
        """The tests traced (not ``IMPORT``): every test records at least its own function."""
        found = {t for tests in self.functions.values() for t in tests} | set(self.lines)
        found.discard(IMPORT)
        return found

    @property
    def covered_lines(self) -> dict[str, set[int]]:
        """Every line executed by some test or at import, per file (what forging may mutate)."""
        out: dict[str, set[int]] = {}
        for per_file in self.lines.values():
            for rel, lines in per_file.items():
                out.setdefault(rel, set()).update(lines)
        return out

    def tests_for(self, rel: str, qualname: str) -> set[str]:
        """Tests (and possibly ``IMPORT``) that executed ``qualname`` or code nested in it."""
        hit = set(self.functions.get((rel, qualname), ()))
        prefix = qualname + ".<locals>."
        for (f, q), tests in self.functions.items():
            if f == rel and q.startswith(prefix):
                hit |= tests
        return hit

    def tests_for_class(self, rel: str, name: str) -> set[str]:
        """Tests (and ``IMPORT``) that executed any function defined in class ``name``."""
        prefix = name + "."
        return {t for (f, q), tests in self.functions.items()
                if f == rel and q.startswith(prefix) for t in tests}

    def tests_touching_file(self, rel: str) -> set[str]:
        return {t for (f, _q), tests in self.functions.items() if f == rel for t in tests}

    def rows(self) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, list[int]]]]:
        funcs = [(t, f, q) for (f, q), tests in sorted(self.functions.items())
                 for t in sorted(tests)]
        lines = [(t, f, sorted(v)) for t, per in sorted(self.lines.items())
                 for f, v in sorted(per.items())]
        return funcs, lines

    @classmethod
    def from_rows(cls, funcs: Iterable[tuple[str, str, str]],
                  lines: Iterable[tuple[str, str, list[int]]], seconds: float = 0.0) -> TestMap:
        tm = cls(seconds=seconds)
        for test, rel, qual in funcs:
            tm.functions.setdefault((rel, qual), set()).add(test)
        for test, rel, ls in lines:
            tm.lines.setdefault(test, {})[rel] = set(ls)
        return tm


def load_map_file(path: Path, seconds: float = 0.0) -> TestMap:
    """Read the tracing plugin's JSON output."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tm = TestMap(seconds=seconds, tracer=data.get("tracer", ""),
                 unprobed=list(data.get("unprobed") or []))
    displaced = data.get("displaced") or []
    if displaced:
        tm.problem = f"another tracer took the trace hook: {', '.join(displaced)}"
    for test, rec in data.get("contexts", {}).items():
        for rel, qual, _first in rec.get("funcs", []):
            tm.functions.setdefault((rel, qual), set()).add(test)
        per = {rel: set(ls) for rel, ls in rec.get("lines", {}).items() if ls}
        if per:
            tm.lines[test] = per
    return tm
