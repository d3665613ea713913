"""forge --ray on a local Ray (2 CPUs): the same validated set as the local pool, and an actor
killed mid-shard loses nothing. Skipped where Ray (the optional extra) is not installed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.store import Store
from tests.integration.conftest import SAMPLE_MAX, cli_json, opened_repo, validated_set

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path,
           local_ray: None) -> Path:
    ws = tmp_path_factory.mktemp("ray-ws")
    assert main(["repo", "add", str(sample_bundle), "--name", "sample",
                 "--workspace", str(ws)]) == 0
    return ws


def test_forge_on_ray_equals_the_local_pool(ray_ws: Path, sample_max_ws: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    summary = cli_json(capsys, "forge", "sample", "--max", str(SAMPLE_MAX), "--ray",
                       "--workspace", str(ray_ws))
    assert isinstance(summary, dict) and summary["validated_now"] == SAMPLE_MAX
    want_reasons, want = validated_set(sample_max_ws / "bugfoundry.duckdb")
    got_reasons, got = validated_set(ray_ws / "bugfoundry.duckdb")
    assert got_reasons == want_reasons and got == want and want


def test_a_killed_actor_loses_nothing(ray_ws: Path, local_ray: None) -> None:
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
                ray.kill(pool.workers[0].actor)
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
