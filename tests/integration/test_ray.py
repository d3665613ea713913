"""forge --ray on a local Ray (2 CPUs, one cluster for the session): the same validated set as
one machine's forge, on the sample repo and on a real sdist; an actor killed mid-shard loses
nothing; a stopped run's actors die with it. Skipped where Ray (the optional extra) is not
installed, failed in CI (the ``local_ray`` fixture)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from engine.cli.main import main
from engine.store import Store
from tests.integration.conftest import (
    SAMPLE_MAX,
    SDIST,
    assert_same_sdist_verdicts,
    opened_repo,
    validated_set,
)

pytestmark = pytest.mark.integration

MAX = str(SAMPLE_MAX)


def _forge_on_ray(ws: Path, source: str, name: str) -> Path:
    """``forge NAME --max 12 --ray`` (the session's local Ray) in a new workspace."""
    extra = ["--name", name] if source != SDIST else []
    assert main(["repo", "add", source, *extra, "--workspace", str(ws)]) == 0
    assert main(["forge", name, "--max", MAX, "--ray", "--workspace", str(ws), "--json"]) == 0
    return ws


@pytest.fixture(scope="module")
def ray_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path,
           local_ray: ModuleType) -> Path:
    """The sample repo forged on Ray: what the tests below compare and reuse."""
    return _forge_on_ray(tmp_path_factory.mktemp("ray-ws"), str(sample_bundle), "sample")


def test_forge_on_ray_equals_the_local_pool(ray_ws: Path, sample_max_ws: Path) -> None:
    want_reasons, want = validated_set(sample_max_ws / "bugfoundry.duckdb")
    got_reasons, got = validated_set(ray_ws / "bugfoundry.duckdb")
    assert len(got_reasons) == SAMPLE_MAX
    assert got_reasons == want_reasons and got == want and want


def test_forge_on_ray_of_a_real_sdist_equals_one_machine(
        tmp_path: Path, cachetools_ws: Path, local_ray: ModuleType) -> None:
    """cachetools (an sdist nobody here wrote): the 12 candidates of ``--max 12`` validated on
    Ray get the verdicts the one-machine forge of 48 gave them, as test_shards' two merged
    shards do."""
    ws = _forge_on_ray(tmp_path / "ray-sdist", SDIST, "cachetools")
    assert_same_sdist_verdicts(ws, cachetools_ws, SAMPLE_MAX)


def test_a_killed_actor_loses_nothing(ray_ws: Path, local_ray: ModuleType) -> None:
    from engine.forge.ray_pool import RayPool

    ws, repo, env, recipe, baseline, testmap = opened_repo(ray_ws, "sample")
    with Store.open(ws.db_path) as store:
        cands = store.stored_candidates("sample")
        stored = dict(store.verdict_reasons("sample"))
    assert len(cands) == SAMPLE_MAX
    pool = RayPool(ws, repo, env.backend, recipe, baseline, testmap, mode="auto",
                   timeout=None)
    try:
        seen: Counter[str] = Counter()
        reasons: dict[str, str] = {}
        for cand, verdict in pool.run(cands):
            if not seen:  # an actor dies mid-run: its shard goes to another one
                local_ray.kill(pool.workers[0].actor)
            seen[cand.candidate_id] += 1
            reasons[cand.candidate_id] = verdict.reason
    finally:
        pool.close()
    assert set(seen) == {c.candidate_id for c in cands}
    assert max(seen.values()) == 1  # every candidate exactly once
    assert pool.workers[0].restarts == 1 and pool.requeued >= 1
    assert reasons == stored


def test_a_stopped_run_kills_its_actors_and_the_next_one_starts_afresh(ray_ws: Path) -> None:
    from engine.forge.ray_pool import RayPool

    ws, repo, env, recipe, baseline, testmap = opened_repo(ray_ws, "sample")
    with Store.open(ws.db_path) as store:
        cands = store.stored_candidates("sample")[:6]
    pool = RayPool(ws, repo, env.backend, recipe, baseline, testmap, mode="auto",
                   timeout=None)
    try:
        first = pool.run(cands)
        got = [next(first)[0].candidate_id]
        first.close()  # the forge was asked to stop
        assert all(slot.actor is None for slot in pool.workers)
        rest = [c for c in cands if c.candidate_id not in got]
        got += [cand.candidate_id for cand, _ in pool.run(rest)]
    finally:
        pool.close()
    assert sorted(got) == sorted(c.candidate_id for c in cands)
