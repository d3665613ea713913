"""How ``bugfoundry forge`` reports: a progress bar on a terminal, plain lines otherwise,
and the closing summary."""

from __future__ import annotations

from typing import Any

from engine.cli.common import to_stderr


def print_summary(s: Any) -> None:
    print(f"forged {s.repo} with {', '.join(s.strategies)}: {s.candidates} candidates, "
          f"{s.kept_total} validated, yield {s.yield_rate:.1%}")
    if s.already_done:
        print(f"  resumed: {s.already_done} already judged, {s.validated_now} validated now")
    unstable = (f", {s.baseline_unstable} with ids that change between runs excluded"
                if s.baseline_unstable else "")
    print(f"  baseline ({s.backend}): {s.baseline_passing}/{s.baseline_tests} tests pass "
          f"stably, {s.baseline_flaky} flaky quarantined{unstable}")
    if s.map_problem:
        print(f"  no test map ({s.map_problem}): every candidate ran the whole suite")
    if s.drop_reasons:
        reasons = ", ".join(f"{k} {v}" for k, v in s.drop_reasons.items())
        print(f"  dropped {s.dropped_total}: {reasons}")
    if s.skipped:
        skips = ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items()))
        print(f"  skipped before validation (could not be kept, not run): {skips}")
    if s.entities:
        print(f"  entities: {s.entities} seen, {s.entities_uncovered} never executed by a test "
              f"and {s.entities_arid} arid, skipped")
    if s.paths:
        paths = ", ".join(f"{k} {v}" for k, v in s.paths.items())
        print(f"  validation paths ({s.validation}): {paths}")
    for why in s.hot_off:
        print(f"  server off (its candidates took the cold path): {why}")
    for strategy, d in s.lm.items():
        rejected = ", ".join(f"{k} {v}" for k, v in d["rejected"].items()) or "none"
        print(f"  {strategy}: {d['candidates']}/{d['targets']} answers made candidates "
              f"({d['requested']} requested, {d['cached']} cached, ${d['cost']:.4f}); "
              f"rejected: {rejected}" + ("; budget spent" if d["budget_stopped"] else ""))
    print_stages(s)
    print(f"  elapsed {s.elapsed:.1f}s, {s.seconds_per_candidate:.2f}s per candidate "
          "(validation, per worker)")
    if s.interrupted:
        print("  interrupted: every finished verdict is saved; rerun the same command to resume")


def print_stages(s: Any) -> None:
    """The PR-mirror and combine lines of the forge summary."""
    m = s.mirror
    if m:
        rec = m.get("recovered", {})
        print(f"  pr_mirror: {m.get('fix_commits', 0)} fix commits in "
              f"{m.get('commits_scanned', 0)} commits, {m.get('attempted', 0)} tried; "
              f"recovered by route a {rec.get('a', 0)}, b {rec.get('b', 0)}, "
              f"c {rec.get('c', 0)}")
        if m.get("unrecovered"):
            print("    not recovered: " + ", ".join(f"{k} {v}"
                                                     for k, v in m["unrecovered"].items()))
    c = s.combine
    if c:
        kinds = ", ".join(f"{k} {v['kept']}/{v['candidates']}" for k, v in c["kinds"].items())
        print(f"  combine: {c['inputs']} single-entity bugs in, kept per kind: "
              f"{kinds or 'no combinations'}")
        if c.get("f2p_relations"):
            print("    FAIL_TO_PASS vs components: " + ", ".join(
                f"{k} {v}" for k, v in c["f2p_relations"].items()))


class Progress:
    """A rich progress bar on a terminal; plain log lines otherwise (CI, pipes)."""

    def __init__(self, enabled: bool, prefix: str = "") -> None:
        self.enabled = enabled
        self.prefix = prefix  # before each plain line (repos forged at the same time)
        self._bar: Any = None
        self._task: Any = None
        self.kept = 0
        self.total = self.done = self.already = 0

    def log(self, msg: str) -> None:
        if self._bar is not None:
            self._bar.console.print(msg, highlight=False)
        else:
            to_stderr(self.prefix + msg)

    def start(self, total: int, done: int) -> None:
        """Called once per forge stage with the running totals (candidates, already judged)."""
        self.done += done - self.already  # verdicts counted so far stay counted
        self.total, self.already = total, done
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, total=total, completed=self.done)
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(TextColumn("validating"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("kept {task.fields[kept]}"), TimeElapsedColumn(),
                             TimeRemainingColumn(), transient=True)
        self._bar.start()
        self._task = self._bar.add_task("validate", total=total, completed=done, kept=0)

    def advance(self, cand: Any, verdict: Any) -> None:
        self.kept += int(verdict.kept)
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, kept=self.kept)
        else:  # one line per committed verdict: readable in CI logs and by scripts
            to_stderr(f"{self.prefix}[{self.done}/{self.total}] {verdict.reason:15} "
                      f"{cand.strategy}/{cand.modifier} {cand.file}::{cand.entity} "
                      f"({verdict.duration:.2f}s)")

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def sandbox_note(backend: str) -> str:
    """How this backend's test runs are isolated, in one line."""
    if backend == "docker":
        return ("test runs are in locked-down containers (docker: no network, read-only, "
                "memory and process limits)")
    from engine.environments import sandbox

    return sandbox.current().describe()
