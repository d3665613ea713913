"""Plan how to validate one candidate: which tests can see the change, and which path runs them.

Paths, cheapest first:
- ``hot``: the diff only changes bodies of existing functions or methods that tests call at run
  time. A warm pytest process forks, swaps the new code objects in and runs the covering
  tests (``engine/validation/forkserver.py``).
- ``cold``: anything else the map can still bound (module level, class bodies, decorators,
  signatures, functions run at import). A fresh pytest runs the tests whose modules import the
  changed file, with the diff on disk. In ``auto`` mode such a plan is marked ``reload``: the
  fork server's child first tries to import the changed modules (and their importers) anew
  and re-collect the affected test modules (``pytest_support/bugfoundry_reload.py``).
- ``full``: the whole suite with the diff on disk (``--full-suite``, no map, non-Python or test
  files changed).
- ``none``: no test executes the changed code, so none can fail; nothing is run.

Tests that are not run keep their baseline outcome (PASS_TO_PASS is inferred): they never
executed the changed code, and flaky tests were quarantined by the baseline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from engine.diffs import apply_patch, parse_patch
from engine.models import Baseline
from engine.testmap import IMPORT, TestMap
from engine.validation.imports import ImportCache, ImportGraph
from engine.validation.shapes import (
    Shape,
    Unit,
    _Summary,
    class_changes,
    classify,
    classify_hunks,
    summarize,
)

__all__ = ["MODES", "Plan", "Planner", "Shape", "Swap", "Unit", "classify", "plan_units",
           "summarize"]

MODES = ("auto", "cold", "full")  # what a user may ask for; auto = hot where possible


@dataclass
class Swap:
    """Everything a forked child needs to install one file's changed functions in place."""

    rel: str
    # What the child compiles: the patched file, or only the top-level statements holding
    # the changed functions (and __future__ imports) at their own line numbers, so line
    # numbers, flags and __class__ cells match while compiling a fraction of the file.
    source: str
    units: list[Unit]
    # Top-level classes whose statement is re-executed and transplanted into the live class,
    # with the attribute names the change removed from the class body.
    classes: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class Plan:
    mode: str  # hot | cold | full | none
    reason: str
    tests: list[str] | None = None  # None: the whole suite
    estimate: float = 0.0  # sum of the selected tests' baseline durations (seconds)
    swaps: list[Swap] = field(default_factory=list)
    patched: dict[str, str | None] = field(default_factory=dict)
    # An import-time change the fork server can import anew in its child (the reload path)
    # before a new pytest session is tried.
    reload: bool = False


