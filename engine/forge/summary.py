"""What a forge run did, for the CLI's summary, ``--json`` and the TUI: counts, reasons, and
why a run that kept nothing kept nothing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ForgeSummary:
    repo: str
    strategies: list[str]
    candidates: int = 0  # selected for this run
    already_done: int = 0  # had a verdict before this run started (resume)
    validated_now: int = 0
    kept_now: int = 0
    kept_total: int = 0  # among the selected candidates, after this run
    dropped_total: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)
    yield_rate: float = 0.0
    elapsed: float = 0.0
    seconds_per_candidate: float = 0.0
    baseline_tests: int = 0
    baseline_passing: int = 0
    baseline_flaky: int = 0
    backend: str = "venv"  # the environment the tests ran in: venv | docker
    validation: str = "auto"  # what was asked: auto | cold | full
    paths: dict[str, int] = field(default_factory=dict)  # verdicts per hot/cold/full/none
    hot_off: list[str] = field(default_factory=list)  # fork/warm servers that could not start, why
    entities: int = 0  # source entities seen by the procedural strategy
    entities_uncovered: int = 0  # skipped: no test executes them
    entities_arid: int = 0  # skipped: stubs, __repr__, overloads, protocols
    # candidates left out before validation, per reason (engine.forge.prune): they could
    # not be kept, so they cost no test run and have no verdict
    skipped: dict[str, int] = field(default_factory=dict)
    mapped_functions: int = 0  # functions the test map saw executed (0 = no map)
    lm: dict[str, Any] = field(default_factory=dict)  # per LM strategy: asked, cached, cost, ...
    # pr_mirror: commits scanned, fix commits, skipped per reason, recovered per route, ...
    mirror: dict[str, Any] = field(default_factory=dict)
    combine: dict[str, Any] = field(default_factory=dict)  # inputs, per kind, F2P relations
    interrupted: bool = False
    baseline_unstable: int = 0  # tests excluded because their ids change between runs
    map_problem: str = ""  # why there is no test map (every candidate runs the whole suite)
    timeouts_retried: int = 0  # stored timeouts validated again (forge --retry-timeouts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "nothing_forged": self.nothing_forged()}

    def nothing_forged(self) -> str:
        """Why this run forged nothing, in one line ("" when it kept something, or was
        interrupted): a forge that ends with no instance must never look like success."""
        if self.kept_total or self.interrupted:
            return ""
        if self.candidates:
            top = ", ".join(f"{n} {r}" for r, n in list(self.drop_reasons.items())[:3])
            first = next(iter(self.drop_reasons), "")
            return (f"none of the {self.candidates} candidates was kept ({top})"
                    + (f"; {ZERO_HINTS[first]}" if first in ZERO_HINTS else ""))
        why: list[str] = []
        if "procedural" in self.strategies:
            why.append(f"procedural: {self._procedural_zero()}")
        for strategy, d in self.lm.items():
            why.append(f"{strategy}: {d.get('candidates', 0)} candidates from "
                       f"{d.get('targets', 0)} target functions")
        if "pr_mirror" in self.strategies:
            m = self.mirror
            why.append(f"pr_mirror: {m.get('fix_commits', 0)} fix commits in "
                       f"{m.get('commits_scanned', 0)} commits scanned")
        if "combine" in self.strategies:
            why.append(f"combine: {self.combine.get('inputs', 0)} validated single-entity bugs "
                       "to combine (it needs 2 in one file or module)")
        return "no candidates: " + "; ".join(why)

    def _procedural_zero(self) -> str:
        if not self.entities:
            return ("no function or class found in the library source (tests, docs, "
                    "examples and packaging files are never mutated)")
        skipped = self.entities_uncovered + self.entities_arid
        if skipped >= self.entities:
            text = (f"all {self.entities} functions and classes skipped: "
                    f"{self.entities_uncovered} never executed by a test, "
                    f"{self.entities_arid} arid")
            if self.map_problem:
                return text + f" (the test map is empty: {self.map_problem})"
            if self.entities_uncovered:  # not one non-arid function ran
                text += ("; the tests ran none of the library's code in the work tree: they "
                         "may import another copy of it (an installed package, or a source "
                         "directory the recipe does not put on the path)")
            return text
        return "no mutation site in the code the tests execute"


# The first thing to try when every candidate of a run was dropped for this reason.
ZERO_HINTS = {
    "no_test_failed": "the tests do not notice these changes; try more candidates (--max) "
                      "or another --seed",
    "timeout": "the tests hang or are slow with these changes; try a larger --timeout",
    "did_not_apply": "the candidates do not apply to the pinned commit",
    "not_reproducible": "the failures depend on chance or test order; see `bugfoundry "
                        "status` for the drop details",
    "run_error": "pytest could not run; check the environment with `bugfoundry baseline "
                 "REPO --fresh`",
}
