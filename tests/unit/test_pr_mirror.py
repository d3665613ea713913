"""PR-mirror routes on a real (tiny) git history: a plain, a 3-way, b, and the c hook."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.diffs import apply_patch
from engine.mining import FixCommit, mine
from engine.models import RepoRecord
from engine.strategies.pr_mirror import NO_LM, Mirror
from tests.gitrepo import GitRepo

PAD = "".join(f"# line {k}\n" for k in range(60))  # pushes later code past a fuzzy offset


def _calc(sub: str, mul: str, top: str = "# calc\n", tail: str = "") -> str:
    return (f"{top}import math\n\n\ndef sub(a, b):\n    return {sub}\n\n\n"
            f"def mul(a, b):\n    x = a\n    y = b\n    return {mul}\n{tail}")


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[RepoRecord, dict[str, str]]:
    g = GitRepo(tmp_path / "r")
    g.commit("Initial", {"pkg/calc.py": _calc("a + b", "a + b"), "tests/test_calc.py": "\n"})
    shas = {
        "sub": g.commit("Fix sub() adding instead of subtracting (closes #1)", {
            "pkg/calc.py": _calc("a - b", "a + b"), "tests/test_calc.py": "t1\n"}),
        "mul": g.commit("Fix mul()", {
            "pkg/calc.py": _calc("a - b", "a * b"), "tests/test_calc.py": "t2\n"}),
    }
    # Later: a new header line above sub() (context of the sub fix changes, its line does not),
    # and mul() rewritten on the very line the fix changed.
    g.commit("Rework", {"pkg/calc.py": _calc("a - b", "math.prod((x, y))",
                                             top="# calc, reworked\n" + PAD)})
    head = g.git("rev-parse", "HEAD")
    return RepoRecord("r", str(g.path), "path", head, str(g.path)), shas


def _fixes(rec: RepoRecord) -> dict[str, FixCommit]:
    return {c.sha: c for c in mine(Path(rec.path), rec.commit) if not c.skip}


def test_route_a_plain_then_three_way(repo: tuple[RepoRecord, dict[str, str]]) -> None:
    rec, shas = repo
    mirror = Mirror(rec)
    at = mirror.attempt(_fixes(rec)[shas["sub"]])
    cand = mirror.route_a(at)
    assert cand is not None, at.failed
    # The header moved sub() 60 lines down and changed the hunk's first context line, so only
    # a three-way merge (which knows the fix's own versions of the file) puts the old line back.
    assert cand.meta["route"] == "a" and cand.meta["apply"] == "3way"
    assert cand.modifier == "route_a" and cand.strategy == "pr_mirror"
    assert cand.entity == "sub" and cand.file == "pkg/calc.py"
    assert cand.meta["base_commit"] == rec.commit and cand.meta["issues"] == [1]
    assert cand.meta["problem_statement"] == "Fix sub() adding instead of subtracting"
    head = (Path(rec.path) / "pkg/calc.py").read_text()
    bugged = apply_patch({"pkg/calc.py": head}, cand.patch)["pkg/calc.py"]
    assert bugged == head.replace("return a - b", "return a + b")
    assert subprocess.run(["git", "status", "--porcelain"], cwd=rec.path, capture_output=True,
                          text=True).stdout == ""  # the repo copy is only read


def test_route_a_plain(tmp_path: Path) -> None:
    g = GitRepo(tmp_path / "r")
    g.commit("Initial", {"pkg/calc.py": _calc("a + b", "a"), "tests/test_calc.py": "\n"})
    fix = g.commit("Fix sub()", {"pkg/calc.py": _calc("a - b", "a"), "tests/test_calc.py": "t"})
    g.commit("Later", {"pkg/calc.py": _calc("a - b", "a", tail="\n\nZ = 1\n")})
    rec = RepoRecord("r", str(g.path), "path", g.git("rev-parse", "HEAD"), str(g.path))
    mirror = Mirror(rec)
    cand = mirror.route_a(mirror.attempt(_fixes(rec)[fix]))
    assert cand is not None and cand.meta["apply"] == "plain"
    assert "-    return a - b\n+    return a + b\n" in cand.patch


def test_three_way_never_applies_the_fix_forward(tmp_path: Path) -> None:
    """The pinned text already reads as before the fix (it was undone later): reverting the
    fix must change nothing. On more-itertools ``git apply -3 -R`` merged such a fix forward
    (its lines added again) and said "applied cleanly"; the merge here is ours to check."""
    g = GitRepo(tmp_path / "r")
    g.commit("Initial", {"pkg/calc.py": _calc("a + b", "a"), "tests/test_calc.py": "\n"})
    fix = g.commit("Fix sub()", {"pkg/calc.py": _calc("a - b", "a"), "tests/test_calc.py": "t"})
    g.commit("Undo", {"pkg/calc.py": _calc("a + b", "a", top="# calc, reworked\n" + PAD)})
    rec = RepoRecord("r", str(g.path), "path", g.git("rev-parse", "HEAD"), str(g.path))
    mirror = Mirror(rec)
    at = mirror.attempt(_fixes(rec)[fix])
    assert mirror.route_a(at) is None
    assert at.failed["a"] == "reverting the source half changes nothing"


def test_route_a_follows_a_file_that_moved(tmp_path: Path) -> None:
    """A src-layout migration after the fix: the revert lands in the file's new home."""
    g = GitRepo(tmp_path / "r")
    g.commit("Initial", {"pkg/calc.py": _calc("a + b", "a"), "tests/test_calc.py": "\n"})
    fix = g.commit("Fix sub()", {"pkg/calc.py": _calc("a - b", "a"), "tests/test_calc.py": "t"})
    g.git("mv", "pkg", "src")
    g.commit("Move to src/ and tidy", {"src/calc.py": _calc("a - b", "a", tail="\nZ = 1\n")})
    rec = RepoRecord("r", str(g.path), "path", g.git("rev-parse", "HEAD"), str(g.path))
    mirror = Mirror(rec, undo=lambda rel, text, diff: text.replace("a - b", "a + b"))
    at = mirror.attempt(_fixes(rec)[fix])
    cand = mirror.route_a(at)
    assert cand is not None and cand.meta["apply"] == "3way_renamed", at.failed
    assert cand.file == "src/calc.py" and "+++ b/src/calc.py" in cand.patch
    assert "-    return a - b\n+    return a + b\n" in cand.patch
    lm = mirror.route_c(at)  # the undo hook is handed the file where it lives now
    assert lm is not None and lm.file == "src/calc.py"


