"""Export of the curated split on the real sample workspace (SWE-smith, SWE-bench, Parquet)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from engine.cli.main import main
from engine.diffs import parse_patch
from engine.store import Store
from tests.conftest import SAMPLE_BUNDLE

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


def _fresh(ws: Path) -> Path:
    """A new workspace holding the sample repo: an import needs its rows' repo there."""
    assert main(["repo", "add", str(SAMPLE_BUNDLE), "--name", "sample",
                 "--workspace", str(ws)]) == 0
    return ws


def _export(ws: Path, fmt: str, out: Path, *extra: str) -> int:
    return main(["export", "--format", fmt, "-o", str(out), "--workspace", str(ws), *extra])


def _sidecar(data: Path) -> Path:
    """Where a file export keeps its manifest and branch repos (hidden: datasets skip it)."""
    return data.parent / f".{data.name}.bugfoundry"


def _git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_curated_split_in_every_format(decided, tmp_path: Path, capsys) -> None:
    ws, ids = decided
    curated = {ids[0], ids[2], ids[3]}
    out = tmp_path / "out"
    out.mkdir()
    assert _export(ws, "swesmith", out / "smith.jsonl") == 0
    smith = [json.loads(x) for x in (out / "smith.jsonl").read_text().splitlines()]
    assert {r["bugfoundry_id"] for r in smith} == curated
    row = next(r for r in smith if r["bugfoundry_id"] == ids[0])
    # SWE-smith naming: owner__name.commit8.suffix, the repo is the profile's name
    assert row["repo"] == "bugfoundry__sample." + row["clean_commit"][:8]
    assert row["instance_id"].startswith(row["repo"] + ".")
    assert "." not in row["instance_id"][len(row["repo"]) + 1:]
    assert json.loads(row["decision_summary"])["decisions"] == {"ann": "accept", "bob": "accept"}
    assert row["patch"].startswith("diff --git") and isinstance(row["FAIL_TO_PASS"], list)
    assert row["strategy"] == "procedural" and row["image_name"].startswith(
        "bugfoundry/sweb.eval.x86_64.bugfoundry_1776_sample.")
    assert (out / "smith.jsonl").stat().st_mode & 0o044 == 0o044  # readable by others
    # base_commit is the bug commit of the instance branch: clean -> bug -> tests removed.
    branches = _sidecar(out / "smith.jsonl") / "repos" / "sample.git"
    tip = _git_out(branches, "rev-parse", f"refs/heads/{row['instance_id']}")
    assert _git_out(branches, "rev-parse", f"{tip}~1") == row["base_commit"]
    assert _git_out(branches, "rev-parse", f"{tip}~2") == row["clean_commit"]
    assert _git_out(branches, "log", "-1", "--format=%s", row["base_commit"]) == "Update files"
    manifest = json.loads((_sidecar(out / "smith.jsonl") / "manifest.json").read_text())
    assert manifest["branches"]["repositories"] == {"sample": str(branches)}
    assert manifest["branches"]["without_branch"] == 0
    assert manifest["count"] == 3 and manifest["curators"] == ["ann", "bob"]
    assert manifest["decision_rule"]["name"] == "accept-no-reject"
    # Counted as exported: the dispute (ann accepts, bob rejects) is no accept.
    assert manifest["exported"] == {"accept": 3}
    assert {k: v for k, v in manifest["decisions"].items() if k != "undecided"} == {
        "accept": 3, "reject": 1, "disputed": 1, "skip": 1}
    # ann said plausible, bob realistic: a tie, exported as such and said so.
    assert row["realism"] is None and json.loads(row["decision_summary"])["realism_tie"]
    assert manifest["realism_ties"] == 1
    assert "1 rows have a realism tie" in capsys.readouterr().out
    # Every row has a problem statement (the forge wrote offline ones), marked as such.
    assert all(r["problem_statement"].strip() for r in smith)
    assert {r["problem_statement_source"] for r in smith} == {"offline:tests"}
    assert manifest["repos"] == {"sample": "bugfoundry/sample"}

    # Other rules and the whole set.
    assert _export(ws, "swesmith", out / "any.jsonl", "--rule", "any-accept") == 0
    assert len((out / "any.jsonl").read_text().splitlines()) == 4
    manifest = json.loads((_sidecar(out / "any.jsonl") / "manifest.json").read_text())
    assert manifest["exported"] == {"accept": 3, "disputed": 1}
    assert _export(ws, "swesmith", out / "all.jsonl", "--split", "all") == 0
    with Store.open(ws / "bugfoundry.duckdb") as store:
        n_all = len(store.instance_ids())
    manifest = json.loads((_sidecar(out / "all.jsonl") / "manifest.json").read_text())
    # Exact duplicates (the same normalised diff) go out once; an instance whose every
    # FAIL_TO_PASS id holds a space (the sample's "1 year 1 month" cases) cannot be graded.
    left_out = (manifest["duplicates_left_out"]
                + manifest["left_out"].get("without_usable_fail_to_pass", 0))
    assert manifest["left_out"]["test_ids_with_whitespace_left_out"] > 0
    assert len((out / "all.jsonl").read_text().splitlines()) == n_all - left_out

    # Parquet holds the same rows.
    assert _export(ws, "parquet", out / "smith.parquet") == 0
    got = duckdb.sql(f"SELECT bugfoundry_id, FAIL_TO_PASS FROM '{out / 'smith.parquet'}'"
                     ).fetchall()
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
    heads = _git_out(branches, "for-each-ref", "--format=%(refname:short)",
                     "refs/heads/").split()
    assert {h for h in heads if h.startswith("bugfoundry__")} == {r["instance_id"]
                                                                  for r in smith}