class Planner:
    """Plans candidates against one baseline, its test map and the pinned tree (read-only)."""

    def __init__(self, root: Path, baseline: Baseline, testmap: TestMap | None,
                 files: list[str], source_roots: list[str], *,
                 blobs: dict[str, str] | None = None,
                 import_cache: ImportCache | None = None) -> None:
        self.root = root
        self.baseline = baseline
        self.testmap = testmap
        self.passing = baseline.passing
        self.graph = ImportGraph(root, files, source_roots, blobs=blobs, cache=import_cache)
        self._texts: dict[str, str | None] = {}
        self._summaries: dict[str, _Summary | None] = {}
        self._lock = threading.Lock()  # classify blanks the cached trees in place, briefly
        self.test_files = sorted({n.split("::", 1)[0] for n in baseline.tests})

    def original(self, rel: str) -> str | None:
        if rel not in self._texts:
            path = self.root / rel
            try:
                self._texts[rel] = path.read_text(encoding="utf-8") if path.is_file() else None
            except (OSError, UnicodeDecodeError):
                self._texts[rel] = None
        return self._texts[rel]

    def _estimate(self, tests: list[str]) -> float:
        return round(sum(self.baseline.tests[t].duration for t in tests
                         if t in self.baseline.tests), 6)

    def _is_test_file(self, rel: str) -> bool:
        name = PurePosixPath(rel).name
        return (rel in self.test_files or name == "conftest.py" or name.startswith("test_")
                or name.endswith("_test.py"))

    def plan(self, patch: str, mode: str = "auto") -> Plan:
        """Raises ``engine.diffs.PatchError`` when the diff does not apply."""
        files = parse_patch(patch)
        touched = [p for fp in files for p in (fp.old, fp.new) if p]
        hunks = {fp.new: fp.hunks for fp in files if fp.old == fp.new and fp.new}
        patched = apply_patch({r: t for r in touched if (t := self.original(r)) is not None},
                              patch)
        if mode == "full" or self.testmap is None:
            why = "--full-suite" if mode == "full" else "no test map for this baseline"
            return self._full(why, patched)
        swaps: list[Swap] = []
        tests: set[str] = set()
        import_level: list[str] = []
        class_level: list[str] = []
        for rel, text in patched.items():
            old = self.original(rel)
            if not rel.endswith(".py") or self._is_test_file(rel) or text is None or old is None:
                return self._full(f"{rel}: not a source module edit", patched)
            with self._lock:
                if rel not in self._summaries:
                    self._summaries[rel] = summarize(old)
                summary = self._summaries[rel]
                shape = ((classify_hunks(summary, hunks[rel], text)
                          if summary is not None and rel in hunks else None)
                         or classify(summary, text))
            if not shape.body_only:
                classes = class_changes(old, text) if mode == "auto" else None
                if classes and not any(
                        IMPORT in self.testmap.tests_for_class(rel, name) for name, _ in classes):
                    class_level.append(rel)
                    swaps.append(Swap(rel, text, [], classes))
                else:  # module level, headers, or the class's code runs at import
                    import_level.append(rel)
                continue
            hit: set[str] = set()
            for unit in shape.units:
                for code in unit.changed or (unit.qualname,):
                    found = self.testmap.tests_for(rel, code)
                    # Never traced (or named unlike the tracer saw it): fall back to every
                    # test of the whole function, which is always safe.
                    hit |= found or self.testmap.tests_for(rel, unit.qualname)
            if IMPORT in hit:  # the function runs at import time (a decorator, a registry)
                import_level.append(rel)
                continue
            tests |= hit
            if shape.units:
                swaps.append(Swap(rel, shape.snippet or text, shape.units))
        if import_level or class_level:
            # What runs at import can reach every test whose module imports the file.
            for rel in import_level + class_level:
                importers = self.graph.test_files_importing(rel, self.test_files)
                tests |= {n for n in self.passing if n.split("::", 1)[0] in importers}
                tests |= self.testmap.tests_touching_file(rel) - {IMPORT}
            selected = self.baseline.ordered(tests & self.passing)
            if not selected:
                return self._full(f"no test module imports {(import_level + class_level)[0]}",
                                  patched)
            if not import_level:
                return Plan("hot", f"class statement re-run in {', '.join(class_level)}",
                            selected, self._estimate(selected), swaps, patched)
            return Plan("cold", f"import-time change in {', '.join(import_level)}", selected,
                        self._estimate(selected), [], patched, reload=mode == "auto")
        selected = self.baseline.ordered(tests & self.passing)
        if not selected:
            return Plan("none", "no stable passing test executes the changed code", [], 0.0,
                        [], patched)
        if mode == "cold":
            return Plan("cold", "covering tests in a fresh process", selected,
                        self._estimate(selected), [], patched)
        return Plan("hot", "function bodies only", selected, self._estimate(selected), swaps,
                    patched)

    def _full(self, why: str, patched: dict[str, str | None]) -> Plan:
        return Plan("full", why, None, self.baseline.seconds, [], patched)

    @staticmethod
    def _touched(patch: str) -> list[str]:

        return [p for fp in parse_patch(patch) for p in (fp.old, fp.new) if p]


def plan_units(plan: Plan) -> list[tuple[str, str]]:
    """(file, qualname) of every function the hot path swaps, for reports and tests."""
    return [(s.rel, u.qualname) for s in plan.swaps for u in s.units]
