"""Plain records that flow through the pipeline: repo -> env -> baseline -> candidates -> instances.

They are dataclasses so every stage can be tested without a database; only ``engine.store``
turns them into rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

# Per-test outcomes, normalised across pytest and unittest.
PASSED = "passed"
FAILED = "failed"
ERROR = "error"  # setup/teardown error, or the test's module failed to collect
SKIPPED = "skipped"
XFAILED = "xfailed"
# The test was not reported at all and nothing explains why (its id changed, the run was killed
# before it): neither a failure nor a pass. A test that never ran because a collection error
# covers it, or that was running when the process died, is ERROR instead (testrun.settle).
MISSING = "missing"

BAD_OUTCOMES = frozenset({FAILED, ERROR})


@dataclass(frozen=True)
class RepoRecord:
    """A repository the workspace owns a copy of, pinned to one commit."""

    name: str
    source: str  # what the user typed: a path, a git URL or pypi:NAME==VER
    kind: str  # "path" | "git" | "pypi"
    commit: str  # full sha of the pinned commit in the workspace copy
    path: str  # the workspace-owned git checkout (never the user's own)
    added_at: str = ""


@dataclass
class Recipe:
    """How to install a repo and run its tests; detected once, stored, replayable.

    ``steps`` are argument lists for the environment's installer (``pip install`` style
    arguments, e.g. ``["-e", ".[test]"]`` or ``["-r", "requirements-test.txt"]``). Paths in
    them are relative to the repo root.
    """

    python: str = "python3"
    backend: str = "setuptools"  # setuptools | hatch | poetry | flit | pdm | setup.py | none
    steps: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # tox setenv, pretend versions, ...
    pytest_args: list[str] = field(default_factory=list)  # extra args, e.g. ["-p", "no:xdist"]
    test_paths: list[str] = field(default_factory=list)  # where tests live ([] = default)
    source_roots: list[str] = field(default_factory=lambda: ["."])  # dirs put on PYTHONPATH
    notes: list[str] = field(default_factory=list)  # human-readable reasons for each decision

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        return cls(**json.loads(text))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TestOutcome:
    """One test's result in one run."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str  # one of PASSED, FAILED, ERROR, SKIPPED, XFAILED, MISSING
    duration: float = 0.0
    message: str = ""  # short failure text (traceback tail), empty when passed
    # CPU of the test process from the test's start to its last phase's end (all phases and
    # the reporter's own bookkeeping): what it costs a core, sleeps excluded; 0 when unknown
    cpu: float = 0.0


@dataclass(frozen=True)
class Hang:
    """The test that ran past its own limit (``bugfoundry_watch``), which then killed the run."""

    nodeid: str
    seconds: float  # how long it had run when it was killed
    baseline: float  # its duration in the clean baseline
    limit: float  # the limit of its call phase (setup and teardown get more)
    cpu: float | None = None  # CPU seconds it had used, when its CPU budget stopped it


@dataclass
class TestRun:
    """The result of running pytest once on a tree."""

    __test__ = False

    outcomes: dict[str, TestOutcome]
    exit_code: int
    duration: float
    timed_out: bool = False
    collection_errors: list[str] = field(default_factory=list)  # "path: message"
    output_tail: str = ""
    collect_messages: dict[str, str] = field(default_factory=dict)  # where -> full error text
    collected: list[str] = field(default_factory=list)  # ids collected ([] when not reported)
    finished: bool = True  # the session reached its end (not killed, did not die)
    chance: dict[str, list[str]] = field(default_factory=dict)  # test -> randomness it used
    repeats: dict[str, tuple[int, int]] = field(default_factory=dict)  # test -> (runs, failed)
    fingerprints: dict[str, str] = field(default_factory=dict)  # test -> its parameters' hash
    hung: Hang | None = None  # the per-test hang limit stopped the run (timed_out is set too)

    def status(self, nodeid: str) -> str:
        o = self.outcomes.get(nodeid)
        return o.outcome if o else MISSING


