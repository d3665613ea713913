"""What an exported row holds for each harness (pure: names, types, the test command)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from engine.dataset import rows as er
from engine.dataset.harness_code import write
from tests.records import instance

CLEAN = "c1ea" + "0" * 36
INST = instance(
    instance_id="sample.c1ea0000.procedural_op_swap__3c9a01d2", repo="sample",
    base_commit=CLEAN, strategy="procedural", modifier="op_swap",
    file="ledgerkit/interest.py", entity="describe_term",
    patch="diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n",
    problem_statement="", created_at=datetime(2026, 11, 26, 4, 57, 59),
    failures={"tests/t.py::test_a": "E   assert 1 == 2"},
    fail_to_pass=["tests/t.py::test_a", "tests/t.py::test_c[a b]"],
    pass_to_pass=["tests/t.py::test_b"],
)
SUMMARY = {"decisions": {"ann": "accept"}, "realism": "plausible"}


def test_names_follow_swesmith_and_swebench_rules() -> None:
    rid = er.RepoId("bugfoundry", "sample")
    eid = er.export_id(INST.instance_id, "sample", CLEAN, rid)
    assert eid == "bugfoundry__sample.c1ea0000.procedural_op_swap__3c9a01d2"
    # SWE-smith asserts instance_id.rsplit(".", 1)[0] == the profile's repo_name
    assert eid.rsplit(".", 1)[0] == rid.profile(CLEAN) == "bugfoundry__sample.c1ea0000"
    # any other id keeps its characters, dots made underscores
    assert er.export_id("django__django-11099", "django", CLEAN, rid).endswith(
        ".django__django-11099")
    assert er.export_id("a.b.c", "x", CLEAN, rid) == "bugfoundry__sample.c1ea0000.a_b_c"
    # swebench 4's image name for the id, in namespace bugfoundry
    assert er.instance_image(eid) == ("bugfoundry/sweb.eval.x86_64.bugfoundry_1776_sample"
                                      ".c1ea0000.procedural_op_swap_1776_3c9a01d2:latest")
    assert er.repo_image(rid, CLEAN) == "bugfoundry/swesmith.x86_64.bugfoundry_1776_sample.c1ea0000"


def test_repo_ids() -> None:
    assert er.parse_repo_ids([], ["a", "b"]) == {"a": er.RepoId("bugfoundry", "a"),
                                                 "b": er.RepoId("bugfoundry", "b")}
    assert er.parse_repo_ids(["acme/ledger.kit"], ["a"])["a"] == er.RepoId("acme", "ledger.kit")
    assert er.parse_repo_ids(["b=acme/x"], ["a", "b"])["b"].slug == "acme/x"
    for bad in (["acme/x"], ["a=ac__me/x"], ["a=acme"], ["a=-x/y"], ["a=x/y z"]):
        with pytest.raises(ValueError):
            er.parse_repo_ids(bad, ["a", "b"])


def test_rows_hold_each_clients_types() -> None:
    rid = er.RepoId("bugfoundry", "sample")
    eid = er.export_id(INST.instance_id, "sample", CLEAN, rid)
    cmd = er.pytest_command(["-p", "no:cacheprovider"], ["tests"], verbose=True)
    where = er.Where(eid, rid, "s" * 40, "b" * 40, er.instance_image(eid),
                     er.repo_image(rid, CLEAN), cmd)
    bench = er.swebench_row(INST, SUMMARY, where, ["tests/t.py::test_a"], ["tests/t.py::test_b"])
    for col in er.SWEBENCH_COLUMNS:
        assert isinstance(bench[col], str), col
    assert json.loads(bench["FAIL_TO_PASS"]) == ["tests/t.py::test_a"]
    assert bench["repo"] == "bugfoundry/sample" and bench["base_commit"] == "s" * 40
    assert bench["created_at"] == "2026-11-26T04:57:59Z"
    assert bench["patch"].startswith("diff --git") and "+a\n-b" in bench["patch"]  # the fix
    assert bench["eval_script"].splitlines() == [
        "cd /testbed", ": '>>>>> Start Test Output'", cmd, ": '>>>>> End Test Output'"]
    assert (bench["log_parser"], bench["eval_type"]) == ("parse_log_pytest", "pass_and_fail")
    assert bench["bugfoundry_id"] == INST.instance_id and bench["bugfoundry_repo"] == "sample"
    assert json.loads(bench["bugfoundry_left_out"]) == {"FAIL_TO_PASS": ["tests/t.py::test_c[a b]"],
                                                        "PASS_TO_PASS": []}
    smith = er.swesmith_row(INST, SUMMARY, where, ["tests/t.py::test_a"], [])
    assert smith["repo"] == "bugfoundry__sample.c1ea0000" and smith["base_commit"] == "b" * 40
    assert smith["FAIL_TO_PASS"] == ["tests/t.py::test_a"] and smith["patch"] == INST.patch
    assert cmd == ("python -m pytest -rA --tb=no --color=no --verbose -p no:cacheprovider tests")


def test_ids_with_whitespace_are_left_out() -> None:
    ok, bad = er.usable_ids(["t.py::a", "t.py::b[x y]", "t.py::c[\t]"])
    assert ok == ["t.py::a"] and len(bad) == 2


def test_generated_registration_compiles_and_names_the_export(tmp_path) -> None:
    data = tmp_path / "data" / "test.jsonl"
    specs = [{"owner": "acme", "name": "ledgerkit", "slug": "acme/ledgerkit", "commit": CLEAN,
              "version": "bf-c1ea00000000", "profile": "acme__ledgerkit.c1ea0000",
              "repo_image": "bugfoundry/swesmith.x86_64.acme_1776_ledgerkit.c1ea0000",
              "command": "python -m pytest -rA --tb=no tests"}]
    names = write(tmp_path / "harness", specs, data)
    assert names == ["README.md", "bf_swebench4.py", "bf_swesmith.py"]
    four = (tmp_path / "harness" / "bf_swebench4.py").read_text()
    compile(four, "bf_swebench4.py", "exec")
    assert '"acme/ledgerkit": {' in four and '"bf-c1ea00000000": "python -m pytest' in four
    assert "-d ../data/test.jsonl" in four
    smith = (tmp_path / "harness" / "bf_swesmith.py").read_text()
    compile(smith, "bf_swesmith.py", "exec")
    assert '"repo_image": "bugfoundry/swesmith.x86_64.acme_1776_ledgerkit.c1ea0000"' in smith
    assert "_is_repo_private" in smith
    card = er.dataset_card("t", "data/test.jsonl", "swebench", 3, [], digest="ab" * 32)
    assert card.startswith("---\nconfigs:\n- config_name: bugfoundry-abababababab\n")
