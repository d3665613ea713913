"""The docker backend on a real Docker engine (issue 7): same verdicts as the venv backend,
and a candidate that reaches for the network or fork-bombs is contained.

One image per repo is built once per session (and reused across sessions: images are keyed by
repo, commit and recipe). Without a Docker daemon these tests skip with the reason; in CI
(CI=true) they fail instead, because CI sets Docker up (.ci/run).
"""

from __future__ import annotations

import difflib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.environments import sandbox
from engine.environments.base import Environment
from engine.forge.run import generate_candidates
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment
from engine.forge.setup import get_repo as store_repo
from engine.models import Candidate, RepoRecord, Verdict
from engine.store import Store
from engine.testmap import TestMap
from engine.workspace import Workspace

from .conftest import SDIST, cli_json, docker_ws

# docker_base first: without Docker, skip before building the venv workspaces.
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("docker_base")]

COMPARE_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def docker_cachetools_ws(tmp_path_factory: pytest.TempPathFactory, docker_base: str) -> Path:
    return docker_ws(tmp_path_factory.mktemp("docker-cachetools"), SDIST, "cachetools",
                      docker_base)


class _Setup:
    """One workspace's repo, environment, baseline and test map, opened for validation."""

    def __init__(self, ws_dir: Path, name: str) -> None:
        self.ws = Workspace(ws_dir)
        with Store.open(self.ws.db_path) as store:
            self.repo: RepoRecord = store_repo(store, name)
            self.env, self.recipe = ensure_environment(self.ws, store, self.repo)
            self.baseline = ensure_baseline(self.ws, store, self.repo, self.env, self.recipe)
            testmap = store.load_test_map(self.baseline.baseline_id)
        assert testmap is not None
        self.testmap: TestMap = testmap

    def validate(self, cands: list[Candidate], workers: int = 2,
                 timeout: float | None = None) -> dict[str, Verdict]:
        v = build_validator(self.ws, self.repo, self.env, self.recipe, self.baseline,
                            self.testmap, workers=workers, timeout=timeout)
        try:
            with v:
                return {c.candidate_id: verdict for c, verdict in v.run(cands)}
        finally:
            self.env.close()


def _compare(venv_dir: Path, docker_dir: Path, name: str, pick: int) -> dict[str, Verdict]:
    venv, dock = _Setup(venv_dir, name), _Setup(docker_dir, name)
    assert venv.env.backend == "venv" and dock.env.backend == "docker"
    # Same baseline and the same map of which tests execute which lines, in both backends.
    assert dock.baseline.passing == venv.baseline.passing
    assert dock.testmap.covered_lines == venv.testmap.covered_lines
    cands = generate_candidates(venv.repo, ["procedural"], 7, pick,
                                covered_lines=venv.testmap.covered_lines)
    # Timeouts scale with each baseline's timings, measured at different moments on a shared
    # machine; whether a slow candidate makes it is a question of load, not of the backend.
    # So both get one generous timeout (none of these candidates hangs) and the comparison is
    # about what the tests say.
    in_venv = venv.validate(cands, timeout=COMPARE_TIMEOUT)
    in_docker = dock.validate(cands, timeout=COMPARE_TIMEOUT)
    differ = [(c.modifier, c.entity, in_venv[c.candidate_id].reason,
               in_docker[c.candidate_id].reason) for c in cands
              if (in_venv[c.candidate_id].kept, sorted(in_venv[c.candidate_id].fail_to_pass))
              != (in_docker[c.candidate_id].kept, sorted(in_docker[c.candidate_id].fail_to_pass))]
    assert not differ, differ
    return in_docker


def test_sample_docker_same_verdicts_as_venv(sample_ws: Path, docker_sample_ws: Path) -> None:
    verdicts = _compare(sample_ws, docker_sample_ws, "sample", 42)
    assert sum(v.kept for v in verdicts.values()) >= 25
    assert {v.path for v in verdicts.values()} >= {"hot", "reload"}  # forked children ran


def test_real_sdist_docker_same_verdicts_as_venv(cachetools_ws: Path,
                                                 docker_cachetools_ws: Path) -> None:
    verdicts = _compare(cachetools_ws, docker_cachetools_ws, "cachetools", 30)
    assert sum(v.kept for v in verdicts.values()) >= 15


def test_image_is_tagged_reused_and_listed(docker_sample_ws: Path, capsys) -> None:
    ws = str(docker_sample_ws)
    built = cli_json(capsys, "env", "build", "sample", "--workspace", ws)
    repo = cli_json(capsys, "repo", "ls", "--workspace", ws)[0]
    assert built["backend"] == "docker" and built["size_mb"] > 50
    assert built["image"].startswith(f"bugfoundry/sample:{repo['commit'][:12]}-")
    capsys.readouterr()
    assert main(["env", "build", "sample", "--workspace", ws]) == 0
    assert "building" not in capsys.readouterr().err  # same commit and recipe: no rebuild
    listing = cli_json(capsys, "env", "ls", "--workspace", ws)
    assert listing["environments"][0]["image"] == built["image"]
    tags = {t for i in listing["images"] for t in i["tags"]}
    assert built["image"] in tags and f"bugfoundry/sample:{repo['commit'][:12]}" in tags


