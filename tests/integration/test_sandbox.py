"""The venv backend's sandbox, on real test runs: no host network, no secrets, writes land in
scratch, the memory limit holds and is recorded, and a kill -9 leaves no process behind.

One small fixture repo (``tests/shapes.hang_repo``) and its environment serve every test.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.environments import sandbox
from engine.environments.venv import VenvEnvironment
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, get_repo
from engine.store import Store
from engine.workspace import Workspace
from tests.procs import marked, new_marker, wait_gone
from tests.shapes import hang_repo

from .test_shapes import _candidate

pytestmark = pytest.mark.integration
NAME = "hangkit"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hang_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the hang repo, its environment built and its baseline run."""
    base = tmp_path_factory.mktemp("hang")
    hang_repo(base / "src")
    ws = base / "ws"
    assert main(["repo", "add", str(base / "src"), "--name", NAME, "--workspace", str(ws)]) == 0
    assert main(["baseline", NAME, "--workspace", str(ws)]) == 0
    return ws


@pytest.fixture
def env(hang_ws: Path) -> Iterator[VenvEnvironment]:
    ws = Workspace.open(hang_ws)
    with Store.open(ws.db_path) as store:
        built, _recipe = ensure_environment(ws, store, get_repo(store, NAME))
    assert isinstance(built, VenvEnvironment)
    yield built


def _need_sandbox(env: VenvEnvironment) -> None:
    if not env.sandbox.active:
        pytest.skip(f"no sandbox on this machine: {env.sandbox.why}")


PROBE = """
import json, os, socket, sys, tempfile
port, marker = int(sys.argv[1]), sys.argv[2]
out = {"key": os.environ.get("OPENAI_API_KEY"), "token": os.environ.get("GITHUB_TOKEN")}
try:
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    out["connect"] = "connected"
except OSError as exc:
    out["connect"] = type(exc).__name__
srv = socket.socket()
srv.bind(("127.0.0.1", 0))  # its own loopback works
srv.listen()
out["bind"] = srv.getsockname()[1] > 0
for where in (os.path.expanduser("~"), "/tmp", tempfile.gettempdir()):
    with open(os.path.join(where, marker), "w") as fh:
        fh.write("x")
out["home"] = os.path.expanduser("~")
out["tmpdir"] = tempfile.gettempdir()
try:
    open(os.path.join(os.environ["REAL_HOME"], marker), "w").close()
    out["real_home"] = "written"
except OSError as exc:
    out["real_home"] = type(exc).__name__
print(json.dumps(out))
"""


def test_forged_code_cannot_reach_the_host_read_secrets_or_write_outside_scratch(
        env: VenvEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_sandbox(env)
    marker = new_marker()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-" + marker)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    real_home = Path.home()
    res = env.run(["python", "-c", PROBE, str(port), marker], cwd=tmp_path, timeout=60,
                  env={"REAL_HOME": str(real_home)})
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    with pytest.raises(BlockingIOError):
        listener.accept()  # zero connections reached the host's 127.0.0.1
    listener.close()
    assert out["connect"] != "connected", out
    assert out["bind"] is True
    assert out["key"] is None and out["token"] is None, out
    assert out["real_home"] == "OSError" or out["real_home"] == "PermissionError", out
    assert not (real_home / marker).exists()
    assert not (Path("/tmp") / marker).exists()
    scratch = env.sandbox_root
    assert out["home"] == str(scratch / "home") and (scratch / "home" / marker).exists()
    assert out["tmpdir"] == str(scratch / "tmp") and (scratch / "tmp" / marker).exists()


def test_a_4_gb_allocation_is_stopped_and_recorded_as_memory(hang_ws: Path) -> None:
    ws = Workspace.open(hang_ws)
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, NAME)
        env, recipe = ensure_environment(ws, store, repo)
        baseline = ensure_baseline(ws, store, repo, env, recipe)
        validator = build_validator(ws, repo, env, recipe, baseline,
                                    store.load_test_map(baseline.baseline_id), workers=1)
        started = time.monotonic()
        try:
            verdict = validator.validate(_candidate(
                NAME, "hangkit/core.py", "    return [v * factor",
                "    bytearray(4 * 2**30)\n    return [v * factor", Path(repo.path)))
        finally:
            validator.close()
    assert verdict.reason == "memory", verdict
    assert "3 GiB memory limit" in verdict.detail
    assert time.monotonic() - started < 30  # stopped at the limit, not by the timeout


def test_the_process_cap(env: VenvEnvironment, tmp_path: Path) -> None:
    _need_sandbox(env)
    if os.geteuid() == 0:
        pytest.skip("RLIMIT_NPROC is not enforced for root (mapped to root in the sandbox)")
    script = ("import os\nn = 0\ntry:\n    while n < 2000:\n        if os.fork() == 0:\n"
              "            os.pause()\n        n += 1\nexcept OSError:\n    pass\nprint(n)\n")
    res = env.run(["python", "-c", script], cwd=tmp_path, timeout=60)
    assert int(res.stdout.split()[-1]) < sandbox.DEFAULT_PROCESSES, res.stdout + res.stderr


