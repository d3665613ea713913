"""Export of the curated split on the real sample workspace (SWE-smith, SWE-bench, Parquet)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from engine.cli import main
from engine.diffs import parse_patch
from engine.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture()
def decided(sample_ws: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the sample database with decisions by two curators."""
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(sample_ws / "bugfoundry.duckdb", ws / "bugfoundry.duckdb")
    with Store.open(ws / "bugfoundry.duckdb") as store:
        ids = store.instance_ids("sample")[:6]
        for iid in ids[:4]:
            store.record_decision(iid, "ann", "accept", realism="plausible")
        store.record_decision(ids[4], "ann", "reject")
        store.record_decision(ids[0], "bob", "accept", realism="realistic")
        store.record_decision(ids[1], "bob", "reject")  # a disagreement: not curated
        store.record_decision(ids[5], "bob", "skip")
    return ws, ids


def _export(ws: Path, fmt: str, out: Path, *extra: str) -> int:
    return main(["export", "--format", fmt, "-o", str(out), "--workspace", str(ws), *extra])


def test_curated_split_in_every_format(decided, tmp_path: Path, capsys) -> None:
    ws, ids = decided
    curated = {ids[0], ids[2], ids[3]}
    out = tmp_path / "out"
    out.mkdir()
    assert _export(ws, "swesmith", out / "smith.jsonl") == 0
    smith = [json.loads(x) for x in (out / "smith.jsonl").read_text().splitlines()]
    assert {r["instance_id"] for r in smith} == curated
    row = next(r for r in smith if r["instance_id"] == ids[0])
    assert row["decision_summary"]["decisions"] == {"ann": "accept", "bob": "accept"}
    assert row["patch"].startswith("diff --git") and row["FAIL_TO_PASS"]
    assert row["strategy"] == "procedural" and row["image_name"]
    # base_commit is the instance branch's commit, on top of the commit the bug applies to.
    branches = out / "smith.jsonl.repos" / "sample.git"
    tip = subprocess.run(["git", "rev-parse", f"refs/heads/{ids[0]}"], cwd=branches,
                         capture_output=True, text=True, check=True).stdout.strip()
    parent = subprocess.run(["git", "rev-parse", f"{tip}^"], cwd=branches,
                            capture_output=True, text=True, check=True).stdout.strip()
    assert row["base_commit"] == tip and row["clean_commit"] == parent != tip
    manifest = json.loads((out / "smith.jsonl.manifest.json").read_text())
    assert manifest["branches"]["repositories"] == {"sample": str(branches)}
    assert manifest["branches"]["without_branch"] == 0
    assert manifest["count"] == 3 and manifest["curators"] == ["ann", "bob"]
    assert manifest["decision_rule"]["name"] == "accept-no-reject"
    assert manifest["decisions"]["accept"] == 4 and manifest["decisions"]["reject"] == 1

    # Other rules and the whole set.
    assert _export(ws, "swesmith", out / "any.jsonl", "--rule", "any-accept") == 0
    assert len((out / "any.jsonl").read_text().splitlines()) == 4
    assert _export(ws, "swesmith", out / "all.jsonl", "--split", "all") == 0
    with Store.open(ws / "bugfoundry.duckdb") as store:
        n_all = len(store.instance_ids())
    assert len((out / "all.jsonl").read_text().splitlines()) == n_all

    # Parquet holds the same rows.
    assert _export(ws, "parquet", out / "smith.parquet") == 0
    got = duckdb.sql(f"SELECT instance_id, FAIL_TO_PASS FROM '{out / 'smith.parquet'}'").fetchall()
    assert {r[0] for r in got} == curated
    assert all(r[1] for r in got)

    # Never overwrite without --force.
    capsys.readouterr()
    assert _export(ws, "swesmith", out / "smith.jsonl") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and "--force" in err[0]
    assert _export(ws, "swesmith", out / "smith.jsonl", "--force") == 0
    # Overwriting a bigger export leaves no branch of an instance no longer in it.
    assert _export(ws, "swesmith", out / "smith.jsonl", "--force", "--split", "all") == 0
    assert _export(ws, "swesmith", out / "smith.jsonl", "--force") == 0
    heads = subprocess.run(["git", "for-each-ref", "--format=%(refname:short)", "refs/heads/"],
                           cwd=out / "smith.jsonl.repos" / "sample.git", capture_output=True,
                           text=True, check=True).stdout.split()
    assert {h for h in heads if h.startswith("sample.")} == curated  # (and the repo's own)


