"""Shared, expensive fixtures: real workspaces forged once per session."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.models import Candidate
from tests.shapes import core_repo

pytestmark = pytest.mark.integration

# One uv cache for every workspace the tests create, so each environment downloads once.
UV_CACHE = Path(
    os.environ.get("BUGFOUNDRY_TEST_CACHE", Path.home() / ".cache" / "bugfoundry-tests")
)


@pytest.fixture(autouse=True, scope="session")
def _shared_uv_cache() -> None:
    UV_CACHE.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("UV_CACHE_DIR", str(UV_CACHE / "uv"))
    os.environ.setdefault("BUGFOUNDRY_SDIST_CACHE", str(UV_CACHE / "sdists"))


def opened_repo(ws_dir: Path, name: str) -> tuple:
    """(workspace, repo, environment, recipe, baseline, test map) of a forged workspace."""
    from engine.forge.setup import ensure_environment, get_repo
    from engine.store import Store
    from engine.workspace import Workspace

    ws = Workspace(ws_dir)
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, name)
        env, recipe = ensure_environment(ws, store, repo)
        baseline = store.latest_baseline(repo.name, repo.commit)
        assert baseline is not None
        testmap = store.load_test_map(baseline.baseline_id)
    return ws, repo, env, recipe, baseline, testmap


def edit_candidate(root: Path, repo: str, rel: str, old: str, new: str) -> Candidate:
    """A hand-made candidate replacing ``old`` (which must occur once) by ``new`` in ``rel``."""
    text = (root / rel).read_text()
    assert text.count(old) == 1, old
    diff = "".join(difflib.unified_diff(text.splitlines(True),
                                        text.replace(old, new).splitlines(True),
                                        f"a/{rel}", f"b/{rel}"))
    return Candidate(repo, "procedural", "handmade", diff, file=rel)


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def doctor_json(capsys: pytest.CaptureFixture[str], ws: Path, *extra: str) -> tuple[int, dict]:
    """``bugfoundry doctor --json`` on ``ws``: (exit code, report)."""
    capsys.readouterr()
    code = main(["doctor", "--workspace", str(ws), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def doctor_problems(report: dict) -> dict[str, str]:
    """A doctor report's problems, keyed ``KIND SUBJECT``."""
    return {f"{c['kind']} {c['subject']}": c["problem"] for c in report["checks"]
            if c["problem"]}


@pytest.fixture(scope="session")
def sample_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path) -> Path:
    """A workspace with the sample repo forged in full (every procedural candidate)."""
    ws = tmp_path_factory.mktemp("sample-ws")
    assert (
        main(["repo", "add", str(sample_bundle), "--name", "sample", "--workspace", str(ws)]) == 0
    )
    assert (
        main(
            [
                "forge",
                "sample",
                "--strategy",
                "procedural",
                "--workers",
                "2",
                "--workspace",
                str(ws),
                "--json",
            ]
        )
        == 0
    )
    return ws


SAMPLE_MAX = 12


@pytest.fixture(scope="session")
def sample_max_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path) -> Path:
    """One machine's ``forge sample --max 12``: what shards and Ray must reproduce."""
    ws = tmp_path_factory.mktemp("sample-max-ws")
    assert main(["repo", "add", str(sample_bundle), "--name", "sample",
                 "--workspace", str(ws)]) == 0
    assert main(["forge", "sample", "--max", str(SAMPLE_MAX), "--workers", "2",
                 "--workspace", str(ws), "--json"]) == 0
    return ws


def validated_set(db: Path, repo: str = "sample") -> tuple[dict[str, str], dict[str, tuple]]:
    """(reason per candidate, (instance id, F2P, P2P) per candidate) of a store."""
    from engine.store import Store

    with Store.open(db, read_only=True) as store:
        reasons = dict(store.verdict_reasons(repo))
        rows = store.con.execute(
            "SELECT candidate_id, instance_id, fail_to_pass, pass_to_pass FROM instances"
        ).fetchall()
    return reasons, {r[0]: (r[1], sorted(r[2]), sorted(r[3])) for r in rows}