BURN = ("import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a test that ignores SIGTERM\n"
        "end = time.monotonic() + float(sys.argv[1])\n"
        "while time.monotonic() < end:\n"
        "    pass\n"
        "os.killpg(os.getpgrp(), signal.SIGKILL)  # as the hang watch stops a run\n")


def _children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


@pytest.mark.parametrize("how", ["timeout", "own group killed"])
def test_a_killed_run_s_cpu_is_counted(env: VenvEnvironment, tmp_path: Path, how: str) -> None:
    """The run's CPU reaches our RUSAGE_CHILDREN however it was stopped (bench/validate.py
    measures with it): before, the kill took ``unshare`` along and the CPU went unreaped."""
    _need_sandbox(env)
    burn = "30" if how == "timeout" else "1.5"
    cpu0, started = _children_cpu(), time.monotonic()
    res = env.run(["python", "-c", BURN, burn], cwd=tmp_path, timeout=1.5 if how == "timeout"
                  else 60)
    cpu, wall = _children_cpu() - cpu0, time.monotonic() - started
    assert res.timed_out == (how == "timeout"), res
    assert wall < 10, wall  # a SIGTERM-proof run is still stopped promptly
    assert cpu > 0.4, f"{cpu:.2f}s CPU counted of a {wall:.1f}s busy run"


def test_without_unshare_runs_fall_back_with_one_warning_line(
        hang_ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither bwrap nor unshare on it
    monkeypatch.delenv("BUGFOUNDRY_SANDBOX", raising=False)
    monkeypatch.setattr(sandbox, "_warned", set())
    ws = Workspace.open(hang_ws)
    with Store.open(ws.db_path) as store:
        env, _recipe = ensure_environment(ws, store, get_repo(store, NAME))
    assert isinstance(env, VenvEnvironment)
    assert not env.sandbox.active
    res = env.run(["python", "-c", "print('ran')"], cwd=tmp_path, timeout=60)
    assert res.stdout.strip() == "ran"
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bugfoundry: warning: test runs are NOT sandboxed (no sandbox available: "
                   "bwrap not found; unshare not found); memory 3 GiB per process"], err
    monkeypatch.setenv("BUGFOUNDRY_SANDBOX", "on")
    assert main(["status", "--workspace", str(hang_ws)]) == 2
    assert "no sandbox can be made here" in capsys.readouterr().err


def test_verify_of_rows_from_elsewhere_says_they_run_sandboxed(
        hang_ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    src = Workspace.open(hang_ws).repo_path(NAME)
    patch = _candidate(NAME, "hangkit/core.py", "v * factor", "v + factor", src).patch
    row = {"instance_id": "elsewhere__hangkit-1", "repo": NAME, "patch": patch,
           "FAIL_TO_PASS": ["tests/test_core.py::test_scale"],
           "PASS_TO_PASS": ["tests/test_core.py::test_settle"]}
    rows = tmp_path / "foreign.jsonl"
    rows.write_text(json.dumps(row) + "\n")
    w = ["--workspace", str(hang_ws)]
    capsys.readouterr()
    assert main(["verify", str(rows), *w]) == 0
    out = capsys.readouterr()
    assert "1 of 1 rows did not come from this workspace: test runs are sandboxed" in out.err
    assert "1 rows from elsewhere: test runs are sandboxed" in out.out
    monkeypatch.setenv("PATH", str(tmp_path))  # no sandbox: refused, nothing run
    assert main(["verify", str(rows), *w]) == 2
    assert "no sandbox can be made here" in capsys.readouterr().err


def _forge(ws: Path, marker: str, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "forge", NAME, "--workers", "1",
         "--timeout", "4", "--sandbox", mode, "--workspace", str(ws)],
        env={**os.environ, "BFMARK": marker, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_when(proc: subprocess.Popen[bytes], marker: str, hung: bool) -> bool:
    """kill -9 forge once a test's ``sleep 1000`` helper runs (``hung``: has run > 1.5 s,
    so its candidate hangs); whether that moment came before forge ended."""
    deadline = time.monotonic() + 120
    seen: dict[int, float] = {}
    while proc.poll() is None and time.monotonic() < deadline:
        now = time.monotonic()
        helpers = [p for p in marked(marker) if _is_helper(p)]
        for p in helpers:
            seen.setdefault(p, now)
        if helpers and (not hung or any(now - seen[p] > 1.5 for p in helpers)):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.05)
    return False


def _is_helper(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00"
    except OSError:
        return False


@pytest.mark.parametrize(("hung", "mode"), [(False, "auto"), (True, "auto"), (True, "off")],
                         ids=["test-running", "candidate-hung", "hung-unsandboxed"])
def test_kill_9_of_forge_leaves_no_process(hang_ws: Path, hung: bool, mode: str) -> None:
    """A forge killed while a test's helper runs (a grandchild of the fork server's child),
    and while a candidate hangs in a sleep loop: 5 s later nothing it started is alive.
    Unsandboxed, the run's first process is the subreaper that takes them down."""
    marker = new_marker()
    proc = _forge(hang_ws, marker, mode)
    try:
        assert _kill_when(proc, marker, hung), "forge ended before the kill point"
        assert wait_gone(marker, 5.0) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in marked(marker):
            os.kill(pid, signal.SIGKILL)
