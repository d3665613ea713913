"""forge --ray beyond one repo and one file system, on a local Ray (2 CPUs): several repos share
the cluster; a node without the workspace gets the repo's copy shipped (and replays the venv
recipe); a docker node without the repo's image loads it from Ray's object store. On the
session's local Ray (the ``local_ray`` fixture: skipped without Ray, failed in CI); the docker
tests skip or fail as the docker tests do."""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from types import ModuleType

import pytest

from engine.cli.main import main
from engine.models import Candidate
from engine.store import Store
from tests.integration.conftest import SAMPLE_MAX, add_repo, opened_repo, validated_set

pytestmark = pytest.mark.integration


def test_two_repos_share_the_cluster_at_once_and_equal_each_alone(
        local_ray: ModuleType, tmp_path: Path, sample_bundle: Path, core_source: Path,
        sample_max_ws: Path, core_alone_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "two"
    add_repo(ws, sample_bundle, "sample")
    add_repo(ws, core_source, "core")
    capsys.readouterr()
    code = main(["forge", "--all", "--ray", "--max", str(SAMPLE_MAX), "--workspace", str(ws),
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    assert [r["repo"] for r in out["repos"]] == ["core", "sample"]  # --all: by name
    assert out["total"]["forged"] == 2
    first, second = out["repos"]  # two at a time: the second began before the first ended
    assert second["started"] < first["finished"]
    for name, alone in (("sample", sample_max_ws), ("core", core_alone_ws)):
        want_reasons, want = validated_set(alone / "bugfoundry.duckdb", name)
        got_reasons, got = validated_set(ws / "bugfoundry.duckdb", name)
        assert got_reasons == want_reasons and want, name
        assert {k: v for k, v in got.items() if k in got_reasons} == want, name


def _some(ws: Path, n: int) -> tuple[list[Candidate], dict[str, str]]:
    """``n`` stored candidates of the sample, the kept ones first, and their stored reasons."""
    with Store.open(ws / "bugfoundry.duckdb", read_only=True) as store:
        reasons = dict(store.verdict_reasons("sample"))
        cands = sorted(store.stored_candidates("sample"),
                       key=lambda c: (reasons[c.candidate_id] != "kept", c.candidate_id))[:n]
    assert reasons[cands[0].candidate_id] == "kept"
    return cands, {c.candidate_id: reasons[c.candidate_id] for c in cands}


def _validate_elsewhere(ws_dir: Path, cands: list[Candidate], node_home: Path,
                        node_image: str = "") -> dict[str, str]:
    """Validate on actors whose node has none of the workspace's files (``node_home``)."""
    from engine.forge.ray_pool import RayPool

    ws, repo, env, recipe, baseline, testmap = opened_repo(ws_dir, "sample")
    pool = RayPool(ws, repo, env.backend, recipe, baseline, testmap, mode="auto",
                   timeout=None, slots=2, node_home=str(node_home), node_image=node_image)
    try:
        return {c.candidate_id: v.reason for c, v in pool.run(cands)}
    finally:
        pool.close()


def test_a_node_without_the_workspace_gets_the_copy_and_replays_the_recipe(
        local_ray: ModuleType, tmp_path: Path, sample_max_ws: Path) -> None:
    cands, want = _some(sample_max_ws, 4)
    node = tmp_path / "node"
    assert _validate_elsewhere(sample_max_ws, cands, node) == want
    assert (node / "repos" / "sample" / ".git").is_dir()  # unpacked from the tarball
    assert (node / "envs" / "sample" / "env.json").is_file()  # the venv, built there
    assert not (node / "bugfoundry.duckdb").exists()  # nodes never write the store


@pytest.mark.parametrize("eager", [False, True], ids=["depot", "up-front"])
def test_the_copy_ships_from_the_depot_or_up_front(local_ray: ModuleType, tmp_path: Path,
                                                   sample_max_ws: Path, eager: bool) -> None:
    """Both ways a node gets the copy: the depot actor on the driver's node makes the tarball
    on the first ask; through Ray's client (``ray://``) the driver puts it in the store."""
    from engine.forge.ray_ship import node_workspace, ship
    from engine.repos import copy_problem

    _, repo, _, _, _, _ = opened_repo(sample_max_ws, "sample")
    shipment = ship(local_ray, repo, "", eager=eager)
    try:
        home, local = node_workspace(str(tmp_path / "n"), repo, shipment, local_ray)
    finally:
        if shipment.depot is not None:
            local_ray.kill(shipment.depot)
    assert home == tmp_path / "n" and local.path != repo.path and not copy_problem(local)
    assert node_workspace(str(sample_max_ws), repo, shipment, local_ray)[1].path == repo.path


def test_a_docker_node_without_the_image_loads_it_from_the_object_store(
        local_ray: ModuleType, tmp_path: Path, docker_sample_ws: Path, sample_max_ws: Path) -> None:
    from engine.environments.docker_image import connect

    cands, want = _some(sample_max_ws, 3)
    # The node looks the image up under a name no image has: it must load the driver's.
    name = f"bugfoundry-test/shipped-sample:{uuid.uuid4().hex[:12]}"
    client = connect()
    node = tmp_path / "node"
    try:
        assert _validate_elsewhere(docker_sample_ws, cands, node, node_image=name) == want
        loaded = client.images.get(name)
        _, _, env, _, _, _ = opened_repo(docker_sample_ws, "sample")
        assert loaded.id == client.images.get(env.image).id
    finally:
        import docker.errors

        # the tag this test made, only: the image itself is the docker tests' one
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(name)
    assert (node / "repos" / "sample" / ".git").is_dir()
    assert (node / "envs" / "sample" / "docker" / "env.json").is_file()


def test_a_registry_that_refuses_the_push_is_a_clear_error(docker_sample_ws: Path) -> None:
    from engine.environments.docker_image import connect
    from engine.errors import UsageError
    from engine.forge.ray_ship import push_image, registry_name

    _, _, env, _, _, _ = opened_repo(docker_sample_ws, "sample")
    registry = "127.0.0.1:9/bugfoundry-test"
    with pytest.raises(UsageError, match="--ray-registry: could not push"):
        push_image(env.image, registry)
    names = {t for img in connect().images.list() for t in img.tags}
    assert registry_name(env.image, registry) not in names  # its push tag is gone again