def test_swebench_rows_work_as_the_harness_uses_them(decided, tmp_path: Path) -> None:
    """SWE-bench semantics: check out base_commit (from the export's branch repo) and the bug
    is there; apply ``patch`` and the tree is the clean commit again."""
    ws, _ids = decided
    out = tmp_path / "bench.jsonl"
    assert _export(ws, "swebench", out) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and all(r["test_patch"] == "" and r["environment_setup_commit"] for r in rows)
    tree = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(out) + ".repos/sample.git", str(tree)],
                   check=True)
    for r in rows:
        assert r["environment_setup_commit"] == r["clean_commit"] != r["base_commit"]
        subprocess.run(["git", "checkout", "-q", r["base_commit"]], cwd=tree, check=True)
        # The branch commit is the clean commit plus exactly the bug diff.
        shown = subprocess.run(["git", "diff", r["clean_commit"], r["base_commit"]], cwd=tree,
                               capture_output=True, text=True, check=True).stdout
        assert parse_patch(shown) and _changed(shown) == _changed(r["bug_patch"])
        subprocess.run(["git", "apply", "-"], cwd=tree, input=r["patch"], text=True, check=True)
        assert subprocess.run(["git", "diff", "--quiet", r["clean_commit"]],
                              cwd=tree).returncode == 0
        subprocess.run(["git", "checkout", "-q", "--force", r["base_commit"]], cwd=tree,
                       check=True)
    # The same export again gives the same commits (fixed identity and dates).
    again = tmp_path / "again.jsonl"
    assert _export(ws, "swebench", again) == 0
    assert [json.loads(x)["base_commit"] for x in again.read_text().splitlines()] == [
        r["base_commit"] for r in rows]


def _changed(patch: str) -> list[str]:
    return [ln for ln in patch.splitlines()
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]


def test_exports_pass_verify_and_tampering_is_caught(decided, tmp_path: Path, capsys,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _ids = decided
    monkeypatch.chdir(tmp_path)  # the files are named relative to here, as a user types them
    for fmt, name, rows in (("swebench", "swebench.jsonl", "swesmith"),
                            ("swesmith", "swesmith.jsonl", "swesmith"),
                            ("parquet", "swebench.parquet", "swebench")):
        out = Path(name)
        assert _export(ws, fmt, out, "--rows", rows) == 0
        capsys.readouterr()
        assert main(["verify", str(out), "--workspace", str(ws)]) == 0, capsys.readouterr()
        assert "3 hold, 0 fail (3 checked out from their instance branch)" in (
            capsys.readouterr().out)
    # Without the branch repos, the bug diff is applied to the clean commit instead.
    shutil.rmtree(tmp_path / "swesmith.jsonl.repos")
    assert main(["verify", str(tmp_path / "swesmith.jsonl"), "--workspace", str(ws)]) == 0
    assert "3 hold, 0 fail (0 checked out" in capsys.readouterr().out
    # A PASS_TO_PASS test passed off as FAIL_TO_PASS does not fail with the bug: caught.
    rows = [json.loads(x) for x in (tmp_path / "swebench.jsonl").read_text().splitlines()]
    rows[0]["FAIL_TO_PASS"].append(rows[0]["PASS_TO_PASS"].pop(0))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["verify", str(bad), "--workspace", str(ws)]) == 1
    out = capsys.readouterr().out
    assert "2 hold, 1 fail" in out and "FAIL_TO_PASS pass with the bug" in out
    # A malformed file is a row-numbered error, nothing replayed.
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(rows[1]) + "\n{oops\n")
    assert main(["verify", str(broken), "--workspace", str(ws)]) == 2
    assert "broken.jsonl:2:" in capsys.readouterr().err