def test_a_dataset_directory_and_repo_ids(decided, tmp_path: Path) -> None:
    """-o DIR: a dataset card, data/test.jsonl, harness/ and the hidden sidecar; --repo-id
    names the repo in every row and in the generated registration."""
    ws, ids = decided
    out = tmp_path / "dataset"
    assert _export(ws, "swebench", out, "--repo-id", "acme/ledgerkit") == 0
    assert sorted(p.name for p in out.iterdir()) == [".bugfoundry", "README.md", "data",
                                                      "harness"]
    card = (out / "README.md").read_text()
    assert "configs:" in card and "path: data/test.jsonl" in card and "split: test" in card
    rows = [json.loads(x) for x in (out / "data" / "test.jsonl").read_text().splitlines()]
    assert {r["repo"] for r in rows} == {"acme/ledgerkit"}
    assert all(r["instance_id"].startswith("acme__ledgerkit.") for r in rows)
    for r in rows:  # every SWE-bench column as text, the test lists as JSON text
        assert all(isinstance(r[k], str) for k in (
            "repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement",
            "hints_text", "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS",
            "environment_setup_commit", "image", "eval_script", "log_parser", "eval_type"))
        assert json.loads(r["FAIL_TO_PASS"]) and r["created_at"].endswith("Z")
        assert r["image"] == r["image_name"] and "_1776_" in r["image"]
        assert "python -m pytest -rA" in r["eval_script"]
    generated = {p.name for p in (out / "harness").iterdir()}
    assert generated == {"bf_swebench4.py", "bf_swesmith.py", "README.md"}
    for name in ("bf_swebench4.py", "bf_swesmith.py"):
        text = (out / "harness" / name).read_text()
        compile(text, name, "exec")
        assert "acme" in text and "ledgerkit" in text
    assert (out / ".bugfoundry" / "manifest.json").is_file()
    assert (out / ".bugfoundry" / "repos" / "sample.git").is_dir()
    # The directory itself imports and verifies (our names come back from bugfoundry_id).
    fresh = _fresh(tmp_path / "fresh")
    assert main(["import", str(out), "--workspace", str(fresh)]) == 0
    with Store.open(fresh / "bugfoundry.duckdb") as store:
        assert set(store.instance_ids()) == {r["bugfoundry_id"] for r in rows}
    assert main(["verify", str(out), "--workspace", str(ws)]) == 0