SDIST = "pypi:cachetools==5.5.0"


@pytest.fixture(scope="session")
def cachetools_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a real sdist (cachetools, nobody here wrote it) forged on 48 candidates."""
    ws = tmp_path_factory.mktemp("cachetools-ws")
    assert main(["repo", "add", SDIST, "--workspace", str(ws)]) == 0
    assert main(["forge", "cachetools", "--max", "48", "--workers", "2",
                 "--workspace", str(ws), "--json"]) == 0
    return ws


def assert_same_sdist_verdicts(ws: Path, cachetools_ws: Path, n: int) -> None:
    """``ws`` judged the first ``n`` candidates of cachetools as the one-machine forge of 48
    (``cachetools_ws``) did: a --max selection is a prefix of a larger one. A timeout depends
    on the machine's load at that moment, not on the candidate: up to two may differ."""
    want_reasons, want = validated_set(cachetools_ws / "bugfoundry.duckdb", "cachetools")
    got_reasons, got = validated_set(ws / "bugfoundry.duckdb", "cachetools")
    assert len(got_reasons) == n and set(got_reasons) <= set(want_reasons)
    same = [c for c in got_reasons if "timeout" not in (got_reasons[c], want_reasons[c])]
    assert len(same) >= n - 2
    assert {c: got_reasons[c] for c in same} == {c: want_reasons[c] for c in same}
    assert {c: got[c] for c in same if c in got} == {c: want[c] for c in same if c in want}
    assert any(c in got for c in same)  # some were kept


LOCAL_BASE = "bugfoundry-base:bookworm"  # what scripts/docker-base.sh builds


def _docker_problem() -> tuple[str, str]:
    """(base image to use, "") or ("", why the docker tests cannot run here)."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any cause means: no usable daemon
        return "", f"no Docker daemon reachable ({str(exc).splitlines()[0][:120]})"
    wanted = os.environ.get("BUGFOUNDRY_DOCKER_BASE")
    for name in ([wanted] if wanted else [LOCAL_BASE, "python:3.11-slim"]):
        try:
            client.images.get(name)
            return name, ""
        except docker.errors.ImageNotFound:
            continue
    return "", f"no base image ({wanted or LOCAL_BASE}); build one: bash scripts/docker-base.sh"


@pytest.fixture(scope="session")
def docker_base() -> str:
    base, why = _docker_problem()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the docker tests, but {why}")
        pytest.skip(why)
    return base


def add_repo(ws: Path, source: Path, name: str) -> None:
    assert main(["repo", "add", str(source), "--name", name, "--workspace", str(ws)]) == 0


@pytest.fixture(scope="session")
def core_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second repo (tests/shapes.py's plainest), for forges of several repos."""
    path = tmp_path_factory.mktemp("core-src") / "corekit"
    core_repo(path)
    return path


@pytest.fixture(scope="session")
def core_alone_ws(tmp_path_factory: pytest.TempPathFactory, core_source: Path) -> Path:
    """One forge of the second repo alone: what the several-repo runs must give for it."""
    ws = tmp_path_factory.mktemp("core-alone")
    add_repo(ws, core_source, "core")
    assert main(["forge", "core", "--max", str(SAMPLE_MAX), "--workers", "2",
                 "--workspace", str(ws), "--json"]) == 0
    return ws


def docker_ws(tmp: Path, source: str, name: str, base: str) -> Path:
    """A workspace whose repo lives in docker: `repo add --backend docker`, then a baseline."""
    code = main(["repo", "add", source, "--name", name, "--backend", "docker",
                 "--base-image", base, "--workspace", str(tmp)])
    assert code == 0
    assert main(["baseline", name, "--workspace", str(tmp), "--json"]) == 0
    return tmp


@pytest.fixture(scope="session")
def docker_sample_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path,
                     docker_base: str) -> Path:
    """The sample in docker (test_docker's, and the Ray node tests': one image build)."""
    return docker_ws(tmp_path_factory.mktemp("docker-sample"), str(sample_bundle), "sample",
                     docker_base)