# ---------------------------------------------------------------------- containment
def _inject(repo: RepoRecord, rel: str, anchor: str, code: list[str], modifier: str) -> Candidate:
    """A hand-made candidate: ``code`` inserted after the line ``anchor`` (body indentation)."""
    old = (Path(repo.path) / rel).read_text()
    indent = " " * 8
    new = old.replace(anchor + "\n", anchor + "\n" + "".join(indent + c + "\n" for c in code), 1)
    assert new != old
    diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        f"a/{rel}", f"b/{rel}"))
    return Candidate(repo.name, "manual", modifier, f"diff --git a/{rel} b/{rel}\n{diff}",
                     file=rel, entity="Money.from_minor")


ANCHOR = '        """Build an amount from integer minor units, e.g. cents."""'


@pytest.fixture
def listener() -> Iterator[tuple[str, int, list[str]]]:
    """A TCP server on this host's own address (not loopback): reachable from the host and
    from any container that has a network; it records every connection it accepts."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("10.255.255.255", 1))  # picks the outgoing interface; sends nothing
    address = probe.getsockname()[0]
    probe.close()
    server = socket.create_server((address, 0))
    server.settimeout(0.2)
    seen: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            seen.append(addr[0])
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield address, server.getsockname()[1], seen
    stop.set()
    thread.join()
    server.close()


def test_network_is_off_in_the_container(sample_ws: Path, docker_sample_ws: Path,
                                         listener: tuple[str, int, list[str]]) -> None:
    host, port, seen = listener
    dock = _Setup(docker_sample_ws, "sample")
    sandbox.configure(sandbox.Settings("off"))
    try:
        bare = _Setup(sample_ws, "sample")
        cand = _inject(bare.repo, "ledgerkit/money.py", ANCHOR,
                       ["import socket",
                        f"socket.create_connection(({host!r}, {port}), 3).close()"], "network")
        # Unsandboxed on the host the connection works, so every test still passes...
        assert bare.validate([cand], workers=1)[cand.candidate_id].reason == "no_test_failed"
    finally:
        sandbox.configure(None)
    assert seen, "the unsandboxed venv run should have reached the listener"
    seen.clear()
    # ...in the venv backend's sandbox and in the container it cannot leave: the tests fail
    # on the refused network.
    for setup in (_Setup(sample_ws, "sample"), dock):
        verdict = setup.validate([cand], workers=1)[cand.candidate_id]
        assert seen == [], setup.env.backend
        assert verdict.kept and verdict.fail_to_pass
        assert any("unreachable" in text.lower() or "OSError" in text
                   for text in verdict.failures.values()), verdict.failures


def _host_can_fork() -> bool:
    return subprocess.run(["true"], timeout=10).returncode == 0


def test_fork_bomb_is_capped_and_killed(docker_sample_ws: Path) -> None:
    dock = _Setup(docker_sample_ws, "sample")
    bomb = _inject(dock.repo, "ledgerkit/money.py", ANCHOR,
                   ["import os", "while True:", "    try:", "        os.fork()",
                    "    except OSError:", "        pass"], "fork_bomb")
    normal = generate_candidates(dock.repo, ["procedural"], 7, 1,
                                 covered_lines=dock.testmap.covered_lines)[0]
    v = build_validator(dock.ws, dock.repo, dock.env, dock.recipe, dock.baseline, dock.testmap,
                        workers=1)
    try:
        before = v.validate(normal)
        verdict = v.validate(bomb)
        assert not verdict.kept and verdict.reason == "timeout", (verdict.reason, verdict.detail)
        assert _host_can_fork()
        (container,) = _containers(dock.env)
        container.reload()
        limits = container.attrs["HostConfig"]
        assert limits["PidsLimit"] == 512 and limits["NetworkMode"] == "none"
        assert limits["Memory"] > 0 and limits["NanoCpus"] > 0
        # The bomb's processes die (SIGKILLed processes still need CPU time to exit, and
        # the bomb used up the container's quota): only init, sleep and the servers remain.
        deadline = time.monotonic() + 20
        while len(container.top()["Processes"]) >= 10 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(container.top()["Processes"]) < 10
        # ...and the same warm container still validates the next candidate as before.
        after = v.validate(normal)
        assert (after.kept, after.fail_to_pass) == (before.kept, before.fail_to_pass)
    finally:
        v.close()
        dock.env.close()


def _containers(env: Environment) -> list:
    return env.containers()  # type: ignore[attr-defined]


def test_unknown_base_image_is_a_clear_error(docker_sample_ws: Path, capsys) -> None:
    capsys.readouterr()
    code = main(["env", "build", "sample", "--base-image", "bugfoundry-test/no-such:0",
                 "--workspace", str(docker_sample_ws)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "bugfoundry-test/no-such:0" in err[-2] and "--base-image" in err[-1]
    # the failed attempt is not remembered: the repo keeps its image
    settings = json.loads((docker_sample_ws / "envs" / "sample" / "docker" / "settings.json")
                          .read_text())
    assert settings["base_image"] != "bugfoundry-test/no-such:0"


def test_wheelhouse_build_offline_forge_then_rm(tmp_path: Path, docker_base: str,
                                                 capsys) -> None:
    """The route for users behind a proxy: wheels downloaded on the host, a build with the
    network off; then `forge` uses the repo's docker environment and `env rm` removes it."""
    repo = tmp_path / "tiny"
    (repo / "tests").mkdir(parents=True)
    (repo / "tiny.py").write_text("def add(a, b):\n    return a + b\n\n\n"
                                  "def scale(xs, k):\n    return [x * k for x in xs if x]\n")
    (repo / "tests" / "test_tiny.py").write_text(
        "from tiny import add, scale\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_scale():\n    assert scale([1, 0, 2], 3) == [3, 6]\n")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t",
                                                "commit", "-qm", "tiny"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(wheels), "pytest"],
                   check=True, timeout=300)
    ws = str(tmp_path / "ws")
    assert main(["repo", "add", str(repo), "--backend", "docker", "--base-image", docker_base,
                 "--wheelhouse", str(wheels), "--workspace", ws]) == 0
    summary = cli_json(capsys, "forge", "tiny", "--workers", "1", "--workspace", ws)
    assert summary["backend"] == "docker" and summary["kept_total"] >= 1, summary
    listing = cli_json(capsys, "env", "ls", "--workspace", ws)
    (image,) = [e["image"] for e in listing["environments"]]
    removed = cli_json(capsys, "env", "rm", "tiny", "--workspace", ws)
    assert image in removed["removed_images"]
    import docker

    assert docker.from_env().images.list(filters={"label": "bugfoundry.repo=tiny"}) == []


