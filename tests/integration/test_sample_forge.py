"""The main job on the sample repo, re-checked independently of the engine's bookkeeping."""

from __future__ import annotations

import json
import os
import random
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.store import Store
from engine.workspace import Workspace

from .conftest import cli_json

pytestmark = pytest.mark.integration


def test_sample_yields_at_least_100_instances(sample_ws: Path, capsys) -> None:
    status = cli_json(capsys, "status", "--workspace", str(sample_ws))
    (row,) = status["repos"]
    assert row["repo"] == "sample" and row["pending"] == 0
    assert row["validated"] >= 100, row
    assert row["baseline_pass_rate"] == 1.0
    instances = cli_json(capsys, "instances", "--workspace", str(sample_ws))
    assert len(instances) == row["validated"]
    first = instances[0]
    for key in (
        "instance_id",
        "repo",
        "strategy",
        "modifier",
        "patch",
        "FAIL_TO_PASS",
        "PASS_TO_PASS",
        "base_commit",
        "problem_statement",
        "failures",
    ):
        assert key in first
    assert all(i["FAIL_TO_PASS"] for i in instances)
    modifiers = {i["modifier"] for i in instances}
    assert len(modifiers) >= 10, modifiers
    assert any("async" in json.dumps(i["meta"]) for i in instances), "no async entity mutated"


def test_every_real_shape_modifier_keeps_a_bug_on_the_sample(sample_ws: Path, capsys) -> None:
    """The modifiers aimed at real bug shapes (modifiers_real/_calls/_guard) are in the default
    set and each yields validated bugs here; the rechecks below sample them with the others."""
    from engine.strategies.procedural import REAL_SHAPES

    instances = cli_json(capsys, "instances", "--workspace", str(sample_ws))
    kept = {i["modifier"] for i in instances if i["strategy"] == "procedural"}
    assert set(REAL_SHAPES) <= kept, set(REAL_SHAPES) - kept


def _junit(python: str, tree: Path, out: Path) -> dict[str, str]:
    """Run the whole suite with plain pytest + JUnit XML: no bugfoundry code involved."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={out}"],
        cwd=tree,
        capture_output=True,
        timeout=300,
        env=env,
    )
    result: dict[str, str] = {}
    for case in ET.parse(out).getroot().iter("testcase"):
        cls, name = case.get("classname", ""), case.get("name", "")
        parts = cls.split(".")
        status = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                status = "failed"
            elif child.tag == "skipped":
                status = "skipped"
        result[f"{'/'.join(parts)}::{name}"] = status
    return result


def _junit_key(nodeid: str) -> str:
    """Map a pytest node id to the JUnit classname::name key used above."""
    path, _, rest = nodeid.partition("::")
    mod = path.removesuffix(".py")
    pieces = rest.split("::")
    return "/".join([mod, *pieces[:-1]]) + "::" + pieces[-1]


def test_random_sample_rechecked_independently(
    sample_ws: Path, sample_bundle: Path, tmp_path: Path
) -> None:
    ws = Workspace.open(sample_ws)
    with Store.open(ws.db_path) as store:
        ids = [r.instance_id for r in store.list_instances("sample")]
        picked = [store.get_instance(i) for i in random.Random(4).sample(ids, 8)]
    python = str(ws.env_path("sample") / "venv" / "bin" / "python")
    tree = tmp_path / "tree"
    subprocess.run(["git", "clone", "-q", str(sample_bundle), str(tree)], check=True)
    clean = _junit(python, tree, tmp_path / "clean.xml")
    assert clean and all(s in ("passed", "skipped") for s in clean.values())
    for inst in picked:
        for nid in inst.fail_to_pass + inst.pass_to_pass:
            assert clean[_junit_key(nid)] == "passed", (inst.instance_id, nid)
        subprocess.run(["git", "apply", "-"], cwd=tree, input=inst.patch, text=True, check=True)
        try:
            bugged = _junit(python, tree, tmp_path / "bug.xml")
        finally:
            subprocess.run(["git", "checkout", "-q", "--", "."], cwd=tree, check=True)
        for nid in inst.fail_to_pass:
            # a test that vanished (its module no longer imports) also counts as failing
            assert bugged.get(_junit_key(nid), "failed") == "failed", (inst.instance_id, nid)


def test_skipped_candidates_were_never_run(sample_ws: Path) -> None:
    """Candidates the pruner leaves out (engine.forge.prune) cost no run and have no verdict;
    every candidate it lets through was judged, so the kept set lost nothing runnable."""
    from engine.forge.run import generate_candidates
    from engine.strategies import procedural

    with Store.open(sample_ws / "bugfoundry.duckdb") as store:
        repo = store.get_repo("sample")
        base = store.latest_baseline("sample")
        assert repo is not None and base is not None
        testmap = store.load_test_map(base.baseline_id)
        assert testmap is not None
        judged = store.done_candidate_ids("sample")
    covered = testmap.covered_lines
    skipped: dict[str, int] = {}
    run = {c.candidate_id for c in generate_candidates(
        repo, ["procedural"], 0, None, covered_lines=covered, skipped=skipped)}
    everything = {c.candidate_id for c in procedural.generate(
        "sample", Path(repo.path), seed=0, covered_lines=covered)}
    left_out = everything - run
    assert left_out and sum(skipped.values()) == len(left_out), skipped
    assert not left_out & judged  # never run
    assert run <= judged  # everything else was