def test_swebench_rows_work_as_the_harness_uses_them(decided, tmp_path: Path) -> None:
    """SWE-bench semantics: base_commit (a parentless snapshot in the export's branch repo)
    holds the bug; apply ``patch`` and the tree is the clean commit again."""
    ws, _ids = decided
    out = tmp_path / "bench.jsonl"
    assert _export(ws, "swebench", out) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and all(r["test_patch"] == "" and r["environment_setup_commit"] for r in rows)
    tree = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(_sidecar(out) / "repos" / "sample.git"),
                    str(tree)], check=True)
    subprocess.run(["git", "fetch", "-q", "origin", "+refs/snapshots/*:refs/snapshots/*"],
                   cwd=tree, check=True)
    for r in rows:
        assert r["environment_setup_commit"] == r["clean_commit"] != r["base_commit"]
        assert _git_out(tree, "log", "--format=%P", "-1", r["base_commit"]) == ""  # no parent
        subprocess.run(["git", "checkout", "-q", r["base_commit"]], cwd=tree, check=True)
        # The snapshot is the clean commit plus exactly the bug diff.
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
    shutil.rmtree(_sidecar(tmp_path / "swesmith.jsonl") / "repos")
    assert main(["verify", str(tmp_path / "swesmith.jsonl"), "--workspace", str(ws)]) == 0
    assert "3 hold, 0 fail (0 checked out" in capsys.readouterr().out
    # A PASS_TO_PASS test passed off as FAIL_TO_PASS does not fail with the bug: caught.
    rows = [json.loads(x) for x in (tmp_path / "swebench.jsonl").read_text().splitlines()]
    f2p, p2p = json.loads(rows[0]["FAIL_TO_PASS"]), json.loads(rows[0]["PASS_TO_PASS"])
    f2p.append(p2p.pop(0))
    rows[0]["FAIL_TO_PASS"], rows[0]["PASS_TO_PASS"] = json.dumps(f2p), json.dumps(p2p)
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
            out[iid] = {k: getattr(rec, k) for k in FIELDS}
        return out


def test_export_then_import_gives_identical_instances(decided, tmp_path: Path, capsys) -> None:
    ws, _ids = decided
    source = _instances(ws)
    for fmt, ext, rows in (("swesmith", "jsonl", "swesmith"), ("swebench", "jsonl", "swesmith"),
                           ("parquet", "parquet", "swesmith"), ("parquet", "parquet", "swebench")):
        out = tmp_path / f"all-{fmt}-{rows}.{ext}"
        assert _export(ws, fmt, out, "--split", "all", "--rows", rows,
                       "--keep-duplicates") == 0
        fresh = _fresh(tmp_path / f"fresh-{fmt}-{rows}")
        assert main(["import", str(out), "--workspace", str(fresh)]) == 0
        # An instance whose every FAIL_TO_PASS id has whitespace cannot be graded (no log
        # parser matches such an id): exactly those are not exported.
        exported = set(_instances(fresh))
        gradable = {k for k, v in source.items()
                    if any(not any(c.isspace() for c in t) for t in v["fail_to_pass"])}
        assert exported == gradable, (len(exported), len(gradable), len(source))
        assert _instances(fresh) == {k: v for k, v in source.items() if k in exported}, fmt
        capsys.readouterr()
        assert main(["import", str(out), "--workspace", str(fresh), "--json"]) == 0
        again = json.loads(capsys.readouterr().out)
        assert again["imported"] == 0 and again["already_present"] == len(exported)


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
    fresh = _fresh(tmp_path / "fresh")
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
    assert _export(ws, "swesmith", tmp_path / "near.jsonl", "--split", "all") == 0  # default
    kept = {json.loads(x)["bugfoundry_id"]
            for x in (tmp_path / "near.jsonl").read_text().splitlines()}
    everything = {json.loads(x)["bugfoundry_id"]
                  for x in (tmp_path / "none.jsonl").read_text().splitlines()}
    assert kept == everything - near
    manifest = json.loads((_sidecar(tmp_path / "near.jsonl") / "manifest.json").read_text())
    assert manifest["duplicates_left_out"] == len(near) + manifest[
        "duplicates_left_out_by_kind"].get("exact", 0)
    assert manifest["duplicates_left_out_by_kind"]["near"] == len(near)
    out = capsys.readouterr().out
    assert f"{len(near)} near duplicates" in out and "--keep-duplicates" in out
    # The TUI's `is:duplicate` filter lists exactly these.
    from engine.store import BrowseFilter
    from tui.browse import parse_filter_text

    shown = BrowseFilter(curator="ann", **parse_filter_text("is:duplicate"))
    with Store.open(ws / "bugfoundry.duckdb") as store:
        assert store.count(shown) == len(near)
        rows = store.browse(shown, "instance_id", False, None, len(near) + 5)
    assert {r.instance_id for r in rows} == near
    assert manifest["filter"]["dedup"] == "near"