def test_timeout_kills_the_group_and_reaps_escapees(docker_sample_ws: Path) -> None:
    dock = _Setup(docker_sample_ws, "sample")
    tree = dock.ws.worker_path("sample", 0)
    hang = "import subprocess, time; subprocess.Popen({child}); time.sleep(100)"
    try:
        for child in (["sleep", "100"], ["setsid", "sleep", "100"]):  # in the group, escaped
            res = dock.env.run(["python", "-c", hang.format(child=child)], cwd=tree, timeout=2)
            assert res.timed_out and res.duration < 10, res
            (container,) = _containers(dock.env)
            names = [p[-1] for p in container.top(ps_args="-e -o pid,comm")["Processes"]]
            assert sorted(names) == ["docker-init", "sleep"], names
        ok = dock.env.run(["python", "-c", "print('still serving')"], cwd=tree, timeout=30)
        assert ok.stdout.strip() == "still serving" and not ok.timed_out
    finally:
        dock.env.close()


def test_pr_mirror_in_docker_runs_route_b_baselines_in_the_container(
        docker_sample_ws: Path, capsys) -> None:
    """Route b's baselines at the fix commits run in the container and are stored as such."""
    from .test_pr_mirror import ROUTE_A, ROUTE_B

    summary = cli_json(capsys, "forge", "sample", "--strategy", "pr_mirror", "--max", "12",
                       "--workers", "2", "--workspace", str(docker_sample_ws))
    assert summary["backend"] == "docker"
    routes = {c["sha"][:10]: c["route"] for c in summary["mirror"]["commits"]}
    assert {s for s, r in routes.items() if r == "a"} == ROUTE_A
    assert {s for s, r in routes.items() if r == "b"} == ROUTE_B
    with Store.open(docker_sample_ws / "bugfoundry.duckdb") as store:
        shas = {c["sha"] for c in summary["mirror"]["commits"] if c["route"] == "b"}
        for sha in shas:
            assert store.latest_baseline("sample", sha, backend="docker") is not None
            assert store.latest_baseline("sample", sha, backend="venv") is None


def test_generated_version_file_reaches_the_mounted_trees(tmp_path: Path, docker_base: str,
                                                         capsys) -> None:
    """setuptools-scm writes its version file in the image's /testbed, the work trees the
    containers mount come from the host: the build's generated files are copied out to them."""
    from tests.scmrepo import VERSION_FILE, scm_repo

    src = scm_repo(tmp_path / "scmpkg")
    ws = tmp_path / "ws"
    assert main(["repo", "add", str(src), "--backend", "docker", "--base-image", docker_base,
                 "--workspace", str(ws)]) == 0
    assert (ws / "envs" / "scmpkg" / "docker" / "generated" / VERSION_FILE).is_file()
    summary = cli_json(capsys, "forge", "scmpkg", "--max", "10", "--workers", "2",
                       "--workspace", str(ws))
    assert summary["backend"] == "docker"
    assert summary["baseline_passing"] == summary["baseline_tests"] == 6, summary
    assert summary["kept_total"] >= 1, summary["drop_reasons"]
