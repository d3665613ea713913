"""``bugfoundry doctor``: a healthy workspace passes, a damaged one is named and repaired, and
a database overwritten in the middle is salvaged into a new file (the damaged one untouched)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.models import Candidate
from engine.store import Store
from tests.conftest import SAMPLE_BUNDLE
from tests.integration.conftest import doctor_json, doctor_problems

pytestmark = pytest.mark.integration


def test_a_healthy_workspace_is_all_ok(sample_ws: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor_json(capsys, sample_ws)
    assert code == 0 and report["ok"], doctor_problems(report)
    kinds = {c["kind"] for c in report["checks"]}
    assert {"database", "repo", "environment", "work_tree"} <= kinds
    assert all(c["ok"] and not c["problem"] for c in report["checks"])
    capsys.readouterr()
    assert main(["doctor", "--workspace", str(sample_ws)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("ok ") for line in lines[:-1]), lines
    assert lines[-1].startswith("doctor: all ")


def test_lost_copy_environment_and_work_tree_are_reported_and_repaired(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    w = ["--workspace", str(ws)]
    assert main(["repo", "add", str(SAMPLE_BUNDLE), "--name", "sample", *w]) == 0
    assert main(["baseline", "sample", *w]) == 0  # builds the venv and work tree 0
    shutil.rmtree(ws / "repos" / "sample")
    (ws / "envs" / "sample" / "venv" / "bin" / "python").unlink()
    shutil.rmtree(ws / "work" / "sample" / "0" / ".git")
    (ws / "work" / "stray" / "0").mkdir(parents=True)  # a repo this workspace no longer has

    code, report = doctor_json(capsys, ws)
    problems = doctor_problems(report)
    assert code == 1 and not report["ok"]
    assert problems["repo sample"] == "missing"
    assert "venv/bin/python not found" in problems["environment sample"]
    assert problems["work_tree sample/0"] == "not a readable clone of the repo copy"
    assert problems["work_tree stray/0"] == "belongs to no repo of this workspace"
    assert len(problems) == 4, problems

    code, report = doctor_json(capsys, ws, "--repair")
    assert code == 0 and report["ok"], doctor_problems(report)
    assert all(c["repaired"] for c in report["checks"] if c["problem"])

    code, report = doctor_json(capsys, ws)
    assert code == 0 and doctor_problems(report) == {}, doctor_problems(report)
    assert (ws / "envs" / "sample" / "venv" / "bin" / "python").exists()
    assert not (ws / "work" / "stray" / "0").exists()
    # The workspace works again: the baseline runs in the rebuilt environment.
    assert main(["baseline", "sample", "--fresh", *w]) == 0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_database_overwritten_in_the_middle_is_named_and_salvaged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    db = ws / "bugfoundry.duckdb"
    n = 3000  # with patches of 1 kB: the middle of the file holds candidates' patches
    with Store.open(db) as store:
        run = store.start_run("demo", ["procedural"], 0, None, 1, {})
        store.add_candidates(run, [Candidate(
            "demo", "procedural", "m", f"diff {i}\n" + hashlib.sha256(str(i).encode())
            .hexdigest() * 16, "m.py", f"f{i}", meta={"h": hashlib.md5(str(i).encode())
                                                      .hexdigest()}) for i in range(n)])
    size = db.stat().st_size
    with db.open("r+b") as fh:  # garbage over the middle of the file
        fh.seek(size // 2)
        fh.write(b"\xde\xad\xbe\xef" * 16384)
    before = _digest(db)

    code, report = doctor_json(capsys, ws)
    database = report["checks"][0]
    assert code == 1 and database["subject"] == str(db)
    assert database["problem"].startswith("damaged: 1 of ") and "candidates" in \
        database["problem"], database
    assert "--salvage" in database["fix"]
    assert report["salvage"] is None and _digest(db) == before

    code, report = doctor_json(capsys, ws, "--salvage")
    salvaged = report["salvage"]
    tables = {t["table"]: t for t in salvaged["tables"]}
    cands = tables["candidates"]
    assert not cands["whole"] and cands["rows"] + cands["lost"] == n, cands
    assert 0 < cands["rows"] < n, cands
    assert tables["runs"] == {"table": "runs", "rows": 1, "lost": 0, "whole": True,
                              "dropped": False}
    new = Path(salvaged["path"])
    assert new.parent == ws and new.name.startswith("bugfoundry.salvaged-")
    assert f"mv {db} " in salvaged["switch"] and f"mv {new} {db}" in salvaged["switch"]
    assert _digest(db) == before  # the damaged file is never written
    with Store.open(new) as store:
        assert store.count_candidates("demo") == cands["rows"]
        assert len(store.pending_candidates("demo")) == cands["rows"]
    capsys.readouterr()
    assert main(["doctor", "--workspace", str(ws), "--salvage"]) == 1
    out = capsys.readouterr().out
    assert f"candidates: {cands['rows']:,} rows ({cands['lost']:,} could not be read)" in out
    assert "the damaged file is left as it was" in out
