"""PR mirroring and combine on the sample repo: real fix commits, real pytest, real DuckDB.

The workspace starts from a copy of the sample workspace's database (its procedural instances
are combine's input) and builds its own environment from the shared uv cache.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.strategies.combine import RELATIONS

from .conftest import cli_json

pytestmark = pytest.mark.integration

# From data/README.md: fixes that reverse-apply at HEAD (route a) and those that do not (b).
ROUTE_A = {"db50e87794", "47e7c7583d", "90e908e59b", "c0efbc85e0"}
ROUTE_B = {"5f2532d44f", "a53a60fd6f"}
HEAD = "6505d5f8a4"


@pytest.fixture(scope="module")
def mirrored(sample_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    ws = tmp_path_factory.mktemp("mirror-ws")
    shutil.copy(sample_ws / "bugfoundry.duckdb", ws / "bugfoundry.duckdb")
    buf = io.StringIO()  # module scope has no capsys
    with contextlib.redirect_stdout(buf):
        code = main(["forge", "sample", "--strategy", "pr_mirror,combine", "--max", "12",
                     "--workers", "2", "--workspace", str(ws), "--json"])
    assert code == 0, buf.getvalue()
    return ws, json.loads(buf.getvalue())


def test_pr_mirror_recovers_fixes_by_route_a_and_b(mirrored, capsys) -> None:
    ws, summary = mirrored
    m = summary["mirror"]
    assert m["fix_commits"] == 6 and m["attempted"] == 6
    assert m["skipped"] == {"not_a_fix": 9, "root_commit": 1}
    assert m["recovered"] == {"a": 4, "b": 2, "c": 0}, m["commits"]
    routes = {c["sha"][:10]: c["route"] for c in m["commits"]}
    assert {s for s, r in routes.items() if r == "a"} == ROUTE_A
    assert {s for s, r in routes.items() if r == "b"} == ROUTE_B
    for c in m["commits"]:
        if c["route"] == "b":  # route a was tried first and failed to merge
            assert "conflicts" in c["failed"]["a"]

    instances = cli_json(capsys, "instances", "--strategy", "pr_mirror", "--workspace", str(ws))
    assert len(instances) == 6
    for inst in instances:
        meta = inst["meta"]
        assert inst["FAIL_TO_PASS"] and inst["problem_statement"]
        assert "closes #" not in inst["problem_statement"].lower()
        assert inst["base_commit"] == meta["base_commit"]
        fix = meta["fix_commit"][:10]
        if meta["route"] == "a":
            assert fix in ROUTE_A and inst["base_commit"].startswith(HEAD)
        else:
            assert fix in ROUTE_B and inst["base_commit"] == meta["fix_commit"]
            assert f".{fix[:8]}.pr_mirror_route_b__" in inst["instance_id"]
        # The fix's own regression tests are among the failing ones.
        assert any(t.split("::")[0] in meta["fix_tests"] for t in inst["FAIL_TO_PASS"])


def test_pr_mirror_instances_replay_at_their_own_base(mirrored, tmp_path: Path,
                                                      capsys) -> None:
    """Exported as SWE-bench rows, each holds when replayed at its base_commit."""
    ws, _ = mirrored
    full = tmp_path / "all.jsonl"
    assert main(["export", "--format", "swebench", "--split", "all", "-o", str(full),
                 "--workspace", str(ws)]) == 0
    rows = [json.loads(x) for x in full.read_text().splitlines()]
    mirrors = [r for r in rows if r["strategy"] == "pr_mirror"]
    assert {r["clean_commit"][:10] for r in mirrors} == ROUTE_B | {HEAD}
    # Both route-b instances and one at the pinned commit (each replay costs two pytest runs).
    picked = [r for r in mirrors if r["modifier"] == "route_b"] + [
        next(r for r in mirrors if r["modifier"] == "route_a")]
    path = tmp_path / "mirrors.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in picked))
    (tmp_path / ".mirrors.jsonl.bugfoundry").mkdir()
    (tmp_path / ".mirrors.jsonl.bugfoundry" / "repos").symlink_to(
        tmp_path / ".all.jsonl.bugfoundry" / "repos")
    checks = cli_json(capsys, "verify", str(path), "--workspace", str(ws))
    assert len(checks) == 3 and all(c["ok"] for c in checks), checks
    assert all(c["start"] == "branch" for c in checks)  # each on its own instance branch


def test_combine_yields_per_kind(mirrored, capsys) -> None:
    ws, summary = mirrored
    c = summary["combine"]
    assert c["inputs"] >= 100
    kinds = c["kinds"]
    assert kinds["file"]["kept"] >= 1 and kinds["module"]["kept"] >= 1, kinds
    assert sum(k["candidates"] for k in kinds.values()) == 12  # --max caps the stage
    combined = cli_json(capsys, "instances", "--strategy", "combine", "--workspace", str(ws))
    assert len(combined) == sum(k["kept"] for k in kinds.values())
    known = {i["instance_id"] for i in cli_json(capsys, "instances", "--strategy",
                                                "procedural", "--workspace", str(ws))}
    used: list[str] = []
    for inst in combined:
        meta = inst["meta"]
        assert 2 <= len(meta["components"]) <= 3 and set(meta["components"]) <= known
        assert meta["f2p_relation"] in RELATIONS and inst["FAIL_TO_PASS"]
        assert len(meta["files"]) == (1 if inst["modifier"] == "file" else len(
            meta["components"]))
        used += meta["components"]
    assert len(used) == len(set(used))  # each bug at most once per run


def test_rerun_resumes_without_new_baselines(mirrored, capsys) -> None:
    ws, _ = mirrored
    again = cli_json(capsys, "forge", "sample", "--strategy", "pr_mirror,combine", "--max",
                     "12", "--workers", "2", "--workspace", str(ws))
    assert again["validated_now"] == 0 and again["already_done"] == again["candidates"]
    assert again["mirror"]["recovered"] == {"a": 4, "b": 2, "c": 0}
    assert again["elapsed"] < 30
    mined = cli_json(capsys, "mine", "sample", "--workspace", str(ws))
    assert mined["fix_commits"] == 6
    by_sha = {c["sha"][:10]: c for c in mined["commits"]}
    assert {s for s, c in by_sha.items() if c["route_a"] == "plain"} == ROUTE_A
    assert all(by_sha[s]["route_b"] == "runs" for s in ROUTE_B)


def test_bad_stage_options_are_one_line_errors(mirrored, capsys) -> None:
    ws, _ = mirrored
    for args, said in (
        (["--combine-scope", "package"], "--combine-scope takes file, module"),
        (["--combine-max", "1"], "--combine-max must be at least 2"),
        (["--issues", str(ws / "nope.json")], "cannot read the issues file"),
    ):
        capsys.readouterr()
        code = main(["forge", "sample", "--strategy", "combine", "--workspace", str(ws), *args])
        err = capsys.readouterr().err
        assert code == 2 and said in err and len(err.strip().splitlines()) <= 2, err
