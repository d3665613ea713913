"""Importing datasets: row checks and the mapping of external SWE-bench rows (pure + store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.dataset.importing import import_file, row_problems
from engine.diffs import apply_patch, make_patch
from engine.errors import UsageError
from engine.models import RepoRecord
from engine.store import Store

CLEAN = "def add(a, b):\n    return a + b\n"
BUGGY = "def add(a, b):\n    return a - b\n"


def _swebench_row(iid: str) -> dict:
    """A row as SWE-bench ships it: base_commit is buggy, patch is the gold fix."""
    return {"instance_id": iid, "repo": "org/calc", "base_commit": "a" * 40,
            "patch": make_patch("calc.py", BUGGY, CLEAN), "test_patch": "",
            "problem_statement": "add() subtracts", "FAIL_TO_PASS": ["tests/t.py::test_add"],
            "PASS_TO_PASS": ["tests/t.py::test_other"], "created_at": "2024-01-02T03:04:05Z",
            "environment_setup_commit": "a" * 40, "version": "1.0"}


def _store(path: Path) -> Store:
    """A workspace database holding the rows' repo (``org/calc`` is imported as ``calc``)."""
    store = Store.open(path)
    store.add_repo(RepoRecord("calc", "src", "path", "a" * 40, "/nowhere", ""))
    return store


def test_external_swebench_rows_become_bug_diffs(tmp_path: Path) -> None:
    path = tmp_path / "swebench.jsonl"
    path.write_text(json.dumps(_swebench_row("calc-1")) + "\n")
    with _store(tmp_path / "db.duckdb") as store:
        result = import_file(store, path)
        inst = store.get_instance("calc-1")
    assert result.imported == 1 and inst is not None
    # Stored as "clean + bug": the reverse of the gold fix turns the clean code buggy.
    assert apply_patch({"calc.py": CLEAN}, inst.patch)["calc.py"] == BUGGY
    assert inst.modifier == "swebench-external" and inst.file == "calc.py"
    assert inst.problem_statement == "add() subtracts"
    assert list(inst.fail_to_pass) == ["tests/t.py::test_add"]
    assert inst.meta["imported_format"] == "swebench-external"


def test_row_checks_and_all_or_nothing(tmp_path: Path) -> None:
    good = _swebench_row("calc-1")
    assert row_problems(good) == []
    assert "FAIL_TO_PASS is empty" in row_problems({**good, "FAIL_TO_PASS": []})
    assert "PASS_TO_PASS must be a list of test ids" in row_problems({**good,
                                                                      "PASS_TO_PASS": "t"})
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with _store(tmp_path / "db.duckdb") as store:
        with pytest.raises(UsageError, match="row 2: duplicate instance_id"):
            import_file(store, path)
        assert store.instance_ids() == []


def test_published_swebench_rows_with_test_lists_as_json_text(tmp_path: Path) -> None:
    """SWE-bench as published (HF datasets) stores FAIL_TO_PASS / PASS_TO_PASS as JSON text."""
    rows = [{**_swebench_row(f"calc-{i}"),
             "FAIL_TO_PASS": json.dumps(["tests/t.py::test_add"]),
             "PASS_TO_PASS": json.dumps(["tests/t.py::test_other", "tests/t.py::test_x"])}
            for i in range(2)]
    jsonl = tmp_path / "published.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with _store(tmp_path / "db.duckdb") as store:
        parquet = tmp_path / "published.parquet"
        store.jsonl_to_parquet(jsonl, parquet)
        for path in (jsonl, parquet):
            fresh = _store(tmp_path / f"{path.suffix[1:]}.duckdb")
            with fresh:
                assert import_file(fresh, path).imported == 2
                inst = fresh.get_instance("calc-1")
                assert inst is not None
                assert list(inst.fail_to_pass) == ["tests/t.py::test_add"]
                assert list(inst.pass_to_pass) == ["tests/t.py::test_other",
                                                      "tests/t.py::test_x"]
    broken = {**rows[0], "FAIL_TO_PASS": "[not json"}
    assert "FAIL_TO_PASS must be a list of test ids" in row_problems(broken)


def test_rows_that_reach_git_or_pytest_as_options_or_leave_the_repo() -> None:
    """What a dataset holds never becomes an option nor a path outside the repo."""
    good = _swebench_row("calc-1")
    repos = {"calc"}
    assert row_problems(good, repos) == []
    bad = {
        "base_commit": "--orphan=evilbranch", "environment_setup_commit": "-x",
        "FAIL_TO_PASS": ["--rootdir=/"], "repo": "../../x",
        "patch": make_patch("/etc/passwd", BUGGY, CLEAN),
        "test_patch": make_patch("../up.py", BUGGY, CLEAN),
    }
    for key, value in bad.items():
        problems = row_problems({**good, key: value}, repos)
        assert len(problems) == 1, (key, problems)
    assert "not in this workspace" in row_problems({**good, "repo": "org/other"}, repos)[0]
    assert row_problems({**good, "repo": "org/other"}) == []  # no workspace: not checked