def test_route_b_uses_the_fix_commit_as_base(
        repo: tuple[RepoRecord, dict[str, str]]) -> None:
    rec, shas = repo
    checked: list[str] = []

    def base_check(c: FixCommit) -> str:
        checked.append(c.sha)
        return ""

    mirror = Mirror(rec, base_check=base_check)
    at = mirror.attempt(_fixes(rec)[shas["mul"]])
    assert mirror.route_a(at) is None
    assert "plain:" in at.failed["a"] and "conflicts" in at.failed["a"]
    cand = mirror.route_b(at)
    assert cand is not None and checked == [shas["mul"]]
    assert cand.meta["route"] == "b" and cand.meta["base_commit"] == shas["mul"]
    assert cand.base_commit == shas["mul"]
    assert "-    return a * b\n+    return a + b\n" in cand.patch
    # The same diff at another base is another candidate.
    assert cand.candidate_id != f"{rec.name}.{cand.patch_hash[:16]}"

    refused = Mirror(rec, base_check=lambda c: "the environment cannot run it")
    at = refused.attempt(_fixes(rec)[shas["mul"]])
    assert refused.route_b(at) is None
    assert at.failed["b"] == "the environment cannot run it"


def test_route_c_hook(repo: tuple[RepoRecord, dict[str, str]]) -> None:
    rec, shas = repo
    fix = _fixes(rec)[shas["mul"]]
    at = Mirror(rec).attempt(fix)
    assert Mirror(rec).route_c(at) is None and at.failed["c"] == NO_LM

    calls: list[tuple[str, str]] = []

    def undo(rel: str, current: str, diff: str) -> str | None:
        """Stands in for the LM: put the fix's removed line back where its added line was
        rewritten later (what a model would be asked to do)."""
        calls.append((rel, diff))
        return current.replace("return math.prod((x, y))", "return a + b")

    cand = Mirror(rec, undo=undo).route_c(at)
    assert cand is not None and cand.meta["route"] == "c" and cand.meta["apply"] == "lm"
    assert cand.meta["base_commit"] == rec.commit
    assert calls[0][0] == "pkg/calc.py" and "+    return a * b" in calls[0][1]
    assert "+    return a + b" in cand.patch

    at = Mirror(rec).attempt(fix)
    assert Mirror(rec, undo=lambda *a: None).route_c(at) is None
    assert "could not undo" in at.failed["c"]
    at = Mirror(rec).attempt(fix)

    def broken(*_a: str) -> str:
        raise TimeoutError("endpoint timed out")

    assert Mirror(rec, undo=broken).route_c(at) is None
    assert "TimeoutError: endpoint timed out" in at.failed["c"]


def test_route_b_refuses_a_commit_whose_layout_changed() -> None:
    """With a src layout, a fix made when the package sat at the root would be tested against
    the pinned commit's package (the only one on the path): refused before any test runs."""
    from types import SimpleNamespace

    from engine.forge.stages import Bases
    from engine.models import Baseline, Recipe

    run = SimpleNamespace(recipe=Recipe(source_roots=["src"]),
                          baseline=Baseline("b", "r", "c", 2, {}, 1.0))
    bases = Bases(run, runs=2, timeout=600)  # type: ignore[arg-type]
    old = FixCommit("s", "p", "commit", "Fix x", "", "", source_files=["tomli/_parser.py"])
    assert bases.check(old).startswith("the layout changed: tomli/_parser.py is outside")