@dataclass(frozen=True)
class Candidate:
    """A forged bug: a unified diff against the repo's pinned commit (or ``meta["base_commit"]``)
    plus where it came from."""

    repo: str
    strategy: str  # procedural | lm_modify | lm_rewrite | combine | pr_mirror
    modifier: str  # e.g. "op_swap"; strategy-specific sub-kind
    patch: str  # unified diff, paths a/<rel> b/<rel>
    file: str = ""  # main file touched (repo-relative)
    entity: str = ""  # qualified name of the mutated entity, e.g. "Stack.push"
    changed_lines: tuple[int, ...] = ()  # line numbers in the original file
    seed: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def patch_hash(self) -> str:
        return hashlib.sha256(self.patch.encode()).hexdigest()

    @property
    def base_commit(self) -> str:
        """The commit the diff applies to when the strategy recorded one (PR mirrors; route b
        is the fix commit itself); "" means the repo's pinned commit."""
        return str(self.meta.get("base_commit") or "")

    @property
    def candidate_id(self) -> str:
        """Stable id: identical diffs on the same repo (and base) collapse into one candidate."""
        if self.base_commit:
            key = hashlib.sha256(f"{self.base_commit}\n{self.patch}".encode()).hexdigest()
            return f"{self.repo}.{key[:16]}"
        return f"{self.repo}.{self.patch_hash[:16]}"


@dataclass
class Verdict:
    """What validation concluded about one candidate."""

    candidate_id: str
    kept: bool
    reason: str  # "kept" or a drop reason (see engine.validation.grading.DROP_REASONS)
    detail: str = ""
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    tests_run: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # F2P nodeid -> failure text
    duration: float = 0.0
    worker: str = ""
    path: str = ""  # how it was validated: hot | cold | full | none (validation/selection.py)
    cpu: float = 0.0  # CPU seconds of the test processes (0 when not measured)
    collection_errors: dict[str, str] = field(default_factory=dict)  # where -> error text
    hung: str = ""  # the test that ran past its per-test limit (a timeout; not stored)


@dataclass(frozen=True)
class BaselineTest:
    nodeid: str
    outcome: str  # the outcome when stable; "flaky" tests keep their first outcome here
    duration: float
    flaky: bool = False  # the outcome changed between runs
    outcomes: tuple[str, ...] = ()  # one per baseline run
    unstable_id: bool = False  # not collected under this id in every run (ids from reprs, ...)


@dataclass
class Baseline:
    """The clean repo's per-test outcomes over several runs; flaky tests are quarantined."""

    baseline_id: str
    repo: str
    commit: str
    runs: int
    tests: dict[str, BaselineTest]
    seconds: float = 0.0  # wall time of one full-suite run (median)
    created_at: str = ""
    # parametrized test -> hash of its parameters in the first run (not stored: only used
    # while the baseline is made, to compare with the tracing run)
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def passing(self) -> set[str]:
        """Tests that passed in every run under the same id: the only ones that can become
        F2P or P2P."""
        return {t.nodeid for t in self.tests.values()
                if not t.flaky and not t.unstable_id and t.outcome == PASSED}

    @property
    def flaky(self) -> set[str]:
        return {t.nodeid for t in self.tests.values() if t.flaky}

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {nid: i for i, nid in enumerate(self.tests)}

    def ordered(self, tests: Iterable[str]) -> list[str]:
        """``tests`` in the order the clean suite ran them (unknown ids last, sorted): test
        order can matter, a test may rely on what an earlier one set up, and a run in
        another order can fail where the suite passes."""
        pos = self._positions
        end = len(pos)
        return sorted(set(tests), key=lambda n: (pos.get(n, end), n))

    @property
    def unstable(self) -> set[str]:
        return {t.nodeid for t in self.tests.values() if t.unstable_id}

    @property
    def pass_rate(self) -> float:
        return len(self.passing) / len(self.tests) if self.tests else 0.0
