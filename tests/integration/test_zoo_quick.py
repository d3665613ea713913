"""The zoo's quick subset, as CI runs it: three real sdists nobody here wrote, each forged,
exported and verified through the command line, against the zoo's targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import UV_CACHE

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_zoo_quick_meets_the_targets(tmp_path: Path) -> None:
    out = tmp_path / "zoo-quick.json"
    env = {**os.environ, "UV_CACHE_DIR": str(UV_CACHE / "uv"),
           "BUGFOUNDRY_SDIST_CACHE": str(UV_CACHE / "sdists")}
    res = subprocess.run([sys.executable, "bench/zoo.py", "--quick", "--root",
                          str(tmp_path / "runs"), "--out", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=1800)
    print(res.stdout)
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert [r["name"] for r in rows] == ["isodate", "parse", "six"], res.stdout
    for r in rows:
        assert r["status"] == "ok", r
        assert r["kept"] >= 10, r  # the zoo's target per repo
        # A kept bug whose every FAIL_TO_PASS id has whitespace (isodate's
        # "test_parse[2014-08-18 14:55:22.123456Z-...]") is rightly left out of the export:
        # no harness's log parser can match it. The rest all hold.
        assert r["ungradable"] <= 2, r
        assert r["verified"] == r["kept"] - r["ungradable"], r
        assert r["hold"] == r["verified"], r["verify_problems"]
    assert data["total"]["silent_zeros"] == 0
    assert res.returncode == 0, res.stdout + res.stderr
    # isodate's ids by position over a set were found unstable, not counted as tests.
    assert rows[0]["unstable"] >= 20, rows[0]
