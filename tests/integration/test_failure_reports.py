"""Failure reports made cheaper (bugfoundry_tracebacks, ``$BUGFOUNDRY_FULL_REPORTS``): a real
pytest in a fresh interpreter prints exactly what it prints without them, the statement
starts come from the shared cache on the next run, and past the cap a failure keeps what the
engine stores of it."""

from __future__ import annotations

import json
import marshal
import os
import re
import subprocess
import sys
from pathlib import Path

from engine.environments.base import PLUGIN_DIR

HELPER = '''\
import functools


def deco(fn):
    @functools.wraps(fn)
    def inner(*a, **kw):
        return fn(*a, **kw)
    return inner


@deco
def helper(x):
    try:
        total = (
            x
            + 1
        )
    finally:
        pass
    if total > 2:
        raise ValueError(
            f"too big: {total}"
        )
    return total
'''

TESTS = '''\
import unittest

import pytest

from helper import helper


class TestThings:
    @pytest.mark.parametrize("n", [1, 5])
    def test_helper(self, n):
        assert helper(n) == n + 1


def test_assert():
    values = {"a": 1}
    assert values == {
        "a": 2,
    }


def test_in_else():
    for i in range(2):
        pass
    else:
        helper(9)


class TestOld(unittest.TestCase):
    def test_equal(self):
        self.assertEqual(1, 2)
'''


def pytest_run(project: Path, cache: Path | None, *extra: str, env: dict[str, str] | None = None
               ) -> tuple[str, list[dict[str, object]]]:
    """Run pytest in ``project``; with ``cache``, our report plugin and the shared cache are
    on. Returns the failures section of the output and the report's test records."""
    report = project / "report.jsonl"
    report.unlink(missing_ok=True)
    run_env = {**os.environ, "PYTHONPATH": str(PLUGIN_DIR), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *extra]
    if cache is not None:
        run_env.update({"BUGFOUNDRY_REWRITE_CACHE": str(cache), "BUGFOUNDRY_REPORT": str(report)})
        args += ["-p", "bugfoundry_report"]
    out = subprocess.run(args, cwd=project, env=run_env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    failures = re.sub(r"0x[0-9a-f]+", "0x?", text[text.index("= FAILURES ="):
                                                  text.index("short test summary")])
    records = [json.loads(line) for line in report.read_text().splitlines()] \
        if report.exists() else []
    return failures, [r for r in records if r.get("event") == "test" and r.get("message")]


FRAME = re.compile(r"^\S+\.py:\d+: in (\w+)$")


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "p"
    project.mkdir()
    (project / "helper.py").write_text(HELPER)
    (project / "test_a.py").write_text(TESTS)
    return project


def statement_entries(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "statements").rglob("*") if p.is_file())


def test_reports_are_pytests_own_and_the_starts_come_from_the_cache(tmp_path: Path) -> None:
    project, cache = make_project(tmp_path), tmp_path / "cache"
    for style in ("long", "short"):
        plain, _ = pytest_run(project, None, f"--tb={style}")
        assert plain.count("____ ") == 4, plain  # four failures, each with its source
        ours, records = pytest_run(project, cache, f"--tb={style}")
        assert ours == plain
        assert len(records) == 4
        again, _ = pytest_run(project, cache, f"--tb={style}")  # starts read from disk
        assert again == plain
    entries = statement_entries(cache)
    # one per text parsed: each file, and the functions pytest shows apart (a second run
    # of the same texts added none)
    assert len(entries) >= 2
    # The next run reads them: starts that say every line is its own statement make pytest
    # show one line per frame, where it showed whole multi-line statements before.
    for entry in entries:
        assert isinstance(marshal.loads(entry.read_bytes()), list)
        entry.write_bytes(marshal.dumps(list(range(60))))
    served, _ = pytest_run(project, cache, "--tb=long")
    plain, _ = pytest_run(project, None, "--tb=long")
    assert served != plain
    assert '"a": 2,' in plain  # the failing statement's later lines
    assert "assert values == {" in served and '"a": 2,' not in served


def test_past_the_cap_a_failure_keeps_the_end_of_its_short_traceback(tmp_path: Path) -> None:
    project, cache = make_project(tmp_path), tmp_path / "cache"
    _, full = pytest_run(project, cache, "--tb=short")
    _, capped = pytest_run(project, cache, "--tb=short", env={"BUGFOUNDRY_FULL_REPORTS": "1"})
    assert [r["nodeid"] for r in capped] == [r["nodeid"] for r in full]
    first, *later = zip(full, capped, strict=True)
    assert first[1]["message"] == first[0]["message"]  # the first failure: pytest's report
    for whole, short in later:
        text = str(short["message"])
        assert len(text.splitlines()) <= len(str(whole["message"]).splitlines())
        # the innermost frame's place and line, then the exception, as pytest ends it
        lines, pytests = text.splitlines(), str(whole["message"]).splitlines()
        assert lines[0] == [n for n in pytests if FRAME.match(n)][-1]
        assert FRAME.match(lines[0]).group(1) in ("helper", "test_assert", "test_equal")  # type: ignore[union-attr]
        assert lines[1:] == pytests[pytests.index(lines[0]) + 1:]
