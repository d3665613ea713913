"""Exports run unchanged in the real clients, installed from PyPI (pinned, each in its own
venv): swebench 5.0.2 and 4.1.0, SWE-smith 0.0.9, mini-swe-agent 2.4.6, Hugging Face datasets
5.2.0. Gold predictions resolve N/N; no-op and empty predictions resolve 0/N.

The sample's curated split (three accepted instances) is exported with its images, which are
built on the docker backend's environment image from the local base image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.store import Store
from tests.clients import client

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("docker_base")]

NOOP = ("diff --git a/NOOP.txt b/NOOP.txt\nnew file mode 100644\n--- /dev/null\n"
        "+++ b/NOOP.txt\n@@ -0,0 +1 @@\n+nothing to see\n")
# Harnesses name their containers after the run id: one per test run, so a run killed earlier
# (its containers left behind) or another run on the same docker engine cannot collide.
RUN = f"{os.getpid()}x{os.urandom(2).hex()}"
OFFICIAL = ("repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement",
            "hints_text", "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS",
            "environment_setup_commit")


@pytest.fixture(scope="module")
def exported(sample_ws: Path, docker_base: str, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[dict[str, Path]]:
    """The sample's three accepted instances, exported as SWE-bench rows, SWE-smith rows and
    Parquet, with their images."""
    root = tmp_path_factory.mktemp("harness")
    ws = root / "ws"
    ws.mkdir()
    shutil.copy(sample_ws / "bugfoundry.duckdb", ws / "bugfoundry.duckdb")
    with Store.open(ws / "bugfoundry.duckdb") as store:
        ids = [r.instance_id for r in store.list_instances("sample")
               if r.strategy == "procedural"][:39:13]  # three of different modifiers
        for iid in ids:
            store.record_decision(iid, "ann", "accept")
    old = os.environ.get("BUGFOUNDRY_DOCKER_BASE")
    os.environ["BUGFOUNDRY_DOCKER_BASE"] = docker_base
    try:
        out = {}
        for name, fmt, rows in (("bench", "swebench", "swesmith"),
                                ("smith", "swesmith", "swesmith"),
                                ("bench-parquet", "parquet", "swebench")):
            out[name] = root / name
            assert main(["export", "--format", fmt, "--rows", rows, "-o", str(out[name]),
                         "--images", "--workspace", str(ws)]) == 0
        out["run"] = root / "run"
        out["run"].mkdir()
        yield out
    finally:
        if old is None:
            os.environ.pop("BUGFOUNDRY_DOCKER_BASE", None)
        else:
            os.environ["BUGFOUNDRY_DOCKER_BASE"] = old


def _rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in (path / "data" / "test.jsonl").read_text().splitlines()]


def _predictions(path: Path, rows: list[dict], patch: str, model: str) -> Path:
    path.write_text("".join(json.dumps({"instance_id": r["instance_id"], "model_patch": patch,
                                        "model_name_or_path": model}) + "\n" for r in rows))
    return path


def _run(argv: list[str], cwd: Path, timeout: float = 1200) -> str:
    res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "MSWEA_SILENT_STARTUP": "1", "PYTHONUTF8": "1",
                              "HF_HOME": str(cwd / "hf")})  # no dataset cached elsewhere
    assert res.returncode == 0, (argv, res.stdout[-3000:], res.stderr[-3000:])
    return res.stdout


def test_swebench_5_grades_gold_resolved_and_a_noop_unresolved(exported) -> None:
    bin_ = client("swebench5")
    rows, run = _rows(exported["bench"]), exported["run"]
    data = str(exported["bench"] / "data" / "test.jsonl")
    noop = _predictions(run / "noop5.jsonl", rows, NOOP, "noop")
    for preds, run_id, model in (("gold", f"g5{RUN}", "gold"),
                                   (str(noop), f"n5{RUN}", "noop")):
        _run([str(bin_ / "python"), "-m", "swebench.harness.run_evaluation", "-d", data,
              "-p", preds, "--run_id", run_id, "--max_workers", "2", "--report_dir", str(run)],
             run)
        report = json.loads((run / f"{model}.{run_id}.json").read_text())
        resolved = set(report["resolved_ids"])
        if model == "gold":
            assert resolved == {r["instance_id"] for r in rows}, report
        else:
            assert not resolved and report["completed_instances"] == len(rows), report


def test_swebench_4_with_the_generated_registration(exported) -> None:
    bin_ = client("swebench4")
    rows, run = _rows(exported["bench"]), exported["run"]
    data = str(exported["bench"] / "data" / "test.jsonl")
    noop = _predictions(run / "noop4.jsonl", rows, NOOP, "noop")
    wrapper = str(exported["bench"] / "harness" / "bf_swebench4.py")
    for preds, run_id, model in (("gold", f"g4{RUN}", "gold"),
                                   (str(noop), f"n4{RUN}", "noop")):
        _run([str(bin_ / "python"), wrapper, "-d", data, "-p", preds, "--run_id", run_id,
              "--max_workers", "2", "--namespace", "bugfoundry", "--cache_level", "instance"],
             run)
        report = json.loads((run / f"{model}.{run_id}.json").read_text())
        resolved = set(report["resolved_ids"])
        assert resolved == ({r["instance_id"] for r in rows} if model == "gold" else set()), \
            report
        assert report["completed_instances"] == len(rows), report


def test_swesmith_evaluates_its_branches(exported) -> None:
    bin_ = client("swebench4")
    rows, run = _rows(exported["smith"]), exported["run"]
    data = str(exported["smith"] / "data" / "test.jsonl")
    empty = _predictions(run / "empty.jsonl", rows, "", "empty")
    wrapper = str(exported["smith"] / "harness" / "bf_swesmith.py")
    for preds, run_id in (("gold", f"sg{RUN}"), (str(empty), f"se{RUN}")):
        _run([str(bin_ / "python"), wrapper, "eval", "-d", data, "-p", preds, "--run_id",
              run_id, "-w", "2"], run)
        report = json.loads((run / "logs" / "run_evaluation" / run_id / "report.json")
                            .read_text())
        expected = {r["instance_id"] for r in rows} if preds == "gold" else set()
        assert set(report["ids_resolved"]) == expected, report
        assert len(report["ids_resolved"]) + len(report["ids_unresolved"]) == len(rows), report


def test_mini_swe_agent_sees_the_bug_in_testbed(exported) -> None:
    """A scripted agent (mini-swe-agent's deterministic model, no LLM) looks at the changed
    line in /testbed and at git's view of the tree, then submits nothing."""
    bin_ = client("mini")
    rows, run = _rows(exported["bench"]), exported["run"]
    row = rows[0]
    bug = row["bug_patch"]
    target = next(ln[6:] for ln in bug.splitlines() if ln.startswith("+++ b/"))
    added = next(ln[1:].strip() for ln in bug.splitlines()
                 if ln.startswith("+") and not ln.startswith("+++") and ln[1:].strip())
    config = run / "scripted.yaml"
    steps = [{"role": "assistant", "content": "Look.", "extra": {"actions": [
                 {"command": f"cat {target} && git status --porcelain && git log --oneline"}]}},
             {"role": "assistant", "content": "Submit.", "extra": {"actions": [
                 {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff"}]}}]
    config.write_text(json.dumps({"model": {"model_class": "deterministic",
                                            "model_name": "deterministic", "outputs": steps}}))
    out = run / "mini"
    _run([str(bin_ / "mini-extra"), "swebench", "--subset", str(exported["bench"]), "--split",
          "test", "--filter", "^" + row["instance_id"].replace(".", r"\.") + "$", "-c",
          "swebench.yaml", "-c", str(config), "-o", str(out), "-w", "1"], run)
    traj = json.loads(next(out.rglob("*.traj.json")).read_text())
    seen = json.dumps(traj["messages"])
    assert added in seen.replace("\\n", "\n").replace('\\"', '"'), "the bug is not in /testbed"
    assert "Snapshot" in seen and "not a git repository" not in seen
    preds = json.loads((out / "preds.json").read_text())
    assert preds[row["instance_id"]]["model_patch"] == ""


def test_datasets_loads_every_form_and_concatenates_with_official_rows(exported) -> None:
    bin_ = client("swebench5")
    script = f"""
import json, datasets
from datasets import Dataset, Features, Value, concatenate_datasets, load_dataset
bench = load_dataset({str(exported['bench'])!r}, split="test")
smith = load_dataset({str(exported['smith'])!r}, split="test")
parq = load_dataset({str(exported['bench-parquet'])!r}, split="test")
official = Dataset.from_list([{{k: "x" if k not in ("FAIL_TO_PASS", "PASS_TO_PASS")
                               else "[]" for k in {OFFICIAL!r}}}],
                             features=Features({{k: Value("string") for k in {OFFICIAL!r}}}))
both = concatenate_datasets([bench.select_columns(list({OFFICIAL!r})), official])
both2 = concatenate_datasets([parq.select_columns(list({OFFICIAL!r})), official])
types = {{k: str(v) for k, v in bench.features.items() if k in {OFFICIAL!r}}}
print(json.dumps({{"bench": len(bench), "smith": len(smith), "parquet": len(parq),
                  "concat": len(both), "concat2": len(both2), "types": types,
                  "smith_f2p": str(smith.features["FAIL_TO_PASS"]),
                  "f2p": json.loads(bench[0]["FAIL_TO_PASS"])}}))
"""
    out = _run([str(bin_ / "python"), "-c", script], exported["run"])
    got = json.loads(out.strip().splitlines()[-1])
    assert got["bench"] == got["smith"] == got["parquet"] == 3
    assert got["concat"] == got["concat2"] == 4  # three of ours and the official one
    assert set(got["types"].values()) == {"Value('string')"}, got["types"]
    assert "string" in got["smith_f2p"] and got["smith_f2p"] != "Value('string')", got
    assert got["f2p"]


def test_a_later_swesmith_export_of_other_instances_has_their_branches(
        exported, sample_ws: Path, docker_base: str, tmp_path: Path) -> None:
    """The SWE-smith image (one per repo and clean commit) was reused as soon as its base and
    commit matched, so an export of other instances found only the first export's branches
    and the harness could not check theirs out (gold unresolved). It is rebuilt now."""
    import docker

    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(sample_ws / "bugfoundry.duckdb", ws / "bugfoundry.duckdb")
    first = {r["instance_id"] for r in _rows(exported["smith"])}
    with Store.open(ws / "bugfoundry.duckdb") as store:
        other = next(r.instance_id for r in store.list_instances("sample")
                     if r.strategy == "procedural"
                     and not any(r.instance_id in f for f in first))
        store.record_decision(other, "ann", "accept")
    out = tmp_path / "smith2"
    old = os.environ.get("BUGFOUNDRY_DOCKER_BASE")
    os.environ["BUGFOUNDRY_DOCKER_BASE"] = docker_base
    try:
        assert main(["export", "--format", "swesmith", "--rows", "swesmith", "-o", str(out),
                     "--images", "--workspace", str(ws)]) == 0
    finally:
        if old is None:
            os.environ.pop("BUGFOUNDRY_DOCKER_BASE", None)
        else:
            os.environ["BUGFOUNDRY_DOCKER_BASE"] = old
    rows = _rows(out)
    ids = {r["instance_id"] for r in rows}
    assert ids - first, ids
    client_ = docker.from_env()
    # The tagged one: a rebuilt image leaves its predecessor untagged (same labels).
    (image,) = [i for i in client_.images.list(filters={"label": [
        "bugfoundry.harness=repo", "bugfoundry.repo=sample",
        f"bugfoundry.target={rows[0]['clean_commit']}"]}) if i.tags]
    listed = client_.containers.run(image.id, ["git", "-C", "/testbed", "branch",
                                               "--format=%(refname:short)"], remove=True)
    assert ids <= set(listed.decode().split()), listed
