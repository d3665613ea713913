"""The sandbox's cost per test run, and kill -9 points that must leave no process behind.

    python bench/sandbox.py [--runs 50] [--kills 10] [--workspace DIR]

Builds the hang fixture repo (``tests/shapes.hang_repo``) once, then:

1. overhead: ``--runs`` one-test pytest runs (``env.run``, the cold path) with the sandbox
   and without (both with the memory limit's init), mean and median wall seconds;
2. orphans: ``--kills`` forges of that repo, each killed with SIGKILL at a different moment
   (0.5 s steps from 1 s, the later ones mostly while a candidate hangs in a sleep loop with
   a ``sleep 1000`` grandchild), counting the processes still alive 5 s later (found by a
   marker in their environment);
3. the same for ``verify`` of a row from elsewhere whose bug hangs (``--verify-kills``), and
   for the TUI forging in a thread worker (``--tui-kills``; the app runs headless under
   Textual's Pilot in a child process, started with the forge screen's defaults).

Writes ``bench/results/sandbox.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.cli.main import main as cli_main  # noqa: E402
from engine.environments import sandbox  # noqa: E402
from engine.forge.setup import ensure_environment, get_repo  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.workspace import Workspace  # noqa: E402
from tests.procs import marked, new_marker, wait_gone  # noqa: E402
from tests.shapes import hang_repo  # noqa: E402


def overhead(ws_dir: Path, runs: int) -> dict[str, float]:
    ws = Workspace.open(ws_dir)
    out: dict[str, float] = {}
    envs = {}
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, "hangkit")
        for mode in ("on", "off"):  # each environment keeps the sandbox it was made with
            sandbox.configure(sandbox.Settings(mode))
            envs[mode], _recipe = ensure_environment(ws, store, repo)
            assert envs[mode].sandbox.active == (mode == "on")  # type: ignore[attr-defined]
    sandbox.configure(None)
    times: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(runs):  # interleaved, so a busy moment costs both sides alike
        for mode, env in envs.items():
            res = env.run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_core.py::test_scale"], cwd=Path(repo.path), timeout=60)
            assert res.returncode == 0, res.stdout + res.stderr
            times[mode].append(res.duration)
    for mode, got in times.items():
        out[f"{mode}_mean"] = round(statistics.mean(got), 4)
        out[f"{mode}_median"] = round(statistics.median(got), 4)
    out["overhead_median"] = round(out["on_median"] - out["off_median"], 4)
    return out


HANG_PATCH = """\
diff --git a/hangkit/core.py b/hangkit/core.py
--- a/hangkit/core.py
+++ b/hangkit/core.py
@@ -4,6 +4,6 @@ import time
 def settle(ticks):
     \"\"\"Wait until the ticks run out, a short sleep each.\"\"\"
     while ticks > 0:
-        ticks = ticks - 1
+        ticks = ticks + 1
         time.sleep(0.05)
     return "settled"
"""

TUI_DRIVER = """
import asyncio, sys
from pathlib import Path
from engine.store import Store
from tui.app import BugfoundryApp

async def main():
    app = BugfoundryApp(Store.open(Path(sys.argv[1]) / "bugfoundry.duckdb"), "bench")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("F")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        print("forging", app.forge_running, flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


def hang_rows(ws_dir: Path, out: Path) -> Path:
    """One swesmith row from elsewhere (not in the store) whose bug hangs ``settle``."""
    ws = Workspace.open(ws_dir)
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, "hangkit")
    row = {"instance_id": "hangkit.elsewhere.hang", "repo": "hangkit",
           "base_commit": repo.commit, "patch": HANG_PATCH,
           "FAIL_TO_PASS": ["tests/test_core.py::test_settle_with_a_helper",
                            "tests/test_core.py::test_settle"],
           "PASS_TO_PASS": ["tests/test_core.py::test_scale"]}
    out.write_text(json.dumps(row) + "\n")
    return out


def kill_points(what: str, argv: list[str], n: int) -> list[dict[str, object]]:
    """Start ``argv`` ``n`` times, SIGKILL it after 1 s, 1.5 s, ...; count what survives."""
    points = []
    for k in range(n):
        delay = 1.0 + 0.5 * k
        marker = new_marker()
        proc = subprocess.Popen(argv, env={**os.environ, "BFMARK": marker,
                                           "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        ended = proc.poll() is not None
        started = len(marked(marker))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        left = wait_gone(marker, 5.0)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        points.append({"command": what, "kill_after_s": delay, "had_ended": ended,
                       "processes_at_kill": started, "alive_5s_later": len(left)})
        print(points[-1], flush=True)
    return points


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--verify-kills", type=int, default=5)
    ap.add_argument("--tui-kills", type=int, default=5)
    ap.add_argument("--workspace")
    args = ap.parse_args()
    base = Path(args.workspace or tempfile.mkdtemp(prefix="bf-sandbox-bench-"))
    if not (base / "src").exists():
        hang_repo(base / "src")
    ws = base / "ws"
    w = ["--workspace", str(ws)]
    if not (ws / "bugfoundry.duckdb").exists():
        assert cli_main(["repo", "add", str(base / "src"), "--name", "hangkit", *w]) == 0
    assert cli_main(["baseline", "hangkit", *w]) == 0
    result = {"sandbox": sandbox.current().describe(), "runs": args.runs,
              "overhead": overhead(ws, args.runs), "kills": kill_points(
                  "forge", [sys.executable, "-m", "engine.cli", "forge", "hangkit",
                            "--workers", "1", "--timeout", "4", *w], args.kills)}
    rows = hang_rows(ws, base / "elsewhere.jsonl")
    result["verify_kills"] = kill_points(
        "verify", [sys.executable, "-m", "engine.cli", "verify", str(rows), *w],
        args.verify_kills)
    result["tui_kills"] = kill_points(
        "tui", [sys.executable, "-c", TUI_DRIVER, str(ws)], args.tui_kills)
    points = result["kills"] + result["verify_kills"] + result["tui_kills"]
    result["kill_points"] = len(points)
    result["orphans_total"] = sum(int(p["alive_5s_later"]) for p in points)
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "sandbox.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