FIELDS = ("instance_id", "repo", "base_commit", "strategy", "modifier", "file", "entity", "patch",
          "fail_to_pass", "pass_to_pass", "n_f2p", "n_p2p", "lines_changed", "files_changed",
          "failures", "problem_statement")


def _instances(ws: Path) -> dict[str, dict]:
    with Store.open(ws / "bugfoundry.duckdb") as store:
        out = {}
        for iid in store.instance_ids():
            rec = store.get_instance(iid)
            assert rec is not None
            out[iid] = {k: rec[k] for k in FIELDS}
        return out


def test_export_then_import_gives_identical_instances(decided, tmp_path: Path, capsys) -> None:
    ws, _ids = decided
    source = _instances(ws)
    for fmt, ext, rows in (("swesmith", "jsonl", "swesmith"), ("swebench", "jsonl", "swesmith"),
                           ("parquet", "parquet", "swesmith"), ("parquet", "parquet", "swebench")):
        out = tmp_path / f"all-{fmt}-{rows}.{ext}"
        assert _export(ws, fmt, out, "--split", "all", "--rows", rows) == 0
        fresh = tmp_path / f"fresh-{fmt}-{rows}"
        assert main(["import", str(out), "--workspace", str(fresh)]) == 0
        assert _instances(fresh) == source, fmt
        capsys.readouterr()
        assert main(["import", str(out), "--workspace", str(fresh), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["imported"] == 0 and again["already_present"] == len(source)


def test_malformed_import_is_row_numbered_and_imports_nothing(decided, tmp_path: Path,
                                                              capsys) -> None:
    ws, _ids = decided
    out = tmp_path / "some.jsonl"
    assert _export(ws, "swesmith", out, "--split", "all") == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()[:4]]
    del rows[1]["FAIL_TO_PASS"]
    rows[2]["patch"] = "this is not a diff"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fresh = tmp_path / "fresh"
    capsys.readouterr()
    assert main(["import", str(bad), "--workspace", str(fresh)]) == 2
    err = capsys.readouterr().err
    assert "2 malformed rows, nothing imported" in err
    assert "row 2: missing FAIL_TO_PASS" in err and "row 3: patch is not a unified diff" in err
    assert _instances(fresh) == {}


def test_near_duplicates_left_out_on_request(decided, tmp_path: Path, capsys) -> None:
    ws, _ids = decided
    capsys.readouterr()
    assert main(["dedup", "--workspace", str(ws), "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    near = {d for g in groups if g["kind"] == "near" for d in g["duplicates"]}
    assert near  # the sample has several edits of one function failing the same tests
    assert _export(ws, "swesmith", tmp_path / "none.jsonl", "--split", "all", "--dedup",
                   "none") == 0
    assert _export(ws, "swesmith", tmp_path / "near.jsonl", "--split", "all", "--dedup",
                   "near") == 0
    kept = {json.loads(x)["instance_id"]
            for x in (tmp_path / "near.jsonl").read_text().splitlines()}
    everything = {json.loads(x)["instance_id"]
                  for x in (tmp_path / "none.jsonl").read_text().splitlines()}
    assert kept == everything - near
    manifest = json.loads((tmp_path / "near.jsonl.manifest.json").read_text())
    assert manifest["duplicates_left_out"] == len(near)
    # The TUI's `is:duplicate` filter lists exactly these.
    from engine.store import BrowseFilter
    from tui.screens import parse_filter_text

    shown = BrowseFilter(curator="ann", **parse_filter_text("is:duplicate"))
    with Store.open(ws / "bugfoundry.duckdb") as store:
        assert store.count(shown) == len(near)
        rows = store.browse(shown, "instance_id", False, None, len(near) + 5)
    assert {r.instance_id for r in rows} == near
    assert manifest["filter"]["dedup"] == "near"
