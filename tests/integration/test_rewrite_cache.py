"""The servers' cache of assertion-rewritten test modules (bugfoundry_rewritecache): a real
pytest in a fresh interpreter, as a warm child runs it."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

from engine.environments.base import PLUGIN_DIR

RUN = ("import sys, bugfoundry_rewritecache as c; assert c.install(); import pytest; "
       "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'test_a.py']))")


def run(project: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR), "PYTHONDONTWRITEBYTECODE": "1",
           "BUGFOUNDRY_REWRITE_CACHE": str(cache), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-c", RUN], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file())


def test_a_hit_serves_the_cached_code_and_a_changed_file_is_a_miss(tmp_path: Path) -> None:
    project, cache = tmp_path / "p", tmp_path / "cache"
    project.mkdir()
    test = project / "test_a.py"
    test.write_text("def test_x():\n    assert 1 == 1\n")
    first = run(project, cache)
    assert first.returncode == 0, first.stdout + first.stderr
    (entry,) = entries(cache)
    # The entry is what the next child runs: replace it with code that fails, and the
    # unchanged file now fails (proof the rewrite came from the cache, not from the file).
    entry.write_bytes(marshal.dumps(compile("def test_x():\n    assert 1 == 2\n",
                                            str(test), "exec")))
    served = run(project, cache)
    assert served.returncode == 1 and "1 failed" in served.stdout, served.stdout
    # A change of the same size (a flipped operand, written within the same second: what a
    # timestamp-and-size pyc would miss) is a new key: the new text runs, rewritten afresh.
    test.write_text("def test_x():\n    assert 2 == 1\n")
    changed = run(project, cache)
    assert changed.returncode == 1 and "assert 2 == 1" in changed.stdout, changed.stdout
    assert len(entries(cache)) == 2
    test.write_text("def test_x():\n    assert 1 == 1\n")
    entry.unlink()  # back to the first text: rewritten and cached again, and it passes
    again = run(project, cache)
    assert again.returncode == 0, again.stdout
    assert len(entries(cache)) == 2


def test_not_installed_while_bytecode_is_written(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR), "BUGFOUNDRY_REWRITE_CACHE": str(tmp_path)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", "import bugfoundry_rewritecache as c; "
                          "print(c.install())"], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "False"
