"""Fake-but-valid records for tests that need a populated store without forging anything."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.models import PASSED, Baseline, BaselineTest, Candidate, Recipe, RepoRecord, Verdict
from engine.store import Store

COMMIT = "0123456789abcdef0123456789abcdef01234567"
MODIFIERS = ("op_swap", "remove_cond", "ctrl_invert_if")


def fake_baseline(repo: str = "demo") -> Baseline:
    tests = {
        f"tests/test_m.py::test_{k}": BaselineTest(
            f"tests/test_m.py::test_{k}", PASSED, 0.01, False, (PASSED, PASSED)
        )
        for k in range(4)
    }
    return Baseline("b1", repo, COMMIT, 2, tests, 0.5)


def fake_candidate(k: int, repo: str = "demo") -> Candidate:
    func = f"func_{k}"
    patch = (
        f"diff --git a/pkg/mod{k % 5}.py b/pkg/mod{k % 5}.py\n"
        f"--- a/pkg/mod{k % 5}.py\n+++ b/pkg/mod{k % 5}.py\n"
        f"@@ -{k + 1},3 +{k + 1},3 @@\n"
        f" def {func}(a, b):\n-    return a + b + {k}\n+    return a - b + {k}\n"
        f"     # end\n"
    )
    return Candidate(repo, "procedural", MODIFIERS[k % 3], patch, f"pkg/mod{k % 5}.py", func,
                     (k + 2,), 7, {})


def populate(store: Store, n: int, repo: str = "demo") -> list[str]:
    """Add a repo, an environment, a baseline and ``n`` kept instances; returns their ids."""
    home = Path(store.path).parent  # the records point into this workspace, as repo add's do
    store.add_repo(RepoRecord(repo, "/src/demo", "path", COMMIT, str(home / "repos" / repo)))
    store.save_environment(repo, "venv", Recipe(steps=[["-e", "."]]), str(home / "envs" / repo),
                           1.0)
    base = fake_baseline(repo)
    store.save_baseline(base, "r")
    run = store.start_run(repo, ["procedural"], 7, None, 1, {})
    cands = [fake_candidate(k, repo) for k in range(n)]
    store.add_candidates(run, cands)
    ids = []
    for k, c in enumerate(cands):
        f2p = [f"tests/test_m.py::test_{j}" for j in range(1 + k % 3)]
        failures = {
            t: (f"pkg/mod{k % 5}.py:{k + 2}: in func_{k}\n    return a - b + {k}\n"
                f"E   AssertionError: assert {k - 1} == {k + 3}")
            for t in f2p
        }
        v = Verdict(c.candidate_id, True, "kept", fail_to_pass=f2p,
                    pass_to_pass=["tests/test_m.py::test_3"], tests_run=[*f2p],
                    failures=failures, duration=0.25, worker="w0")
        iid = store.record_result(c, v, base)
        assert iid is not None
        ids.append(iid)
    return ids


def make_workspace(home: Path, n: int) -> list[str]:
    """A workspace directory whose database holds ``n`` fake instances."""
    home.mkdir(parents=True, exist_ok=True)
    with Store.open(home / "bugfoundry.duckdb") as store:
        return populate(store, n)


def real_candidate(k: int, repo: str = "demo") -> Candidate:
    """A PR-mirror-like bug: a reverted fix that dropped a guard clause (multi-line)."""
    patch = (
        f"diff --git a/pkg/limits{k}.py b/pkg/limits{k}.py\n"
        f"--- a/pkg/limits{k}.py\n+++ b/pkg/limits{k}.py\n"
        "@@ -1,6 +1,4 @@\n"
        f" def take_{k}(items, limit):\n"
        "-    if limit is None:\n"
        "-        return list(items)\n"
        "     out = [x for x in items if x > 0]\n"
        "     return out[:limit]\n"
        "     # end\n"
    )
    return Candidate(repo, "pr_mirror", "revert", patch, f"pkg/limits{k}.py", f"take_{k}",
                     (2, 3), 0, {})


def _keep(store: Store, cands: list[Candidate], failure: str) -> list[str]:
    """Store ``cands`` as kept instances, candidate k failing test ``k % 4`` with
    ``failure``; returns their ids."""
    repo = cands[0].repo if cands else "demo"
    base = fake_baseline(repo)
    run = store.start_run(repo, sorted({c.strategy for c in cands}), 0, None, 1, {})
    store.add_candidates(run, cands)
    ids = []
    for k, c in enumerate(cands):
        f2p = [f"tests/test_m.py::test_{k % 4}"]
        v = Verdict(c.candidate_id, True, "kept", fail_to_pass=f2p,
                    failures={f2p[0]: failure}, tests_run=f2p)
        iid = store.record_result(c, v, base)
        assert iid is not None
        ids.append(iid)
    return ids


def add_real(store: Store, n: int, repo: str = "demo") -> list[str]:
    """``n`` kept pr_mirror instances failing on assertions (needs ``populate`` first)."""
    return _keep(store, [real_candidate(k, repo) for k in range(n)],
                 "E   assert [1, 2] == [1]")


def add_forged(store: Store, n: int, strategy: str = "lm_modify", repo: str = "demo",
               start: int = 100) -> list[str]:
    """``n`` kept instances of another forged ``strategy`` (needs ``populate`` first)."""
    return _keep(store, [replace(fake_candidate(start + k, repo), strategy=strategy,
                                 modifier="") for k in range(n)], "E   assert 3 == 4")
