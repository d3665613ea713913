"""PR-mirror-like instances for tests: the sample repo's real fix commits, source half reverted.

Stands in for the PR-mirror strategy (built elsewhere) so realism can be tested against real
bugs: each "Fix ... (closes #N)" commit's non-test diff is reversed onto the pinned commit, and
the result is validated by the real pipeline like any other candidate.
"""

from __future__ import annotations

from pathlib import Path

import git

from engine.diffs import PatchError, apply_patch, make_patch, parse_patch, reverse_patch
from engine.forge.setup import build_validator, ensure_environment, get_repo
from engine.models import Candidate
from engine.store import Store
from engine.workspace import Workspace


def reverted_fixes(repo_path: Path, repo: str) -> list[Candidate]:
    """One pr_mirror candidate per fix commit whose source half reverses cleanly onto HEAD."""
    r = git.Repo(repo_path)
    out = []
    for commit in r.iter_commits(grep="closes #"):
        diff = r.git.diff(commit.parents[0].hexsha, commit.hexsha, "--", ".",
                          ":(exclude)tests") + "\n"
        files = {}
        for fp in parse_patch(diff):
            if fp.old:
                files[fp.old] = (repo_path / fp.old).read_text(encoding="utf-8")
        try:
            bugged = apply_patch(files, reverse_patch(diff))
        except PatchError:
            continue  # later commits moved the code: a real PR mirror would ask an LM
        patch = "".join(make_patch(rel, files[rel], text or "") for rel, text in bugged.items())
        if patch:
            out.append(Candidate(repo, "pr_mirror", "revert", patch, next(iter(bugged)), "",
                                 meta={"commit": commit.hexsha, "subject": commit.summary}))
    return out


def add_mirrored(env_ws: Workspace, ws: Workspace, repo_name: str) -> list[str]:
    """Validate the reverted fixes in ``ws`` (reusing ``env_ws``'s built environment)."""
    ids = []
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, repo_name)
        env, recipe = ensure_environment(env_ws, store, repo)
        baseline = store.latest_baseline(repo.name, repo.commit)
        assert baseline is not None
        cands = reverted_fixes(Path(repo.path), repo.name)
        run = store.start_run(repo.name, ["pr_mirror"], 0, None, 1, {})
        store.add_candidates(run, cands)
        with build_validator(ws, repo, env, recipe, baseline,
                             store.load_test_map(baseline.baseline_id), mode="cold") as validator:
            for cand, verdict in validator.run(cands):
                iid = store.record_result(cand, verdict, baseline)
                if iid:
                    ids.append(iid)
    return ids
